"""Conductance-based LIF (COBA): excitatory and inhibitory exponential conductances.

The neuron of the COBA benchmark network (Vogels & Abbott 2005; Brette et al., J. Comput.
Neurosci. 2007)::

    tau_mem dv/dt = v_rest - v + bias + g_exc (e_exc - v) + g_inh (e_inh - v)   (not refractory)
    tau_exc dg_exc/dt = -g_exc,   tau_inh dg_inh/dt = -g_inh

Units: times in ms, voltages in mV, conductances in units of the leak conductance (COBA's
6 nS excitatory quantum on a 10 nS leak is 0.6). Spike at ``v >= threshold``, reset to
``v_reset``, clamped for ``t_ref`` (as :class:`~axonal.neurons.lif.RefractoryLIF`).

The input of one step is the conductance that arrives, ``x [B, 2, *size]``: ``x[:, 0]`` the
excitatory and ``x[:, 1]`` the inhibitory increments (presynaptic spikes times weights). One
step, in this order: integrate the membrane with the conductances of the step, decay them,
spike and reset, then add the arrivals ``x`` (so a spike that arrives at step ``t`` first moves
the membrane at ``t + 1``, as in Brian2 and ``axonal.reservoir.SparseNetwork``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..functional import decay_factor
from ..surrogate import Surrogate
from .base import NeuronModule, NeuronParams, check_sequence, check_state, constant
from .catalog import register_neuron
from .lif import Number, check_integrator, refractory_fire, refractory_gate

__all__ = ["ConductanceLIF", "ConductanceLIFParams", "ConductanceLIFState", "conductance_lif_step"]


@dataclass(frozen=True)
class ConductanceLIFParams(NeuronParams):
    """Constants of the conductance-based LIF (module docstring). Defaults: COBA."""

    tau_mem: Number = constant(20.0, learn="log")
    v_rest: Number = constant(-60.0, learn="free")
    v_reset: Number = constant(-60.0, learn="free")
    threshold: Number = constant(-50.0, learn="free")
    t_ref: Number = constant(5.0, check="nonnegative")
    bias: Number = constant(0.0, learn="free")
    tau_exc: Number = constant(5.0, learn="log")
    tau_inh: Number = constant(10.0, learn="log")
    e_exc: Number = constant(0.0, learn="free")
    e_inh: Number = constant(-80.0, learn="free")
    dt: float = constant(0.1, check="positive")
    integrator: str = "euler"
    reset: str = "zero"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_integrator(self.integrator, type(self).__name__)


class ConductanceLIFState(NamedTuple):
    v: torch.Tensor           # membrane (mV)
    g_exc: torch.Tensor       # excitatory conductance (leak units)
    g_inh: torch.Tensor       # inhibitory conductance (leak units)
    refractory: torch.Tensor  # refractory time left (ms)


def conductance_lif_step(x, state: ConductanceLIFState, p: ConductanceLIFParams):
    """One step; ``x [B, 2, ...]`` holds the arriving excitatory / inhibitory conductance."""
    left, active = refractory_gate(state.refractory, p.dt)
    g_e, g_i, v = state.g_exc, state.g_inh, state.v
    # summed in the order of the reservoir kernel, so both round alike
    drive = p.v_rest + p.bias + g_e * p.e_exc + g_i * p.e_inh
    g_sum = 1.0 + g_e + g_i
    if p.integrator == "euler":
        v_new = v + p.dt / p.tau_mem * (drive - g_sum * v)
    else:
        v_inf = drive / g_sum
        v_new = v_inf + (v - v_inf) * torch.exp(-p.dt * g_sum / p.tau_mem)
    v = torch.where(active, v_new, v)
    g_e = g_e * decay_factor(p.tau_exc, p.dt)
    g_i = g_i * decay_factor(p.tau_inh, p.dt)
    s, v, left = refractory_fire(v, active, left, p)
    return s, ConductanceLIFState(v, g_e + x[:, 0], g_i + x[:, 1], left)


@register_neuron("coba_lif")
class ConductanceLIF(NeuronModule):
    """Conductance-based LIF population (module docstring): ``ConductanceLIF(4000)`` takes
    ``x [T, B, 2, 4000]`` (excitatory, inhibitory conductance arrivals) and returns spikes
    ``[T, B, 4000]``. The membrane starts at ``v_rest`` with no conductance."""

    Params = ConductanceLIFParams
    State = ConductanceLIFState
    step = staticmethod(conductance_lif_step)

    def initial_state(self, x_t: torch.Tensor) -> ConductanceLIFState:
        """Rest, no conductance, not refractory, for one input step ``x_t [B, 2, ...]``."""
        z = torch.zeros_like(x_t[:, 0])
        v_rest = torch.as_tensor(self.params().v_rest, dtype=x_t.dtype, device=x_t.device)
        return ConductanceLIFState(z + v_rest, z, z.clone(), z.clone())

    def _check(self, x, state):
        name = type(self).__name__
        if isinstance(x, torch.Tensor) and (x.ndim < 3 or x.shape[2] != 2):
            raise ValueError(f"{name}: input has shape {tuple(x.shape)}; expected [T, B, 2, ...] "
                             "(excitatory and inhibitory conductance arrivals on axis 2; stack "
                             "them with torch.stack([g_exc, g_inh], dim=2))")
        check_sequence(x, None if self.size is None else (2, *self.size), name, finite=self.check_finite)
        if state is None:
            return self.initial_state(x[0])
        if not isinstance(state, ConductanceLIFState):
            raise TypeError(f"{name}: state must be a ConductanceLIFState (as returned by forward), "
                            f"got {type(state).__name__}")
        if tuple(state.v.shape) != (x.shape[1], *x.shape[3:]):
            raise ValueError(f"{name}: state has shape {tuple(state.v.shape)} but each input step "
                             f"has shape {tuple(x.shape[1:])} ([B, 2, ...]); pass state=None to "
                             "start fresh")
        check_state(x, state, name, finite=self.check_finite, batch=False)
        return state
