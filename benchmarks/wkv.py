"""WKV operator: fused numba kernel vs the plain torch reference loop (forward, forward + backward).

Run: ``.venv/bin/python -m benchmarks.wkv [--rounds 3] [--threads 1]``. Workload: ``k, v [T, B, C]``
float32 at a few shapes of a small character-level RWKV (T = 64 or 256, B = 8 or 16, C = 64 or 256).
Times are process CPU time, median (min) over interleaved rounds, ms per call; the ratio is
reference / kernel. Both variants compute the same values (``tests/kernels/test_wkv.py``).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from axonal.kernels.wkv import wkv

SHAPES = ((64, 8, 64), (256, 8, 64), (64, 16, 256), (256, 16, 256))


def _inputs(T, B, C, grad):
    g = torch.Generator().manual_seed(0)
    ts = [torch.randn(C, generator=g) * 0.5 - 0.5, torch.randn(C, generator=g) * 0.5,
          torch.randn(T, B, C, generator=g), torch.randn(T, B, C, generator=g)]
    return [t.requires_grad_(grad) for t in ts]


def _call(backend, grad, inputs):
    y, _ = wkv(*inputs, backend=backend)
    if grad:
        y.sum().backward()


def _time(fn, reps):
    t = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t) * 1000 / reps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"| T, B, C | mode | torch reference ms | numba kernel ms | x |\n|---|---|---:|---:|---:|")
    for shape in SHAPES:
        for grad in (False, True):
            inputs = _inputs(*shape, grad)
            times = {"torch": [], "numba": []}
            for b in times:                      # warm-up (numba compiles or loads its cache here)
                _call(b, grad, inputs)
            for _ in range(args.rounds):
                for b in times:
                    times[b].append(_time(lambda: _call(b, grad, inputs), args.reps))
            med = {b: statistics.median(v) for b, v in times.items()}
            mn = {b: min(v) for b, v in times.items()}
            print(f"| {shape} | {'fwd+bwd' if grad else 'fwd'} | {med['torch']:.2f} ({mn['torch']:.2f}) | "
                  f"{med['numba']:.2f} ({mn['numba']:.2f}) | {med['torch'] / med['numba']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
