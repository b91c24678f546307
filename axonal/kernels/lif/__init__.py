"""Kernels of the LIF family (leaky, non-leaky IF, current-based, adaptive; feed-forward and
recurrent): autograd wrappers and input preparation (``scan``), numba kernels (``_numba``),
Triton kernels and their wrappers (``triton``, ``_triton_kernels``).

A neuron joins the family by registering a form, ``register_lif_family(ParamsType, form)``
with ``form(params) -> LIFDynamics``; this registers its numba and Triton kernels and lets the
fused event-driven Linear kernel (``axonal.kernels.event``) serve it. Importing this package
imports neither numba nor Triton.
"""
from .scan import (ADAPTIVE, CURRENT_BASED, LEAKY, LIFDynamics, lif_family_scan,
                   lif_kernel, register_lif_family)

__all__ = ["LIFDynamics", "LEAKY", "CURRENT_BASED", "ADAPTIVE", "register_lif_family",
           "lif_family_scan", "lif_kernel"]
