"""numba CPU kernels of the RWKV-v4 WKV operator (forward and hand-derived backward).

Imported lazily by :mod:`axonal.kernels.wkv`; the maths, stored quantities and the derivation of
the backward pass are documented there. Arrays are time-major ``[T, N]`` (``N = B * C``, C
fastest), float32 or float64. The N independent channels are cut into blocks of ``BLOCK``
that run in parallel (``prange``); inside a block the time loop is outside and the channel loop
inside, so every step reads and writes contiguous memory (a per-channel time loop strides by
``N`` and was slower than torch's vectorised loop at ``N = 4096``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)

BLOCK = 256


@njit(parallel=True, cache=True, error_model="numpy")
def wkv_forward(w, u, k, v, aa0, bb0, pp0, y, aa_s, bb_s, pp_s, aa1, bb1, pp1):  # pragma: no cover - numba
    """``w`` [N] (= -exp(time_decay), < 0), ``u`` [N], ``k, v`` [T, N] -> ``y`` [T, N]; stores the
    scaled state before every step (``aa_s, bb_s, pp_s`` [T, N]) and the final one (``*1`` [N])."""
    T, N = k.shape
    nblk = (N + BLOCK - 1) // BLOCK
    for blk in prange(nblk):
        lo = blk * BLOCK
        hi = min(N, lo + BLOCK)
        aa = aa0[lo:hi].copy()
        bb = bb0[lo:hi].copy()
        pp = pp0[lo:hi].copy()
        for t in range(T):
            for j in range(hi - lo):
                n = lo + j
                a = aa[j]
                b = bb[j]
                q = pp[j]
                aa_s[t, n] = a
                bb_s[t, n] = b
                pp_s[t, n] = q
                kk = k[t, n]
                vv = v[t, n]
                ww = u[n] + kk
                p = max(q, ww)
                e1 = np.exp(q - p)
                e2 = np.exp(ww - p)
                y[t, n] = (e1 * a + e2 * vv) / (e1 * b + e2)
                ww = w[n] + q
                p = max(ww, kk)
                e1 = np.exp(ww - p)
                e2 = np.exp(kk - p)
                aa[j] = e1 * a + e2 * vv
                bb[j] = e1 * b + e2
                pp[j] = p
        aa1[lo:hi] = aa
        bb1[lo:hi] = bb
        pp1[lo:hi] = pp


@njit(parallel=True, cache=True, error_model="numpy")
def wkv_backward(w, u, k, v, y, aa_s, bb_s, pp_s, gy, gw, gu, gk, gv):  # pragma: no cover - numba
    """Reverse sweep over the stored states: ``gk, gv`` [T, N], ``gw, gu`` [N] (per flattened
    channel; the caller sums over the batch). ``gw`` is the gradient of ``w`` itself."""
    T, N = k.shape
    nblk = (N + BLOCK - 1) // BLOCK
    for blk in prange(nblk):
        lo = blk * BLOCK
        hi = min(N, lo + BLOCK)
        m = hi - lo
        hn = np.zeros(m, dtype=k.dtype)   # scaled adjoint of the numerator state after step t (e^{P} dL/dN)
        hd = np.zeros(m, dtype=k.dtype)   # scaled adjoint of the denominator state
        sgw = np.zeros(m, dtype=k.dtype)
        sgu = np.zeros(m, dtype=k.dtype)
        for t in range(T - 1, -1, -1):
            for j in range(m):
                n = lo + j
                aa = aa_s[t, n]
                bb = bb_s[t, n]
                pp = pp_s[t, n]
                kk = k[t, n]
                vv = v[t, n]
                yy = y[t, n]
                g = gy[t, n]
                # update step t -> t+1: N' = e^w N + e^k v, D' = e^w D + e^k
                ww = w[n] + pp
                p = max(ww, kk)
                e1u = np.exp(ww - p)
                e2u = np.exp(kk - p)
                # output at t: y = (N + q v) / (D + q), q = e^{u + k}
                wo = u[n] + kk
                po = max(pp, wo)
                e1y = np.exp(pp - po)
                e2y = np.exp(wo - po)
                den = e1y * bb + e2y
                gq = g * e2y * (vv - yy) / den
                h_n = hn[j]
                h_d = hd[j]
                gv[t, n] = g * e2y / den + h_n * e2u
                gk[t, n] = gq + e2u * (vv * h_n + h_d)
                sgu[j] += gq
                sgw[j] += e1u * (h_n * aa + h_d * bb)
                hn[j] = g * e1y / den + e1u * h_n
                hd[j] = -g * yy * e1y / den + e1u * h_d
        gw[lo:hi] = sgw
        gu[lo:hi] = sgu
