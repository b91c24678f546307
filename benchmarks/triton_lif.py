"""GPU benchmark of the Triton LIF kernels on the Open Neuromorphic workload.

Workload (Lenz et al., "SNN library benchmarks", open-neuromorphic.org, 2023): one
fully-connected layer ``Linear(N, N)`` followed by a LIF layer, input ``[T, B, N]`` with
T=500 time steps, batch B=16 and N=16384 neurons. Rows:

- ``axonal-triton``: ``axonal.neurons.LIF(backend="triton")`` (one kernel launch forward, one
  backward; the Linear is one matmul over all steps);
- ``axonal-scan``: the same module with ``backend="scan"`` (the reference loop of ``lif_step``);
- ``torch-loop``: a plain PyTorch loop over time, written here, with the same surrogate;
- ``spikingjelly-<impl>``: SpikingJelly's multi-step ``LIFNode`` when installed: with 2.x its
  CUDA implementation chosen by ``SJ_LIF_CUDA_IMPLEMENTATION`` (default ``auto``; run again
  with ``SJ_LIF_CUDA_IMPLEMENTATION=triton`` or ``=cuda`` to time each), with 0.0.0.0.x its
  ``cupy`` backend (needs cupy).

All rows do the same arithmetic (decay 0.9 without input scaling, threshold 1, subtractive
reset detached from the graph, atan surrogate of width 0.5 = SpikingJelly's alpha 2). For each
row: inference (``torch.no_grad`` forward) and training step (forward, ``loss = spikes.sum()``,
backward through the LIF and the Linear) in median milliseconds over ``--repeats`` calls,
timed with CUDA synchronisation after warm-up calls (the first call, which compiles Triton or
CuPy kernels, is reported separately), and the peak GPU memory of a training step.

Run on a machine with a CUDA GPU and ``pip install triton`` (``spikingjelly`` and ``cupy``
optional): ``python -m benchmarks.triton_lif [--neurons 16384 --batch 16 --steps 500]``.
Without CUDA it exits with a message and status 2.
"""
from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time

import torch
from torch import nn

from benchmarks.peer_workloads import DECAY, THRESHOLD, lif_loop  # one definition of the loop

DEVICE = "cuda"


class AxonalNet(nn.Module):
    def __init__(self, n_in, n, backend, kind):
        super().__init__()
        from axonal.neurons import LIF, AdaptiveLIF, CurrentBasedLIF

        cls = {"lif": LIF, "cuba_lif": CurrentBasedLIF, "adaptive_lif": AdaptiveLIF}[kind]
        kw = dict(decay=DECAY) if kind == "lif" else {}
        self.fc = nn.Linear(n_in, n)
        self.lif = cls(n, threshold=THRESHOLD, surrogate="atan", backend=backend, **kw)

    def forward(self, x):
        return self.lif(self.fc(x))[0]


class TorchLoopNet(nn.Module):
    """The LIF written as a plain PyTorch loop (``peer_workloads.lif_loop``, the same loop as
    the CPU peer benchmark's ``torch-loop`` row)."""

    def __init__(self, n_in, n):
        super().__init__()
        from axonal.surrogate import ATan

        self.fc = nn.Linear(n_in, n)
        self.spike = ATan(0.5)

    def forward(self, x):
        return lif_loop(self.fc(x), self.spike)


class SpikingJellyNet(nn.Module):
    """SpikingJelly's multi-step ``LIFNode``; ``backend`` for its 0.0.0.0.x API (where each node
    picks ``cupy``/``torch``), ``None`` for 2.x (where ``SJ_LIF_CUDA_IMPLEMENTATION`` picks the
    CUDA implementation for the whole process: ``auto``, ``cuda``, ``triton`` or ``torch``)."""

    def __init__(self, n_in, n, backend=None):
        super().__init__()
        from spikingjelly.activation_based import functional, neuron, surrogate

        self.reset_net = functional.reset_net
        self.fc = nn.Linear(n_in, n)
        kw = {} if backend is None else {"backend": backend}
        self.lif = neuron.LIFNode(tau=1.0 / (1.0 - DECAY), decay_input=False, v_reset=None,
                                  v_threshold=THRESHOLD, detach_reset=True,
                                  surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m",
                                  **kw)

    def forward(self, x):
        self.reset_net(self)
        return self.lif(self.fc(x))


def spikingjelly_rows(n_in, n) -> list:
    """(name, factory) rows for the SpikingJelly API installed here, or none (with a message)."""
    try:
        from spikingjelly.activation_based import neuron
    except Exception as exc:
        print(f"spikingjelly skipped: not importable ({type(exc).__name__}: {exc})")
        return []
    if "backend" not in inspect.signature(neuron.LIFNode.__init__).parameters:  # 2.x
        impl = os.environ.get("SJ_LIF_CUDA_IMPLEMENTATION", "auto")
        return [(f"spikingjelly-{impl}", lambda: SpikingJellyNet(n_in, n))]
    try:  # 0.0.0.0.x: the cupy backend is its fused CUDA kernel
        import cupy  # noqa: F401
    except Exception:
        print("spikingjelly skipped: its fused backend needs cupy (`pip install cupy-cuda12x`)")
        return []
    return [("spikingjelly-cupy", lambda: SpikingJellyNet(n_in, n, "cupy"))]


