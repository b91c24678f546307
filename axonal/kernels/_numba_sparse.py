"""Numba kernel of the event-driven linear layer: y = x W^T + b touching only nonzero inputs."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def event_linear_forward(x, wt, bias, has_bias, y):
    """x [R, I]; wt = W^T [I, O] (row k: the weights out of input k); y [R, O] written.

    For each row, the rows of W^T of its nonzero inputs are scaled and added (a spike of
    value 1 adds the row unchanged), so the work is (number of nonzeros) x O instead of
    R x I x O.
    """
    R, I = x.shape
    O = wt.shape[1]
    for r in prange(R):
        acc = np.zeros(O, dtype=y.dtype)
        if has_bias:
            acc[:] = bias
        xr = x[r]
        for k in range(I):
            xv = xr[k]
            if xv != 0:
                w = wt[k]
                if xv == 1:
                    for o in range(O):
                        acc[o] += w[o]
                else:
                    for o in range(O):
                        acc[o] += xv * w[o]
        y[r] = acc
