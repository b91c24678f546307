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
  with hand-derived backward passes, equal to the reference step (tests/test_kernels.py). A
  neuron registers itself with ``lif.register_lif_family(ParamsType, form)``.
- ``event/``: the event-driven Linear concept: spike lists, compaction, the gather, the
  ``EventLinear`` kernels and the fused Linear + LIF-family scans (``event.event_lif_scan``).
- ``compile_step/``: a user's elementwise step written in Python turned into the same kind of
  fused scan (``compile_step``, ``CompiledStep``, ``CompiledNeuron``).
- ``izhikevich``: the Izhikevich neuron's fused scan.
- ``registry``, ``buffers`` (recycled output buffers), ``_numba_cache`` (numba's disk cache
  keyed on the kernel sources), ``_numba_surrogate`` (the surrogate table compiled by numba).

Kernels never import ``axonal.neurons``: neurons register their kernels and forms here.

Triton is optional (``pip install 'axonal[triton]'``) and imported only on first use; numba is
imported on first use of a kernel, never by ``import axonal``.
"""
from __future__ import annotations

import os

import torch

from .registry import KernelUnavailable, register_backend, register_kernel, run_kernel

__all__ = ["KernelUnavailable", "register_kernel", "run_kernel", "numba_available",
           "compile_step", "CompiledNeuron", "CompiledStep"]

_NUMBA_ERROR: str | None = None


def _choose_threading_layer(numba) -> None:
    """Use numba's ``workqueue`` threading layer unless the user chose one.

    numba's default here is its OpenMP layer, which loads a second OpenMP runtime next to
    torch's. Once torch has run any operation, launching that second runtime slows every later
    torch operation of the process: measured on the 2-core machine of BENCHMARKS.md (torch and
    numba 0.63), a training step of the DCLS delay model (T=100, B=50, 8 -> 64 -> 10, fused
    LIF) cost 190-230 ms of CPU instead of 20 ms, the same whether numba ran 1 or 2 threads;
    with ``workqueue`` it costs 20 ms. Set ``NUMBA_THREADING_LAYER`` (e.g. ``omp`` or ``tbb``)
    to override; nothing changes once numba's thread pool has started.
    """
    from numba.np.ufunc import parallel  # lazy: called once numba was imported

    if "NUMBA_THREADING_LAYER" not in os.environ and not getattr(parallel, "_is_initialized", True):
        numba.config.THREADING_LAYER = "workqueue"


def numba_available() -> bool:
    """True when numba imports (the CPU kernels need it)."""
    global _NUMBA_ERROR
    if _NUMBA_ERROR is None:
        try:
            import numba  # noqa: F401  (lazy: never imported by `import axonal`)

            _NUMBA_ERROR = ""
            _choose_threading_layer(numba)
        except Exception as exc:  # pragma: no cover - depends on the environment
            _NUMBA_ERROR = f"numba is not importable ({exc}); install it with `pip install numba`"
    return _NUMBA_ERROR == ""


def _numba_requirement(x: torch.Tensor) -> str:
    """What the numba kernels need of an input ("" when they can run it)."""
    if x.device.type != "cpu":
        return f"the input is on {x.device}; the numba kernels run on the CPU only"
    if x.dtype not in (torch.float32, torch.float64):
        return (f"the input dtype is {x.dtype}; the kernels support float32 and float64 "
                "(convert with x.float())")
    if not numba_available():
        return _NUMBA_ERROR
    return ""


def _triton_requirement(x: torch.Tensor) -> str:
    """What the Triton kernels need: Triton importable and the tensor on a device it serves."""
    from .lif.triton import device_error, triton_error  # lazy: keeps Triton optional

    return triton_error() or device_error(x.device)


register_backend("numba", _numba_requirement)
register_backend("triton", _triton_requirement)


def __getattr__(name):  # lazy: importing axonal must not compile or import numba
    if name in ("compile_step", "CompiledNeuron", "CompiledStep"):
        from .compile_step import compiled  # lazy: sympy and numba only when asked for

        return getattr(compiled, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
