"""axonal: brain-inspired and spiking neural networks on PyTorch."""
from . import neurons, surrogate
from .functional import set_finite_check
from .network import LayerRecord, Sequential, Temporal, detach_state
from .neurons import LIF, AdaptiveLIF, CurrentBasedLIF, Recurrent, RecurrentLIF
from .surrogate import register_surrogate

__version__ = "0.1.0"
