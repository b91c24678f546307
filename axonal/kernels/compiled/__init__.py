"""Compiled user steps: a neuron step written as two scalar Python functions, turned into a
fused numba scan with an exact symbolic backward (``compile_step``; see ``scan`` for the
contract).

- ``scan``: ``compile_step``, ``CompiledStep`` (its ``kernel(bind)`` registers a compiled step
  as a neuron's ``compiled`` kernel in ``axonal.kernels.registry``) and ``CompiledNeuron``;
- ``_symbolic``: tracing and differentiating the step with sympy;
- ``_codegen``: the generated numba source and its on-disk cache;
- ``_math``: the ``math`` names a step may use and their rebinding per backend.

The package is named after the ``compiled`` backend of the registry (not after the function,
so that ``axonal.kernels.compile_step`` is always the function).
"""
from __future__ import annotations

from .scan import CompiledNeuron, CompiledStep, compile_step

__all__ = ["compile_step", "CompiledStep", "CompiledNeuron"]
