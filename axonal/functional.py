"""Pure helpers that neurons, kernels, synapses and the reservoir all need.

This module is a leaf: it imports nothing from ``axonal``, so any part of the package can use
it without an import cycle (``neurons`` -> ``kernels`` -> ``neurons`` was one).

- ``decay_factor(tau, dt)``: the per-step decay ``exp(-dt / tau)`` of every exponential
  time constant in the library (neurons, synaptic traces, delays' leaky readout).
- ``LEARN_RULES``: how a learnable constant is stored as an unconstrained ``nn.Parameter``
  (``raw``) and mapped back to its value, so that gradient descent never leaves the valid
  range and the gradient never dies at a clamp:

  ============  =======================  ============================  =====================
  rule          value from raw           raw from value                for
  ============  =======================  ============================  =====================
  ``log``       ``exp(raw)``             ``log(value)``                time constants
  ``positive``  ``softplus(raw)``        ``log(expm1(value))``         thresholds, gains > 0
  ``unit``      ``sigmoid(raw)``         ``logit(value)``              probabilities, mixes
  ``free``      ``raw``                  ``value``                     signed constants
  ============  =======================  ============================  =====================
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = ["decay_factor", "tau_from_decay", "LEARN_RULES", "to_raw", "from_raw", "all_finite",
           "check_sequence", "set_finite_check", "finite_check_enabled", "traced"]


def decay_factor(tau, dt: float):
    """exp(-dt / tau) for a float or tensor time constant (``tau = inf`` gives 1: no leak)."""
    if isinstance(tau, torch.Tensor):
        return torch.exp(-dt / tau)
    return math.exp(-dt / tau)


def tau_from_decay(decay: float, dt: float = 1.0) -> float:
    """The time constant whose per-step decay is ``decay`` (0 < decay <= 1; 1 means no leak)."""
    if not 0 < decay <= 1:
        raise ValueError(f"decay must lie in (0, 1], got {decay}")
    return math.inf if decay == 1 else -dt / math.log(decay)


LEARN_RULES = ("log", "positive", "unit", "free")
_TINY = 1e-6  # a value of exactly 0 (or 1 for ``unit``) starts just inside the open range


def to_raw(rule: str, value: torch.Tensor) -> torch.Tensor:
    """The unconstrained parameter whose ``from_raw(rule, ...)`` is ``value``."""
    value = torch.as_tensor(value, dtype=torch.get_default_dtype())
    if rule == "log":
        return value.clamp(min=_TINY).log()
    if rule == "positive":
        v = value.clamp(min=_TINY)
        # log(expm1(v)) without overflow for large v (softplus is the identity there)
        return torch.where(v > 20, v, torch.log(torch.expm1(torch.clamp(v, max=20))))
    if rule == "unit":
        return torch.logit(value.clamp(_TINY, 1 - _TINY))
    if rule == "free":
        return value.clone()
    raise ValueError(f"unknown learn rule {rule!r}; choose one of {list(LEARN_RULES)}")


def from_raw(rule: str, raw: torch.Tensor) -> torch.Tensor:
    """The constrained value of an unconstrained parameter (differentiable everywhere)."""
    if rule == "log":
        return raw.exp()
    if rule == "positive":
        return F.softplus(raw)
    if rule == "unit":
        return torch.sigmoid(raw)
    if rule == "free":
        return raw
    raise ValueError(f"unknown learn rule {rule!r}; choose one of {list(LEARN_RULES)}")


# ----------------------------------------------------------------------------- input checks
#: the library-wide switch of the NaN/inf check of inputs and states (``set_finite_check``)
_FINITE_CHECK = {"enabled": True}


def set_finite_check(enabled: bool) -> bool:
    """Turn the NaN/inf check of every layer's input and state on or off; returns the previous
    setting. The check costs one pass over the input and one host synchronisation per call; a
    layer's own ``check_finite=False`` turns it off for that layer alone."""
    previous = _FINITE_CHECK["enabled"]
    _FINITE_CHECK["enabled"] = bool(enabled)
    return previous


def finite_check_enabled() -> bool:
    """The library-wide setting of ``set_finite_check``."""
    return _FINITE_CHECK["enabled"]


def traced() -> bool:
    """True inside a ``torch.func`` transform (``grad``, ``vmap``, ``jvp``, ...) or while
    ``torch.compile`` traces: data-dependent Python checks (``bool(tensor)``) cannot run there
    (vmap refuses them, compile breaks the graph), and compiled kernels cannot be transformed."""
    return (torch._C._functorch.peek_interpreter_stack() is not None
            or torch.compiler.is_compiling())


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


def check_sequence(x: torch.Tensor, size: tuple[int, ...] | None, who: str,
                   finite: bool = True) -> None:
    """Check a time-major input ``[T, B, *size]``: tensor, floating, at least one step, right
    shape and, unless ``finite=False`` (a kernel that checks while it reads the input, or a layer
    built with ``check_finite=False``), ``set_finite_check(False)`` or ``traced()``, finite."""
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
    if x.shape[0] == 0:
        raise ValueError(
            f"{who}: input has shape {tuple(x.shape)}, zero time steps; expected time-major "
            "[T, B, ...] with T >= 1"
        )
    if size is not None and tuple(x.shape[2:]) != tuple(size):
        hint = ""
        if x.ndim == 2 + len(size) and tuple(x.shape[1:2] + x.shape[3:]) == tuple(size):
            hint = " It looks batch-major [B, T, ...]: pass x.transpose(0, 1)."
        raise ValueError(
            f"{who}: input has shape {tuple(x.shape)}; expected [T, B, {', '.join(map(str, size))}]"
            f" (time-major).{hint}"
        )
    if finite and _FINITE_CHECK["enabled"] and not traced() and not all_finite(x):
        raise ValueError(f"{who}: input contains NaN or inf; clean or clip the input first")
