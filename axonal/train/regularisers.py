"""Firing-rate regularisers: keep hidden spiking layers between silence and saturation.

``FiringRateRegulariser(model, lower=0.01, upper=0.3, target=None, weight=1.0)`` watches the
hidden spiking layers of ``model`` through forward hooks while it is active (``with reg:``)
and ``reg.loss()`` returns the penalty of the spikes seen since the last ``reset()``:

    lower:  mean_i relu(lower - r_i)^2     neurons that (almost) never fire (per neuron)
    upper:  mean_i relu(r_i - upper)^2     neurons that fire at nearly every step (per neuron)
    target: (mean_i r_i - target)^2        the layer's mean rate (per layer)

where ``r_i`` is neuron ``i``'s spike probability per step over the time steps and batch of
the forward pass. Each of ``lower``/``upper``/``target`` is one number for every layer or a
sequence with one per layer (per-layer targets). The lower and upper bounds are the
homeostatic penalties of Zenke & Vogels (Neural Computation 2021) and Cramer et al. (IEEE
TNNLS 2020), squared hinge form; the target term is the rate target of e.g. Sorbaro et al.
(Frontiers in Neuroscience 2020). A recipe turns it on with ``training.rate_regulariser``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..network import Temporal

__all__ = ["FiringRateRegulariser", "spiking_layers"]


def spiking_layers(model: nn.Module) -> list[str]:
    """Names of ``model``'s hidden spiking layers: ``model.hidden_layers()`` when it has it,
    else every top-level-most Temporal neuron population except non-spiking readouts."""
    names = getattr(model, "hidden_layers", None)
    if callable(names):
        return list(names())
    from ..neurons import NeuronModule, Recurrent
    from ..neurons.readout import LeakyIntegrator

    out, inside = [], set()
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue
        if isinstance(m, (NeuronModule, Recurrent)) and not isinstance(m, LeakyIntegrator):
            out.append(name)
            inside.add(name)
    return out


def _per_layer(value, n: int, what: str) -> list:
    if value is None or isinstance(value, (int, float)):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"FiringRateRegulariser: {what} has {len(value)} entries but there are {n} spiking "
                         "layers; give one number or one per layer")
    return value


class FiringRateRegulariser:
    """Hooks that collect spike rates of ``layers`` and a penalty on them (module docstring)."""

    def __init__(self, model: nn.Module, *, lower=None, upper=None, target=None, weight: float = 1.0,
                 layers: Sequence[str] | None = None):
        modules = dict(model.named_modules())
        names = list(layers) if layers is not None else spiking_layers(model)
        missing = [n for n in names if n not in modules]
        if missing:
            raise ValueError(f"FiringRateRegulariser: no layer named {missing}; spiking layers: {spiking_layers(model)}")
        if not names:
            raise ValueError("FiringRateRegulariser: the model has no spiking layer to regularise")
        for name in names:
            if not isinstance(modules[name], Temporal):
                raise ValueError(f"FiringRateRegulariser: {name} is a {type(modules[name]).__name__}, not a "
                                 "spiking layer (a Temporal module)")
        for what, v in (("lower", lower), ("upper", upper), ("target", target)):
            for item in _per_layer(v, len(names), what):
                if item is not None and not 0 <= item <= 1:
                    raise ValueError(f"FiringRateRegulariser: {what} is a spike probability per step in [0, 1], "
                                     f"got {item}")
        if weight < 0:
            raise ValueError(f"FiringRateRegulariser: weight must be >= 0, got {weight}")
        self.names = names
        self.modules = [modules[n] for n in names]
        self.lower = _per_layer(lower, len(names), "lower")
        self.upper = _per_layer(upper, len(names), "upper")
        self.target = _per_layer(target, len(names), "target")
        self.weight = float(weight)
        self._handles: list = []
        self._sums: list = [None] * len(names)
        self._steps = [0] * len(names)

    @classmethod
    def from_config(cls, model: nn.Module, section) -> "FiringRateRegulariser":
        """From a ``training.rate_regulariser`` section (``axonal.config.RateRegulariserConfig``)."""
        return cls(model, lower=section.lower, upper=section.upper, target=section.target,
                   weight=section.weight, layers=section.layers)

    # ------------------------------------------------------------------ hooks
    def _hook(self, i: int):
        def hook(module, inputs, output):
            spikes = output[0] if isinstance(output, tuple) else output
            t = spikes.shape[0]
            flat = spikes.reshape(t * spikes.shape[1], -1)
            s = flat.sum(0)
            self._sums[i] = s if self._sums[i] is None else self._sums[i] + s
            self._steps[i] += flat.shape[0]
        return hook

    def __enter__(self) -> "FiringRateRegulariser":
        self.reset()
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.modules)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def reset(self) -> None:
        """Forget the spikes seen so far (call before each forward pass, or use ``with``)."""
        self._sums = [None] * len(self.names)
        self._steps = [0] * len(self.names)

    def rates(self) -> list[torch.Tensor]:
        """Per layer, each neuron's spike probability per step since the last reset (differentiable)."""
        out = []
        for name, s, n in zip(self.names, self._sums, self._steps):
            if s is None:
                raise RuntimeError(f"FiringRateRegulariser: layer {name} has not run since the last reset; "
                                   "run the model inside `with regulariser:`")
            out.append(s / n)
        return out

    def loss(self) -> torch.Tensor:
        """The weighted penalty of the spikes seen since the last reset (a scalar tensor)."""
        total = None
        for r, lo, hi, tg in zip(self.rates(), self.lower, self.upper, self.target):
            terms = []
            if lo is not None:
                terms.append(torch.relu(lo - r).pow(2).mean())
            if hi is not None:
                terms.append(torch.relu(r - hi).pow(2).mean())
            if tg is not None:
                terms.append((r.mean() - tg).pow(2))
            for term in terms:
                total = term if total is None else total + term
        if total is None:
            return torch.zeros((), device=self._sums[0].device)
        return self.weight * total
