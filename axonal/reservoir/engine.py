"""Sparse recurrent network engine: LIF populations, CSR synapses, delays, sparse STDP.

A :class:`SparseNetwork` simulates ``N`` leaky integrate-and-fire neurons (per-neuron
parameters, refractory period) connected by a recurrent :class:`~.connectivity.Connectivity`
and driven by external currents ``[T, N]`` and/or input spikes ``[T, n_in]`` through an input
connectivity. It is a clock-driven simulator with event-driven propagation (BrainPy's
event-CSR operators, secondary.md §23): only the rows of neurons that spike are read.

**Membrane** (per neuron ``i``, ``dt`` and times in ms, voltages in mV)::

    tau_m dv/dt = v_rest - v + sum_c[current] g_c + sum_c[conductance] g_c (E_c - v) + I_ext + i_bias

Current channels add ``g_c`` in mV (a current times the membrane resistance); conductance
channels are in units of the leak conductance (Brette et al. 2007's COBA: 6 nS / 10 nS =
0.6). ``integrator="euler"`` is forward Euler (Brian2's choice for these equations);
``"exp_euler"`` integrates exactly with the conductances held over the step.

**Channels** (:class:`SynapseChannel`) decay exponentially, ``g_c <- g_c exp(-dt / tau_c)``
(``tau_c = 0``: a one-step pulse). A presynaptic spike at step ``t`` through a synapse of
delay ``d`` (steps) adds its weight to ``g_c`` of the target at the end of step ``t + d``, so it
first moves the membrane at step ``t + d + 1`` (a delay of 0 is Brian2's default, no delay).

**One step** ``t``: (1) integrate the non-refractory membranes with the current ``g`` and
``I_ext[t]``; (2) decay ``g``; (3) spike where ``v >= v_thresh`` and not refractory, reset to
``v_reset``; the neuron then stays clamped for ``t_ref`` (``round(t_ref / dt)`` steps,
integrating again at step ``t + ref_steps``); (4) record; (5) push the spikes of step ``t``
(recurrent and input) through their CSR rows into a ring buffer of ``max_delay + 1`` slots;
(6) plasticity (below); (7) add the ring slot of step ``t`` to ``g``.

**Plasticity** (:class:`TraceSTDP`, Morrison, Diesmann & Gerstner 2008 trace form as in
``axonal.learning.STDP``, applied only to existing synapses): traces decay by
``exp(-dt / tau)``, then a postsynaptic spike adds ``A+ x_pre`` to each incoming weight and a
presynaptic spike adds ``-A- x_post`` to each outgoing one, the traces are read before this
step's spikes raise them by ``trace_increment``, and the touched weights are clipped to
``[w_min, w_max]`` of their presynaptic neuron. Presynaptic neurons flagged ``mirror``
(NALSM's inhibitory sources, core.md §8) get the mirrored rule ``-A- x_pre`` at post spikes and
``+A+ x_post`` at pre spikes. A global modulator ``m_t`` scales ``A-`` (and/or ``A+``) at every
step: a constant, per-step values, a callable of the previous step's spikes, or the built-in
:class:`ActivityModulator` (a leaky integrator of weighted population spike counts: NALSM's
astrocyte ``A_{t+1} = A_t + (w_a (sum s_liquid - sum s_input) + b_a - A_t) / tau_a``).
Spike timing for STDP is the somatic spike step (delays do not enter the rule).

The numba kernel is ``axonal.kernels._numba_sparse_net``; the dense reference with the same
definition is :func:`axonal.reservoir.reference.reference_run`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch

from .connectivity import Connectivity

__all__ = [
    "LIFPopulation", "SynapseChannel", "TraceSTDP", "ActivityModulator", "NetworkState",
    "SimulationResult", "SparseNetwork",
]

Scalar = float | int


def _np(x, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _per_neuron(value, n: int, name: str, owner: str) -> np.ndarray:
    a = _np(value)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{owner}.{name} must be a scalar or an array of {n} values (one per "
                         f"neuron), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}.{name} contains NaN or infinity")
    return np.ascontiguousarray(a)


@dataclass(frozen=True)
class LIFPopulation:
    """Leaky integrate-and-fire population of ``n`` neurons; every field is a scalar or an array
    ``[n]`` (per-neuron heterogeneity). Times in ms, voltages in mV. Defaults: COBA (Brette et al.
    2007): tau_m 20 ms, rest -60, threshold -50, reset -60, refractory 5 ms. ``i_bias`` is a
    constant drive in mV added like ``I_ext`` (the Brian2/BrainPy COBA benchmark's ``I = 20 mV``).

    (Named apart from ``axonal.neurons.LIFParams``, the constants of the trainable LIF module,
    which are dimensionless and per layer.)"""

    n: int
    tau_m: Scalar | np.ndarray = 20.0
    v_rest: Scalar | np.ndarray = -60.0
    v_reset: Scalar | np.ndarray = -60.0
    v_thresh: Scalar | np.ndarray = -50.0
    t_ref: Scalar | np.ndarray = 5.0
    i_bias: Scalar | np.ndarray = 0.0

    def __post_init__(self):
        if not (isinstance(self.n, (int, np.integer)) and self.n > 0):
            raise ValueError(f"LIFPopulation.n must be a positive int, got {self.n!r}")
        for name in ("tau_m", "v_rest", "v_reset", "v_thresh", "t_ref", "i_bias"):
            _per_neuron(getattr(self, name), int(self.n), name, "LIFPopulation")
        if np.any(_np(self.tau_m) <= 0):
            raise ValueError("LIFPopulation.tau_m must be > 0")
        if np.any(_np(self.t_ref) < 0):
            raise ValueError("LIFPopulation.t_ref must be >= 0")

    def arrays(self, dt: float) -> dict[str, np.ndarray]:
        """Per-neuron float64 arrays (and ``ref_steps``, int64) for the kernel."""
        n = int(self.n)
        out = {k: _per_neuron(getattr(self, k), n, k, "LIFPopulation")
               for k in ("tau_m", "v_rest", "v_reset", "v_thresh", "i_bias")}
        out["ref_steps"] = np.round(_per_neuron(self.t_ref, n, "t_ref", "LIFPopulation") / dt).astype(np.int64)
        return out


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


@dataclass(frozen=True)
class TraceSTDP:
    """Trace STDP on the existing synapses of one projection (see the module docstring).

    ``w_min`` / ``w_max``: scalars or arrays over presynaptic neurons (NALSM: E in [0, 3], I in
    [-3, 0]). ``mirror``: None or a boolean array over presynaptic neurons that get the mirrored
    rule. ``modulates``: which amplitude the global modulator scales: "depression" (A-, NALSM),
    "potentiation" (A+), "both" or "none". Times in ms.
    """

    a_plus: float = 0.01
    a_minus: float = 0.012
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    trace_increment: float = 1.0
    w_min: Scalar | np.ndarray = 0.0
    w_max: Scalar | np.ndarray = 1.0
    mirror: np.ndarray | None = None
    modulates: str = "depression"

    def __post_init__(self):
        for name in ("tau_plus", "tau_minus"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TraceSTDP.{name} must be > 0 ms, got {getattr(self, name)}")
        for name in ("a_plus", "a_minus", "trace_increment"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"TraceSTDP.{name} must be a finite number >= 0, got {v}")
        if self.modulates not in ("depression", "potentiation", "both", "none"):
            raise ValueError(f"TraceSTDP.modulates must be 'depression', 'potentiation', 'both' or "
                             f"'none', got {self.modulates!r}")

    def kernel_arrays(self, n_pre: int, dt: float):
        """(par [7], mirror uint8 [n_pre], w_min [n_pre], w_max [n_pre]) for the kernel."""
        par = np.array([math.exp(-dt / self.tau_plus), math.exp(-dt / self.tau_minus),
                        self.trace_increment, self.a_plus, self.a_minus,
                        float(self.modulates in ("potentiation", "both")),
                        float(self.modulates in ("depression", "both"))])
        lo = _per_neuron(self.w_min, n_pre, "w_min", "TraceSTDP")
        hi = _per_neuron(self.w_max, n_pre, "w_max", "TraceSTDP")
        if np.any(lo > hi):
            raise ValueError("TraceSTDP.w_min must be <= w_max for every presynaptic neuron")
        if self.mirror is None:
            mirror = np.zeros(n_pre, dtype=np.uint8)
        else:
            mirror = _np(self.mirror, bool).astype(np.uint8)
            if mirror.shape != (n_pre,):
                raise ValueError(f"TraceSTDP.mirror must be a boolean array over the {n_pre} "
                                 f"presynaptic neurons, got shape {mirror.shape}")
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


class NetworkState(NamedTuple):
    """Everything a run needs to continue exactly where it stopped (streaming)."""

    t: int                     # absolute step of the next update
    v: np.ndarray              # [N] membranes
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


_NEVER = -(1 << 40)
_EMPTY_F = np.zeros(0)
_EMPTY_I = np.zeros(0, dtype=np.int64)


def _empty_csr(n_pre: int, n_post: int) -> Connectivity:
    """A projection without synapses (every row empty), so the kernel can index any neuron."""
    return Connectivity(n_pre, n_post, np.zeros(n_pre + 1, np.int64), _EMPTY_I, _EMPTY_F, _EMPTY_I,
                        _EMPTY_I)


@dataclass
class SparseNetwork:
    """A population of LIF neurons with a recurrent and an input projection (module docstring).

    ``neurons``: :class:`LIFPopulation` of the ``N`` neurons. ``channels``: the synaptic channels
    (default one current channel with tau 5 ms); synapses name theirs by index in
    ``Connectivity.channels``. ``recurrent``: ``N x N`` connectivity or None. ``input``:
    ``n_in x N`` connectivity or None. ``plasticity`` / ``input_plasticity``: :class:`TraceSTDP`
    for either projection or None. ``modulator``: None (1), a float, an array of per-step values,
    a callable ``f(t, rec_spikes_prev [N] bool, in_spikes_prev [n_in] bool) -> float`` (called
    every step with the spikes of step ``t - 1``; slower: the kernel then runs one step at a
    time), or an :class:`ActivityModulator` (in the kernel). ``max_delay``: the ring-buffer
    depth in steps (default: the largest delay present); a synapse with a larger delay is an
    error. Plastic runs change the connectivities' weights in place.
    """

    neurons: LIFPopulation
    channels: tuple = (SynapseChannel(5.0),)
    recurrent: Connectivity | None = None
    input: Connectivity | None = None
    dt: float = 0.1
    integrator: str = "euler"
    plasticity: TraceSTDP | None = None
    input_plasticity: TraceSTDP | None = None
    modulator: object = None
    max_delay: int | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        n = int(self.neurons.n)
        self.channels = tuple(self.channels)
        if not self.channels or not all(isinstance(c, SynapseChannel) for c in self.channels):
            raise ValueError("SparseNetwork.channels must be a non-empty sequence of SynapseChannel")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ValueError(f"SparseNetwork.dt must be > 0 ms, got {self.dt}")
        if self.integrator not in ("euler", "exp_euler"):
            raise ValueError(f"integrator must be 'euler' or 'exp_euler', got {self.integrator!r}")
        if self.recurrent is not None and (self.recurrent.n_pre, self.recurrent.n_post) != (n, n):
            raise ValueError(f"recurrent connectivity must be {n} x {n} (the population), got "
                             f"{self.recurrent.n_pre} x {self.recurrent.n_post}")
        if self.input is not None and self.input.n_post != n:
            raise ValueError(f"input connectivity must project onto the {n} neurons (n_post = {n}), "
                             f"got n_post = {self.input.n_post}")
        for name in ("recurrent", "input"):
            conn = getattr(self, name)
            if conn is not None and conn.nnz and conn.channels.max() >= len(self.channels):
                raise ValueError(f"the {name} connectivity uses channel {conn.channels.max()} but the "
                                 f"network has {len(self.channels)} channel(s); add SynapseChannels")
        if self.plasticity is not None and self.recurrent is None:
            raise ValueError("plasticity needs a recurrent connectivity")
        if self.input_plasticity is not None and self.input is None:
            raise ValueError("input_plasticity needs an input connectivity")
        present = max([c.max_delay for c in (self.recurrent, self.input) if c is not None], default=0)
        if self.max_delay is None:
            self.max_delay = present
        elif present > self.max_delay:
            raise ValueError(f"a synapse has a delay of {present} steps, more than max_delay = "
                             f"{self.max_delay}; raise max_delay or shorten the delays")
        if self.max_delay < 0:
            raise ValueError(f"max_delay must be >= 0, got {self.max_delay}")
        self._cache["lif"] = self.neurons.arrays(self.dt)

    @property
    def n(self) -> int:
        return int(self.neurons.n)

    @property
    def n_inputs(self) -> int:
        return self.input.n_pre if self.input is not None else 0

    def initial_state(self, v=None) -> NetworkState:
        """Fresh state: membranes ``v`` (scalar or ``[N]``; default ``v_rest``), no conductance,
        nothing in flight, zero traces, the modulator at its initial value."""
        n, C = self.n, len(self.channels)
        v0 = self._cache["lif"]["v_rest"].copy() if v is None else _per_neuron(v, n, "v", "initial_state")
        m0 = self.modulator.initial if isinstance(self.modulator, ActivityModulator) else 1.0
        n_in = self.n_inputs
        return NetworkState(0, v0.copy(), np.full(n, _NEVER, dtype=np.int64), np.zeros((C, n)),
                            np.zeros((self.max_delay + 1, C, n)), (np.zeros(n), np.zeros(n)),
                            (np.zeros(n_in), np.zeros(n)), float(m0),
                            (np.zeros(n, bool), np.zeros(n_in, bool)))

    def run(self, n_steps: int | None = None, *, input_current=None, input_spikes=None,
            state: NetworkState | None = None, plastic: bool = True, record_v=None,
            modulator=None) -> SimulationResult:
        """Simulate ``n_steps`` steps (or as many as the inputs have) and return the spikes.

        ``input_current``: ``[T, N]`` (mV drive, added to the membrane's parenthesis).
        ``input_spikes``: ``[T, n_in]`` (bool / 0-1) through the input connectivity.
        ``state``: continue from a returned state (default a fresh :meth:`initial_state`).
        ``plastic=False`` freezes the weights. ``record_v``: indices of neurons whose membrane
        is recorded every step (after reset). ``modulator`` overrides the network's for this run.
        """
        from ._run import run_network

        return run_network(self, n_steps, input_current, input_spikes, state, plastic, record_v,
                           self.modulator if modulator is None else modulator)
