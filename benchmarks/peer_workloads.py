"""The workload of the peer benchmark, one adapter per library, and the worker process.

Workload: ``Linear(in -> N, no bias)`` applied to the whole input sequence, then a layer of
leaky integrate-and-fire neurons over ``T`` steps, then a loss on the spike counts
(``mean((counts - target)^2)``), then ``backward`` (training) or the forward pass alone under
``torch.no_grad`` (inference).

Neuron semantics, the same in every library (as far as each allows, see ``SEMANTICS``):
``v <- 0.9 v + x``; spike when ``v`` crosses the threshold 1; reset by subtracting the threshold;
no ``(1 - beta)`` factor on the input; no gradient through the reset.

Each library is used as its own documentation shows a user; no peer code is copied. This file
is imported by ``peers.py`` (the driver) and run as a worker process, one per library, that
answers JSON commands on stdin (see ``serve``); keeping each library in its own process stops
imports, thread pools and allocator state from interfering with one another.
"""
from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass

import torch
from torch import nn

MARKER = "@@BENCH@@ "  # prefix of protocol lines: libraries may print to stdout themselves
DECAY = 0.9
THRESHOLD = 1.0
WEIGHT_GAIN = 0.5  # std of the input current per step, whatever the input density

#: what each library computes, in one line each (the correctness table reports the effect)
SEMANTICS = {
    "axonal": "LIF(decay=0.9, threshold=1, reset='subtract'): v=0.9v+x; s=H(v-1); v-=s",
    "axonal-dense": "axonal with EventLinear(mode='dense'): BLAS matmul, then the numba LIF kernel",
    "linear-floor": "no neurons: the Linear layer and the loss on its output (the shared floor)",
    "torch-loop": "plain PyTorch loop over x.unbind(0), same equations, atan surrogate",
    "snntorch": "snn.Leaky(beta=0.9, threshold=1, reset_mechanism='subtract') in a loop; its default "
                "reset_delay=True subtracts the threshold one step later, after the decay",
    "snntorch-nodelay": "snn.Leaky(..., reset_delay=False): subtracts in the same step (identical "
                        "spikes except where v stays above threshold after a reset)",
    "spikingjelly": "LIFNode(tau=10, decay_input=False, v_reset=None, v_threshold=1, "
                    "detach_reset=True, surrogate ATan, step_mode='m'); reset_net before each run",
    "norse": "LIFBoxCell(tau_mem_inv=100, dt=1e-3, v_leak=0, v_th=1, reset_method=reset_subtract) in "
             "a loop; v += 0.1(x - v), so the Linear weights are scaled by 10 to integrate x unscaled",
}


@dataclass(frozen=True)
class Config:
    T: int
    B: int
    n_in: int
    n_out: int

    @property
    def name(self) -> str:
        return f"T={self.T} B={self.B} {self.n_in}->{self.n_out}"


CONFIGS = (Config(100, 32, 700, 512), Config(250, 32, 700, 512), Config(100, 128, 700, 1024))


def make_problem(cfg: Config, density: float, seed: int = 0):
    """Input spikes (Bernoulli at ``density``), weights and a spike-count target, from a seed.

    The weights are scaled so that the per-step input current has std ``WEIGHT_GAIN`` at any
    density, which keeps the neurons firing at a few percent.
    """
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(cfg.T, cfg.B, cfg.n_in, generator=g) < density).float()
    std = WEIGHT_GAIN / math.sqrt(cfg.n_in * density)
    w = torch.randn(cfg.n_out, cfg.n_in, generator=g) * std
    target = torch.rand(cfg.B, cfg.n_out, generator=g) * 0.1 * cfg.T
    return x, w, target


