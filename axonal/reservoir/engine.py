"""Sparse recurrent network engine: LIF populations, CSR synapses, delays, sparse STDP.

A :class:`SparseNetwork` simulates ``N`` neurons of the library's refractory LIF
(:class:`axonal.neurons.RefractoryLIFParams`, or :class:`axonal.neurons.ConductanceLIFParams`
for the COBA neuron; per-neuron constants as tensors ``[N]``) connected by a recurrent
:class:`~.connectivity.Connectivity` and driven by external currents ``[T, N]`` and/or input spikes ``[T, n_in]`` through an input
connectivity. It is a clock-driven simulator with event-driven propagation (BrainPy's
event-CSR operators, secondary.md §23): only the rows of neurons that spike are read.

**Membrane** (per neuron ``i``, ``dt`` and times in ms, voltages in mV)::

    tau_mem dv/dt = v_rest - v + sum_c[current] g_c + sum_c[conductance] g_c (E_c - v) + I_ext + bias

Current channels add ``g_c`` in mV (a current times the membrane resistance); conductance
channels are in units of the leak conductance (Brette et al. 2007's COBA: 6 nS / 10 nS =
0.6). ``integrator="euler"`` is forward Euler (Brian2's choice for these equations);
``"exp_euler"`` integrates exactly with the conductances held over the step.

**Channels** (:class:`SynapseChannel`) decay exponentially, ``g_c <- g_c exp(-dt / tau_c)``
(``tau_c = 0``: a one-step pulse). A presynaptic spike at step ``t`` through a synapse of
delay ``d`` (steps) adds its weight to ``g_c`` of the target at the end of step ``t + d``, so it
first moves the membrane at step ``t + d + 1`` (a delay of 0 is Brian2's default, no delay).

**One step** ``t``: (1) integrate the non-refractory membranes with the current ``g`` and
``I_ext[t]``; (2) decay ``g``; (3) spike where ``v >= threshold`` and not refractory, reset to
``v_reset``; the neuron then stays clamped for ``t_ref`` (``round(t_ref / dt)`` steps,
integrating again at step ``t + ref_steps``); (4) record; (5) push the spikes of step ``t``
(recurrent and input) through their CSR rows into a ring buffer of ``max_delay + 1`` slots;
(6) plasticity (below); (7) add the ring slot of step ``t`` to ``g``.

**Plasticity** (:class:`axonal.learning.STDP`, Morrison, Diesmann & Gerstner 2008 trace form,
additive and all-to-all, applied only to existing synapses; its ``dt`` and taus in ms): traces
decay by ``exp(-dt / tau)``, then a postsynaptic spike adds ``A+ x_pre`` to each incoming weight and a
presynaptic spike adds ``-A- x_post`` to each outgoing one, the traces are read before this
step's spikes raise them by ``trace_increment``, and the touched weights are clipped to
``[w_min, w_max]`` of their presynaptic neuron. Presynaptic neurons flagged ``mirror``
(NALSM's inhibitory sources, core.md §8) get the mirrored rule ``-A- x_pre`` at post spikes and
``+A+ x_post`` at pre spikes. A global modulator ``m_t`` scales ``A-`` (and/or ``A+``) at every
step: a constant, per-step values, a callable of the previous step's spikes, or the built-in
:class:`ActivityModulator` (a leaky integrator of weighted population spike counts: NALSM's
astrocyte ``A_{t+1} = A_t + (w_a (sum s_liquid - sum s_input) + b_a - A_t) / tau_a``).
Spike timing for STDP is the somatic spike step (delays do not enter the rule).

The neuron update is the library's ``refractory_lif_step`` / ``conductance_lif_step``
(``tests/reservoir/test_engine.py`` checks the engine against those modules); the numba kernel
is :mod:`axonal.reservoir.kernel`; the dense reference with the same definition, independent of
the kernel, is :func:`axonal.reservoir.reference.reference_run`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..learning.stdp import STDP
from ._run import run_network
from .components import (NEURON_PARAMS, ActivityModulator, NetworkState, SimulationResult,
                         SynapseChannel, check_stdp, neuron_arrays, neuron_channels, per_neuron,
                         population_size)
from .connectivity import Connectivity

__all__ = ["SynapseChannel", "ActivityModulator", "NetworkState", "SimulationResult", "SparseNetwork"]

_NEVER = -(1 << 40)


@dataclass
class SparseNetwork:
    """A population of refractory LIF neurons with a recurrent and an input projection
    (module docstring).

    ``neurons``: the constants of the ``N`` neurons, ``RefractoryLIFParams`` or
    ``ConductanceLIFParams`` (``reset="zero"``: to ``v_reset``); a constant is one value or a
    tensor ``[N]``; their ``dt`` (ms) and ``integrator`` are the network's. ``channels``: the
    synaptic channels (default one current channel with tau 5 ms); synapses name theirs by
    index in ``Connectivity.channels``; a ConductanceLIF defines its two (excitatory 0,
    inhibitory 1) itself. ``recurrent``: ``N x N`` connectivity or None. ``input``:
    ``n_in x N`` connectivity or None. ``plasticity`` / ``input_plasticity``:
    :class:`axonal.learning.STDP` for either projection or None. ``modulator``: None (1), a
    float, an array of per-step values, a callable ``f(t, rec_spikes_prev [N] bool,
    in_spikes_prev [n_in] bool) -> float`` (called every step with the spikes of step
    ``t - 1``; slower: the kernel then runs one step at a time), or an
    :class:`ActivityModulator` (in the kernel). ``max_delay``: the ring-buffer depth in steps
    (default: the largest delay present); a synapse with a larger delay is an error. ``n``:
    the number of neurons (default: from the connectivities or a per-neuron constant).
    Plastic runs change the connectivities' weights in place.
    """

    neurons: object
    channels: tuple | None = None
    recurrent: Connectivity | None = None
    input: Connectivity | None = None
    plasticity: STDP | None = None
    input_plasticity: STDP | None = None
    modulator: object = None
    max_delay: int | None = None
    n: int | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not isinstance(self.neurons, NEURON_PARAMS):
            raise TypeError("SparseNetwork.neurons must be axonal.neurons.RefractoryLIFParams or "
                            f"ConductanceLIFParams, got {type(self.neurons).__name__}")
        if self.neurons.reset != "zero":
            raise ValueError(f"SparseNetwork runs reset='zero' (the membrane goes to v_reset); "
                             f"got {type(self.neurons).__name__}(reset={self.neurons.reset!r})")
        own = neuron_channels(self.neurons)
        if own is not None:
            if self.channels is not None:
                raise ValueError(f"{type(self.neurons).__name__} defines the synaptic channels "
                                 "(tau_exc/e_exc, tau_inh/e_inh); leave channels=None")
            self.channels = own
        elif self.channels is None:
            self.channels = (SynapseChannel(5.0),)
        self.n = self._size()
        n = self.n
        self.channels = tuple(self.channels)
        if not self.channels or not all(isinstance(c, SynapseChannel) for c in self.channels):
            raise ValueError("SparseNetwork.channels must be a non-empty sequence of SynapseChannel")
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
        if self.plasticity is not None:
            if self.recurrent is None:
                raise ValueError("plasticity needs a recurrent connectivity")
            check_stdp(self.plasticity, self.dt, "plasticity")
        if self.input_plasticity is not None:
            if self.input is None:
                raise ValueError("input_plasticity needs an input connectivity")
            check_stdp(self.input_plasticity, self.dt, "input_plasticity")
        present = max([c.max_delay for c in (self.recurrent, self.input) if c is not None], default=0)
        if self.max_delay is None:
            self.max_delay = present
        elif present > self.max_delay:
            raise ValueError(f"a synapse has a delay of {present} steps, more than max_delay = "
                             f"{self.max_delay}; raise max_delay or shorten the delays")
        if self.max_delay < 0:
            raise ValueError(f"max_delay must be >= 0, got {self.max_delay}")
        self._cache["lif"] = neuron_arrays(self.neurons, n)

    def _size(self) -> int:
        candidates = {"n": self.n, "a per-neuron constant": population_size(self.neurons),
                      "recurrent": None if self.recurrent is None else self.recurrent.n_post,
                      "input": None if self.input is None else self.input.n_post}
        known = {k: int(v) for k, v in candidates.items() if v is not None}
        if not known:
            raise ValueError("SparseNetwork: give n (the number of neurons), a connectivity or "
                             "per-neuron constants")
        n = next(iter(known.values()))
        if n <= 0 or any(v != n for v in known.values()):
            raise ValueError(f"SparseNetwork: the population sizes disagree: {known}")
        return n

    @property
    def dt(self) -> float:
        """The time step in ms (the neurons' ``dt``)."""
        return float(self.neurons.dt)

    @property
    def integrator(self) -> str:
        return self.neurons.integrator

    @property
    def n_inputs(self) -> int:
        return self.input.n_pre if self.input is not None else 0

    def initial_state(self, v=None) -> NetworkState:
        """Fresh state: membranes ``v`` (scalar or ``[N]``, mV; default ``v_rest``), no
        conductance, nothing in flight, zero traces, the modulator at its initial value."""
        n, C = self.n, len(self.channels)
        v0 = self._cache["lif"]["v_rest"].copy() if v is None else per_neuron(v, n, "v", "initial_state")
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
        return run_network(self, n_steps, input_current, input_spikes, state, plastic, record_v,
                           self.modulator if modulator is None else modulator)
