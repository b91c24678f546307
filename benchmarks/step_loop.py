"""A LIF layer called one time step at a time in a Python loop (snnTorch style) against one call
on the whole sequence: forward and forward + backward, ``backend="auto"``.

Run from the repository root: ``.venv/bin/python -m benchmarks.step_loop [--repeats 15]``. Prints the median process CPU
time per pass over T=100 steps (B=32, N=256, one thread), after a warm-up that also compiles or
loads the kernels. The whole-sequence call is the fast form; the loop pays the per-call
overhead (input checks, dispatch, and on the fused path the kernel's call cost) at every step.
"""
from __future__ import annotations

import argparse

import torch

from axonal.neurons import LIF
from benchmarks.fused_lif import timed


def main(repeats: int = 15, T: int = 100, B: int = 32, N: int = 256) -> dict[str, float]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x = torch.rand(T, B, N)
    lif = LIF(N)

    def whole(backward):
        xx = x.detach().requires_grad_(backward)
        out, _ = lif(xx)
        if backward:
            out.sum().backward()

    def loop(backward):
        xx = x.detach().requires_grad_(backward)
        state, outs = None, []
        for x_t in xx.unbind(0):
            s, state = lif(x_t.unsqueeze(0), state)
            outs.append(s)
        if backward:
            torch.cat(outs).sum().backward()

    rows = {}
    for backward in (False, True):
        label = "fwd+bwd" if backward else "fwd"
        rows[f"whole {label}"] = timed(lambda: whole(backward), repeats)
        rows[f"loop {label}"] = timed(lambda: loop(backward), repeats)
    for name, ms in rows.items():
        print(f"{name:14s} {ms:7.1f} ms")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    main(parser.parse_args().repeats)
