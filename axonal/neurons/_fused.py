"""Registered ``compiled`` kernels for neurons whose step is elementwise: ``compile_step`` forms.

A neuron's Params choose a reset mode, a surrogate and ``detach_reset``; a ``CompiledStep``
fixes all three when it is compiled. ``CompiledKernel`` is the registry kernel
(``register_kernel(Params, "compiled", CompiledKernel(...))``) that compiles one
``CompiledStep`` per choice at first use (tracing is cached on disk, numba caches the machine
code) and runs it. Nothing is traced or compiled at import: numba is imported when a kernel
first runs, never by importing a neuron.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from ..kernels import numba_available
from ..kernels.compiled import compile_step
from ..kernels.registry import KernelUnavailable

__all__ = ["CompiledKernel"]


class CompiledKernel:
    """A ``compiled`` registry kernel made of a scalar ``dynamics`` and one scalar reset per
    reset mode (see ``axonal.kernels.compiled`` for the contract of both).

    ``bind(params)`` returns the values of ``param_names`` from a neuron's Params (numbers or
    tensors, differentiable); ``check(params, x, state)`` returns "" when the kernel computes
    exactly what the reference step computes for these inputs, else the reason it does not
    (raised as ``KernelUnavailable``, so ``backend="auto"`` falls back to the reference scan).
    """

    def __init__(self, dynamics: Callable, resets: Mapping[str, Callable], *,
                 state: Sequence[str], params: Sequence[str], bind: Callable,
                 check: Callable | None = None):
        self.dynamics, self.resets = dynamics, dict(resets)
        self.state_names, self.param_names = tuple(state), tuple(params)
        self.bind, self.check = bind, check
        self._steps: dict[tuple, Callable] = {}

    def __call__(self, x, state, params, weight=None):
        reason = self.check(params, x, state) if self.check is not None else ""
        if reason:
            raise KernelUnavailable(reason)
        sur = params.surrogate
        if sur.code < 0:
            raise KernelUnavailable(f"the surrogate {type(sur).__name__} is not built in; compiled "
                                    "kernels evaluate only the built-in surrogates' derivatives")
        if params.reset not in self.resets:
            raise KernelUnavailable(f"reset {params.reset!r} has no compiled form")
        key = (params.reset, sur.code, float(sur.width), bool(params.detach_reset))
        kernel = self._steps.get(key)
        if kernel is None:
            if not numba_available():
                raise KernelUnavailable("numba is not importable; compiled kernels need it")
            step = compile_step(self.dynamics, self.resets[params.reset], state=self.state_names,
                                params=self.param_names, surrogate=sur,
                                detach_reset=params.detach_reset)
            kernel = self._steps[key] = step.kernel(self.bind)
        return kernel(x, state, params, weight=weight)
