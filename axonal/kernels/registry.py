"""The kernel registry: a neuron's Params type and a backend name map to a fast path.

A neuron registers its kernels next to itself::

    register_kernel(IzhikevichParams, "numba", "axonal.kernels.izhikevich:izhikevich_numba")

The target is a function or a ``"module:function"`` string, imported on first use so that
importing a neuron never imports numba or Triton. A kernel is called as
``kernel(x, state, params, weight=None) -> (out, state)``; ``weight`` is given for the
recurrent form (input ``x_t + s_{t-1} W^T``, state ``RecurrentState``). A kernel that cannot run
these inputs raises ``KernelUnavailable`` with the reason.

Backends:

==============  ============================================================================
``numba``       compiled CPU scans with hand-derived backward passes
``triton``      CUDA scans (or CPU under ``TRITON_INTERPRET=1`` for testing)
``compiled``    kernels generated from a Python step by ``compile_step``
``reference``   the model's own ``step`` through the generic ``scan`` (always available;
                ``"scan"`` is accepted as its old name)
==============  ============================================================================

``auto`` tries the backends that suit the input's device, in order (CUDA: ``triton``; CPU:
``numba``, then ``compiled``) and falls back to the reference scan; inside a ``torch.func``
transform (``grad``, ``vmap``, ``jvp``) it always takes the reference scan. One failure contract for
every miss: under ``auto`` a miss is silent (``run_kernel`` returns ``None``); a forced backend
that cannot run raises ``KernelUnavailable`` naming the backend, the Params type and why.

**Forms.** A kernel family that serves several neurons (the LIF family) describes a neuron by
a bundle built from its Params, ``form(params)``; ``register_form(ParamsType, family, form)``
records it, and a kernel that composes with a neuron it does not know (the fused event-driven
Linear + neuron kernel of ``axonal.kernels.event``) finds it with ``find_form``. Kernels
thereby never import or name neuron classes.
"""
from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

import torch

__all__ = ["BACKENDS", "KernelUnavailable", "register_kernel", "register_backend",
           "registered", "find_kernel", "run_kernel", "check_backend", "register_form",
           "find_form"]

BACKENDS = ("numba", "triton", "compiled", "reference")
_ALIASES = {"scan": "reference"}
_AUTO_ORDER = {"cuda": ("triton",), "cpu": ("numba", "compiled")}


class KernelUnavailable(RuntimeError):
    """A fast path cannot run these inputs; the message says why (and, when forced, what to do)."""


class _Entry(NamedTuple):
    target: Callable | str


_KERNELS: dict[tuple[type, str], _Entry] = {}
#: (Params type, kernel family) -> form(params), the bundle that family's kernels read
_FORMS: dict[tuple[type, str], Callable] = {}
#: per backend, a check of the input that returns "" when the backend can run it, else why not
_REQUIREMENTS: dict[str, Callable[[torch.Tensor], str]] = {}


def check_backend(backend: str) -> str:
    """The canonical backend name (``auto`` or one of ``BACKENDS``), or a ValueError naming the
    valid ones."""
    backend = _ALIASES.get(str(backend), str(backend))
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose 'auto' or one of {list(BACKENDS)}")
    return backend


def register_kernel(params_type: type, backend: str, target: Callable | str) -> None:
    """Register ``target`` as the ``backend`` kernel of neurons whose Params are ``params_type``."""
    backend = check_backend(backend)
    if backend in ("auto", "reference"):
        raise ValueError("register a concrete backend; 'reference' is the model's own step")
    _KERNELS[(params_type, backend)] = _Entry(target)


def register_form(params_type: type, family: str, form: Callable) -> None:
    """Record how the kernels of ``family`` see neurons whose Params are ``params_type``:
    ``form(params)`` returns the bundle they read (for ``"lif"``, a ``LIFDynamics``)."""
    _FORMS[(params_type, family)] = form


def find_form(params_type: type, family: str) -> Callable | None:
    """The form registered for ``params_type`` in ``family``, or ``None``."""
    return _FORMS.get((params_type, family))


def register_backend(backend: str, requirement: Callable[[torch.Tensor], str]) -> None:
    """Declare what ``backend`` needs of an input: ``requirement(x)`` returns "" or the reason."""
    _REQUIREMENTS[check_backend(backend)] = requirement


def registered(params_type: type) -> tuple[str, ...]:
    """The backends with a kernel for ``params_type``."""
    return tuple(b for b in BACKENDS if (params_type, b) in _KERNELS)


def _resolve(entry: _Entry) -> Callable:
    target = entry.target
    if isinstance(target, str):
        module, _, name = target.partition(":")
        target = getattr(importlib.import_module(module), name)
    return target


def find_kernel(params_type: type, backend: str, x: torch.Tensor) -> Callable:
    """The kernel of ``params_type`` on ``backend`` for input ``x``, or ``KernelUnavailable``."""
    entry = _KERNELS.get((params_type, backend))
    if entry is None:
        have = registered(params_type)
        raise KernelUnavailable(
            f"no {backend} kernel is registered for {params_type.__name__}"
            + (f" (it has: {', '.join(have)})" if have else " (it has none)"))
    requirement = _REQUIREMENTS.get(backend)
    reason = requirement(x) if requirement is not None else ""
    if reason:
        raise KernelUnavailable(reason)
    return _resolve(entry)


def run_kernel(params, x: torch.Tensor, state, backend: str = "auto", weight=None):
    """Run the fast path for ``type(params)`` on ``backend``; ``None`` means "use the reference
    scan" (``backend`` is ``reference``, or ``auto`` found no kernel that runs these inputs).
    A forced backend that cannot run raises ``KernelUnavailable`` with the reason."""
    backend = check_backend(backend)
    if backend == "reference":
        return None
    ptype = type(params)
    if torch._C._functorch.peek_interpreter_stack() is not None:
        # inside torch.func.grad/vmap/jvp: compiled kernels cannot be transformed
        if backend == "auto":
            return None
        raise KernelUnavailable(
            f"backend={backend!r} cannot run {ptype.__name__} inside a torch.func transform (grad, "
            "vmap, jvp): compiled kernels cannot be transformed. Use backend='auto' (it takes the "
            "reference scan there) or backend='reference'.")
    if backend == "auto":
        for candidate in _AUTO_ORDER.get(x.device.type, ()):
            if (ptype, candidate) not in _KERNELS:
                continue
            try:
                return find_kernel(ptype, candidate, x)(x, state, params, weight=weight)
            except KernelUnavailable:
                continue
        return None
    try:
        return find_kernel(ptype, backend, x)(x, state, params, weight=weight)
    except KernelUnavailable as exc:
        raise KernelUnavailable(
            f"backend={backend!r} cannot run {ptype.__name__}: {exc}. Use backend='auto' to "
            "fall back to the reference scan automatically, or backend='reference'.") from None
