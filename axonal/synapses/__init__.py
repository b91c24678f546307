"""Synapses: time-distributed linear/conv wrappers, recurrence, delays, event-driven layers."""
from .sparse import EventLinear, event_linear
from .sparse_connectivity import SparseSynapse

__all__ = ["EventLinear", "event_linear", "SparseSynapse"]
