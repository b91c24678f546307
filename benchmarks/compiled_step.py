"""``compile_step`` (a user-written neuron, fused) vs a plain torch loop of the same step.

Run: ``.venv/bin/python -m benchmarks.compiled_step [--repeats 9] [--threads 1]``.
Workload: T=100, B=32, N=512, float32. Two user neurons written as ``compile_step``
functions: the quadratic integrate-and-fire of tests/kernels/compiled/test_scan.py (three learnable
per-neuron parameters) and a LIF (learnable decay and threshold), which is also run through
axonal's built-in numba LIF kernel (``LIF(backend="numba")``, the same two parameters
learnable) as the hand-written yardstick. Inference is a no-grad forward; training is
forward + backward of a spike-count loss with the input and the parameters requiring grad.
Prints median CPU ms per call (``time.process_time``; the first call, which compiles, is
excluded), the speed-up of ``compile_step`` over the torch loop, and for training the MB
autograd keeps for the backward (the input itself counts where a kernel keeps it).
``--first-call`` also times the first call of a fresh process with an empty kernel cache
(cold: trace + numba compile) and again with the cache it left (warm: load), each in a
subprocess.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from axonal.kernels import CompiledNeuron, compile_step

ROOT = Path(__file__).resolve().parent.parent

T, B, N = 100, 32, 512


def qif_dynamics(x, v, a, v_c, theta):
    v = v + a * (v - v_c) * v + x
    return v - theta, v


def qif_reset(s, v, a, v_c, theta):
    return (v * (1 - s),)


def lif_dynamics(x, v, beta, theta):
    v = beta * v + x
    return v - theta, v


def lif_reset(s, v, beta, theta):
    return (v - s * theta,)


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


def saved_mb(fn):
    """MB of the distinct tensors autograd keeps for the backward of ``fn()`` (counted by a
    saved-tensor hook, one count per storage): the training memory beyond the outputs."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values()) / 2 ** 20


def cases():
    """(name, compile_step module, torch-loop function, built-in module or None)."""
    qif = compile_step(qif_dynamics, qif_reset, state=("v",), params=("a", "v_c", "theta"))
    qif_mod = CompiledNeuron(qif, N, learn=("a", "v_c", "theta"), a=0.3, v_c=0.2, theta=1.0)
    lif = compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta"))
    lif_mod = CompiledNeuron(lif, N, learn=("beta", "theta"), beta=0.9, theta=1.0)
    from axonal.neurons import LIF

    builtin = LIF(N, decay=0.9, threshold=1.0, learn=("tau_mem", "threshold"),
                  per_neuron=True, backend="numba")

    def loop_of(mod):
        def loop(xx):
            state, outs = (torch.zeros(B, N),), []
            ps = [getattr(mod, p) for p in mod.step.param_names]
            for x_t in xx.unbind(0):
                s, state = mod.step.reference_step(x_t, state, ps)
                outs.append(s)
            return torch.stack(outs)
        return loop

    return [("QIF", qif_mod, loop_of(qif_mod), None), ("LIF", lif_mod, loop_of(lif_mod), builtin)]


def first_call_times():
    """Wall seconds from ``compile_step`` to the end of the first forward + backward in a
    fresh process (after ``import torch``): cold cache (trace, generate, compile), then warm
    (load the cached source and machine code)."""
    code = ("import time, torch; t = time.perf_counter(); "
            "from axonal.kernels import CompiledNeuron, compile_step; "
            "from benchmarks.compiled_step import qif_dynamics, qif_reset; "
            "step = compile_step(qif_dynamics, qif_reset, state=('v',), "
            "params=('a', 'v_c', 'theta')); "
            "mod = CompiledNeuron(step, 512, learn=('a',), a=0.3, v_c=0.2, theta=1.0); "
            "x = torch.rand(10, 2, 512, requires_grad=True); mod(x)[0].sum().backward(); "
            "print(time.perf_counter() - t)")  # run in ROOT: ``-c`` puts it first on sys.path
    out = []
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, AXONAL_CACHE_DIR=d)
        for _ in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True, cwd=ROOT)
            out.append(float(r.stdout.split()[-1]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and numba threads (0: leave the defaults)")
    ap.add_argument("--first-call", action="store_true",
                    help="also time a fresh process's first call, cold and warm cache")
    args = ap.parse_args()
    if args.threads:
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(T, B, N) * 0.5
    xg = x.clone().requires_grad_()
    print(f"T={T} B={B} N={N} float32, {args.threads or 'default'} thread(s), median CPU ms "
          f"of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'neuron':<8}{'mode':<11}{'torch loop':>11}{'compile_step':>14}{'built-in':>10}"
          f"{'speed-up':>10}   saved for backward, MB (loop / compile_step / built-in)")
    for name, mod, loop, builtin in cases():
        for mode in ("inference", "train"):
            if mode == "inference":
                def run(m):
                    with torch.no_grad():
                        m(x)
            else:
                def run(m):
                    out = m(xg)
                    (out[0] if isinstance(out, tuple) else out).sum().backward()
            t_loop = timed(lambda: run(loop), args.repeats)
            t_comp = timed(lambda: run(mod), args.repeats)
            t_bi = f"{timed(lambda: run(builtin), args.repeats):10.2f}" if builtin else f"{'-':>10}"
            mem = ""
            if mode == "train":
                mem = "   " + " / ".join(f"{saved_mb(lambda: run(m)):.1f}" if m else "-"
                                         for m in (loop, mod, builtin))
            print(f"{name:<8}{mode:<11}{t_loop:11.2f}{t_comp:14.2f}{t_bi}{t_loop / t_comp:9.1f}x"
                  + mem)
    if args.first_call:
        cold, warm = first_call_times()
        print(f"fresh process, compile_step to first forward + backward (QIF, wall): cold "
              f"cache {cold:.1f} s, warm cache {warm:.1f} s")


if __name__ == "__main__":
    main()
