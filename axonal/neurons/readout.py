"""The one non-spiking leaky-integrator readout of the library.

Output neurons that never spike and whose membrane is the network's output (logits over time),
as in Hammouamri, Khalfaoui-Hassani & Masquelier (DCLS delays, ICLR 2024) and most surrogate-
gradient classifiers:

    v_t = beta v_{t-1} + g x_t,     beta = exp(-dt / tau)       (the library's decay convention)

with input gain ``g = 1`` (``unit_gain=False``, the default: a LIF whose threshold is never
reached) or ``g = 1 - beta`` (``unit_gain=True``: DC gain 1, so a constant input ``c`` settles at
``v = c`` whatever ``tau`` is, and the scale of the logits does not change when ``tau`` does).

``tau`` is a time constant in steps of ``dt`` like every ``tau`` of ``axonal.neurons``; it may be
learned (through its logarithm). ``tau = inf`` is a perfect integrator (``beta = 1``). A model
that states its leak another way converts at the place it builds the readout (for example
DCLS's ``V <- (1 - 1/tau_dcls) V + I`` is ``tau = -1 / log(1 - 1/tau_dcls)``, converted where
``axonal.models.dcls_delays`` builds its readout); ``LeakyIntegrator(decay=...)`` does that conversion from a per-step
decay in (0, 1] for you.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..functional import decay_factor, tau_from_decay
from .base import NeuronModule, NeuronParams, constant
from .catalog import register_neuron

__all__ = ["LeakyIntegratorParams", "LeakyIntegratorState", "leaky_integrator_step", "LeakyIntegrator"]

Number = float | torch.Tensor


@dataclass(frozen=True)
class LeakyIntegratorParams(NeuronParams):
    #: membrane time constant in steps of dt (decay exp(-dt/tau)); inf: no leak
    tau: Number = constant(10.0, learn="log")
    #: scale the input by 1 - beta (DC gain 1) instead of 1
    unit_gain: bool = False
    dt: float = constant(1.0, check="positive")


class LeakyIntegratorState(NamedTuple):
    v: torch.Tensor   # membrane = output


def leaky_integrator_step(x, state: LeakyIntegratorState, p: LeakyIntegratorParams):
    """One step of the leaky integrator; the output is the new membrane."""
    beta = decay_factor(p.tau, p.dt)
    v = beta * state.v + ((1 - beta) * x if p.unit_gain else x)
    return v, LeakyIntegratorState(v)


@register_neuron("leaky_integrator")
class LeakyIntegrator(NeuronModule):
    """Non-spiking leaky readout neurons: ``forward(x [T, B, ...], state=None) -> (v, state)``.

    ``LeakyIntegrator(20, tau=10.)``, ``LeakyIntegrator(decay=0.8, unit_gain=True)`` or
    ``LeakyIntegrator(tau=5., learn="tau", per_neuron=True)``. The output is the membrane at
    every step (read the last step, the mean or the max, ``axonal.metrics.readout``).
    """

    Params = LeakyIntegratorParams
    State = LeakyIntegratorState
    step = staticmethod(leaky_integrator_step)

    def __init__(self, size=None, *, decay: float | None = None, learn=(), per_neuron=False,
                 backend="auto", **params):
        if decay is not None:
            if "tau" in params:
                raise ValueError("LeakyIntegrator: give either tau or decay, not both")
            if not (isinstance(decay, (int, float)) and 0 < decay <= 1):
                raise ValueError(f"LeakyIntegrator: decay must lie in (0, 1], got {decay!r} "
                                 "(decay 0, no memory at all, is no integrator: use the input itself)")
            params["tau"] = tau_from_decay(float(decay), params.get("dt", 1.0))
        super().__init__(size, learn=learn, per_neuron=per_neuron, backend=backend, **params)

