"""The ``math`` functions a ``compile_step`` neuron may use, and rebinding them.

The same user function runs three ways: compiled by numba (with the real ``math``), traced
with sympy symbols (``_symbolic``) and as the plain torch reference step. The last two
need ``math`` replaced in the function's globals by a namespace of the same names for
symbols or tensors; this module does that without importing sympy, so a neuron whose
kernels are cached loads without it.
"""
from __future__ import annotations

import math
import types
from typing import Callable

__all__ = ["MATH_NAMES", "MathNamespace", "rebind_math", "global_names"]

#: the ``math`` names a step function may use (all have sympy, numba and torch versions)
MATH_NAMES = ("exp", "log", "tanh", "sqrt", "sin", "cos", "atan", "erf", "pow", "fabs",
              "expm1", "log1p", "pi", "e")


class MathNamespace:
    """A stand-in for the ``math`` module: the allowed names only, with a clear error for
    any other (``math.floor`` in a step cannot be differentiated)."""

    def __init__(self, **functions):
        self.__dict__.update(functions)

    def __getattr__(self, name):
        raise AttributeError(
            f"math.{name} is not supported in a compile_step neuron: its step must be "
            f"differentiable; use arithmetic, abs() and math.{{{', '.join(MATH_NAMES)}}}")


def rebind_math(fn: Callable, namespace: MathNamespace) -> Callable:
    """A copy of ``fn`` whose global ``math`` (and any global bound to a ``math`` function,
    as after ``from math import exp``) refers to ``namespace`` instead."""
    glb = dict(fn.__globals__)
    for name in global_names(fn.__code__):
        val = glb.get(name)
        if val is math:
            glb[name] = namespace
        elif callable(val) and getattr(val, "__module__", None) == "math":
            glb[name] = getattr(namespace, val.__name__)
    return types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)


def global_names(code) -> set[str]:
    """Every global name the code (and the code of functions nested in it) reads."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= global_names(c)
    return names
