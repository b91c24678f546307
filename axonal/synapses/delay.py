"""Synapses with per-synapse transmission delays: learnable (DCLS-style), fixed or random.

Each synapse ``i -> o`` has a weight ``w[o, i]`` and a delay ``d[o, i]`` in ``0..max_delay``
time steps::

    y[t, b, o] = sum_i w[o, i] * x[t - d[o, i], b, i]          (x[t < 0] = 0)

Learning the delay needs a gradient with respect to an integer shift. Hammouamri,
Khalfaoui-Hassani & Masquelier ("Learning Delays in Spiking Neural Networks using Dilated
Convolutions with Learnable Spacings", ICLR 2024, arXiv 2306.17670) write the layer as a
causal 1-D convolution over time whose kernel has a single tap per synapse at a continuous,
learnable position ``p[o, i]``. During training the tap is spread into a normalised Gaussian
over the integer taps ``k = 0..max_delay``::

    kernel[o, i, k] = w[o, i] * g_k(p[o, i]) ,
    g_k(p) = exp(-(k - p)^2 / (2 sigma^2)) / (sum_k' exp(-(k' - p)^2 / (2 sigma^2)) + eps)

so both ``w`` and ``p`` receive gradients. ``sigma`` is not learned: it starts wide (about
``max_delay / 2``) and shrinks geometrically during the first quarter of training to 0.23
(:func:`sigma_schedule`). At evaluation the Gaussian becomes a one-hot tap at ``round(p)``:
an exact integer delay. Here the position *is* the delay (``p = 2.0`` delays by two steps;
the paper's centred coordinates ``c - p`` are not used), and positions are clamped to
``[0, max_delay]``.

Modes (``DelayedLinear.mode``):

- ``"auto"`` (default): Gaussian taps while ``module.training``, integer delays in ``eval()``,
  as in the paper's training and evaluation;
- ``"gaussian"``: always the Gaussian form (with the current ``sigma``);
- ``"integer"``: always integer delays ``round(clamp(p))``.

Integer delays on sparse spike input without gradients run an event-driven kernel (numba):
each input spike adds its outgoing weights at the delayed output times, touching
``#events x out`` numbers instead of ``T x B x in x out x (max_delay + 1)``. The result equals
the dense path.

Round trip (training form -> evaluation form). At integer positions the Gaussian form differs
from the integer shift only by the weight its tails leave on the neighbouring taps: per
synapse at most ``|w| * 2 exp(-1 / (2 sigma^2))`` (``< 1.6e-4 |w|`` at the paper's final
``sigma = 0.23``); ``integer_delays()`` returns the positions exactly, and ``set_delays`` of
integer delays followed by ``integer_delays()`` gives them back unchanged (tests/synapses/test_delay.py).
Off the integers the evaluation form rounds the positions; what that costs in accuracy is
measured by ``experiments/delays_timing_task.py`` (the paper: "accuracy is always reported with
integer delays").

SynOps (``axonal.metrics``): every input event reaches each of the ``out_features`` synapses it
feeds once (at its delay), so the layer counts like ``nn.Linear``: ``events x out_features``.

Streaming: the state is the last ``max_delay`` input steps (``DelayState.buffer``
``[max_delay, B, in]``); passing it back continues the sequence exactly.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal
from ..neurons.base import check_sequence

__all__ = [
    "DelayState",
    "DelayedLinear",
    "gaussian_delay_kernel",
    "integer_delay_kernel",
    "delay_reference",
    "delay_param_groups",
    "delayed_layers",
    "set_sigma",
    "sigma_schedule",
    "clamp_positions",
    "DELAY_MODES",
]

DELAY_MODES = ("auto", "gaussian", "integer")
#: Final width of the Gaussian in the paper's schedule (steps).
PAPER_FINAL_SIGMA = 0.23
_EPS = 1e-7


class DelayState(NamedTuple):
    """The last ``max_delay`` input steps, oldest first: ``[max_delay, B, in]``."""

    buffer: torch.Tensor


# ----------------------------------------------------------------------------- kernels
def gaussian_delay_kernel(weight: torch.Tensor, position: torch.Tensor, sigma: float,
                          max_delay: int) -> torch.Tensor:
    """``[out, in, max_delay + 1]`` kernel: ``w * normalised Gaussian centred at p`` over taps.

    Tap ``k`` is the contribution of the input ``k`` steps ago. Differentiable in ``weight``
    and ``position``.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 for the Gaussian kernel, got {sigma}; "
                         "use integer delays (mode='integer') for sigma = 0")
    taps = torch.arange(max_delay + 1, dtype=position.dtype, device=position.device)
    z = (taps - position.unsqueeze(-1)) / sigma
    g = torch.exp(-0.5 * z * z)
    g = g / (g.sum(-1, keepdim=True) + _EPS)
    return weight.unsqueeze(-1) * g


