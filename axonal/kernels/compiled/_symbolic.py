"""Symbolic partial derivatives of a ``compile_step`` neuron, printed as Python source.

``compile_step`` needs every local partial derivative of the user's step to run an exact
backward pass (BPTT) in compiled code. Instead of asking autograd for them at every backward
call (which materialised a ``[T, 1+K, 1+K+P, M]`` Jacobian tensor), the two user functions
are traced once with sympy symbols in place of numbers: ``math`` is rebound to the sympy
functions of the same names, so ``math.exp(-1 / tau)`` builds ``exp(-1/tau)``. sympy
differentiates the traced expressions exactly, ``sympy.cse`` removes repeated subexpressions,
and the result is printed as scalar Python that numba compiles inside the generated backward
kernel (``_codegen``). No finite differences: the derivatives are those of the user's
formulas.

Tracing fails, with a message naming the fix, when the step is not an expression of its
arguments: a branch or comparison on a value (sympy cannot decide ``v > theta`` for a symbol),
a ``math`` function outside ``MATH_NAMES``, or a wrong number of returned values.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.pycode import PythonCodePrinter

from ._math import MATH_NAMES, MathNamespace, rebind_math

__all__ = ["MATH_NAMES", "StepDerivatives", "trace_step"]

SYMPY_MATH = MathNamespace(
    pi=math.pi, e=math.e, exp=sp.exp, log=sp.log, tanh=sp.tanh, sqrt=sp.sqrt, sin=sp.sin,
    cos=sp.cos, atan=sp.atan, erf=sp.erf, pow=sp.Pow, fabs=sp.Abs, expm1=expm1, log1p=log1p)


class _Printer(PythonCodePrinter):
    """sympy's Python printer, but floats keep every bit (``repr``), not 15 digits."""

    def _print_Float(self, expr):
        return repr(float(expr))


_PRINTER = _Printer({"fully_qualified_modules": True})


@dataclass(frozen=True)
class Block:
    """Straight-line code: ``lines`` (``name = expr``, in order) then ``values[key]``, the
    printed value of each non-zero partial (a name from ``lines`` or a constant)."""

    lines: tuple[str, ...]
    values: dict


@dataclass(frozen=True)
class StepDerivatives:
    """Partials of one step. ``dynamics.values[(i, j)]``: d(output i of dynamics) /
    d(argument j) with outputs (h, pre_0..K-1) and arguments (x, state_0..K-1, params);
    ``reset.values[(q, j)]``: d(new state q) / d(argument j) with arguments (s, pre, params).
    Missing keys are identically zero. The code reads the arguments as the variables
    ``X, S0.., Q0..`` (dynamics) and ``SP, N0.., Q0..`` (reset)."""

    dynamics: Block
    reset: Block


def _symbols(prefix: str, n: int):
    return [sp.Symbol(f"{prefix}{i}", real=True) for i in range(n)]


def _trace(fn: Callable, args, n_out: int, role: str, what: str, signature: str):
    try:
        inspect.signature(fn).bind(*args)
    except TypeError as exc:
        raise ValueError(f"{role} {fn.__name__!r} must take {signature}, {len(args)} "
                         f"arguments in all ({exc})") from None
    try:
        out = rebind_math(fn, SYMPY_MATH)(*args)
    except AttributeError as exc:
        if "compile_step" in str(exc):
            raise ValueError(f"{role} {fn.__name__!r}: {exc}") from None
        raise
    except TypeError as exc:  # a comparison or float() of a symbol: a branch on a value
        raise ValueError(
            f"{role} {fn.__name__!r} is not a branch-free expression of its arguments "
            f"({exc}). compile_step needs arithmetic only: no if/min/max/comparisons on "
            "values; weight by the spike instead, e.g. `v - s * theta` rather than "
            "`if s: v -= theta`") from None
    if not isinstance(out, tuple) or len(out) != n_out:
        got = (f"a tuple of {len(out)}" if isinstance(out, tuple) else
               "one value, not a tuple" if isinstance(out, (sp.Basic, int, float)) else
               f"a {type(out).__name__}")
        raise ValueError(
            f"{role} {fn.__name__!r} must return a tuple of {n_out} value"
            f"{'s' if n_out > 1 else ''} ({what}); it returned {got}. Write e.g. "
            "`return (v_new,)` for a single value")
    try:
        return [sp.sympify(o) for o in out]
    except (sp.SympifyError, TypeError) as exc:
        raise ValueError(f"{role} {fn.__name__!r} returned a non-numeric value: {exc}") from None


def _block(outputs, args, cse_prefix: str) -> Block:
    """Differentiate each output by each argument, drop zeros, share subexpressions."""
    keys, exprs = [], []
    for i, o in enumerate(outputs):
        for j, a in enumerate(args):
            d = sp.diff(o, a)
            if d != 0:
                keys.append((i, j))
                exprs.append(d)
    for d in exprs:
        bad = d.atoms(sp.Derivative, sp.Subs, sp.DiracDelta, sp.Heaviside)
        if bad:
            raise ValueError("compile_step cannot differentiate this step: got "
                             f"{sorted(map(str, bad))}")
    repl, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(cse_prefix)) if exprs else ([], [])
    lines = tuple(f"{name} = {_PRINTER.doprint(e)}" for name, e in repl)
    values = {k: _PRINTER.doprint(e) for k, e in zip(keys, reduced)}
    return Block(lines, values)


def trace_step(dynamics: Callable, reset: Callable, k: int, p: int) -> StepDerivatives:
    """Trace both functions symbolically and return their partial derivatives as code."""
    x, s = sp.Symbol("X", real=True), sp.Symbol("SP", real=True)
    st, pre, par = _symbols("S", k), _symbols("N", k), _symbols("Q", p)
    dyn_out = _trace(dynamics, [x, *st, *par], 1 + k, "dynamics",
                     "h, whose sign makes the spike, then the state before reset",
                     "(x, *state, *params)")
    rst_out = _trace(reset, [s, *pre, *par], k, "reset", "the new state",
                     "(s, *state_before_reset, *params)")
    return StepDerivatives(dynamics=_block(dyn_out, [x, *st, *par], "_d"),
                           reset=_block(rst_out, [s, *pre, *par], "_r"))
