"""Neuron models: each a Params dataclass, a State NamedTuple, a pure step and a module."""
from .base import NeuronModule, scan
from .lif import (
    LIF,
    AdaptiveLIF,
    AdaptiveLIFParams,
    AdaptiveLIFState,
    CurrentBasedLIF,
    CurrentBasedLIFParams,
    CurrentBasedLIFState,
    LIFParams,
    LIFState,
    Recurrent,
    RecurrentLIF,
    RecurrentState,
    adaptive_lif_step,
    current_based_lif_step,
    lif_step,
)

__all__ = [name for name in dir() if not name.startswith("_")]
