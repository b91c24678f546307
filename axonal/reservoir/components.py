"""The parts of a :class:`~axonal.reservoir.engine.SparseNetwork` other than the network itself.

Synaptic channels, the global activity modulator, the streaming state, the result of a run,
and the conversions of the library's objects into the kernel's per-neuron arrays: the neuron
constants (``axonal.neurons.RefractoryLIFParams`` or ``ConductanceLIFParams``) and the
plasticity rule (``axonal.learning.STDP``). Kept apart from ``engine`` and ``_run`` so that
both import it and neither imports the other. Units: times in ms, voltages in mV.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..learning.stdp import STDP
from ..neurons.conductance import ConductanceLIFParams
from ..neurons.lif import RefractoryLIFParams
from .connectivity import Connectivity

__all__ = ["SynapseChannel", "ActivityModulator", "NetworkState", "SimulationResult",
           "NEURON_PARAMS", "neuron_arrays", "neuron_channels", "check_stdp", "stdp_arrays"]

Scalar = float | int

#: the neuron Params a SparseNetwork runs
NEURON_PARAMS = (RefractoryLIFParams, ConductanceLIFParams)


def as_numpy(x, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def per_neuron(value, n: int, name: str, owner: str) -> np.ndarray:
    """``value`` (a number or ``[n]`` values) as a contiguous float64 array ``[n]``."""
    a = as_numpy(value)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{owner}.{name} must be a scalar or an array of {n} values (one per "
                         f"neuron), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}.{name} contains NaN or infinity")
    return np.ascontiguousarray(a)


# ----------------------------------------------------------------------------- neurons
def neuron_arrays(params, n: int) -> dict[str, np.ndarray]:
    """The kernel's per-neuron arrays of ``params``: float64 ``tau_m``, ``v_rest``,
    ``v_reset``, ``v_thresh``, ``i_bias`` and int64 ``ref_steps = round(t_ref / dt)``."""
    owner = type(params).__name__
    fields = {"tau_m": "tau_mem", "v_rest": "v_rest", "v_reset": "v_reset",
              "v_thresh": "threshold", "i_bias": "bias"}
    out = {k: per_neuron(getattr(params, f), n, f, owner) for k, f in fields.items()}
    out["ref_steps"] = np.round(per_neuron(params.t_ref, n, "t_ref", owner) / params.dt).astype(np.int64)
    return out


def neuron_channels(params) -> tuple | None:
    """The synaptic channels a neuron model defines itself (ConductanceLIF: excitatory and
    inhibitory conductance), or None (RefractoryLIF: the network's ``channels``)."""
    if isinstance(params, ConductanceLIFParams):
        scalars = {}
        for name in ("tau_exc", "tau_inh", "e_exc", "e_inh"):
            v = as_numpy(getattr(params, name))
            if v.size != 1:
                raise ValueError(f"SparseNetwork: ConductanceLIFParams.{name} must be one value "
                                 f"for the population (a channel's constant), got {v.size}")
            scalars[name] = float(v.reshape(()))
        return (SynapseChannel(scalars["tau_exc"], "conductance", scalars["e_exc"]),
                SynapseChannel(scalars["tau_inh"], "conductance", scalars["e_inh"]))
    return None


def population_size(params) -> int | None:
    """The length of a per-neuron constant of ``params`` (None if all are scalars)."""
    for f in ("tau_mem", "v_rest", "v_reset", "threshold", "t_ref", "bias"):
        a = as_numpy(getattr(params, f))
        if a.ndim == 1:
            return int(a.shape[0])
    return None


# ----------------------------------------------------------------------------- channels
@dataclass(frozen=True)
class SynapseChannel:
    """One exponential synaptic channel of every neuron: ``kind="current"`` (adds ``g`` in mV to
    the drive) or ``"conductance"`` (adds ``g (e_rev - v)``; ``g`` in leak units). ``tau`` in ms;
    0 means a one-step pulse."""

    tau: float
    kind: str = "current"
    e_rev: float | None = None

    def __post_init__(self):
        if not (self.tau >= 0 and math.isfinite(self.tau)):
            raise ValueError(f"SynapseChannel.tau must be a finite number >= 0 ms, got {self.tau}")
        if self.kind not in ("current", "conductance"):
            raise ValueError(f"SynapseChannel.kind must be 'current' or 'conductance', got {self.kind!r}")
        if self.kind == "conductance" and (self.e_rev is None or not math.isfinite(self.e_rev)):
            raise ValueError("a conductance SynapseChannel needs a finite reversal potential e_rev (mV)")

    def decay(self, dt: float) -> float:
        return math.exp(-dt / self.tau) if self.tau > 0 else 0.0


# ----------------------------------------------------------------------------- plasticity
def check_stdp(rule, dt: float, who: str) -> None:
    """Raise unless the sparse kernel runs ``rule`` as ``axonal.learning.STDP`` defines it."""
    if not isinstance(rule, STDP):
        raise TypeError(f"SparseNetwork.{who} must be an axonal.learning.STDP, got "
                        f"{type(rule).__name__}")
    if rule.form != "additive" or rule.pairing != "all_to_all":
        raise ValueError(f"SparseNetwork.{who}: the sparse kernel runs additive all-to-all STDP; "
                         f"got form={rule.form!r}, pairing={rule.pairing!r}")
    if not math.isclose(rule.dt, dt, rel_tol=1e-12):
        raise ValueError(f"SparseNetwork.{who}: STDP.dt = {rule.dt} but the neurons step "
                         f"dt = {dt} ms; give STDP(..., dt={dt}) (its taus are in the same unit)")


def stdp_arrays(rule: STDP, n_pre: int, dt: float):
    """``(par [7], mirror uint8 [n_pre], w_min [n_pre], w_max [n_pre])`` for the kernel."""
    par = np.array([math.exp(-dt / rule.tau_plus), math.exp(-dt / rule.tau_minus),
                    rule.trace_increment, rule.a_plus, rule.a_minus,
                    float(rule.modulates in ("potentiation", "both")),
                    float(rule.modulates in ("depression", "both"))])
    lo = per_neuron(rule.w_min, n_pre, "w_min", "STDP")
    hi = per_neuron(rule.w_max, n_pre, "w_max", "STDP")
    if rule.mirror is None:
        mirror = np.zeros(n_pre, dtype=np.uint8)
    else:
        mirror = as_numpy(rule.mirror, bool).astype(np.uint8)
        if mirror.shape != (n_pre,):
            raise ValueError(f"STDP.mirror must be a boolean array over the {n_pre} presynaptic "
                             f"neurons, got shape {mirror.shape}")
    return par, np.ascontiguousarray(mirror), lo, hi


@dataclass(frozen=True)
class ActivityModulator:
    """Global modulator ``m`` integrated in the kernel from the population's spike counts:

        m_{t+1} = clip(m_t + (w_rec * n_rec_spikes_t + w_in * n_input_spikes_t + bias - m_t) / tau)

    to ``[lo, hi]``, starting at ``initial``; ``m_t`` scales the STDP amplitude(s) of step ``t``.
    ``tau`` is in ms (the kernel divides by ``tau / dt`` steps). NALSM's astrocyte (Ivanov &
    Michmizos 2021, core.md §8) is ``tau = 100`` (dt = 1 ms), ``w_rec = w_a``, ``w_in = -w_a``
    (``w_a = 0.015`` for 1000 neurons), ``bias = initial = A_0``.
    """

    tau: float = 100.0
    w_rec: float = 0.015
    w_in: float = -0.015
    bias: float = 0.0
    initial: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf

    def __post_init__(self):
        if not self.tau > 0:
            raise ValueError(f"ActivityModulator.tau must be > 0 ms, got {self.tau}")
        for name in ("w_rec", "w_in", "bias", "initial"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"ActivityModulator.{name} must be finite")
        if self.lo > self.hi:
            raise ValueError("ActivityModulator.lo must be <= hi")

    def kernel_params(self, dt: float) -> np.ndarray:
        return np.array([self.tau / dt, self.w_rec, self.w_in, self.bias, self.lo, self.hi])


# ----------------------------------------------------------------------------- state, result
class NetworkState(NamedTuple):
    """Everything a run needs to continue exactly where it stopped (streaming)."""

    t: int                     # absolute step of the next update
    v: np.ndarray              # [N] membranes (mV)
    last_spike: np.ndarray     # [N] absolute step of the last spike (very negative: never)
    g: np.ndarray              # [C, N] channel values
    ring: np.ndarray           # [max_delay + 1, C, N] spikes in flight
    rec_traces: tuple          # (x_pre [N], x_post [N]) of the recurrent STDP
    in_traces: tuple           # (x_pre [n_in], x_post [N]) of the input STDP
    modulator: float           # current value of an ActivityModulator
    prev_spikes: tuple         # (rec [N] bool, input [n_in] bool) of the last step (callables)


@dataclass
class SimulationResult:
    """Spikes of a run in compact form: ``spike_times[k]`` (absolute step) and
    ``spike_neurons[k]``, in time order. ``v`` ``[T, K]`` holds the recorded membranes
    (``record_v``), ``modulator`` ``[T]`` the modulator value of every step when plasticity ran."""

    spike_times: torch.Tensor
    spike_neurons: torch.Tensor
    t_start: int
    n_steps: int
    n_neurons: int
    dt: float
    state: NetworkState
    v: torch.Tensor | None = None
    modulator: torch.Tensor | None = None

    def raster(self) -> torch.Tensor:
        """Bool ``[T, N]`` spike raster (row ``t`` is step ``t_start + t``)."""
        r = torch.zeros(self.n_steps, self.n_neurons, dtype=torch.bool)
        r[self.spike_times - self.t_start, self.spike_neurons] = True
        return r

    def counts(self) -> torch.Tensor:
        """Spikes per neuron ``[N]`` (int64)."""
        return torch.bincount(self.spike_neurons, minlength=self.n_neurons)

    def rates_hz(self) -> torch.Tensor:
        """Firing rate of every neuron in Hz (``dt`` in ms)."""
        return self.counts().double() / (self.n_steps * self.dt * 1e-3)

    def population_counts(self) -> torch.Tensor:
        """Spikes per step ``[T]`` over the whole population."""
        return torch.bincount(self.spike_times - self.t_start, minlength=self.n_steps)


_EMPTY_F = np.zeros(0)
_EMPTY_I = np.zeros(0, dtype=np.int64)


def empty_projection(n_pre: int, n_post: int) -> Connectivity:
    """A projection without synapses (every row empty), so the kernel can index any neuron."""
    return Connectivity(n_pre, n_post, np.zeros(n_pre + 1, np.int64), _EMPTY_I, _EMPTY_F, _EMPTY_I,
                        _EMPTY_I)
