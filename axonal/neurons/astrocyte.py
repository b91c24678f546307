"""Astrocyte-modulated spiking unit (AM-SU): a LIF neuron coupled to a slow astrocyte state.

After Shen, Zhao, Dong, Li, Li, Sun & Zeng, "Astrocyte-Enabled Advancements in Spiking Neural
Networks for Large Language Modeling" (AstroSNN, arXiv 2312.07625): each spiking neuron is
paired with an astrocyte (the tripartite synapse) that integrates the neuron's activity slowly
and feeds it back, which gives the unit a memory much longer than its membrane time constant.
The paper's own equations are still not in hand: for issue 19 the arXiv HTML (2312.07625v2) was
looked up again in the stored copies reachable from this project, and only its front matter and
abstract came back, not the method section; no public code exists. So every equation below
remains this library's interpretation (following core.md §6), not the paper's, and should be
checked against the paper's method section when it can be read:

    v_t     = beta * v_{t-1} + x_t + gamma * a_{t-1}                  membrane (x: synaptic input)
    theta_t = theta + kappa * a_{t-1}                                 astrocyte-shifted threshold
    s_t     = H(v_t - theta_t)                                        spike (surrogate gradient)
    v_t    <- reset(v_t, s_t, theta_t)                                subtract theta_t (default)
    r_t     = (1 - rho) * s_t + rho * mean_population(s_t)            activity the astrocyte sees
    a_t     = alpha * a_{t-1} + (1 - alpha) * r_t                     slow astrocyte (Ca2+-like) trace

with ``beta = exp(-dt / tau_mem)`` and ``alpha = exp(-dt / tau_astro)``, ``tau_astro >> tau_mem``.

Why these choices:

- The astrocyte is a low-pass filter of spikes with unit DC gain (the ``1 - alpha`` factor),
  so ``a`` is a running firing rate in [0, 1] over the last ~``tau_astro`` steps whatever
  ``tau_astro`` is; the feedback strengths ``gamma`` and ``kappa`` then have a scale that does
  not change when ``tau_astro`` is learned.
- Feedback as a current (``gamma``, a gliotransmitter current) lets a unit that was active
  keep being pushed towards firing: a slow, input-history-dependent bias that carries
  information across long delays. Feedback on the threshold (``kappa``) is the homeostatic
  alternative (``kappa > 0`` raises the threshold after activity, like adaptation; ``kappa <
  0`` lowers it). Both gains may be negative and may be learned (unlike the positive
  constants of ``NeuronModule``, they are not clamped).
- ``rho`` mixes the population's mean activity into each astrocyte input, since one
  astrocyte contacts many synapses: ``rho = 0`` is one private astrocyte per neuron, ``rho =
  1`` one shared astrocyte signal for the population (the mean runs over the last axis).
- The astrocyte integrates the spikes of the same step (``s_t``) and acts from the next step
  on (``a_{t-1}``), so the unit stays causal and the step is a pure function.

Fast path: with ``spread == 0`` every unit is independent (elementwise), and a ``compiled``
kernel (``compile_step``) runs the whole sequence in one fused scan; ``backend="auto"`` takes it
on the CPU. ``spread > 0`` couples the units through the population mean, which an
elementwise scan cannot express: the kernel declines and the reference scan runs. The
compiled reset sees the spike through ``detach_reset`` in all its uses, whereas this step feeds
the astrocyte the undetached spike; the two differ only in gradients, so with
``detach_reset=True`` the kernel runs when no gradient is taken (inference) and declines
otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import nn

from ..functional import decay_factor
from ..kernels.registry import register_kernel
from ..surrogate import Surrogate
from ._fused import CompiledKernel
from .base import NeuronModule, NeuronParams, constant
from .catalog import register_neuron
from .lif import apply_reset

__all__ = ["AstrocyteParams", "AstrocyteState", "astrocyte_lif_step", "AstrocyteLIF"]

Number = float | torch.Tensor


@dataclass(frozen=True)
class AstrocyteParams(NeuronParams):
    tau_mem: Number = constant(10.0, learn="log")
    tau_astro: Number = constant(200.0, learn="log")
    threshold: Number = constant(1.0, learn="positive")
    current_gain: Number = constant(0.5, learn="free")     # gamma: astrocyte -> membrane current
    threshold_gain: Number = constant(0.0, learn="free")   # kappa: astrocyte -> threshold shift
    #: rho in [0, 1]: share of population activity each astrocyte sees (0: one astrocyte per
    #: neuron, 1: shared by the population)
    spread: float = constant(0.0, check="unit_closed")
    reset: str = "subtract"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True
    dt: float = constant(1.0, check="positive")


class AstrocyteState(NamedTuple):
    v: torch.Tensor   # membrane
    a: torch.Tensor   # astrocyte trace


def astrocyte_lif_step(x, state: AstrocyteState, p: AstrocyteParams):
    """One step of the astrocyte-modulated LIF (equations in the module docstring)."""
    v = decay_factor(p.tau_mem, p.dt) * state.v + x + p.current_gain * state.a
    theta = p.threshold + p.threshold_gain * state.a
    s = p.surrogate(v - theta)
    r = s if p.spread == 0 else (1 - p.spread) * s + p.spread * s.mean(-1, keepdim=True)
    alpha = decay_factor(p.tau_astro, p.dt)
    a = alpha * state.a + (1 - alpha) * r
    return s, AstrocyteState(apply_reset(v, s, theta, p), a)


@register_neuron("astrocyte_lif")
class AstrocyteLIF(NeuronModule):
    """Astrocyte-modulated spiking unit (AM-SU) population; ``forward(x [T, B, ...]) -> (spikes, state)``.

    ``AstrocyteLIF(128, tau_mem=10., tau_astro=200., current_gain=0.5, threshold_gain=0.,
    learn=("tau_mem", "tau_astro", "threshold", "current_gain", "threshold_gain"),
    per_neuron=True)``. Time constants are learned through their logarithm; the gains are
    learned unconstrained (their sign is free). Wrap in ``axonal.neurons.Recurrent`` for
    recurrent weights.
    """

    Params = AstrocyteParams
    State = AstrocyteState
    step = staticmethod(astrocyte_lif_step)


# ----------------------------------------------------------------------------- fused kernel
def _astro_dynamics(x, v, a, beta, alpha, theta, gamma, kappa):
    v = beta * v + x + gamma * a
    return v - (theta + kappa * a), v, a


def _astro_subtract(s, v, a, beta, alpha, theta, gamma, kappa):
    return v - s * (theta + kappa * a), alpha * a + (1 - alpha) * s


def _astro_zero(s, v, a, beta, alpha, theta, gamma, kappa):
    return v * (1 - s), alpha * a + (1 - alpha) * s


def _astro_none(s, v, a, beta, alpha, theta, gamma, kappa):
    return v, alpha * a + (1 - alpha) * s


def _needs_grad(params, x, state) -> bool:
    if not torch.is_grad_enabled():
        return False
    tensors = [x, *state] + [getattr(params, n) for n in AstrocyteParams.learn_rules()]
    return any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


def _astro_check(params, x, state) -> str:
    if params.spread != 0:
        return (f"spread={params.spread} couples the units through the population mean; the "
                "compiled kernel is elementwise (spread=0 only)")
    if params.detach_reset and _needs_grad(params, x, state):
        return ("with detach_reset=True the compiled reset would also detach the spike the astrocyte "
                "integrates, which changes the gradient; set detach_reset=False for the fused "
                "training path")
    return ""


register_kernel(AstrocyteParams, "compiled", CompiledKernel(
    _astro_dynamics, {"subtract": _astro_subtract, "zero": _astro_zero, "none": _astro_none},
    state=("v", "a"), params=("beta", "alpha", "theta", "gamma", "kappa"),
    bind=lambda p: (decay_factor(p.tau_mem, p.dt), decay_factor(p.tau_astro, p.dt), p.threshold,
                    p.current_gain, p.threshold_gain),
    check=_astro_check))
