"""``compile_step``: a neuron step written as two scalar Python functions, turned into a fused
numba scan with an exact symbolic backward (see ``compile_step.compiled``).

- ``compiled``: ``compile_step``, ``CompiledStep`` (its ``kernel(bind)`` registers a compiled
  step as a neuron's ``compiled`` kernel) and ``CompiledNeuron``;
- ``_symbolic``: tracing and differentiating the step with sympy;
- ``_codegen``: the generated numba source and its on-disk cache;
- ``_math``: the ``math`` names a step may use and their rebinding per backend.

``axonal.kernels.compile_step`` is both this package and, as before the kernels were arranged
by concept, the function: calling the package calls ``compiled.compile_step``, so
``from axonal.kernels import compile_step; compile_step(dynamics, reset, ...)`` keeps working
whichever of the two the import returns.
"""
from __future__ import annotations

import sys
import types

from .compiled import CompiledNeuron, CompiledStep, compile_step as _compile_step

__all__ = ["compile_step", "CompiledStep", "CompiledNeuron"]

compile_step = _compile_step


class _CallablePackage(types.ModuleType):
    """The package type of ``axonal.kernels.compile_step``: calling it is ``compile_step(...)``."""

    def __call__(self, *args, **kwargs):
        return _compile_step(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
