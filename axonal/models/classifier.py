"""A generic spiking sequence classifier: encoder -> spiking hidden layers -> readout -> class scores.

    x [T, B, C] -> encoder -> [Linear -> (recurrent) LIF-family (-> Dropout)] x len(hidden)
                -> Linear -> readout neurons -> scores [B, K]

The readout neurons are either non-spiking leaky integrators whose membrane is summarised over
time (``membrane_mean``, ``last_membrane``, ``membrane_max``; the readout of Cramer et al.,
"The Heidelberg Spiking Data Sets", IEEE TNNLS 2020, and Zenke & Vogels, Neural Computation
2021), or spiking LIF neurons whose spike counts are the scores (``spike_count``; rate-coded
output as in Neftci, Mostafa & Zenke, IEEE Signal Processing Magazine 2019). Scores go to a
cross-entropy loss. Hidden layers are built from ``axonal.neurons`` and use the fused kernels
automatically when they apply.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..network import Sequential, Temporal
from ..neurons import AdaptiveLIF, CurrentBasedLIF, LIF, Recurrent
from ..neurons.base import check_sequence
from ..surrogate import get_surrogate

__all__ = ["SpikingClassifier", "LeakyIntegrator", "NEURONS", "READOUTS"]

NEURONS = {"lif": LIF, "cuba_lif": CurrentBasedLIF, "adaptive_lif": AdaptiveLIF}
READOUTS = ("membrane_mean", "last_membrane", "membrane_max", "spike_count")
_MATMUL_MAX_T = 1024  # up to this many steps the integrator is one [T, T] matmul, else a loop


class LeakyIntegrator(Temporal):
    """Non-spiking leaky readout: ``v_t = beta v_{t-1} + x_t`` with ``beta = exp(-1 / tau)``.

    ``forward(x [T, B, N], state=None) -> (v [T, B, N], v_T)``; ``state`` is the last membrane.
    """

    def __init__(self, size: int, tau: float = 10.0):
        super().__init__()
        if not (isinstance(tau, (int, float)) and tau > 0 and math.isfinite(tau)):
            raise ValueError(f"LeakyIntegrator: tau must be a positive number of steps, got {tau!r}")
        self.size = (int(size),)
        self.tau = float(tau)
        self.beta = math.exp(-1.0 / self.tau)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        check_sequence(x, self.size, "LeakyIntegrator")
        t = x.shape[0]
        if t <= _MATMUL_MAX_T:
            idx = torch.arange(t, device=x.device, dtype=x.dtype)
            lag = idx[:, None] - idx[None, :]
            kernel = torch.where(lag >= 0, self.beta ** lag.clamp(min=0), torch.zeros((), dtype=x.dtype, device=x.device))
            v = (kernel @ x.reshape(t, -1)).reshape(x.shape)
            if state is not None:
                v = v + (self.beta ** (idx + 1)).reshape(t, *([1] * (x.ndim - 1))) * state
        else:
            out, v_t = [], state if state is not None else torch.zeros_like(x[0])
            for x_t in x.unbind(0):
                v_t = self.beta * v_t + x_t
                out.append(v_t)
            v = torch.stack(out)
        return v, v[-1]

    def extra_repr(self) -> str:
        return f"size={self.size}, tau={self.tau}"


def _make_neuron(kind: str, size: int, recurrent: bool, params: dict, learn: Sequence[str],
                 per_neuron: bool, recurrent_scale: float = 1.0) -> nn.Module:
    if kind not in NEURONS:
        raise ValueError(f"unknown neuron {kind!r}; allowed values: {', '.join(NEURONS)}")
    neuron = NEURONS[kind](size, learn=tuple(learn), per_neuron=per_neuron, **params)
    return Recurrent(neuron, weight_scale=recurrent_scale) if recurrent else neuron


class SpikingClassifier(nn.Module):
    """Spiking classifier of time-major sequences; ``forward(x [T, B, C]) -> scores [B, K]``.

    ``neuron_params`` go to every spiking layer (``tau_mem``, ``threshold``, ``reset``,
    ``surrogate``, plus ``tau_syn`` / ``tau_adapt`` / ``adaptation`` for the models that have
    them). ``recurrent`` adds all-to-all recurrent weights to each hidden layer, initialised
    uniformly in ``±recurrent_scale / sqrt(N)``. ``encoder`` is
    any module ``x -> (encoded, state)`` run first (its output width must be ``n_inputs``).
    """

    def __init__(self, n_inputs: int, n_classes: int, hidden: Sequence[int] = (128,), *, neuron: str = "lif",
                 recurrent: bool = True, recurrent_scale: float = 1.0, neuron_params: dict | None = None,
                 learn: Sequence[str] = (), per_neuron: bool = False, dropout: float = 0.0, readout: str = "membrane_mean",
                 readout_tau: float = 10.0, encoder: nn.Module | None = None):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; allowed values: {', '.join(READOUTS)}")
        for name, v in (("n_inputs", n_inputs), ("n_classes", n_classes)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"SpikingClassifier: {name} must be a positive int, got {v!r}")
        params = dict(neuron_params or {})
        self.readout = readout
        self.encoder = encoder
        layers: list[nn.Module] = []
        n_in = n_inputs
        for h in hidden:
            layers += [nn.Linear(n_in, h), _make_neuron(neuron, h, recurrent, params, learn, per_neuron,
                                                           recurrent_scale)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = h
        layers.append(nn.Linear(n_in, n_classes))
        if readout == "spike_count":
            layers.append(_make_neuron(neuron, n_classes, False, params, (), False))
        else:
            layers.append(LeakyIntegrator(n_classes, tau=readout_tau))
        self.net = Sequential(*layers)

    @classmethod
    def from_config(cls, section, n_inputs: int, n_classes: int, encoder: nn.Module | None = None):
        """Build from a validated ``SpikingClassifierConfig`` (``axonal.config``)."""
        params = {"tau_mem": section.tau_mem, "threshold": section.threshold, "reset": section.reset,
                  "surrogate": get_surrogate(section.surrogate, section.surrogate_width)}
        for name in ("tau_syn", "tau_adapt", "adaptation"):
            if getattr(section, name) is not None:
                params[name] = getattr(section, name)
        return cls(n_inputs, n_classes, tuple(section.hidden), neuron=section.neuron,
                   recurrent=section.recurrent, recurrent_scale=section.recurrent_scale,
                   neuron_params=params, learn=tuple(section.learn),
                   per_neuron=section.per_neuron, dropout=section.dropout, readout=section.readout,
                   readout_tau=section.readout_tau, encoder=encoder)

    def hidden_layers(self) -> list[str]:
        """Names (as in ``named_modules``) of the hidden spiking populations, input side first."""
        return [f"net.layers.{i}" for i, m in enumerate(self.net.layers[:-1]) if isinstance(m, Temporal)]

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """The readout's output over time, ``[T, B, K]`` (membrane or spikes)."""
        if self.encoder is not None:
            x, _ = self.encoder(x)
        out, _ = self.net(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.forward_sequence(x)
        if self.readout == "membrane_mean":
            return out.mean(0)
        if self.readout == "last_membrane":
            return out[-1]
        if self.readout == "membrane_max":
            return out.amax(0)
        return out.sum(0)
