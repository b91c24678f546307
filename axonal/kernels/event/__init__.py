"""The event-driven Linear concept: ``y = x W^T + b`` touching only the weights of active
inputs, alone (``EventLinear``'s kernels) or fused with a LIF-family neuron's scan.

- ``scan``: spike lists, the density estimate, the fused Linear + LIF-family scan and its
  autograd wrapper (``event_lif_scan``; ``event_lif_form(params)`` finds a neuron's form in
  the registry);
- ``_numba``: the numba kernels (compaction, gather, chunked weight gradient, the
  ``EventLinear`` kernels on spike lists and the fused scans).

Importing this package does not import numba.
"""
from .scan import (SpikeLists, event_lif_form, event_lif_scan, l2_chunk, sampled_density,
                   spike_lists)

__all__ = ["SpikeLists", "event_lif_form", "event_lif_scan", "l2_chunk", "sampled_density",
           "spike_lists"]
