"""axonal: brain-inspired and spiking neural networks on PyTorch."""
from . import neurons, surrogate
from .network import Sequential, Temporal
from .neurons import LIF, AdaptiveLIF, CurrentBasedLIF, Recurrent, RecurrentLIF

__version__ = "0.1.0"
