"""Fused scans: compiled time loops for registered neuron models, chosen automatically.

``fused_scan(kind, x, state, params, backend, weight=None)`` returns ``(spikes, state)`` from a
fused kernel, or ``None`` when no kernel applies (unknown kind, unsupported device or dtype,
numba missing, ``backend="scan"``), in which case the caller falls back to the reference
``scan`` of the model's ``step``. ``backend="numba"`` forces the numba kernel and raises a
``RuntimeError`` that says why when it cannot run.

``backend="triton"`` forces the Triton kernels of the LIF family (``triton_lif``; CUDA
tensors, or CPU tensors under ``TRITON_INTERPRET=1`` for testing) and raises the same way
when Triton is missing or the tensor is elsewhere. ``backend="auto"`` on a CUDA tensor uses
them when Triton imports and the reference scan otherwise; on the CPU it uses numba. Triton is
optional (``pip install 'axonal[triton]'``) and imported only on first use.

Kinds: ``lif``, ``cuba_lif``, ``adaptive_lif`` and their ``recurrent_`` versions (recurrent
weight [N, N] in ``weight``). The kernels (``_numba_lif``) loop over time in compiled code,
parallel over batch x neurons, with a hand-derived backward pass; they reproduce the
reference step exactly (tests/test_kernels.py).

``lif.event_lif_scan`` fuses an event-driven Linear layer into the same scans (the current is
gathered per step from the weight rows of the active inputs and never stored; the weight
gradient comes from the same spike lists, gathered per input over chunks of steps);
``axonal.Sequential`` uses it for an ``EventLinear`` followed by a LIF-family neuron
(``EventLinear.fused_forward``).

``compile_step`` turns a user's elementwise step written in Python into the same kind of
fused scan (see ``axonal.kernels.compiled``).
"""
from __future__ import annotations

import torch

__all__ = ["fused_scan", "numba_available", "compile_step", "CompiledNeuron", "CompiledStep"]

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
    import os

    from numba.np.ufunc import parallel

    if "NUMBA_THREADING_LAYER" not in os.environ and not getattr(parallel, "_is_initialized", True):
        numba.config.THREADING_LAYER = "workqueue"


def numba_available() -> bool:
    """True when numba imports (the CPU kernels need it)."""
    global _NUMBA_ERROR
    if _NUMBA_ERROR is None:
        try:
            import numba  # noqa: F401

            _NUMBA_ERROR = ""
            _choose_threading_layer(numba)
        except Exception as exc:  # pragma: no cover - depends on the environment
            _NUMBA_ERROR = f"numba is not importable ({exc}); install it with `pip install numba`"
    return _NUMBA_ERROR == ""


def fused_scan(kind, x, state, params, backend="auto", weight=None):
    """Run the fused kernel for ``kind`` if one applies, else return ``None`` (or raise when
    ``backend`` forces one). See the module docstring."""
    if backend == "scan":
        return None
    backend = str(backend)
    forced = backend != "auto"
    if forced and not backend.startswith(("numba", "triton")):
        raise RuntimeError(f"unknown backend {backend!r}; use 'auto', 'numba', 'triton' or 'scan'")
    if backend.startswith("triton") or (backend == "auto" and x.device.type == "cuda"):
        return _triton_scan(kind, x, state, params, backend, weight)

    def fail(reason: str):
        if forced:
            raise RuntimeError(
                f"backend={backend!r} cannot run kernel {kind!r}: {reason}. Use backend='auto' "
                "to fall back to the reference scan automatically, or backend='scan'.")
        return None

    if x.device.type != "cpu":
        return fail(f"the input is on {x.device}; the numba kernels run on the CPU only")
    if x.dtype not in (torch.float32, torch.float64):
        return fail(f"the input dtype is {x.dtype}; the kernels support float32 and float64 "
                    "(convert with x.float())")
    if not numba_available():
        return fail(_NUMBA_ERROR)
    if kind == "izhikevich":  # axonal/kernels/izhikevich.py (another helper's kernel)
        from .izhikevich import izhikevich_fused

        result = izhikevich_fused(x, state, params)
        return result if result is not None else fail(
            "the Izhikevich kernel needs fixed a, b, c, d, detach_reset=True and a built-in surrogate")
    from .lif import Unsupported, lif_family_scan

    try:
        return lif_family_scan(kind, x, state, params, weight=weight)
    except Unsupported as exc:
        return fail(str(exc))


def _triton_scan(kind, x, state, params, backend, weight):
    """The Triton path of ``fused_scan`` (``axonal.kernels.triton_lif``): forced by
    ``backend="triton"``, or chosen by ``"auto"`` for a CUDA input when Triton imports."""
    def fail(reason: str):
        if backend != "auto":
            raise RuntimeError(
                f"backend={backend!r} cannot run kernel {kind!r}: {reason}. Use backend='auto' "
                "(Triton on CUDA when installed, numba on the CPU, else the reference scan) "
                "or backend='scan'.")
        return None

    from .triton_lif import device_error, triton_error

    reason = triton_error() or device_error(x.device)
    if reason:
        return fail(reason)
    from .lif import Unsupported
    from .triton_lif import triton_lif_scan

    try:
        return triton_lif_scan(kind, x, state, params, weight=weight)
    except Unsupported as exc:
        return fail(str(exc))


def __getattr__(name):  # lazy: importing axonal must not compile or import numba
    if name in ("compile_step", "CompiledNeuron", "CompiledStep"):
        from . import compiled

        return getattr(compiled, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
