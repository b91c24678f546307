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

import json
import math
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..functional import LEARN_RULES, decay_factor, from_raw, tau_from_decay, to_raw
from ..functional import all_finite, check_sequence  # noqa: F401  (moved there: kernels use them too)
from ..functional import finite_check_enabled, traced
from ..kernels.registry import check_backend, run_kernel
from ..network import Temporal, detach_state
from ..surrogate import Surrogate, get_surrogate
from .peer_names import translate_names

__all__ = ["NeuronParams", "constant", "NeuronModule", "scan", "check_sequence", "check_state",
           "decay_factor", "tau_from_decay", "RESET_MODES", "OUTPUTS", "detach_state"]

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
    ``record=True`` where ``state_seq`` is the State with each field (also of nested States)
    stacked over time.
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
    return out_seq, state, _stack(states)


def _stack(states: list):
    """A list of (nested) States over time as one State of stacked fields."""
    first = states[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(states)
    return type(first)(*(_stack(list(fs)) for fs in zip(*states)))


# ----------------------------------------------------------------------------- module
#: what ``forward`` returns: ``(spikes, state)`` (the default; streaming and ``axonal.Sequential``)
#: or the spikes alone (a layer of a plain ``torch.nn.Sequential``, fresh state every call)
OUTPUTS = ("spikes_and_state", "spikes")
#: the keywords every neuron module takes besides its Params constants
MODULE_KEYWORDS = ("size", "learn", "per_neuron", "backend", "output", "batch_first", "check_finite")


def _as_size(size: int | Sequence[int] | None, who: str = "neuron") -> tuple[int, ...] | None:
    if size is None:
        return None
    if isinstance(size, float) or (isinstance(size, torch.Tensor) and size.is_floating_point()):
        raise TypeError(
            f"{who}({size!r}): the first positional argument is the layer size (an int or a tuple "
            f"of ints); constants are keywords: {who}(tau_mem={size!r}) or {who}(decay=...)")
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size,)
    if not isinstance(size, (tuple, list, torch.Size)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size):
        raise TypeError(f"{who}: size must be a positive int or a tuple of positive ints, got {size!r}")
    size = tuple(int(s) for s in size)
    if not size or any(s <= 0 for s in size):
        raise ValueError(f"{who}: size must be a positive int or tuple of positive ints, got {size}")
    return size


def check_state(x: torch.Tensor, state: tuple, who: str, finite: bool = True, batch: bool = True) -> None:
    """Check a state passed to ``forward`` against the input like the input itself: every tensor
    field of the input's dtype and device, the first field shaped like one input step (unless
    ``batch=False``), and (unless ``finite=False``, ``set_finite_check(False)`` or ``traced()``)
    finite."""
    for name, value in zip(type(state)._fields, state):
        if not isinstance(value, torch.Tensor):
            continue  # nested states (Recurrent) are checked by their own module
        if value.dtype != x.dtype:
            raise TypeError(
                f"{who}: state.{name} is {value.dtype} but the input is {x.dtype}; the state must have "
                f"the input's dtype (convert it, e.g. with {type(state).__name__}(*(s.to(x.dtype) for "
                "s in state)), or pass state=None)")
        if value.device != x.device:
            raise ValueError(f"{who}: state.{name} is on {value.device} but the input is on {x.device}; "
                             "move the state with the input")
    if batch:
        check_state_batch(x, state, who)
    if finite and finite_check_enabled() and not traced():
        for name, value in zip(type(state)._fields, state):
            if isinstance(value, torch.Tensor) and not all_finite(value):
                raise ValueError(f"{who}: state.{name} contains NaN or inf; pass state=None to start "
                                 "fresh (or clean the state)")