def timed(fn, repeats):
    """(first call s, median ms) with CUDA synchronisation around each call."""
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    first = time.perf_counter() - t
    fn()  # second warm-up: allocator and autotuning settle
    out = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return first, statistics.median(out) * 1e3


def measure(model, x, repeats):
    model.zero_grad(set_to_none=True)

    def infer():
        with torch.no_grad():
            return model(x)

    def train():
        s = model(x)
        s.sum().backward()

    first_inf, t_inf = timed(infer, repeats)
    first_trn, t_trn = timed(train, repeats)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    train()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    with torch.no_grad():
        rate = float(model(x).mean())
    return dict(inf=t_inf, trn=t_trn, first=max(first_inf, first_trn), peak=peak, rate=rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=16384)
    ap.add_argument("--in-features", type=int, default=0, help="0: same as --neurons")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--kind", default="lif", choices=["lif", "cuba_lif", "adaptive_lif"],
                    help="neuron of the axonal rows (the peers run LIF)")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("benchmarks/triton_lif.py needs a CUDA GPU (torch.cuda.is_available() is False "
              "here); run it on a GPU machine with `pip install triton`.", file=sys.stderr)
        sys.exit(2)
    from axonal.kernels.lif.triton import triton_error

    n, b, T = args.neurons, args.batch, args.steps
    n_in = args.in_features or n
    dev = torch.device(DEVICE)
    torch.manual_seed(0)
    x = torch.randn(T, b, n_in, device=dev)
    rows = []
    if triton_error():
        print(f"axonal-triton skipped: {triton_error()}")
    else:
        rows.append(("axonal-triton", lambda: AxonalNet(n_in, n, "triton", args.kind)))
    rows.append(("axonal-scan", lambda: AxonalNet(n_in, n, "scan", args.kind)))
    if args.kind == "lif":
        rows.append(("torch-loop", lambda: TorchLoopNet(n_in, n)))
        rows += spikingjelly_rows(n_in, n)
    skip = {s for s in args.skip.split(",") if s}
    print(f"{torch.cuda.get_device_name()}  torch {torch.__version__}  "
          f"T={T} B={b} Linear({n_in}, {n}) + {args.kind}  (median of {args.repeats}, ms)")
    print(f"{'row':<22}{'inference':>10}{'x':>7}{'train':>10}{'x':>7}{'peak MB':>10}"
          f"{'1st call s':>11}{'rate':>7}")
    ref = None
    weights = None
    for name, make in rows:
        if name in skip:
            continue
        torch.manual_seed(0)
        model = make().to(dev)
        if weights is None:
            weights = {k: v.clone() for k, v in model.fc.state_dict().items()}
        model.fc.load_state_dict(weights)  # every row the same Linear
        try:
            r = measure(model, x, args.repeats)
        except Exception as exc:  # report and go on: one broken peer must not hide the rest
            print(f"{name:<22}failed: {type(exc).__name__}: {exc}")
            continue
        ref = ref or r
        print(f"{name:<22}{r['inf']:>10.2f}{r['inf'] / ref['inf']:>7.2f}{r['trn']:>10.2f}"
              f"{r['trn'] / ref['trn']:>7.2f}{r['peak']:>10.0f}{r['first']:>11.2f}{r['rate']:>7.3f}")
        del model
        torch.cuda.empty_cache()
    print("x: time relative to the first row (lower is faster).")
    if not triton_error() and "axonal-triton" not in skip and "axonal-scan" not in skip:
        check(n_in, n, args.kind, x[: min(T, 100)])


def check(n_in, n, kind, x):
    """Triton vs reference on this GPU: identical spikes, close input gradients."""
    torch.manual_seed(0)
    tri = AxonalNet(n_in, n, "triton", kind).to(x.device)
    ref = AxonalNet(n_in, n, "scan", kind).to(x.device)
    ref.load_state_dict(tri.state_dict())
    xt, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_t, s_r = tri(xt), ref(xr)
    s_t.sum().backward()
    s_r.sum().backward()
    err = float((xt.grad - xr.grad).abs().max() / xr.grad.abs().max().clamp(min=1e-30))
    print(f"check on {x.shape[0]} steps: spikes identical to the reference scan: "
          f"{torch.equal(s_t, s_r)} ({int((s_t != s_r).sum())} differ); input-gradient max "
          f"relative error {err:.1e}")


if __name__ == "__main__":
    main()
