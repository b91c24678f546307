"""What every neuron model shares: input checks, the generic ``scan`` and the module wrapper.

A neuron model is ``Params`` (frozen dataclass), ``State`` (NamedTuple of tensors) and a pure
``step(x_t, state, params) -> (out_t, state)``. ``NeuronModule`` runs that step over a
time-major sequence ``[T, B, ...]``, through a fused kernel when one is registered for the
model and applies (see ``axonal.kernels``), otherwise through ``scan``. State is explicit:
``forward(x, state=None)`` returns ``(spikes, state)``; passing the state back streams.
"""
from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..network import Temporal
from ..surrogate import Surrogate, get_surrogate

RESET_MODES = ("subtract", "zero", "none")


# ----------------------------------------------------------------------------- validation
def all_finite(x: torch.Tensor) -> bool:
    """True when ``x`` holds no NaN or inf, in one pass over it in the common case.

    ``torch.isfinite(x).all()`` makes four passes and two temporaries (measured 50-100 ms on a
    [100, 128, 1024] float32 input, more than the neuron kernel that follows). A sum carries
    any NaN or inf through, so a finite sum proves the input finite; only a non-finite sum
    (a real NaN/inf, or finite values whose sum overflows) takes the exact test.
    """
    x = x.detach()
    if x.numel() == 0 or bool(torch.isfinite(x.sum())):
        return True
    return bool(torch.isfinite(x).all())


def check_positive(name: str, value: Any) -> None:
    """Raise if a constant that must be > 0 (time constant, threshold, dt) is not."""
    if isinstance(value, torch.Tensor):
        if value.requires_grad or value.device.type != "cpu":
            return  # learnable or on an accelerator: checked once at construction instead
        if not torch.isfinite(value).all() or (value <= 0).any():
            raise ValueError(f"{name} must be positive and finite everywhere; got {value}")
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value}")


def check_reset(reset: str) -> None:
    if reset not in RESET_MODES:
        raise ValueError(f"unknown reset mode {reset!r}; choose one of {list(RESET_MODES)}")


