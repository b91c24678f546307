"""numba forms of the surrogate derivatives, compiled from ``axonal.surrogate.TABLE``.

Each surrogate's ``formula(x, a, b, one, zero)`` is compiled here with its ``ops`` namespace
rebound to ``NUMBA_OPS`` (``axonal.surrogate.with_ops``): the formulas exist only in
``axonal/surrogate.py`` and this module only chooses between them by ``code`` (the index in
the table). Two forms:

- ``surrogate_derivative(code, width, x)``: one scalar (float64 constants), for kernels that
  evaluate it per element (Izhikevich, ``compile_step``);
- ``surrogate_row(code, width, z, L)``: in place over a row, in the row's dtype, one
  branch-free loop per code with the constants folded before the loop (float literals are
  float64 in numba, so a float32 row would otherwise be widened and lose half its SIMD lanes).

The kernels inline these, so ``axonal/surrogate.py`` is part of the numba cache's digest
(``_numba_cache.EXTRA_SOURCES``).
"""
from __future__ import annotations

import math
import types

import numpy as np
from numba import njit

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from ..surrogate import TABLE, with_ops

_JIT = dict(inline="always", error_model="numpy")


@njit(**_JIT)
def _abs(x):
    return abs(x)


@njit(**_JIT)
def _maximum(a, b):
    return max(a, b)


@njit(**_JIT)
def _where(c, a, b):
    return a if c else b


#: the ``ops`` of the table's formulas for numba (scalars in, scalars out)
NUMBA_OPS = types.ModuleType("axonal.kernels._numba_surrogate.ops")
NUMBA_OPS.abs, NUMBA_OPS.exp, NUMBA_OPS.maximum, NUMBA_OPS.where = _abs, math.exp, _maximum, _where


def _formula(k):
    return njit(**_JIT)(with_ops(TABLE[k].formula, NUMBA_OPS))


def _constants(k):
    return njit(**_JIT)(with_ops(TABLE[k].constants, NUMBA_OPS))


def _row(formula):
    @njit(**_JIT)
    def row(a, b, one, zero, z, L):
        for j in range(L):
            z[j] = formula(z[j], a, b, one, zero)

    return row


# one name per code (numba cannot index a tuple of functions at run time); the dispatches
# below list every code of the table
assert len(TABLE) == 5, "extend the dispatches of _numba_surrogate to the new surrogate"
_f0, _f1, _f2, _f3, _f4 = (_formula(k) for k in range(5))
_c0, _c1, _c2, _c3, _c4 = (_constants(k) for k in range(5))
_r0, _r1, _r2, _r3, _r4 = (_row(f) for f in (_f0, _f1, _f2, _f3, _f4))


@njit(**_JIT)
def surrogate_constants(code, width):
    """(a, b) of the surrogate ``code`` at ``width``, in float64."""
    if code == 0:
        return _c0(width)
    if code == 1:
        return _c1(width)
    if code == 2:
        return _c2(width)
    if code == 3:
        return _c3(width)
    return _c4(width)


@njit(**_JIT)
def surrogate_derivative(code, width, x):
    """Scalar surrogate derivative of the table's entry ``code`` at ``x``."""
    a, b = surrogate_constants(code, width)
    if code == 0:
        return _f0(x, a, b, 1.0, 0.0)
    if code == 1:
        return _f1(x, a, b, 1.0, 0.0)
    if code == 2:
        return _f2(x, a, b, 1.0, 0.0)
    if code == 3:
        return _f3(x, a, b, 1.0, 0.0)
    return _f4(x, a, b, 1.0, 0.0)


@njit(**_JIT)
def _row_constants(code, width, like):
    """(a, b, 1, 0) in the dtype of the array ``like``."""
    a, b = surrogate_constants(code, width)
    c = np.zeros(4, dtype=like.dtype)
    c[0] = a
    c[1] = b
    c[2] = 1
    return c[0], c[1], c[2], c[3]


@njit(**_JIT)
def surrogate_row(code, width, z, L):
    """In place: z[:L] <- surrogate'(z[:L]), in z's dtype; one loop per code."""
    a, b, one, zero = _row_constants(code, width, z)
    if code == 0:
        _r0(a, b, one, zero, z, L)
    elif code == 1:
        _r1(a, b, one, zero, z, L)
    elif code == 2:
        _r2(a, b, one, zero, z, L)
    elif code == 3:
        _r3(a, b, one, zero, z, L)
    else:
        _r4(a, b, one, zero, z, L)
