"""Fast paths for neuron models: compiled time loops, found through one registry.

``registry`` maps a neuron's Params type and a backend (``numba``, ``triton``, ``compiled``,
``reference``) to a kernel; ``NeuronModule`` and ``Recurrent`` ask it through ``run_kernel``
(see ``axonal.kernels.registry`` for the failure contract). This package declares what each
backend needs of an input (numba: CPU float32/float64 with numba importable; Triton: CUDA, or
the CPU under ``TRITON_INTERPRET=1``); each neuron registers its own kernels next to itself.

Arranged by concept:

- ``lif/``: the LIF family's kernels (leaky, non-leaky, current-based, adaptive, and the
  recurrent form): autograd wrappers and input preparation (``lif.scan``), numba kernels
  (``lif._numba``), Triton kernels and their wrappers (``lif.triton``, ``lif._triton_kernels``),
  with hand-derived backward passes, equal to the reference step (tests/kernels/lif/test_scan.py). A
  neuron registers itself with ``lif.register_lif_family(ParamsType, form)``.
- ``event/``: the event-driven Linear concept: spike lists, compaction, the gather, the
  ``EventLinear`` kernels and the fused Linear + LIF-family scans (``event.event_lif_scan``).
- ``compiled/``: a user's elementwise step written in Python turned into the same kind of
  fused scan (``compile_step``, ``CompiledStep``, ``CompiledNeuron``).
- ``izhikevich``: the Izhikevich neuron's fused scan.
- ``registry``, ``buffers`` (recycled output buffers), ``_numba_cache`` (numba's disk cache
  keyed on the kernel sources), ``_numba_surrogate`` (the surrogate table compiled by numba).

Kernels never import ``axonal.neurons``: neurons register their kernels and forms here.

Triton is optional (``pip install 'axonal[triton]'``) and imported only on first use; numba is
imported on first use of a kernel, never by ``import axonal``.
"""
from __future__ import annotations

import torch

from ._backends import _choose_threading_layer, _numba_requirement, numba_available  # noqa: F401
from .registry import KernelUnavailable, register_backend, register_kernel, run_kernel

__all__ = ["KernelUnavailable", "register_kernel", "run_kernel", "numba_available",
           "compile_step", "CompiledNeuron", "CompiledStep"]

def _triton_requirement(x: torch.Tensor) -> str:
    """What the Triton kernels need: Triton importable and the tensor on a device it serves."""
    from .lif.triton import device_error, triton_error  # lazy: keeps Triton optional

    return triton_error() or device_error(x.device)


register_backend("numba", _numba_requirement)
register_backend("triton", _triton_requirement)


def __getattr__(name):  # lazy: importing axonal must not compile or import numba
    if name in ("compile_step", "CompiledNeuron", "CompiledStep"):
        from . import compiled  # lazy: sympy and numba only when asked for

        return getattr(compiled, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
