"""Event-driven ``EventLinear`` vs dense ``nn.Linear`` on spike input.

Run: ``.venv/bin/python benchmarks/sparse_linear.py [--repeats 10]``. Workload: binary spikes
[T=100, B=32, 700] at a given density, Linear 700 -> 512 (the SHD input layer's shape),
float32. Prints median ms for the forward pass (inference, no grad) and forward + backward
(gradients for weight, bias and input). Also the density sweep used to calibrate
``EventLinear``'s default ``density_threshold``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from axonal.synapses import EventLinear


def timed(fn, repeats):
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1e3


def measure(layer, x, repeats):
    def infer():
        with torch.no_grad():
            layer(x)

    xg = x.clone().requires_grad_()

    def train():
        layer(xg).sum().backward()

    return timed(infer, repeats), timed(train, repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--densities", type=float, nargs="*", default=[0.02, 0.1, 0.2, 0.35, 0.5])
    ap.add_argument("--threads", type=int, default=0,
                    help="torch and numba threads (0: leave the defaults)")
    args = ap.parse_args()
    if args.threads:
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    torch.manual_seed(0)
    T, B, I, O = 100, 32, 700, 512
    dense = nn.Linear(I, O)
    sparse = EventLinear(I, O, mode="sparse")
    sparse.load_state_dict(dense.state_dict())
    print(f"T={T} B={B} {I}->{O} float32, torch threads {torch.get_num_threads()}; median ms")
    print(f"{'density':>8}{'dense inf':>11}{'event inf':>11}{'x':>6}{'dense trn':>11}{'event trn':>11}{'x':>6}")
    for d in args.densities:
        x = (torch.rand(T, B, I) < d).float()
        di, dt = measure(dense, x, args.repeats)
        si, st = measure(sparse, x, args.repeats)
        print(f"{d:8.2f}{di:11.2f}{si:11.2f}{di / si:6.1f}{dt:11.2f}{st:11.2f}{dt / st:6.1f}")


if __name__ == "__main__":
    main()
