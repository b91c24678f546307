"""Fused numba LIF kernel vs the reference scan of ``lif_step``: inference and fwd+bwd time.

Run: ``.venv/bin/python -m benchmarks.fused_lif [--repeats 20]``. Prints one row per workload
(median milliseconds per call, after a warm-up call that also compiles or loads the cached
kernels). Shapes: T=100 and T=250 with B=32, N=512, and T=100 with 16384 neurons in one batch
row (the DESIGN note's workload).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from axonal.neurons import LIF, AdaptiveLIF, CurrentBasedLIF, Recurrent


def timed(fn, repeats):
    """Median process CPU time per call, ms (steady on a machine shared by more jobs than
    cores, where wall time mostly measures the scheduler)."""
    fn()
    out = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return statistics.median(out) * 1e3


def run(make, shape, repeats):
    x = torch.randn(*shape) * 0.5 + 0.2
    res = {}
    for backend in ("scan", "numba"):
        torch.manual_seed(0)
        m = make(backend)

        def infer():
            with torch.no_grad():
                m(x)

        xg = x.clone().requires_grad_()

        def train():
            s, _ = m(xg)
            s.sum().backward()

        res[backend] = (timed(infer, repeats), timed(train, repeats))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch and numba threads (0: leave the defaults)")
    args = ap.parse_args()
    if args.threads:
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    cases = [
        ("LIF", lambda b, n: LIF(n, decay=0.9, backend=b), (100, 32, 512)),
        ("LIF", lambda b, n: LIF(n, decay=0.9, backend=b), (250, 32, 512)),
        ("LIF", lambda b, n: LIF(n, decay=0.9, backend=b), (100, 1, 16384)),
        ("CuBaLIF", lambda b, n: CurrentBasedLIF(n, backend=b), (100, 32, 512)),
        ("AdaptiveLIF", lambda b, n: AdaptiveLIF(n, backend=b), (100, 32, 512)),
        ("RecurrentLIF", lambda b, n: Recurrent(LIF(n, decay=0.9, backend=b)), (100, 32, 512)),
    ]
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'model':<13}{'T,B,N':>14}{'scan inf':>10}{'fused inf':>10}{'x':>6}"
          f"{'scan trn':>10}{'fused trn':>10}{'x':>6}   (ms)")
    for name, make, shape in cases:
        r = run(lambda b: make(b, shape[2]), shape, args.repeats)
        (si, st), (fi, ft) = r["scan"], r["numba"]
        print(f"{name:<13}{','.join(map(str, shape)):>14}{si:10.2f}{fi:10.2f}{si / fi:6.1f}"
              f"{st:10.2f}{ft:10.2f}{st / ft:6.1f}")


if __name__ == "__main__":
    main()