def check_sequence(x: torch.Tensor, size: tuple[int, ...] | None, who: str,
                   finite: bool = True) -> None:
    """Check a time-major input ``[T, B, *size]``: tensor, floating, right shape and, unless
    ``finite=False`` (for a kernel that checks while it reads the input), finite."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: input must be a torch.Tensor of shape [T, B, ...], got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{who}: input dtype is {x.dtype}; spiking layers need floating point input "
            "(convert with x.float())"
        )
    if x.ndim < 2:
        raise ValueError(
            f"{who}: input has shape {tuple(x.shape)}; expected time-major [T, B, ...] "
            "(add a time dimension with x.unsqueeze(0) for a single step)"
        )
    if size is not None and tuple(x.shape[2:]) != tuple(size):
        hint = ""
        if x.ndim == 2 + len(size) and tuple(x.shape[1:2] + x.shape[3:]) == tuple(size):
            hint = " It looks batch-major [B, T, ...]: pass x.transpose(0, 1)."
        raise ValueError(
            f"{who}: input has shape {tuple(x.shape)}; expected [T, B, {', '.join(map(str, size))}]"
            f" (time-major).{hint}"
        )
    if finite and not all_finite(x):
        raise ValueError(f"{who}: input contains NaN or inf; clean or clip the input first")


def check_state_batch(x: torch.Tensor, state: tuple, who: str) -> None:
    ref = state[0]
    if tuple(ref.shape) != tuple(x.shape[1:]):
        hint = " Was the input batch-major [B, T, ...]? Pass x.transpose(0, 1)." if (
            x.ndim >= 2 and ref.ndim >= 1 and x.shape[0] == ref.shape[0]) else ""
        raise ValueError(
            f"{who}: state has shape {tuple(ref.shape)} but each input step has shape "
            f"{tuple(x.shape[1:])}; pass state=None to start fresh.{hint}"
        )


# ----------------------------------------------------------------------------- scan
def scan(
    step: Callable,
    x_seq: torch.Tensor,
    state: tuple,
    params: Any,
    record: bool = False,
):
    """Run ``step`` over the leading (time) axis of ``x_seq``.

    Returns ``(out_seq, final_state)``, or ``(out_seq, final_state, state_seq)`` with
    ``record=True`` where ``state_seq`` is the State with each field stacked over time.
    Iterates ``x_seq.unbind(0)``: indexing ``x[t]`` in a loop makes backward O(T^2).
    """
    outs = []
    states = []
    for x_t in x_seq.unbind(0):
        out, state = step(x_t, state, params)
        outs.append(out)
        if record:
            states.append(state)
    out_seq = torch.stack(outs)
    if not record:
        return out_seq, state
    stacked = type(state)(*(torch.stack(fs) for fs in zip(*states)))
    return out_seq, state, stacked


# ----------------------------------------------------------------------------- module
def _as_size(size: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if size is None:
        return None
    if isinstance(size, int):
        size = (size,)
    size = tuple(int(s) for s in size)
    if not size or any(s <= 0 for s in size):
        raise ValueError(f"size must be a positive int or tuple of positive ints, got {size}")
    return size


class NeuronModule(Temporal):
    """A neuron population over time: ``forward(x [T, B, ...], state=None) -> (spikes, state)``.

    Subclasses set ``Params``, ``State``, ``step`` (a staticmethod) and ``kernel_name`` and
    list, in ``positive_params``, the constants that may become learnable. Learnable
    constants are ``nn.Parameter`` s, one per neuron (``per_neuron=True``, needs ``size``) or
    one per layer; time constants are learned as their logarithm so they stay positive.
    ``backend`` is ``"auto"`` (fused kernel when available), ``"scan"`` or a kernel name.
    """

    Params: type
    State: type
    step: Callable
    kernel_name: str | None = None
    learnable_names: tuple[str, ...] = ()

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        *,
        learn: Sequence[str] = (),
        per_neuron: bool = False,
        backend: str = "auto",
        **param_values,
    ):
        super().__init__()
        self.size = _as_size(size)
        params = self.Params(**param_values)  # validates every constant
        unknown = set(learn) - set(self.learnable_names)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: cannot learn {sorted(unknown)}; learnable: {list(self.learnable_names)}"
            )
        if per_neuron and self.size is None:
            raise ValueError(f"{type(self).__name__}: per_neuron=True needs size=")
        if backend not in ("auto", "scan") and not backend.startswith(("numba", "triton")):
            raise ValueError(f"backend must be 'auto', 'scan', 'numba' or 'triton', got {backend!r}")
        self.backend = backend
        self._fixed = params
        self._learned = tuple(learn)
        shape = self.size if per_neuron else ()
        for name in self._learned:
            value = float(getattr(params, name))
            init = math.log(value) if name.startswith("tau") else value
            self.register_parameter(f"{name}_param", nn.Parameter(torch.full(shape, init)))

    def params(self) -> Any:
        """The Params of this forward pass (learned constants as tensors)."""
        if not self._learned:
            return self._fixed
        values = {}
        for name in self._learned:
            raw = getattr(self, f"{name}_param")
            values[name] = raw.exp() if name.startswith("tau") else raw.clamp(min=1e-3)
        return replace(self._fixed, **values)

    def initial_state(self, x_t: torch.Tensor) -> tuple:
        """Zero state shaped like one input step."""
        return self.State(*(torch.zeros_like(x_t) for _ in self.State._fields))

    def _check(self, x, state):
        check_sequence(x, self.size, type(self).__name__)
        if state is None:
            return self.initial_state(x[0] if x.shape[0] else x.new_zeros(x.shape[1:]))
        if not isinstance(state, self.State):
            raise TypeError(
                f"{type(self).__name__}: state must be a {self.State.__name__} (as returned by forward), "
                f"got {type(state).__name__}"
            )
        check_state_batch(x, state, type(self).__name__)
        return state

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        state = self._check(x, state)
        params = self.params()
        if self.backend != "scan" and self.kernel_name is not None:
            from ..kernels import fused_scan

            result = fused_scan(self.kernel_name, x, state, params, backend=self.backend)
            if result is not None:
                return result
        return scan(self.step, x, state, params)

    def trace(self, x: torch.Tensor, state: tuple | None = None):
        """Reference scan that also returns every state over time: ``(spikes, states)``."""
        state = self._check(x, state)
        out, _, states = scan(self.step, x, state, self.params(), record=True)
        return out, states

    def extra_repr(self) -> str:
        parts = [f"size={self.size}"] if self.size else []
        for f in fields(self._fixed):
            if f.name in self._learned:
                parts.append(f"{f.name}=learned")
            else:
                v = getattr(self._fixed, f.name)
                parts.append(f"{f.name}={getattr(v, 'name', v)}")
        return ", ".join(parts)


def validate_params(params: Any, positive: Sequence[str]) -> None:
    """Shared ``__post_init__`` body: positive constants, reset mode, surrogate by name."""
    for name in positive:
        check_positive(f"{type(params).__name__}.{name}", getattr(params, name))
    if hasattr(params, "reset"):
        check_reset(params.reset)
    if hasattr(params, "surrogate") and not isinstance(params.surrogate, Surrogate):
        object.__setattr__(params, "surrogate", get_surrogate(params.surrogate))


def decay_factor(tau, dt: float):
    """exp(-dt / tau) for a float or tensor time constant."""
    if isinstance(tau, torch.Tensor):
        return torch.exp(-dt / tau)
    return math.exp(-dt / tau)


def tau_from_decay(decay: float, dt: float = 1.0) -> float:
    """The time constant whose per-step decay is ``decay`` (0 < decay < 1)."""
    if not 0 < decay < 1:
        raise ValueError(f"decay must lie in (0, 1), got {decay}")
    return -dt / math.log(decay)
