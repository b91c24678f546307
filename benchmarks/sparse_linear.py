"""Event-driven vs dense Linear on spike input, alone and fused with a LIF layer.

Run: ``.venv/bin/python -m benchmarks.sparse_linear [--rounds 5] [--threads 1]``. Workload:
binary spikes [T=100, B=32, 700] at each density, Linear 700 -> 512 without bias (the peer
benchmark's layer), float32. Two tables of median (min) ms per call, inference (no grad) and
training (forward + backward for the weight; the input needs no gradient, as for a first
layer):

- ``Linear``: ``nn.Linear`` (dense BLAS) vs ``EventLinear(mode="sparse")`` (numba gather);
- ``Linear+LIF``: ``Sequential(EventLinear(mode="dense"), LIF)`` (BLAS matmul, then the
  numba LIF kernel: axonal's own dense path) vs ``Sequential(EventLinear(mode="sparse"), LIF)``
  (one fused kernel, ``axonal.kernels.lif.event_lif_scan``), with the loss of the peer
  benchmark (squared error of spike counts).

Times are process CPU time (steady on a machine shared by more jobs than cores, where wall
time mostly measures the scheduler); the variants run in interleaved rounds (each round times
every variant in turn), so what load remains (shared caches) hits all of them alike. The density sweep also calibrates
``EventLinear``'s default ``density_threshold``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from torch import nn

from axonal import LIF, Sequential
from axonal.synapses import EventLinear

T, B, I, O = 100, 32, 700, 512


def _linear_cases(x, w):
    dense = nn.Linear(I, O, bias=False)
    sparse = EventLinear(I, O, bias=False, mode="sparse")
    with torch.no_grad():
        dense.weight.copy_(w)
        sparse.weight.copy_(w)
    return {"dense": dense, "event": sparse}


def _lif_cases(x, w):
    out = {}
    for name, mode in (("dense", "dense"), ("event", "sparse")):
        lin = EventLinear(I, O, bias=False, mode=mode)
        with torch.no_grad():
            lin.weight.copy_(w)
        out[name] = Sequential(lin, LIF(O, decay=0.9, threshold=1.0))
    return out


def _steps(model, x, target, with_lif):
    def out():
        y = model(x)
        return y[0] if with_lif else y

    def infer():
        with torch.no_grad():
            out()

    def train():
        model.zero_grad(set_to_none=True)
        y = out()
        loss = ((y.sum(0) - target) ** 2).mean() if with_lif else y.square().mean()
        loss.backward()

    return {"infer": infer, "train": train}


def measure(cases, x, target, with_lif, rounds, reps):
    fns = {(name, mode): fn for name, model in cases.items()
           for mode, fn in _steps(model, x, target, with_lif).items()}
    for fn in fns.values():
        fn()  # warm-up: compiles or loads the cached kernels
    samples = {key: [] for key in fns}
    keys = list(fns)
    for r in range(rounds):
        k = r % len(keys)
        for key in keys[k:] + keys[:k]:
            for _ in range(reps):
                t0 = time.process_time()
                fns[key]()
                samples[key].append((time.process_time() - t0) * 1e3)
    return {key: (statistics.median(v), min(v)) for key, v in samples.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--densities", type=float, nargs="*", default=[0.02, 0.05, 0.1, 0.2, 0.35])
    ap.add_argument("--threads", type=int, default=1, help="torch and numba threads (default 1)")
    args = ap.parse_args()
    import numba

    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    print(f"T={T} B={B} {I}->{O} float32, {args.threads} thread(s), {args.rounds} interleaved "
          f"rounds x {args.reps}; median (min) CPU ms per call; x = dense / event")
    for title, make, with_lif in (("Linear", _linear_cases, False),
                                  ("Linear+LIF", _lif_cases, True)):
        print(f"\n{title}")
        print(f"{'density':>8} {'dense infer':>16} {'event infer':>16} {'x':>5} "
              f"{'dense train':>16} {'event train':>16} {'x':>5}")
        for d in args.densities:
            g = torch.Generator().manual_seed(0)
            x = (torch.rand(T, B, I, generator=g) < d).float()
            w = torch.randn(O, I, generator=g) * (0.5 / (I * d) ** 0.5)
            target = torch.rand(B, O, generator=g) * 0.1 * T
            res = measure(make(x, w), x, target, with_lif, args.rounds, args.reps)

            def cell(key):
                return f"{res[key][0]:8.1f} ({res[key][1]:5.1f})"

            print(f"{d:8.2f} {cell(('dense', 'infer')):>16} {cell(('event', 'infer')):>16} "
                  f"{res[('dense', 'infer')][0] / res[('event', 'infer')][0]:5.1f} "
                  f"{cell(('dense', 'train')):>16} {cell(('event', 'train')):>16} "
                  f"{res[('dense', 'train')][0] / res[('event', 'train')][0]:5.1f}")


if __name__ == "__main__":
    main()