def _json_value(value: Any) -> Any:
    """A Params value as JSON (numbers, strings, lists; a surrogate as its name and width)."""
    if isinstance(value, Surrogate):
        return {"surrogate": value.name, "width": value.width}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'inf' / 'nan': JSON has no literal for them
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return repr(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        try:
            ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        except (TypeError, ValueError):
            return False
        return ta.shape == tb.shape and bool(torch.allclose(ta, tb, rtol=1e-6, atol=0, equal_nan=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=0)
    return a == b


class NeuronModule(Temporal):
    """A neuron population over time: ``forward(x [T, B, ...], state=None) -> (out, state)``.

    Subclasses set ``Params`` (a ``NeuronParams``), ``State`` and ``step`` (a staticmethod);
    nothing else. The constants that ``Params`` declares learnable may be learned:
    ``learn=("tau_mem", "threshold")`` makes them ``nn.Parameter`` s named ``<field>_param``
    holding the unconstrained value of the field's learn rule (``axonal.functional``), one per
    neuron (``per_neuron=True``, needs ``size``) or one per layer. ``backend`` is ``"auto"``
    (a registered kernel when one applies, else the reference scan), ``"reference"`` (alias
    ``"scan"``) or a backend of ``axonal.kernels.registry.BACKENDS``.

    - ``decay=`` (neurons with ``tau_mem``): the per-step decay instead of the time constant,
      ``tau_mem = -dt / log(decay)``; ``repr`` shows it.
    - ``output="spikes"``: ``forward`` returns the spikes alone, from a fresh state each call,
      so the layer chains in a plain ``torch.nn.Sequential``; the default
      ``"spikes_and_state"`` returns ``(spikes, state)`` for streaming and ``axonal.Sequential``.
    - ``batch_first=True``: input and output are ``[B, T, ...]`` (the state stays ``[B, ...]``).
    - ``check_finite=False``: skip this layer's NaN/inf check of input and state (one pass and
      one host sync per call; ``axonal.functional.set_finite_check`` switches it library-wide;
      it is skipped inside ``torch.func`` transforms and ``torch.compile``).
    - Peer keyword names (snnTorch's ``beta``, SpikingJelly's ``v_threshold``, ...) are accepted
      where they mean the same (``axonal.neurons.peer_names``); other unknown keywords are an
      error listing the valid names.

    The fixed (not learned) constants are saved in ``state_dict`` (as a small JSON record in
    ``<layer>._extra_state``) and checked on ``load_state_dict``: a model saved with
    ``decay=0.95`` refuses to load into one built with ``decay=0.5``. State dicts saved before
    the record existed load as before.

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
        output: str = "spikes_and_state",
        batch_first: bool = False,
        check_finite: bool = True,
        **param_values,
    ):
        super().__init__()
        who = type(self).__name__
        self.size = _as_size(size, who)
        param_values = translate_names(who, param_values, self.keyword_names())
        self.decay = None
        if "decay" in param_values and "decay" not in self._param_names():
            decay = param_values.pop("decay")
            if "tau_mem" in param_values:
                raise ValueError(f"{who}: give either tau_mem or decay, not both")
            if isinstance(decay, bool) or not isinstance(decay, (int, float)):
                raise TypeError(f"{who}: decay must be a number in (0, 1], got {decay!r}")
            dt = param_values.get("dt", self._param_defaults().get("dt", 1.0))
            param_values["tau_mem"] = tau_from_decay(float(decay), dt)
            self.decay = float(decay)
        if output not in OUTPUTS:
            raise ValueError(f"{who}: output must be one of {list(OUTPUTS)}, got {output!r} "
                             "('spikes' for a plain torch.nn.Sequential)")
        self.output = output
        self.batch_first = bool(batch_first)
        self.check_finite = bool(check_finite)
        params = self.Params(**param_values)  # validates every constant
        rules = self.Params.learn_rules()
        if isinstance(learn, str):
            learn = (learn,)
        unknown = set(learn) - set(rules)
        if unknown:
            raise ValueError(
                f"{who}: cannot learn {sorted(unknown)}; learnable: {list(rules)}"
            )
        if per_neuron and self.size is None:
            raise ValueError(f"{who}: per_neuron=True needs size=")
        self.backend = check_backend(backend)
        self._fixed = params
        self._learned = tuple(learn)
        #: fixed constants given as tensors (one value per neuron): checked against the input
        self._tensor_constants = tuple(
            f.name for f in fields(params)
            if f.name not in self._learned and isinstance(getattr(params, f.name), torch.Tensor))
        if self.size is not None:
            for name in self._tensor_constants:
                self._check_constant_shape(name, self.size)
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

    @classmethod
    def _param_names(cls) -> set[str]:
        return {f.name for f in fields(cls.Params) if f.init}

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls.Params) if f.init}

    @classmethod
    def keyword_names(cls) -> set[str]:
        """Every keyword the constructor takes: the Params constants, ``decay`` where the neuron
        has ``tau_mem``, and ``MODULE_KEYWORDS``."""
        names = cls._param_names() | set(MODULE_KEYWORDS)
        if "tau_mem" in names:
            names.add("decay")
        return names

    def _check_constant_shape(self, name: str, step_shape: tuple[int, ...]) -> None:
        value = getattr(self._fixed, name)
        try:
            fits = torch.broadcast_shapes(value.shape, tuple(step_shape)) == tuple(step_shape)
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"{type(self).__name__}: {name} has shape {tuple(value.shape)}, which does not fit "
                f"the neurons (one step of them has shape {tuple(step_shape)}); give one value per neuron (shape "
                f"{tuple(step_shape[-len(value.shape):]) if value.ndim else ()}) or a single number")

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
        who = type(self).__name__
        check_sequence(x, self.size, who, finite=self.check_finite)
        for name in self._tensor_constants:
            self._check_constant_shape(name, tuple(x.shape[1:]))
        if state is None:
            return self.initial_state(x[0])
        if not isinstance(state, self.State):
            raise TypeError(
                f"{who}: state must be a {self.State.__name__} (as returned by forward), "
                f"got {type(state).__name__}"
            )
        check_state(x, state, who, finite=self.check_finite)
        return state

    def run(self, x: torch.Tensor, state: tuple | None = None):
        """The time-major sequence through the fast path or the reference scan:
        ``(out [T, B, ...], state)`` whatever ``output`` and ``batch_first`` say."""
        state = self._check(x, state)
        params = self.params()
        if self.detach_temporal:  # the fused kernels keep the temporal gradient: use the scan
            return scan(self.step, x, state, params, detach_temporal=True)
        if not (self.backend == "auto" and x.shape[0] == 1):
            # one step at a time (a Python loop over time): the reference step is several times
            # cheaper than a fused kernel's call overhead, so ``auto`` takes it
            result = run_kernel(params, x, state, self.backend)
            if result is not None:
                return result
        return scan(self.step, x, state, params)

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        """``x [T, B, ...]`` (``[B, T, ...]`` with ``batch_first``) -> ``(spikes, state)``, or the
        spikes alone with ``output="spikes"``. ``state=None`` starts from rest; passing the
        returned state back continues the sequence (streaming)."""
        if self.batch_first:
            x = _batch_first_in(x, type(self).__name__)
        out, state = self.run(x, state)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out if self.output == "spikes" else (out, state)

    def trace(self, x: torch.Tensor, state: tuple | None = None):
        """Reference scan that also returns every state over time: ``(out, states)``
        (time-major, whatever ``batch_first`` says)."""
        state = self._check(x, state)
        out, _, states = scan(self.step, x, state, self.params(), record=True)
        return out, states

    # ------------------------------------------------------------------ constants in state_dict
    def _constants_record(self) -> dict[str, Any]:
        return {f.name: _json_value(getattr(self._fixed, f.name))
                for f in fields(self._fixed) if f.init and f.name not in self._learned}

    def get_extra_state(self) -> torch.Tensor:
        """The fixed constants as a JSON record in a uint8 tensor (safetensors keeps tensors only)."""
        record = {"neuron": type(self).__name__, "constants": self._constants_record()}
        return torch.tensor(list(json.dumps(record, sort_keys=True).encode()), dtype=torch.uint8)

    def set_extra_state(self, state: Any) -> None:
        """Check the saved constants against this layer's: a mismatch is an error naming the
        constant and both values (the weights would be run with other dynamics)."""
        who = type(self).__name__
        try:
            if isinstance(state, torch.Tensor):
                state = bytes(state.detach().cpu().to(torch.uint8).tolist()).decode()
            record = json.loads(state) if isinstance(state, str) else state
            saved = record["constants"]
            if not isinstance(saved, dict):
                raise TypeError("constants is not a mapping")
        except Exception as exc:  # a damaged or foreign record
            raise ValueError(f"{who}: the saved record of fixed constants is unreadable ({exc}); "
                             "the checkpoint is damaged or not from an axonal neuron") from None
        mine = self._constants_record()
        wrong = [name for name in mine if name in saved and not _same(saved[name], mine[name])]
        if wrong:
            parts = [f"{n}: saved {self._show(n, saved[n])}, this model {self._show(n, mine[n])}"
                     for n in wrong]
            raise ValueError(
                f"{who}: the checkpoint was saved with other fixed constants ({'; '.join(parts)}); "
                f"build the model with the saved values (e.g. {who}(..., {wrong[0]}=...)) before "
                "loading, or learn the constant (learn=...) to store it as a parameter")

    def _show(self, name: str, value: Any) -> str:
        if name == "tau_mem" and isinstance(value, (int, float)) and not isinstance(value, bool):
            dt = getattr(self._fixed, "dt", 1.0)
            return f"{value!r} (decay {decay_factor(float(value), float(dt)):.6g})"
        return repr(value)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + "_extra_state"
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                          unexpected_keys, error_msgs)
        except ValueError as exc:
            raise ValueError(f"{prefix.rstrip('.') or 'layer'}: {exc}") from None
        if key not in state_dict and key in missing_keys:
            missing_keys.remove(key)  # saved before the constants were recorded: nothing to check

    def extra_repr(self) -> str:
        parts = [f"size={self.size}"] if self.size else []
        for f in fields(self._fixed):
            if f.name in self._learned:
                parts.append(f"{f.name}=learned")
            elif f.name == "tau_mem" and self.decay is not None:
                parts.append(f"decay={self.decay}")
                parts.append(f"tau_mem={self._fixed.tau_mem:.6g}")
            else:
                v = getattr(self._fixed, f.name)
                parts.append(f"{f.name}={getattr(v, 'name', v)}")
        if self.output != "spikes_and_state":
            parts.append(f"output={self.output!r}")
        if self.batch_first:
            parts.append("batch_first=True")
        return ", ".join(parts)


def _batch_first_in(x, who: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"{who}(batch_first=True): input must be a tensor [B, T, ...], got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    return x.transpose(0, 1)
