"""Reservoirs and large sparse spiking networks.

- :mod:`.connectivity`: CSR connectivity by presynaptic neuron and seeded, regenerable
  generators (random with probability p, distance-dependent in 3-D, E/I labels).
- :mod:`.engine`: :class:`SparseNetwork`, an event-driven simulator of LIF populations with
  current/conductance exponential synapses, per-synapse delays and sparse trace STDP with a
  global modulator (numba kernel ``axonal.kernels._numba_sparse_net``).
"""
from .connectivity import (GROUP_EXC, GROUP_INH, Connectivity, distance_connectivity,
                           excitatory_mask, grid_positions, random_connectivity, random_positions)
from .engine import (ActivityModulator, LIFParams, NetworkState, SimulationResult, SparseNetwork,
                     SynapseChannel, TraceSTDP)

__all__ = [
    "Connectivity", "random_connectivity", "distance_connectivity", "grid_positions",
    "random_positions", "excitatory_mask", "GROUP_EXC", "GROUP_INH",
    "LIFParams", "SynapseChannel", "TraceSTDP", "ActivityModulator", "NetworkState",
    "SimulationResult", "SparseNetwork",
]
