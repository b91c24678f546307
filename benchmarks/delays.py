"""Speed of the delayed synapse layer (+ LIF) on the SHD-sized setting of DCLS-Delays.

700 inputs -> 256 LIF, T = 100 steps, max delay 25, batch 32, input spikes at 5 % density
(roughly SHD binned at 10 ms). Rows:

- ``linear (no delay)``: ``nn.Linear`` + LIF, the floor;
- ``train form (Gaussian)``: learned positions, Gaussian taps (fwd, and fwd+bwd with gradients
  for weights and positions);
- ``fixed delays (train)``: integer delays, gradients for weights only;
- ``eval form, dense``: integer one-hot kernel through the convolution;
- ``eval form, event-driven``: integer delays under ``torch.no_grad`` on spikes (numba).

Usage: ``python -m benchmarks.delays [--threads 2] [--repeats 5] [--json out.json]``.
Prints a table of median milliseconds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.synapses.delay import DelayedLinear


CPU_TIMES: dict = {}


def timeit(fn, repeats, key=None):
    """Median wall milliseconds; the median process CPU milliseconds go to ``CPU_TIMES[key]``
    (on a shared machine the CPU time is the steadier number)."""
    fn()  # warm-up (numba compilation, allocator)
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if key is not None:
        CPU_TIMES[key] = 1000 * statistics.median(cpu)
    return 1000 * statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inputs", type=int, default=700)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--max-delay", type=int, default=25)
    p.add_argument("--density", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lif-backend", default="auto")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = (torch.rand(args.steps, args.batch, args.inputs) < args.density).float()

    def make(synapse):
        return Sequential(synapse, LIF(args.hidden, decay=0.5, reset="zero", backend=args.lif_backend))

    learned = make(DelayedLinear(args.inputs, args.hidden, args.max_delay, delays="learn", sigma=2.0))
    fixed = make(DelayedLinear(args.inputs, args.hidden, args.max_delay, delays="random"))
    linear = make(nn.Linear(args.inputs, args.hidden, bias=False))

    def fwd(net):
        def f():
            with torch.no_grad():
                net(x)
        return f

    def fwd_bwd(net):
        def f():
            y, _ = net(x)
            y.sum().backward()
        return f

    def eval_dense():
        learned.eval()
        learned[0].mode = "integer"
        y, _ = learned(x)  # grad enabled and weight requires grad -> convolution
        learned[0].mode = "auto"

    def eval_event():
        learned.eval()
        with torch.no_grad():
            learned(x)

    rows = []
    r = args.repeats
    rows.append(("linear (no delay)", timeit(fwd(linear), r, ("linear", "f")),
                 timeit(fwd_bwd(linear), r, ("linear", "fb"))))
    learned.train()
    rows.append(("train form (Gaussian)", timeit(fwd(learned), r, ("gauss", "f")),
                 timeit(fwd_bwd(learned), r, ("gauss", "fb"))))
    rows.append(("fixed delays (train)", timeit(fwd(fixed), r, ("fixed", "f")),
                 timeit(fwd_bwd(fixed), r, ("fixed", "fb"))))
    rows.append(("eval form, dense", timeit(eval_dense, r, ("dense", "f")), float("nan")))
    rows.append(("eval form, event-driven", timeit(eval_event, r, ("event", "f")), float("nan")))
    learned.train()
    keys = ["linear", "gauss", "fixed", "dense", "event"]
    cpu_rows = [(CPU_TIMES.get((k, "f"), float("nan")), CPU_TIMES.get((k, "fb"), float("nan"))) for k in keys]

    head = (f"delay layer + LIF: {args.inputs} -> {args.hidden}, T={args.steps}, B={args.batch}, "
            f"max_delay={args.max_delay}, density={args.density}, threads={args.threads}")
    print(head)
    print(f"{'path':<26}{'fwd ms':>10}{'fwd+bwd ms':>14}{'fwd cpu ms':>14}{'fwd+bwd cpu ms':>18}")
    for (name, f, fb), (cf, cfb) in zip(rows, cpu_rows):
        fb_s = "-" if fb != fb else f"{fb:.1f}"
        cfb_s = "-" if cfb != cfb else f"{cfb:.1f}"
        print(f"{name:<26}{f:>10.1f}{fb_s:>14}{cf:>14.1f}{cfb_s:>18}")
    if args.json:
        args.json.write_text(json.dumps(dict(config=vars(args) | {"json": str(args.json)},
                                             rows=[dict(path=n, fwd_ms=f, fwd_bwd_ms=fb, fwd_cpu_ms=cf,
                                                        fwd_bwd_cpu_ms=cfb)
                                                   for (n, f, fb), (cf, cfb) in zip(rows, cpu_rows)],
                                             torch=torch.__version__), indent=2))


if __name__ == "__main__":
    main()
