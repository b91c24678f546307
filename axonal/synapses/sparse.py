"""Event-driven linear synapse: ``y = x W^T + b`` touching only the weights of active inputs.

Spiking layers see mostly zeros. A dense matmul costs ``R x in x out`` multiply-adds whatever
the input; gathering, for each row, the weight columns of its nonzero inputs costs
``nnz x out`` (Merolla et al., 2014 and every event-driven accelerator since: work
proportional to spikes). ``EventLinear`` picks the cheaper path per call from the measured
input density and gives the same result as ``nn.Linear`` (to float rounding: the sums run in
another order), with the same gradients for weight, bias and input.

Calibration (benchmarks/sparse_linear.py; T=100, B=32, 700 -> 512, float32, one thread, CPU
time, this project's 2-core machine, table in BENCHMARKS.md): the layer alone beat the BLAS
matmul 2.2x at 2 % density (inference and training), 1.1-1.2x at 10 %, and lost from 20 %
(0.7x); fused with a LIF layer 3.1x / 2.3x at 2 %, 1.5x / 1.4x at 10 %, 0.9x at 20 %. The
gather reads one weight row per active input and is bound by memory bandwidth, the dense
matmul by arithmetic, hence the early crossover. The default ``density_threshold=0.15`` sits
at it; ``mode="dense"`` / ``"sparse"`` force a path and ``density_threshold=`` moves the switch.
The density is estimated on at most 256 evenly spaced rows, so the choice costs far less
than either path.

Followed by a LIF-family neuron inside ``axonal.Sequential``, the layer runs fused with it
(``EventLinear.fused_forward``): one kernel gathers each step's current and advances the
neurons, so the ``[T, B, out]`` current is never stored, and the backward computes the weight
gradient from the same spike lists (benchmarks/sparse_linear.py, BENCHMARKS.md).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..kernels import numba_available
from ..kernels.event import scan as _event
from ..kernels.registry import KernelUnavailable
from ..neurons.base import NeuronModule
from ..kernels.event.scan import l2_chunk
from ..kernels.event.scan import sampled_density as _density

__all__ = ["EventLinear", "event_linear"]

MODES = ("auto", "dense", "sparse")


def _numba_ok() -> bool:
    return numba_available()


class _EventLinear(torch.autograd.Function):
    """y = x W^T + b from the spike lists of x (compressed rows, built once per call and kept
    for the backward, where the weight gradient is computed from the same lists)."""

    @staticmethod
    def forward(ctx, x2, weight, bias):
        import numba  # lazy: numba only when the sparse path runs

        from ..kernels import buffers
        from ..kernels.event import _numba as ks  # lazy: imports numba

        lists = _event.spike_lists(x2)
        ptr, idx, val, binary = lists
        wt = weight.detach().t().contiguous()
        y = buffers.empty((x2.shape[0], wt.shape[1]), x2.dtype)
        b = bias.detach().contiguous() if bias is not None else wt.new_zeros(0)
        ks.csr_linear_forward(ptr.numpy(), idx.numpy(), val.numpy(), binary, wt.numpy(),
                              b.numpy(), bias is not None, y.numpy())
        ctx.lists = lists
        ctx.threads = numba.get_num_threads()
        ctx.save_for_backward(weight)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, g):
        from ..kernels.event import _numba as ks  # lazy: imports numba

        (weight,) = ctx.saved_tensors
        g = g.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = g @ weight  # dense: every input gets a gradient, active or not
        if ctx.needs_input_grad[1]:
            ptr, idx, val, binary = ctx.lists
            o = weight.shape[0]
            gwt = weight.new_zeros(weight.shape[1], o)
            block = min(512, max(16, -(-o // ctx.threads)))
            chunk = l2_chunk(block * g.element_size())  # rows of g kept in L2
            ks.csr_linear_weight_grad(ptr.numpy(), idx.numpy(), val.numpy(), binary,
                                      g.detach().numpy(), block, chunk, gwt.numpy())
            gw = gwt.t().contiguous()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(0)
        return gx, gw, gb


def event_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 mode: str = "auto", density_threshold: float = 0.15) -> torch.Tensor:
    """Functional form of ``EventLinear``: ``x [..., in]`` -> ``[..., out]``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"EventLinear: input has {x.shape[-1]} features in its last dimension but the layer "
            f"expects {weight.shape[1]}; pass [T, B, {weight.shape[1]}] or [N, {weight.shape[1]}]")
    usable = (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
              and weight.dtype == x.dtype and (bias is None or bias.dtype == x.dtype)
              and x.numel() > 0)
    if mode == "sparse":
        if not usable:
            raise RuntimeError(
                "EventLinear(mode='sparse') needs float32/float64 CPU tensors of one dtype; "
                f"got input {x.dtype} on {x.device}, weight {weight.dtype}. Use mode='auto'.")
        if not _numba_ok():
            raise RuntimeError("EventLinear(mode='sparse') needs numba: pip install numba")
    x2 = x.reshape(-1, x.shape[-1])
    sparse = mode == "sparse" or (
        mode == "auto" and usable and _numba_ok() and _density(x2) < density_threshold)
    if not sparse:
        return F.linear(x, weight, bias)
    y = _EventLinear.apply(x2, weight, bias)
    return y.reshape(*x.shape[:-1], weight.shape[0])