def loss_fn(spikes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the spike counts of each neuron to a target count."""
    return ((spikes.sum(0) - target) ** 2).mean()


def reference_lif(current: torch.Tensor, variant: str = "same-step") -> torch.Tensor:
    """Spikes of the benchmark LIF on a precomputed input current, in float64.

    ``same-step``: v = 0.9 v + x; s = [v >= 1]; v -= s (axonal's semantics).
    ``delayed``: the threshold is subtracted at the next step after the decay,
    v = 0.9 v + x - s_prev; s = [v > 1] (snnTorch's default ``reset_delay=True``).
    ``nodelay``: same-step reset, but the spike test also subtracts the threshold once more
    while the membrane left by the last reset is still above it (snnTorch's
    ``reset_delay=False``): r = [v > 1]; v = 0.9 v + x - r; s = [v > 1]; v -= s - r.
    """
    v = torch.zeros_like(current[0], dtype=torch.float64)
    s = torch.zeros_like(v)
    out = []
    for x_t in current.double().unbind(0):
        if variant == "same-step":
            v = DECAY * v + x_t
            s = (v >= THRESHOLD).double()
            v = v - s * THRESHOLD
        elif variant == "delayed":
            v = DECAY * v + x_t - s * THRESHOLD
            s = (v > THRESHOLD).double()
        elif variant == "nodelay":
            r = (v > THRESHOLD).double()
            v = DECAY * v + x_t - r * THRESHOLD
            s = (v > THRESHOLD).double()
            v = v - (s - r) * THRESHOLD
        else:
            raise ValueError(f"unknown variant {variant!r}; use 'same-step', 'delayed' or 'nodelay'")
        out.append(s)
    return torch.stack(out).to(current.dtype)


# ----------------------------------------------------------------------------- adapters
class _AtanSpike(torch.autograd.Function):
    """Heaviside forward, arc-tangent surrogate backward, for the plain-torch loop.

    Width 0.5 (alpha = 2), the default of axonal's ``ATan``, snnTorch and SpikingJelly:
    d/dx = 1 / (1 + (pi x)^2).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + (math.pi * x) ** 2)


class Network(nn.Module):
    """Base adapter: ``forward(x [T, B, in]) -> spikes [T, B, N]``; ``fc`` holds the weights."""

    library = "?"

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.fc = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(w * self.weight_scale())

    def weight_scale(self) -> float:
        return 1.0

    def release_caches(self) -> None:
        """Free what the library keeps between steps, before a memory measurement, so that
        the peak growth counts every buffer a step needs (none by default)."""


class AxonalNet(Network):
    """``axonal.Sequential(EventLinear, LIF)``: axonal's own event-driven Linear, which
    ``Sequential`` fuses with the LIF into one kernel for sparse input (the same weights as
    every other row, the same spikes). ``backend`` (``AXONAL_BENCH_BACKEND``) is the LIF's:
    ``auto`` picks the fused kernels; ``scan`` forces the reference Python scan after a plain
    ``nn.Linear`` (the unfused reference); ``dense`` keeps the numba LIF kernel but the dense
    Linear (axonal's own dense path)."""

    library = "axonal"
    backend = os.environ.get("AXONAL_BENCH_BACKEND", "auto")

    def __init__(self, w):
        super().__init__(w)
        import axonal
        from axonal.synapses import EventLinear

        backend = self.backend
        if backend != "scan":
            linear = EventLinear(w.shape[1], w.shape[0], bias=False,
                                 mode="dense" if backend == "dense" else "auto")
            with torch.no_grad():
                linear.weight.copy_(self.fc.weight)
            self.fc = linear
        self.net = axonal.Sequential(
            self.fc, axonal.LIF(w.shape[0], decay=DECAY, threshold=THRESHOLD, reset="subtract",
                                backend="auto" if backend == "dense" else backend)
        )

    def forward(self, x):
        return self.net(x)[0]

    def release_caches(self) -> None:
        from axonal.kernels import buffers

        buffers.release()  # the recycled output buffers are resident between steps


class AxonalDenseNet(AxonalNet):
    """axonal's own dense path: the same layers with the Linear forced dense (a BLAS matmul,
    then the numba LIF kernel); what the event-driven path is measured against."""

    library = "axonal-dense"
    backend = "dense"


def lif_loop(current: torch.Tensor, spike) -> torch.Tensor:
    """The LIF of every row as a plain PyTorch loop over ``current.unbind(0)`` (no ``x[t]``
    indexing, which makes the backward quadratic in T): ``v = 0.9 v + x; s = spike(v - 1);
    v -= s``, the reset detached. ``spike`` maps ``v - threshold`` to spikes with a surrogate."""
    v = torch.zeros_like(current[0])
    out = []
    for x_t in current.unbind(0):
        v = DECAY * v + x_t
        s = spike(v - THRESHOLD)
        v = v - s.detach() * THRESHOLD
        out.append(s)
    return torch.stack(out)


class TorchLoopNet(Network):
    library = "torch-loop"

    def forward(self, x):
        return lif_loop(self.fc(x), _AtanSpike.apply)


class LinearFloorNet(Network):
    """Only the Linear layer and the loss on its output: the floor every library pays."""

    library = "linear-floor"

    def forward(self, x):
        return self.fc(x)


class SnnTorchNet(Network):
    library = "snntorch"
    reset_delay = True

    def __init__(self, w):
        super().__init__(w)
        import snntorch as snn

        self.lif = snn.Leaky(beta=DECAY, threshold=THRESHOLD, reset_mechanism="subtract",
                             reset_delay=self.reset_delay)

    def forward(self, x):
        current = self.fc(x)
        mem = self.lif.reset_mem()
        out = []
        for x_t in current.unbind(0):
            spk, mem = self.lif(x_t, mem)
            out.append(spk)
        return torch.stack(out)


class SnnTorchNoDelayNet(SnnTorchNet):
    library = "snntorch-nodelay"
    reset_delay = False


class SpikingJellyNet(Network):
    library = "spikingjelly"

    def __init__(self, w):
        super().__init__(w)
        from spikingjelly.activation_based import functional, neuron, surrogate

        self.reset_net = functional.reset_net
        self.lif = neuron.LIFNode(tau=1.0 / (1.0 - DECAY), decay_input=False, v_reset=None,
                                  v_threshold=THRESHOLD, detach_reset=True,
                                  surrogate_function=surrogate.ATan(), step_mode="m")
        backends = getattr(self.lif, "supported_backends", None)
        if backends:  # SpikingJelly 0.0.0.0.14 API: pick the fastest backend that runs on CPU
            self.lif.backend = "torch"

    def forward(self, x):
        self.reset_net(self)
        return self.lif(self.fc(x))


class NorseNet(Network):
    library = "norse"
    dt = 1e-3
    tau_mem_inv = (1.0 - DECAY) / 1e-3  # v += dt * tau_mem_inv * (x - v) = 0.1 (x - v)

    def weight_scale(self):
        return 1.0 / (self.dt * self.tau_mem_inv)

    def __init__(self, w):
        super().__init__(w)
        import norse.torch as norse
        from norse.torch.functional.reset import reset_subtract

        p = norse.LIFBoxParameters(
            tau_mem_inv=torch.as_tensor(self.tau_mem_inv), v_leak=torch.as_tensor(0.0),
            v_th=torch.as_tensor(THRESHOLD), reset_method=reset_subtract,
        )
        self.cell = norse.LIFBoxCell(p, dt=self.dt)

    def forward(self, x):
        current = self.fc(x)
        state = None
        out = []
        for x_t in current.unbind(0):
            z, state = self.cell(x_t, state)
            out.append(z)
        return torch.stack(out)


#: the ``reference_lif`` variant each library's documented dynamics follow
REFERENCE_VARIANT = {"axonal": "same-step", "axonal-dense": "same-step", "torch-loop": "same-step", "snntorch": "delayed",
                     "snntorch-nodelay": "nodelay", "spikingjelly": "same-step", "norse": "same-step"}

ADAPTERS = {cls.library: cls for cls in (AxonalNet, AxonalDenseNet, TorchLoopNet, SnnTorchNet, SnnTorchNoDelayNet,
                                         SpikingJellyNet, NorseNet, LinearFloorNet)}
#: the Python distribution behind each adapter (for the version report)
DISTRIBUTIONS = {"axonal": "axonal", "axonal-dense": "axonal", "torch-loop": "torch", "snntorch": "snntorch",
                 "snntorch-nodelay": "snntorch", "spikingjelly": "spikingjelly", "norse": "norse", "linear-floor": "torch"}


def library_version(library: str) -> str:
    from importlib import metadata

    return metadata.version(DISTRIBUTIONS[library])


# ----------------------------------------------------------------------------- measurement
_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:
            _LIBC = False
    return _LIBC


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_growth(fn, release=None) -> int | None:
    """Bytes by which the resident set's high-water mark rises above its level before ``fn()``.

    Method (Linux): collect garbage and ``malloc_trim(0)`` so that memory freed by earlier
    steps goes back to the system, read ``VmRSS``, reset the kernel's high-water mark
    (``VmHWM``) by writing 5 to ``/proc/self/clear_refs``, run ``fn``, read ``VmHWM``. The
    kernel updates ``VmHWM`` on every page it maps, so the peak is exact (not sampled) and it
    sees every allocation: torch tensors, numpy/numba buffers and the Python heap alike.
    ``release()``, if given, runs after the collection: it frees what the library caches
    between steps (``Network.release_caches``). Returns ``None`` where ``/proc`` does not allow it.
    """
    gc.collect()
    if release is not None:
        release()
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    fn()
    peak = _status_kib("VmHWM")
    if before is None or peak is None:
        return None
    return max(0, peak - before) * 1024


class Bench:
    """One library's model on one workload, ready to run a training or an inference step."""

    def __init__(self, library: str, cfg: Config, density: float, mode: str, seed: int = 0):
        if mode not in ("train", "infer"):
            raise ValueError(f"mode must be 'train' or 'infer', got {mode!r}")
        self.library, self.cfg, self.mode = library, cfg, mode
        self.x, w, self.target = make_problem(cfg, density, seed)
        self.net = ADAPTERS[library](w)
        self.checksum = float(self.x.sum() + w.double().sum())

    def step(self):
        if self.mode == "train":
            self.net.zero_grad(set_to_none=True)
            loss = loss_fn(self.net(self.x), self.target)
            loss.backward()
        else:
            with torch.no_grad():
                loss = loss_fn(self.net(self.x), self.target)
        return float(loss.detach())

    def spikes(self) -> torch.Tensor:
        with torch.no_grad():
            return self.net(self.x)

    def time_steps(self, reps: int) -> tuple[list[float], list[float]]:
        """Milliseconds per step, wall clock and this process's CPU time (all its threads).

        On a machine shared by more runnable jobs than cores, a step's wall time mostly
        measures how often the scheduler let it run; its CPU time is the work it did (memory
        stalls included), so it is the steadier measure there; both are reported.
        """
        wall, cpu = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            self.step()
            cpu.append((time.process_time() - c0) * 1e3)
            wall.append((time.perf_counter() - t0) * 1e3)
        return wall, cpu


# ----------------------------------------------------------------------------- worker
def serve(library: str, threads: int, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Answer JSON commands, one a line, until ``quit`` or end of input.

    ``setup`` {cfg, density, mode, seed} builds the workload and times its first step;
    ``spikes`` {path} saves one forward pass's spikes (uint8 ``.pt``); ``time`` {reps} and
    ``mem`` {reps} return per-step milliseconds and peak RSS growth in bytes.
    """
    torch.set_num_threads(threads)

    def reply(**kw):
        stdout.write(MARKER + json.dumps(kw) + "\n")
        stdout.flush()

    bench = None
    try:
        t0 = time.perf_counter()
        ADAPTERS[library](torch.zeros(2, 3))  # imports the library
        reply(ok=True, version=library_version(library), import_s=time.perf_counter() - t0,
              threads=torch.get_num_threads())
    except Exception as e:  # noqa: BLE001 - reported to the driver, which carries on without it
        reply(ok=False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc())
        return
    for line in stdin:
        try:
            msg = json.loads(line)
            cmd = msg["cmd"]
            if cmd == "quit":
                reply(ok=True)
                return
            if cmd == "setup":
                bench = None
                gc.collect()
                bench = Bench(library, Config(**msg["cfg"]), msg["density"], msg["mode"],
                              msg.get("seed", 0))
                t0 = time.perf_counter()
                bench.step()
                reply(ok=True, first_ms=(time.perf_counter() - t0) * 1e3, checksum=bench.checksum)
            elif cmd == "spikes":
                torch.save(bench.spikes().to(torch.uint8), msg["path"])
                reply(ok=True)
            elif cmd == "time":
                wall, cpu = bench.time_steps(msg["reps"])
                reply(ok=True, ms=wall, cpu_ms=cpu)
            elif cmd == "mem":
                reply(ok=True, bytes=[peak_rss_growth(bench.step, bench.net.release_caches) for _ in range(msg["reps"])])
            else:
                reply(ok=False, error=f"unknown command {cmd!r}")
        except Exception as e:  # noqa: BLE001
            reply(ok=False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc())


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="peer benchmark worker (started by peers.py)")
    ap.add_argument("--library", required=True, choices=sorted(ADAPTERS))
    ap.add_argument("--threads", type=int, required=True)
    a = ap.parse_args()
    serve(a.library, a.threads)
