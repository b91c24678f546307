"""The Izhikevich neuron (Izhikevich, 2003, "Simple model of spiking neurons", IEEE TNN 14:1569).

    v' = 0.04 v^2 + 5 v + 140 - u + I        (mV, ms)
    u' = a (b v - u)
    if v >= v_peak (30 mV):  v <- c,  u <- u + d

Discretised as in the paper's own code: each step of ``dt`` ms integrates v in two half steps
(for stability of the quadratic term), then u with the new v (clipped at v_peak), then spikes
and resets. Spikes are ``heaviside(v - v_peak)`` with a surrogate derivative; by default the
reset is detached (no gradient through it), as for the LIF family. Per-neuron (heterogeneous)
parameters are tensors broadcastable to the population's shape, which is how the reservoir of
Yamada & Chao (arXiv 2510.14382) draws (a, b, c, d) around regular- and fast-spiking values.

Presets (``IZHIKEVICH_PRESETS``, Izhikevich 2003, Fig. 2): regular spiking ``RS`` (adapting
inter-spike intervals), intrinsically bursting ``IB``, chattering ``CH`` (repetitive bursts),
fast spiking ``FS`` (high, regular rate), low-threshold spiking ``LTS``. The initial state is
``v = c``, ``u = b c`` (at rest), not zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..surrogate import FastSigmoid, Surrogate
from ..kernels.registry import register_kernel
from .base import NeuronModule, NeuronParams, constant
from .catalog import register_neuron

__all__ = ["IzhikevichParams", "IzhikevichState", "izhikevich_step", "Izhikevich", "IZHIKEVICH_PRESETS"]

Number = float | torch.Tensor

IZHIKEVICH_PRESETS = {
    "RS": dict(a=0.02, b=0.2, c=-65.0, d=8.0),
    "IB": dict(a=0.02, b=0.2, c=-55.0, d=4.0),
    "CH": dict(a=0.02, b=0.2, c=-50.0, d=2.0),
    "FS": dict(a=0.1, b=0.2, c=-65.0, d=2.0),
    "LTS": dict(a=0.02, b=0.25, c=-65.0, d=2.0),
}


@dataclass(frozen=True)
class IzhikevichParams(NeuronParams):
    a: Number = constant(0.02, learn="positive")   # recovery rate (1/ms)
    b: Number = constant(0.2, learn="free")        # sensitivity of u to v
    c: Number = constant(-65.0, learn="free")      # reset potential (mV)
    d: Number = constant(8.0, learn="free")        # after-spike jump of u
    v_peak: float = constant(30.0, check="finite")
    dt: float = constant(1.0, check="positive")
    surrogate: str | Surrogate = FastSigmoid(width=5.0)   # in mV: gradients within a few mV of v_peak
    detach_reset: bool = True


class IzhikevichState(NamedTuple):
    v: torch.Tensor
    u: torch.Tensor


def izhikevich_step(x, state: IzhikevichState, p: IzhikevichParams):
    """One step of ``dt`` ms with input current ``x``; returns ``(spikes, state)``."""
    h = 0.5 * p.dt
    v, u = state.v, state.u
    v1 = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + x)
    v2 = v1 + h * (0.04 * v1 * v1 + 5.0 * v1 + 140.0 - u + x)
    vc = torch.clamp(v2, max=p.v_peak)
    u2 = u + p.dt * p.a * (p.b * vc - u)
    s = p.surrogate(v2 - p.v_peak)
    r = s.detach() if p.detach_reset else s
    v_new = vc * (1 - r) + p.c * r
    u_new = u2 + p.d * r
    return s, IzhikevichState(v_new, u_new)


@register_neuron("izhikevich")
class Izhikevich(NeuronModule):
    """Izhikevich neurons: ``Izhikevich(100, preset="RS")`` or ``Izhikevich(100, a=..., b=...)``.

    Input is a current (order 10 for tonic firing with the presets). ``backend="auto"`` uses
    the fused numba scan when the parameters need no gradient; ``"scan"`` the reference loop.
    """

    Params = IzhikevichParams
    State = IzhikevichState
    step = staticmethod(izhikevich_step)

    def __init__(self, size=None, *, preset: str | None = None, learn=(), per_neuron=False,
                 backend="auto", **params):
        if preset is not None:
            if preset not in IZHIKEVICH_PRESETS:
                raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(IZHIKEVICH_PRESETS)}")
            clash = set(IZHIKEVICH_PRESETS[preset]) & set(params)
            if clash:
                raise ValueError(f"preset {preset!r} sets {sorted(clash)}; pass either the preset or the values")
            params = {**IZHIKEVICH_PRESETS[preset], **params}
        super().__init__(size, learn=learn, per_neuron=per_neuron, backend=backend, **params)
        self.preset = preset

    def initial_state(self, x_t):
        p = self.params()
        v = torch.zeros_like(x_t) + torch.as_tensor(p.c, dtype=x_t.dtype, device=x_t.device)
        return IzhikevichState(v, v * torch.as_tensor(p.b, dtype=x_t.dtype, device=x_t.device))


register_kernel(IzhikevichParams, "numba", "axonal.kernels.izhikevich:izhikevich_numba")