class EventLinear(nn.Module):
    """Drop-in ``nn.Linear`` for spike inputs, event-driven when the input is sparse.

    ``EventLinear(in_features, out_features, bias=True, mode="auto", density_threshold=0.15)``;
    input ``[T, B, in]``, ``[N, in]`` or any ``[..., in]``. Stateless: inside
    ``axonal.network.Sequential`` it is applied to all steps at once. Weights are initialised
    as ``nn.Linear``'s, so ``load_state_dict`` between the two works both ways.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 mode: str = "auto", density_threshold: float = 0.15):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if not 0 <= density_threshold <= 1:
            raise ValueError(f"density_threshold must lie in [0, 1], got {density_threshold}")
        ref = nn.Linear(in_features, out_features, bias=bias)
        self.in_features, self.out_features = in_features, out_features
        self.weight = ref.weight
        self.bias = ref.bias
        self.mode = mode
        self.density_threshold = density_threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return event_linear(x, self.weight, self.bias, self.mode, self.density_threshold)

    def synaptic_operations(self, inputs: tuple, output):
        """SynOps protocol of ``axonal.metrics``: counted as ``nn.Linear`` (nonzero inputs x
        out_features), whichever path (sparse or dense) ran."""
        from ..metrics.synops import linear_synops

        return linear_synops(self, inputs[0])

    def fused_forward(self, neuron, x: torch.Tensor, state=None):
        """``neuron(self(x), state)`` as one event-driven kernel, or ``None`` if it does not apply.

        Applies when ``neuron`` is a ``NeuronModule`` whose Params type registered a LIF-family
        form (``axonal.kernels.lif.register_lif_family``: ``LIF``, ``IF``,
        ``CurrentBasedLIF``, ``AdaptiveLIF``, ...) and whose backend is not ``"reference"`` or
        ``"triton"``, the input is a float32/float64 CPU tensor ``[T, B, in]`` and this layer
        would take its sparse path (``mode="sparse"``, or ``"auto"`` below
        ``density_threshold``). The current ``x W^T + b`` is then gathered per step inside the
        neuron kernel and never stored (``axonal.kernels.event.event_lif_scan``); spikes and
        states equal ``neuron(EventLinear(mode="sparse")(x))`` exactly. Called by
        ``axonal.Sequential``.
        """
        if (self.mode == "dense" or not isinstance(neuron, NeuronModule)
                or neuron.detach_temporal   # SLTT's cut is not in the fused kernel
                or neuron.backend in ("reference", "scan")
                or str(neuron.backend).startswith("triton")):
            return None
        if neuron.size is not None and tuple(neuron.size) != (self.out_features,):
            return None
        w, b = self.weight, self.bias
        if not (isinstance(x, torch.Tensor) and x.ndim == 3 and x.shape[-1] == self.in_features
                and x.numel() > 0 and x.device.type == "cpu" and w.device.type == "cpu"
                and x.dtype in (torch.float32, torch.float64) and w.dtype == x.dtype
                and (b is None or b.dtype == x.dtype) and _numba_ok()):
            return None
        params = neuron.params()
        dynamics = _event.event_lif_form(params)
        if dynamics is None:  # no LIF-family form registered for this neuron
            return None
        density = _density(x.reshape(-1, x.shape[-1])) if self.mode == "auto" else None
        if density is not None and density >= self.density_threshold:
            return None
        T, B = x.shape[:2]
        if state is None:
            state = neuron.State(*(x.new_zeros(B, self.out_features) for _ in neuron.State._fields))
        elif not isinstance(state, neuron.State) or any(
                tuple(f.shape) != (B, self.out_features) for f in state):
            return None  # the unfused path reports the problem
        try:
            # W^T is computed afresh on every call, never kept between calls: a kept copy
            # keyed on the weight's version counter missed in-place edits through
            # ``weight.data`` (which bypass the counter) and used the old weights (issue 24);
            # the transpose costs about 1 % of a fused inference call (0.15 of 12 ms at
            # 700 -> 512, B=32, T=100, 2 % density; 0.3 of 115 ms at 700 -> 1024, B=128).
            return _event.event_lif_scan(dynamics, x, w, b, state, density=density)
        except KernelUnavailable:
            return None  # e.g. a custom surrogate: the unfused path handles (or reports) it

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, mode={self.mode!r}, "
                f"density_threshold={self.density_threshold}")
