"""What the numba backend needs, in a leaf module: kernels import ``numba_available`` from here
(not from the package ``axonal.kernels``, whose ``__init__`` imports them on demand), so the
package's import graph has no cycle. ``axonal.kernels`` re-exports these names."""
from __future__ import annotations

import os

import torch

__all__ = ["numba_available"]

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
