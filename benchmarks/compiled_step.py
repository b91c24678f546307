"""``compile_step`` (user-written neuron, fused) vs a plain torch loop of the same step.

Run: ``.venv/bin/python benchmarks/compiled_step.py [--repeats 5]``. Workload: T=100, B=32,
N=512, float32; the quadratic integrate-and-fire of tests/test_compile_step.py with three
learnable per-layer parameters. Prints median ms (the first call compiles and is excluded).
"""
from __future__ import annotations

import argparse
import statistics
import time

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's axonal, not an installed one

from axonal.kernels import CompiledNeuron, compile_step


def qif_dynamics(x, v, a, v_c, theta):
    v = v + a * (v - v_c) * v + x
    return v - theta, v


def qif_reset(s, v, a, v_c, theta):
    return (v * (1 - s),)


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch and numba threads (0: leave the defaults)")
    args = ap.parse_args()
    if args.threads:
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    T, B, N = 100, 32, 512
    step = compile_step(qif_dynamics, qif_reset, state=("v",), params=("a", "v_c", "theta"))
    mod = CompiledNeuron(step, N, learn=("a", "v_c", "theta"), a=0.3, v_c=0.2, theta=1.0)
    x = torch.rand(T, B, N) * 0.5

    def loop(xx):
        state, outs = (torch.zeros(B, N),), []
        ps = [mod.a, mod.v_c, mod.theta]
        for x_t in xx.unbind(0):
            s, state = step.reference_step(x_t, state, ps)
            outs.append(s)
        return torch.stack(outs)

    def inf_c():
        with torch.no_grad():
            mod(x)

    def inf_l():
        with torch.no_grad():
            loop(x)

    xg = x.clone().requires_grad_()

    def trn_c():
        mod(xg)[0].sum().backward()

    def trn_l():
        loop(xg).sum().backward()

    t0 = time.perf_counter()
    inf_c()
    print(f"first call (compiles the generated kernel): {time.perf_counter() - t0:.1f} s")
    rows = [("inference", timed(inf_l, args.repeats), timed(inf_c, args.repeats)),
            ("fwd+bwd", timed(trn_l, args.repeats), timed(trn_c, args.repeats))]
    print(f"QIF T={T} B={B} N={N}: {'torch loop':>12}{'compiled':>12}{'x':>6}  (median ms)")
    for name, a, b in rows:
        print(f"{name:<22}{a:12.2f}{b:12.2f}{a / b:6.1f}")


if __name__ == "__main__":
    main()