def integer_delay_kernel(weight: torch.Tensor, delays: torch.Tensor, max_delay: int) -> torch.Tensor:
    """``[out, in, max_delay + 1]`` one-hot kernel: ``w[o, i]`` at tap ``delays[o, i]``."""
    onehot = F.one_hot(delays.long(), max_delay + 1).to(weight.dtype)
    return weight.unsqueeze(-1) * onehot


def _causal_conv(x: torch.Tensor, kernel: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """``y[t] = sum_k kernel[..., k] x[t - k]`` with ``history`` (``[K-1, B, in]``) before ``x``.

    ``x`` is ``[T, B, in]``; returns ``[T, B, out]``. conv1d correlates, so the kernel is flipped.
    """
    full = torch.cat([history, x], 0) if history.shape[0] else x
    y = F.conv1d(full.permute(1, 2, 0), kernel.flip(-1))
    return y.permute(2, 0, 1)


def delay_reference(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor) -> torch.Tensor:
    """Brute-force loop ``y[t, b, o] = sum_i w[o, i] x[t - d[o, i], b, i]`` (tests' reference)."""
    t_len, batch, n_in = x.shape
    n_out = weight.shape[0]
    y = x.new_zeros(t_len, batch, n_out)
    for o in range(n_out):
        for i in range(n_in):
            d = int(delays[o, i])
            if d < t_len:
                y[d:, :, o] += weight[o, i] * x[: t_len - d, :, i]
    return y


_event_kernel = None


def _get_event_kernel():
    """Compile (once, cached on disk) the event-driven integer-delay forward pass."""
    global _event_kernel
    if _event_kernel is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def kernel(t_idx, b_idx, i_idx, vals, delays_t, weight_t, y, offset):
            # delays_t, weight_t: [in, out] (contiguous over out); y: [T, B, out]
            t_len = y.shape[0]
            n_out = y.shape[2]
            for e in range(t_idx.shape[0]):
                t0 = t_idx[e] - offset
                b = b_idx[e]
                i = i_idx[e]
                v = vals[e]
                for o in range(n_out):
                    t = t0 + delays_t[i, o]
                    if 0 <= t < t_len:
                        y[t, b, o] += v * weight_t[i, o]

        _event_kernel = kernel
    return _event_kernel


def _event_forward(full: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor, t_len: int,
                   offset: int) -> torch.Tensor:
    """Event-driven integer-delay forward on CPU (no autograd). ``full`` = history + input."""
    nz = torch.nonzero(full)  # [E, 3] (t, b, i), sorted by t
    vals = full[nz[:, 0], nz[:, 1], nz[:, 2]]
    dtype = np.float64 if full.dtype == torch.float64 else np.float32
    y = np.zeros((t_len, full.shape[1], weight.shape[0]), dtype=dtype)
    _get_event_kernel()(
        nz[:, 0].numpy(), nz[:, 1].numpy(), nz[:, 2].numpy(),
        vals.detach().numpy().astype(dtype, copy=False),
        np.ascontiguousarray(delays.t().numpy().astype(np.int64)),
        np.ascontiguousarray(weight.detach().t().numpy().astype(dtype)),
        y, offset,
    )
    return torch.from_numpy(y)


# ----------------------------------------------------------------------------- module
class DelayedLinear(Temporal):
    """Dense synapses with one weight and one delay each: ``[T, B, in] -> [T, B, out]``.

    Args:
        in_features, out_features: sizes.
        max_delay: largest delay in steps (delays lie in ``0..max_delay``; the paper's SHD
            setting is 25 steps of 10 ms).
        delays: ``"learn"`` (DCLS positions, initialised uniformly in ``[0, max_delay]`` as in
            the paper), ``"random"`` (fixed integer delays drawn uniformly in ``0..max_delay`` —
            the paper's "fixed random delays" baseline), or an integer tensor ``[out, in]``
            (or a scalar) of fixed delays.
        sigma: initial Gaussian width in steps (default ``max_delay / 2``, the paper's
            ``sigma_0 = K // 2``); set it during training with :func:`set_sigma` /
            :func:`sigma_schedule`.
        mode: ``"auto"`` | ``"gaussian"`` | ``"integer"`` (see the module docstring).
        bias: add a learnable bias (the paper uses none).
        generator: ``torch.Generator`` for the initial weights and delays.

    ``forward(x [T, B, in], state=None) -> (y [T, B, out], DelayState)``.
    Parameters: ``weight`` [out, in] (Kaiming-uniform), ``position`` [out, in] (a parameter
    when learned, else a buffer of integer delays). Use :func:`delay_param_groups` for the
    paper's separate learning rates, and :func:`clamp_positions` after each optimiser step.
    """

    def __init__(self, in_features: int, out_features: int, max_delay: int, *,
                 delays: str | torch.Tensor | int = "learn", sigma: float | None = None,
                 mode: str = "auto", bias: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"DelayedLinear: {name} must be a positive int, got {v!r}")
        if not isinstance(max_delay, int) or isinstance(max_delay, bool) or max_delay < 0:
            raise ValueError(f"DelayedLinear: max_delay must be an int >= 0 (steps), got {max_delay!r}")
        if mode not in DELAY_MODES:
            raise ValueError(f"DelayedLinear: unknown mode {mode!r}; choose one of {list(DELAY_MODES)}")
        self.in_features = in_features
        self.out_features = out_features
        self.max_delay = max_delay
        self.mode = mode
        self.sigma = float(sigma) if sigma is not None else max(max_delay / 2.0, PAPER_FINAL_SIGMA)
        if not self.sigma > 0:
            raise ValueError(f"DelayedLinear: sigma must be > 0, got {sigma}")

        weight = torch.empty(out_features, in_features)
        bound = math.sqrt(6.0 / in_features)  # Kaiming-uniform (relu gain), as in the paper
        weight.uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

        shape = (out_features, in_features)
        if isinstance(delays, str):
            if delays == "learn":
                pos = torch.empty(shape).uniform_(0.0, float(max_delay), generator=generator)
                self.position = nn.Parameter(pos)
            elif delays == "random":
                d = torch.randint(0, max_delay + 1, shape, generator=generator).float()
                self.register_buffer("position", d)
            else:
                raise ValueError(
                    f"DelayedLinear: delays={delays!r}; pass 'learn', 'random' or an integer tensor "
                    f"of shape {list(shape)}"
                )
        else:
            d = torch.as_tensor(delays)
            if d.is_floating_point() and not torch.equal(d, d.round()):
                raise ValueError("DelayedLinear: fixed delays must be whole numbers of steps; "
                                 "round them, or use delays='learn' for continuous positions")
            d = d.double()
            if d.ndim == 0:
                d = d.expand(shape)
            if tuple(d.shape) != shape:
                raise ValueError(f"DelayedLinear: delays have shape {tuple(d.shape)}; expected "
                                 f"[out, in] = {list(shape)} or a scalar")
            _check_delay_range(d, max_delay)
            self.register_buffer("position", d.float().contiguous())

    # -- delays ---------------------------------------------------------------------------------
    @property
    def learn_delays(self) -> bool:
        return isinstance(self.position, nn.Parameter)

    def clamped_position(self) -> torch.Tensor:
        return self.position.clamp(0.0, float(self.max_delay))

    def integer_delays(self) -> torch.Tensor:
        """The evaluation-form delays: ``round(clamp(p, 0, max_delay))`` as int64 ``[out, in]``."""
        return self.clamped_position().detach().round().long()

    def set_delays(self, delays: torch.Tensor) -> None:
        """Overwrite the positions with given delays (checked against ``0..max_delay``)."""
        d = torch.as_tensor(delays, dtype=torch.float64)
        if tuple(d.shape) != tuple(self.position.shape):
            raise ValueError(f"set_delays: shape {tuple(d.shape)} != {tuple(self.position.shape)}")
        _check_delay_range(d, self.max_delay)
        with torch.no_grad():
            self.position.copy_(d.to(self.position.dtype))

    def use_integer(self) -> bool:
        if self.mode == "integer":
            return True
        if self.mode == "gaussian":
            return False
        return not self.training or not self.learn_delays

    def kernel(self) -> torch.Tensor:
        """The current ``[out, in, max_delay + 1]`` kernel (Gaussian or one-hot)."""
        if self.use_integer():
            return integer_delay_kernel(self.weight, self.integer_delays(), self.max_delay)
        return gaussian_delay_kernel(self.weight, self.clamped_position(), self.sigma, self.max_delay)

    # -- forward --------------------------------------------------------------------------------
    def initial_state(self, x: torch.Tensor) -> DelayState:
        return DelayState(x.new_zeros(self.max_delay, x.shape[1], self.in_features))

    def _check(self, x, state):
        name = type(self).__name__
        check_sequence(x, (self.in_features,), name)  # also refuses T = 0
        if state is None:
            return self.initial_state(x)
        if not isinstance(state, DelayState):
            raise TypeError(f"{name}: state must be a DelayState (as returned by forward), "
                            f"got {type(state).__name__}")
        want = (self.max_delay, x.shape[1], self.in_features)
        if tuple(state.buffer.shape) != want:
            raise ValueError(f"{name}: state buffer has shape {tuple(state.buffer.shape)}, expected "
                             f"{list(want)} [max_delay, B, in]; pass state=None to start fresh")
        return state

    def forward(self, x: torch.Tensor, state: DelayState | None = None):
        state = self._check(x, state)
        hist = state.buffer.to(x.dtype)
        full = torch.cat([hist, x], 0) if self.max_delay else x
        new_state = DelayState(full[full.shape[0] - self.max_delay:].detach() if self.max_delay
                               else full[:0].detach())
        if self.use_integer() and self._event_path_ok(x):
            y = _event_forward(full, self.weight, self.integer_delays(), x.shape[0], self.max_delay)
            y = y.to(x.dtype)
        else:
            y = _causal_conv(x, self.kernel().to(x.dtype), hist)
        if self.bias is not None:
            y = y + self.bias
        return y, new_state

    def _event_path_ok(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
            return False
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return False
        density = float((x != 0).sum()) / max(x.numel(), 1)
        return density < 0.25

    def synaptic_operations(self, inputs: tuple, output):
        """SynOps protocol of ``axonal.metrics``: ``(events x out, elements x out)``.

        One synapse per (input, output) pair whatever its delay, so each nonzero input element
        is delivered ``out_features`` times, as in a linear layer.
        """
        x = inputs[0].detach()
        return (x != 0).sum() * self.out_features, x.numel() * self.out_features

    def extra_repr(self) -> str:
        kind = "learned" if self.learn_delays else "fixed"
        return (f"{self.in_features}, {self.out_features}, max_delay={self.max_delay}, "
                f"delays={kind}, sigma={self.sigma:.3g}, mode={self.mode}")


def _check_delay_range(d: torch.Tensor, max_delay: int) -> None:
    if d.numel() == 0:
        return
    if (d < 0).any():
        idx = tuple(int(v) for v in torch.nonzero(d < 0)[0])
        raise ValueError(f"delay {float(d[idx]):g} at index {idx} is negative; delays must lie "
                         f"in 0..max_delay={max_delay} steps")
    if (d > max_delay).any():
        idx = tuple(int(v) for v in torch.nonzero(d > max_delay)[0])
        raise ValueError(f"delay {float(d[idx]):g} at index {idx} is above max_delay={max_delay}; "
                         "raise max_delay or clip the delays")


# ----------------------------------------------------------------------------- training helpers
def delayed_layers(model: nn.Module) -> list[DelayedLinear]:
    """Every :class:`DelayedLinear` inside ``model`` (``model`` itself included)."""
    return [m for m in model.modules() if isinstance(m, DelayedLinear)]


def delay_param_groups(model: nn.Module, lr_weights: float, lr_positions: float,
                       weight_decay: float = 0.0) -> list[dict]:
    """Optimiser groups with the paper's separate learning rates.

    Returns ``[{"params": weights..., "lr": lr_weights, "weight_decay": weight_decay},
    {"params": positions..., "lr": lr_positions, "weight_decay": 0.0}]``; the second group is
    omitted when no delay is learned. Hammouamri et al. use ``lr_positions = 100 x lr_weights``.
    """
    pos_ids = {id(m.position) for m in delayed_layers(model) if m.learn_delays}
    positions = [p for p in model.parameters() if id(p) in pos_ids]
    others = [p for p in model.parameters() if id(p) not in pos_ids and p.requires_grad]
    groups = [{"params": others, "lr": lr_weights, "weight_decay": weight_decay, "name": "weights"}]
    if positions:
        groups.append({"params": positions, "lr": lr_positions, "weight_decay": 0.0,
                       "name": "positions"})
    return groups


def clamp_positions(model: nn.Module) -> None:
    """Clamp every learned position to ``[0, max_delay]`` in place (call after each step)."""
    with torch.no_grad():
        for m in delayed_layers(model):
            if m.learn_delays:
                m.position.clamp_(0.0, float(m.max_delay))


def set_sigma(model: nn.Module, sigma: float) -> None:
    """Set the Gaussian width of every delay layer in ``model``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    for m in delayed_layers(model):
        m.sigma = float(sigma)


def sigma_schedule(epoch: int, epochs: int, sigma_start: float,
                   sigma_end: float = PAPER_FINAL_SIGMA, fraction: float = 0.25) -> float:
    """The paper's width at the start of ``epoch`` (0-based) of ``epochs``.

    ``sigma`` is multiplied by ``alpha = (sigma_end / sigma_start) ** (1 / final_epoch)`` after
    every epoch until ``final_epoch = max(1, int(epochs * fraction))``, then stays at
    ``sigma_end`` (Hammouamri et al. 2024: ``sigma_start = K // 2``, ``sigma_end = 0.23``,
    ``fraction = 1/4``).
    """
    if epochs <= 0 or epoch < 0:
        raise ValueError(f"need epochs > 0 and epoch >= 0, got epoch={epoch}, epochs={epochs}")
    if not (sigma_start > 0 and sigma_end > 0):
        raise ValueError("sigma_start and sigma_end must be > 0")
    final = max(1, int(epochs * fraction))
    if epoch >= final:
        return float(sigma_end)
    alpha = (sigma_end / sigma_start) ** (1.0 / final)
    return float(sigma_start * alpha ** epoch)
