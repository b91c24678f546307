"""Reservoirs and large sparse spiking networks.

- :mod:`.connectivity`: CSR connectivity by presynaptic neuron and seeded, regenerable
  generators (random with probability p, distance-dependent in 3-D, E/I labels).
- :mod:`.engine`: :class:`SparseNetwork`, an event-driven simulator of the library's refractory
  LIF neurons (``axonal.neurons.RefractoryLIFParams``, ``ConductanceLIFParams``; ms, mV) with
  current/conductance exponential synapses, per-synapse delays and ``axonal.learning.STDP`` on
  the existing synapses with a global modulator (numba kernel :mod:`.kernel`, dense reference
  :mod:`.reference`). ``Connectivity.synapse()`` gives a projection as an
  ``axonal.synapses.SparseSynapse`` for batched PyTorch networks.
- :mod:`.coba`: the COBA benchmark network (Brette et al. 2007).
- :mod:`.lsm`: liquid state machine (fixed liquid -> binned state features -> readout).
- :mod:`.nalsm`: neuron-astrocyte LSM (Ivanov & Michmizos 2021): 3-D liquid on the engine whose
  STDP depression an astrocyte sets from liquid minus input activity.
- :mod:`.adaptive`: E/I rate reservoir with local homeostatic inhibition (Srinivasan et al. 2025).
- :mod:`.zero_shot`: contrastive heads for zero-shot readout of reservoir states.
"""
from .connectivity import (GROUP_EXC, GROUP_INH, Connectivity, distance_connectivity,
                           excitatory_mask, grid_positions, random_connectivity, random_positions)
from .engine import ActivityModulator, NetworkState, SimulationResult, SparseNetwork, SynapseChannel
from .adaptive import (EIReservoir, EIReservoirParams, EIReservoirState, ei_reservoir_step,
                       heterogeneous_targets, homeostatic_inhibition_step)
from .lsm import LiquidStateMachine, liquid_features
from .nalsm import PLASTICITY_MODES, NALSMConfig, SpatialLiquid, input_layer_spikes
from .zero_shot import ContrastiveHeads, info_nce, nearest_prototype

__all__ = [
    "Connectivity", "random_connectivity", "distance_connectivity", "grid_positions",
    "random_positions", "excitatory_mask", "GROUP_EXC", "GROUP_INH",
    "SynapseChannel", "ActivityModulator", "NetworkState",
    "SimulationResult", "SparseNetwork",
    "EIReservoir", "EIReservoirParams", "EIReservoirState", "ei_reservoir_step",
    "heterogeneous_targets", "homeostatic_inhibition_step",
    "LiquidStateMachine", "liquid_features",
    "NALSMConfig", "SpatialLiquid", "input_layer_spikes", "PLASTICITY_MODES",
    "ContrastiveHeads", "info_nce", "nearest_prototype",
]
