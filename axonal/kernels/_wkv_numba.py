"""numba CPU kernels of the RWKV-v4 WKV operator (forward and hand-derived backward).

Imported lazily by :mod:`axonal.kernels.wkv`; the maths, stored quantities and the derivation of
the backward pass are documented there. Arrays are time-major ``[T, N]`` (``N = B * C``, C
fastest), float32 or float64; each of the N independent channels runs its time loop in one
``prange`` iteration.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)


@njit(parallel=True, cache=True, error_model="numpy")
def wkv_forward(w, u, k, v, aa0, bb0, pp0, y, aa_s, bb_s, pp_s, aa1, bb1, pp1):  # pragma: no cover - numba
    """``w`` [N] (= -exp(time_decay), < 0), ``u`` [N], ``k, v`` [T, N] -> ``y`` [T, N]; stores the
    scaled state before every step (``aa_s, bb_s, pp_s`` [T, N]) and the final one (``*1`` [N])."""
    T, N = k.shape
    for n in prange(N):
        aa = aa0[n]
        bb = bb0[n]
        pp = pp0[n]
        wn = w[n]
        un = u[n]
        for t in range(T):
            aa_s[t, n] = aa
            bb_s[t, n] = bb
            pp_s[t, n] = pp
            kk = k[t, n]
            vv = v[t, n]
            ww = un + kk
            p = max(pp, ww)
            e1 = np.exp(pp - p)
            e2 = np.exp(ww - p)
            y[t, n] = (e1 * aa + e2 * vv) / (e1 * bb + e2)
            ww = wn + pp
            p = max(ww, kk)
            e1 = np.exp(ww - p)
            e2 = np.exp(kk - p)
            aa = e1 * aa + e2 * vv
            bb = e1 * bb + e2
            pp = p
        aa1[n] = aa
        bb1[n] = bb
        pp1[n] = pp


@njit(parallel=True, cache=True, error_model="numpy")
def wkv_backward(w, u, k, v, y, aa_s, bb_s, pp_s, gy, gw, gu, gk, gv):  # pragma: no cover - numba
    """Reverse sweep over the stored states: ``gk, gv`` [T, N], ``gw, gu`` [N] (per flattened
    channel; the caller sums over the batch). ``gw`` is the gradient of ``w`` itself."""
    T, N = k.shape
    for n in prange(N):
        wn = w[n]
        un = u[n]
        hn = 0.0   # scaled adjoint of the numerator state after step t (e^{P} dL/dN)
        hd = 0.0   # scaled adjoint of the denominator state
        sgw = 0.0
        sgu = 0.0
        for t in range(T - 1, -1, -1):
            aa = aa_s[t, n]
            bb = bb_s[t, n]
            pp = pp_s[t, n]
            kk = k[t, n]
            vv = v[t, n]
            yy = y[t, n]
            g = gy[t, n]
            # update step t -> t+1: N' = e^w N + e^k v, D' = e^w D + e^k
            ww = wn + pp
            p = max(ww, kk)
            e1u = np.exp(ww - p)
            e2u = np.exp(kk - p)
            # output at t: y = (N + q v) / (D + q), q = e^{u + k}
            wo = un + kk
            po = max(pp, wo)
            e1y = np.exp(pp - po)
            e2y = np.exp(wo - po)
            den = e1y * bb + e2y
            gq = g * e2y * (vv - yy) / den
            gv[t, n] = g * e2y / den + hn * e2u
            gk[t, n] = gq + e2u * (vv * hn + hd)
            sgu += gq
            sgw += e1u * (hn * aa + hd * bb)
            hn = g * e1y / den + e1u * hn
            hd = -g * yy * e1y / den + e1u * hd
        gw[n] = sgw
        gu[n] = sgu
