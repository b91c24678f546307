"""What every neuron model shares: the Params contract, input checks, ``scan`` and the module.

A neuron model is three small things:

- ``Params``: a frozen dataclass deriving from ``NeuronParams``. Each constant is declared once
  with ``constant(default, learn=..., check=...)``: how it may be learned (``log``, ``positive``,
  ``unit`` or ``free``; ``axonal.functional.LEARN_RULES``) and which values are valid. The
  dataclass validates itself on construction (a negative time constant is an error, not a NaN).
- ``State``: a NamedTuple of tensors.
- ``step(x_t, state, params) -> (out_t, state)``: one time step, pure PyTorch, the reference
  that every fast path is tested against.

``NeuronModule`` declares the three and runs the step over a time-major ``[T, B, ...]``
sequence: through a kernel registered for its Params type (``axonal.kernels.registry``) when one
applies, otherwise through the generic ``scan``. State is explicit: ``forward(x, state=None)``
returns ``(out, state)``; passing the state back streams.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..functional import LEARN_RULES, decay_factor, from_raw, tau_from_decay, to_raw
from ..functional import all_finite, check_sequence  # noqa: F401  (moved there: kernels use them too)
from ..kernels.registry import check_backend, run_kernel
from ..network import Temporal
from ..surrogate import Surrogate, get_surrogate

__all__ = ["NeuronParams", "constant", "NeuronModule", "scan", "check_sequence",
           "decay_factor", "tau_from_decay", "RESET_MODES", "detach_state"]

RESET_MODES = ("subtract", "zero", "none")


# ----------------------------------------------------------------------------- Params contract
#: value checks a constant may declare; each learn rule implies the check of its range
CHECKS = ("positive", "nonnegative", "unit", "unit_closed", "finite")
_CHECK_OF_RULE = {"log": "positive", "positive": "positive", "unit": "unit", "free": "finite"}


def constant(default: Any, *, learn: str | None = None, check: str | None = None):
    """Declare a Params field: its default, how it may be learned and which values are valid.

    ``learn`` is one of ``axonal.functional.LEARN_RULES`` (``None``: never learnable, e.g.
    ``dt``); ``check`` defaults to the range the rule keeps (``log``/``positive``: > 0,
    ``unit``: in (0, 1), ``free``: finite).
    """
    if learn is not None and learn not in LEARN_RULES:
        raise ValueError(f"unknown learn rule {learn!r}; choose one of {list(LEARN_RULES)}")
    check = check or _CHECK_OF_RULE.get(learn)
    if check is not None and check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; choose one of {list(CHECKS)}")
    return field(default=default, metadata={"learn": learn, "check": check})


def _check_value(name: str, value: Any, check: str) -> None:
    """Raise if ``value`` (a number or a fixed CPU tensor) violates ``check``."""
    if isinstance(value, torch.Tensor):
        if value.requires_grad or value.device.type != "cpu" or value.numel() == 0:
            return  # learnable or on an accelerator: kept in range by its learn rule
        v = value.detach()
        finite = bool(torch.isfinite(v).all())
        low, high = float(v.min()), float(v.max())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        finite, low, high = math.isfinite(value), value, value
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    ok = finite and {
        "positive": low > 0, "nonnegative": low >= 0, "unit": 0 < low and high < 1,
        "unit_closed": 0 <= low and high <= 1, "finite": True}[check]
    if not ok:
        want = {"positive": "positive and finite", "nonnegative": ">= 0 and finite",
                "unit": "in the open interval (0, 1)", "unit_closed": "in [0, 1]",
                "finite": "finite"}[check]
        raise ValueError(f"{name} must be {want}; got {value}")


@dataclass(frozen=True)
class NeuronParams:
    """Base of every neuron's Params: validates the declared fields on construction.

    Fields declared with ``constant`` are checked; a ``reset`` field must name a reset mode and
    a ``surrogate`` field given by name becomes the Surrogate object.
    """

    def __post_init__(self):
        for f in fields(self):
            check = f.metadata.get("check")
            if check is not None:
                _check_value(f"{type(self).__name__}.{f.name}", getattr(self, f.name), check)
        if hasattr(self, "reset"):
            check_reset(self.reset)
        if hasattr(self, "surrogate") and not isinstance(self.surrogate, Surrogate):
            object.__setattr__(self, "surrogate", get_surrogate(self.surrogate))

    @classmethod
    def learn_rules(cls) -> dict[str, str]:
        """``{field: learn rule}`` of the constants that may be learned, in declaration order."""
        return {f.name: f.metadata["learn"] for f in fields(cls) if f.metadata.get("learn")}


# ----------------------------------------------------------------------------- validation
def check_reset(reset: str) -> None:
    if reset not in RESET_MODES:
        raise ValueError(f"unknown reset mode {reset!r}; choose one of {list(RESET_MODES)}")


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
def detach_state(state):
    """``state`` with every tensor detached (nested tuples / NamedTuples kept, ``None`` kept)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        items = [detach_state(s) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else type(state)(items)
    return state


def scan(
    step: Callable,
    x_seq: torch.Tensor,
    state: tuple,
    params: Any,
    record: bool = False,
    detach_temporal: bool = False,
):
    """Run ``step`` over the leading (time) axis of ``x_seq``.

    Returns ``(out_seq, final_state)``, or ``(out_seq, final_state, state_seq)`` with
    ``record=True`` where ``state_seq`` is the State with each field stacked over time.
    Iterates ``x_seq.unbind(0)``: indexing ``x[t]`` in a loop makes backward O(T^2).
    ``detach_temporal=True`` detaches the state before every step: gradients flow through
    each step's input and parameters but not back in time (SLTT, ``axonal.train.online``).
    """
    outs = []
    states = []
    for x_t in x_seq.unbind(0):
        if detach_temporal:
            state = detach_state(state)
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
    """A neuron population over time: ``forward(x [T, B, ...], state=None) -> (out, state)``.

    Subclasses set ``Params`` (a ``NeuronParams``), ``State`` and ``step`` (a staticmethod);
    nothing else. The constants that ``Params`` declares learnable may be learned:
    ``learn=("tau_mem", "threshold")`` makes them ``nn.Parameter`` s named ``<field>_param``
    holding the unconstrained value of the field's learn rule (``axonal.functional``), one per
    neuron (``per_neuron=True``, needs ``size``) or one per layer. ``backend`` is ``"auto"``
    (a registered kernel when one applies, else the reference scan), ``"reference"`` (alias
    ``"scan"``) or a backend of ``axonal.kernels.registry.BACKENDS``.

    ``detach_temporal`` (default ``False``; set it with ``axonal.train.online.detach_temporal``)
    cuts the gradient between time steps: the state is detached before every step (SLTT, Meng et
    al. 2023). The fused kernels do not implement the cut, so the switch runs the reference scan.
    """

    Params: type
    #: detach the state between steps (no gradient back through time); forces the reference scan
    detach_temporal: bool = False
    State: type
    step: Callable

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
        rules = self.Params.learn_rules()
        if isinstance(learn, str):
            learn = (learn,)
        unknown = set(learn) - set(rules)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: cannot learn {sorted(unknown)}; learnable: {list(rules)}"
            )
        if per_neuron and self.size is None:
            raise ValueError(f"{type(self).__name__}: per_neuron=True needs size=")
        self.backend = check_backend(backend)
        self._fixed = params
        self._learned = tuple(learn)
        shape = self.size if per_neuron else ()
        for name in self._learned:
            value = getattr(params, name)
            raw = to_raw(rules[name], torch.as_tensor(value, dtype=torch.get_default_dtype()).detach())
            self.register_parameter(f"{name}_param", nn.Parameter(torch.broadcast_to(raw, shape).clone()))

    #: the constants of ``Params`` that ``learn=`` accepts (derived from Params, never listed)
    learnable_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("Params"), type):
            cls.learnable_names = tuple(cls.Params.learn_rules())

    def params(self) -> Any:
        """The Params of this forward pass (learned constants as tensors)."""
        if not self._learned:
            return self._fixed
        rules = self.Params.learn_rules()
        values = {name: from_raw(rules[name], getattr(self, f"{name}_param")) for name in self._learned}
        return replace(self._fixed, **values)

    def initial_state(self, x_t: torch.Tensor) -> tuple:
        """The state before the first step, for one input step ``x_t`` [B, ...] (zeros)."""
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
        if self.detach_temporal:  # the fused kernels keep the temporal gradient: use the scan
            return scan(self.step, x, state, params, detach_temporal=True)
        result = run_kernel(params, x, state, self.backend)
        if result is not None:
            return result
        return scan(self.step, x, state, params)

    def trace(self, x: torch.Tensor, state: tuple | None = None):
        """Reference scan that also returns every state over time: ``(out, states)``."""
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
