"""Numba kernels of the LIF family: forward scan and hand-derived backward (BPTT).

One kernel serves every form of the family (``kind`` = ``LIFDynamics.form``: 0 leaky, 1
current-based, 2 adaptive; the non-leaky IF is the leaky form with decay 1), every reset mode
(``reset`` 0 subtract, 1 zero, 2 none), ``detach_reset`` and every surrogate (``code``, its
index in ``axonal.surrogate.TABLE``). They arrive in one bundle, ``cfg`` (a ``KernelConfig``
named tuple), with the arrays in named bundles too (``StateArrays``, ``ParamArrays``,
``Saved``, ``Grads`` of ``axonal.kernels.lif.scan``), unpacked once at the top of each kernel.
These are runtime arguments, so each kernel is compiled once per dtype (float32, float64) and
cached on disk (``cache=True``), not once per configuration.
They must nevertheless not reach the innermost loops as branches, which would stop LLVM from
vectorising them (measured: a branchy generic loop ran 9x slower than a specialised one):

- ``kind`` selects one of three copies of each inner loop, written once as an inlined row
  function called with a literal kind, so the compiler folds the other kinds away;
- the reset is arithmetic, ``v = vp - s (cs theta + cz vp)`` with ``(cs, cz)`` = (1, 0)
  subtract, (0, 1) zero, (0, 0) none; this is exactly the reference's value in every mode
  (the products by 0 and 1 are exact), and ``detach_reset`` is a 0/1 factor on the
  gradient through ``s``;
- the surrogate derivative is its own pass over a row, one loop per code
  (``axonal.kernels._numba_surrogate``, compiled from the table of ``axonal.surrogate``).

Layout: inputs are time-major ``[T, M]`` with ``M = B * N`` (batch times neurons, C order).
Work is split into tasks of up to ``BLOCK`` neurons of one batch row; a task loops over time
inside compiled code and, at each step, over its neurons in contiguous inner loops. Tasks run
in parallel (``prange``).

The per-neuron update is the same arithmetic, in the same order and the same dtype, as
``lif_step`` / ``current_based_lif_step`` / ``adaptive_lif_step`` with ``apply_reset``, so
spikes and states agree exactly with the reference scan (tests/kernels/lif/test_scan.py).

What the forward stores for the backward (only when a gradient is needed):
- ``vpre[t]``: the membrane before reset (one value per neuron-step);
- ``aux[t]``: the synaptic current ``i_t`` (CuBa) or the adaptation ``a_t`` (adaptive);
- the spikes, which are the output anyway (shared, no copy).
The post-reset membrane ``v_{t-1}`` needed for the decay gradient is recomputed exactly from
``vpre[t-1]``, ``s[t-1]`` and the threshold, so LIF training keeps one float per neuron-step
besides its output, instead of the several tensors per step that autograd of the reference
keeps.

The backward runs in the state's dtype, as autograd of the reference does: float32 rows keep
all their SIMD lanes (carrying the recursion in float64 made the LIF backward 20-40 % slower),
and the surrogate constants are folded into that dtype (``_numba_surrogate.surrogate_row``). The kernels use
``error_model="numpy"``: numba's default Python error model puts a zero-division check with an
exception branch on every division, which keeps LLVM from vectorising the loop (4x on a stand-alone
LIF backward loop).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from .._numba_surrogate import surrogate_row

BLOCK = 256


# ----------------------------------------------------------------------------- forward rows
@njit(inline="always", cache=True, error_model="numpy")
def _fwd_loop(kind, store, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero,
              spk, vpre, aux):
    """One time step for L neurons (all arguments are length-L views)."""
    for j in range(L):
        x = u[j]
        if kind == 1:
            ii = alpha[j] * i[j] + x
            i[j] = ii
            x = ii
        vp = beta[j] * v[j] + x
        if kind == 2:
            theta = th[j] + adp[j] * a[j]
        else:
            theta = th[j]
        s = one if vp - theta >= 0 else zero
        spk[j] = s
        v[j] = vp - s * (cs * theta + cz * vp)
        if kind == 2:
            aa = rho[j] * a[j] + s
            a[j] = aa
        if store:
            vpre[j] = vp
            if kind == 1:
                aux[j] = ii
            elif kind == 2:
                aux[j] = aa


@njit(inline="always", cache=True, error_model="numpy")
def _fwd_row(kind, store, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
             vpre, aux):
    if store:
        if kind == 0:
            _fwd_loop(0, True, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)
        elif kind == 1:
            _fwd_loop(1, True, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)
        else:
            _fwd_loop(2, True, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)
    else:
        if kind == 0:
            _fwd_loop(0, False, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)
        elif kind == 1:
            _fwd_loop(1, False, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)
        else:
            _fwd_loop(2, False, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
                      vpre, aux)


@njit(inline="always", cache=True, error_model="numpy")
def _coef(reset, like):
    """(cs, cz, one, zero) in the dtype of the array ``like`` (numba would widen a float32
    that meets a Python int to float64, which would change the arithmetic)."""
    c = np.zeros(4, dtype=like.dtype)
    c[2] = 1
    if reset == 0:
        c[0] = 1
    elif reset == 1:
        c[1] = 1
    return c[0], c[1], c[2], c[3]


@njit(parallel=True, cache=True, error_model="numpy")
def lif_forward(x, s0, p, cfg, n, store, saved, s_out):
    """Scan over time. x [T, M]; ``s0`` (v, i, a) [M]; ``p`` (beta, alpha, rho, threshold,
    adaptation) [N]; ``cfg`` a ``KernelConfig``; outputs preallocated: ``saved`` (spikes, and
    ``vpre``/``aux`` [T, M] only when ``store``), ``s_out`` the final (v, i, a)."""
    v0, i0, a0 = s0
    beta, alpha, rho, th, adp = p
    kind, reset = cfg.form, cfg.reset
    spk, vpre, aux = saved
    v_out, i_out, a_out = s_out
    T = x.shape[0]
    M = x.shape[1]
    B = M // n
    nb = (n + BLOCK - 1) // BLOCK
    cs, cz, one, zero = _coef(reset, x)
    for task in prange(B * nb):
        b = task // nb
        n0 = (task - b * nb) * BLOCK
        L = min(n0 + BLOCK, n) - n0
        lo = b * n + n0
        hi = lo + L
        v = v0[lo:hi].copy()
        i = i0[lo:hi].copy()
        a = a0[lo:hi].copy()
        pb, pa, pr = beta[n0:n0 + L], alpha[n0:n0 + L], rho[n0:n0 + L]
        pt, pd = th[n0:n0 + L], adp[n0:n0 + L]
        for t in range(T):
            if store:
                vp_row = vpre[t, lo:hi]
                aux_row = aux[t, lo:hi] if kind > 0 else vp_row
            else:
                vp_row = v
                aux_row = v
            _fwd_row(kind, store, L, x[t, lo:hi], v, i, a, pb, pa, pr, pt, pd, cs, cz, one,
                     zero, spk[t, lo:hi], vp_row, aux_row)
        v_out[lo:hi] = v
        i_out[lo:hi] = i
        a_out[lo:hi] = a


# ----------------------------------------------------------------------------- backward rows
@njit(inline="always", cache=True, error_model="numpy")
def _bwd_prep_loop(kind, L, first, vp, a_prev, a_pp, prev_vp, prev_s, v0, th, adp, cs, cz,
                   z, vprev):
    # cs, cz are in the state dtype here, so v_{t-1} is recomputed with the forward's rounding
    """z <- v_pre - theta_t (surrogate argument); vprev <- v_{t-1} recomputed exactly."""
    for j in range(L):
        if kind == 2:
            theta = th[j] + adp[j] * a_prev[j]
        else:
            theta = th[j]
        z[j] = vp[j] - theta
        if first:
            vprev[j] = v0[j]
        else:
            if kind == 2:
                theta_p = th[j] + adp[j] * a_pp[j]
            else:
                theta_p = th[j]
            q = prev_vp[j]
            vprev[j] = q - prev_s[j] * (cs * theta_p + cz * q)


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_loop(kind, L, gs, grec, vp, s, a_prev, i_prev, vprev, sg, beta, alpha, rho, th, adp,
              cs, cz, nd, dv, di, da, gx, acc):
    """Reverse of one step for L neurons. dv, di, da: dL/d(state after the step), updated in
    place to dL/d(state before it). acc[0..4] accumulate d beta, alpha, rho, theta_0, adp."""
    for j in range(L):
        sj = s[j]
        vpj = vp[j]
        if kind == 2:
            theta = th[j] + adp[j] * a_prev[j]
        else:
            theta = th[j]
        d = dv[j]
        g_s = gs[j] + grec[j]
        if kind == 2:
            g_s += da[j]  # a_t = rho a_{t-1} + s_t
        # v = vp - s (cs theta + cz vp)
        g_vp = d * (1.0 - sj * cz)
        g_theta = -sj * cs * d
        g_s -= nd * (cs * theta + cz * vpj) * d
        g_z = g_s * sg[j]
        g_vp += g_z
        g_theta -= g_z
        acc[3, j] += g_theta
        if kind == 2:  # theta = th + adp a_{t-1}
            acc[4, j] += g_theta * a_prev[j]
            acc[2, j] += da[j] * a_prev[j]
            da[j] = rho[j] * da[j] + g_theta * adp[j]
        acc[0, j] += g_vp * vprev[j]
        dv[j] = beta[j] * g_vp
        if kind == 1:  # i_t = alpha i_{t-1} + x_t ; vp = beta v + i_t
            g_u = di[j] + g_vp
            acc[1, j] += g_u * i_prev[j]
            di[j] = alpha[j] * g_u
        else:
            g_u = g_vp
        gx[j] = g_u


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_row(kind, t, lo, hi, n0, L, gs_row, grec_row, spk, vpre, aux, v0, i0, a0,
             P, cs, cz, fcs, fcz, nd, code, width, dv, di, da, gx_row, acc,
             z, vprev):
    vp = vpre[t, lo:hi]
    s = spk[t, lo:hi]
    first = t == 0
    if first:
        a_prev = a0[lo:hi]
        i_prev = i0[lo:hi]
        prev_vp = vp
        prev_s = s
    else:
        a_prev = aux[t - 1, lo:hi] if kind == 2 else a0[lo:hi]
        i_prev = aux[t - 1, lo:hi] if kind == 1 else i0[lo:hi]
        prev_vp = vpre[t - 1, lo:hi]
        prev_s = spk[t - 1, lo:hi]
    a_pp = aux[t - 2, lo:hi] if (kind == 2 and t > 1) else a0[lo:hi]
    # (CPython turns calls with more than 30 arguments into *args calls, which numba's
    # inliner refuses: the five per-neuron constants travel as rows of one array P)
    pb, pa, pr = P[0, n0:n0 + L], P[1, n0:n0 + L], P[2, n0:n0 + L]
    pt, pd = P[3, n0:n0 + L], P[4, n0:n0 + L]
    v0r = v0[lo:hi]
    if kind == 0:
        _bwd_prep_loop(0, L, first, vp, a_prev, a_pp, prev_vp, prev_s, v0r, pt, pd, fcs, fcz, z, vprev)
    elif kind == 1:
        _bwd_prep_loop(1, L, first, vp, a_prev, a_pp, prev_vp, prev_s, v0r, pt, pd, fcs, fcz, z, vprev)
    else:
        _bwd_prep_loop(2, L, first, vp, a_prev, a_pp, prev_vp, prev_s, v0r, pt, pd, fcs, fcz, z, vprev)
    surrogate_row(code, width, z, L)
    if kind == 0:
        _bwd_loop(0, L, gs_row, grec_row, vp, s, a_prev, i_prev, vprev, z, pb, pa, pr, pt, pd,
                  cs, cz, nd, dv, di, da, gx_row, acc)
    elif kind == 1:
        _bwd_loop(1, L, gs_row, grec_row, vp, s, a_prev, i_prev, vprev, z, pb, pa, pr, pt, pd,
                  cs, cz, nd, dv, di, da, gx_row, acc)
    else:
        _bwd_loop(2, L, gs_row, grec_row, vp, s, a_prev, i_prev, vprev, z, pb, pa, pr, pt, pd,
                  cs, cz, nd, dv, di, da, gx_row, acc)


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_start(gv, gi, ga, lo, hi, vpre, gs):
    """Per-task state of a backward over neurons lo:hi: (dv, di, da) from the gradients of the
    final state, the parameter accumulators acc [5, L], scratch z, vprev, and grec = 0."""
    L = hi - lo
    return (gv[lo:hi].copy(), gi[lo:hi].copy(), ga[lo:hi].copy(),
            np.zeros((5, L), dtype=vpre.dtype), np.empty(L, dtype=vpre.dtype),
            np.empty(L, dtype=vpre.dtype), np.zeros(L, dtype=gs.dtype))


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_store(lo, hi, dv, di, da, acc, gv0, gi0, ga0, gbeta, galpha, grho, gth, gadp):
    """Write a task's initial-state gradients and per-element parameter gradients."""
    gv0[lo:hi] = dv
    gi0[lo:hi] = di
    ga0[lo:hi] = da
    gbeta[lo:hi] = acc[0]
    galpha[lo:hi] = acc[1]
    grho[lo:hi] = acc[2]
    gth[lo:hi] = acc[3]
    gadp[lo:hi] = acc[4]


@njit(parallel=True, cache=True, error_model="numpy")
def lif_backward(g, saved, s0, p, cfg, n, gx, g0, gp):
    """BPTT of ``lif_forward``: ``g`` the incoming gradients (spikes [T, M], v, i, a [M]),
    ``saved``, ``s0``, ``p``, ``cfg`` as in the forward; writes dL/dx into ``gx`` [T, M], the
    initial states' gradients into ``g0`` and the per-element [M] parameter gradients into
    ``gp`` (summed over the batch later)."""
    gs, gv, gi, ga = g
    spk, vpre, aux = saved
    v0, i0, a0 = s0
    beta, alpha, rho, th, adp = p
    kind, reset, detach, code, width = cfg
    gv0, gi0, ga0 = g0
    gbeta, galpha, grho, gth, gadp = gp
    T = gs.shape[0]
    M = gs.shape[1]
    B = M // n
    nb = (n + BLOCK - 1) // BLOCK
    fcs, fcz, one, zero = _coef(reset, vpre)
    cs, cz = fcs, fcz
    P = np.stack((beta, alpha, rho, th, adp))
    nd = zero if detach else one
    for task in prange(B * nb):
        b = task // nb
        n0 = (task - b * nb) * BLOCK
        L = min(n0 + BLOCK, n) - n0
        lo = b * n + n0
        hi = lo + L
        dv, di, da, acc, z, vprev, grec = _bwd_start(gv, gi, ga, lo, hi, vpre, gs)
        for t in range(T - 1, -1, -1):
            _bwd_row(kind, t, lo, hi, n0, L, gs[t, lo:hi], grec, spk, vpre, aux, v0, i0, a0,
                     P, cs, cz, fcs, fcz, nd, code, width, dv, di, da,
                     gx[t, lo:hi], acc, z, vprev)
        _bwd_store(lo, hi, dv, di, da, acc, gv0, gi0, ga0, gbeta, galpha, grho, gth, gadp)


# ----------------------------------------------------------------------------- recurrent
@njit(parallel=True, cache=True, error_model="numpy")
def recurrent_forward(x, rec0, wt, s0, p, cfg, n, store, saved, s_out):
    """Recurrent scan: input at step t is x_t + s_{t-1} W^T (``rec0`` = s_{-1} W^T given).

    ``wt`` is W^T [N, N] (row q = weights out of neuron q). The recurrent input is
    event-driven: only the rows of neurons that spiked at t-1 are added (spikes are exactly
    0 or 1 inside the scan), so its cost scales with the number of spikes, not N^2.
    Parallel over batch rows, each looping over time: batch rows are independent, so there
    is no barrier per time step (a barrier per step costs a scheduler time slice whenever
    the cores are shared, measured at ~10 ms per step on a loaded 2-core machine).
    Other arguments as in ``lif_forward``.
    """
    v0, i0, a0 = s0
    beta, alpha, rho, th, adp = p
    kind, reset = cfg.form, cfg.reset
    spk, vpre, aux = saved
    v, i, a = s_out
    T = x.shape[0]
    M = x.shape[1]
    B = M // n
    cs, cz, one, zero = _coef(reset, x)
    for b in prange(B):
        lo = b * n
        hi = lo + n
        vb = v0[lo:hi].copy()
        ib = i0[lo:hi].copy()
        ab = a0[lo:hi].copy()
        u = np.empty(n, dtype=x.dtype)
        rec = np.empty(n, dtype=x.dtype)
        for t in range(T):
            if t == 0:
                for jj in range(n):
                    u[jj] = x[0, lo + jj] + rec0[lo + jj]
            else:
                rec[:] = 0
                for q in range(n):
                    if spk[t - 1, lo + q] != 0:
                        w = wt[q]
                        for jj in range(n):
                            rec[jj] += w[jj]
                for jj in range(n):
                    u[jj] = x[t, lo + jj] + rec[jj]
            if store:
                vp_row = vpre[t, lo:hi]
                aux_row = aux[t, lo:hi] if kind > 0 else vp_row
            else:
                vp_row = u
                aux_row = u
            _fwd_row(kind, store, n, u, vb, ib, ab, beta, alpha, rho, th, adp, cs, cz,
                     one, zero, spk[t, lo:hi], vp_row, aux_row)
        v[lo:hi] = vb
        i[lo:hi] = ib
        a[lo:hi] = ab


@njit(parallel=True, cache=True, error_model="numpy")
def recurrent_backward(g, saved, w, s0, p, cfg, n, gx, g0, gp):
    """BPTT of ``recurrent_forward``, parallel over batch rows like it. The gradient reaching
    s_{t-1} through the recurrence, (dL/du_t) W, is a vector-matrix product per row and step
    (contiguous, vectorised loop); dL/dW is left to one matmul over all steps afterwards.
    ``g0`` [M] receives the gradients of the initial state; ``gp`` [M] the per-element
    parameter gradients (computed in the state dtype, like every backward here). Other
    arguments as in ``lif_backward``.
    """
    gs, gv, gi, ga = g
    spk, vpre, aux = saved
    v0, i0, a0 = s0
    beta, alpha, rho, th, adp = p
    kind, reset, detach, code, width = cfg
    dv, di, da = g0
    gbeta, galpha, grho, gth, gadp = gp
    T = gs.shape[0]
    M = gs.shape[1]
    B = M // n
    fcs, fcz, one, zero = _coef(reset, vpre)
    cs, cz = fcs, fcz
    P = np.stack((beta, alpha, rho, th, adp))
    nd = zero if detach else one
    for b in prange(B):
        lo = b * n
        hi = lo + n
        dvb, dib, dab, acc, z, vprev, grec = _bwd_start(gv, gi, ga, lo, hi, vpre, gs)
        for t in range(T - 1, -1, -1):
            g_row = gx[t, lo:hi]
            _bwd_row(kind, t, lo, hi, 0, n, gs[t, lo:hi], grec, spk, vpre, aux, v0, i0, a0,
                     P, cs, cz, fcs, fcz, nd, code, width, dvb, dib, dab, g_row, acc, z, vprev)
            if t > 0:
                grec[:] = 0
                for q in range(n):
                    gq = g_row[q]
                    if gq != 0:
                        wq = w[q]
                        for jj in range(n):
                            grec[jj] += gq * wq[jj]
        _bwd_store(lo, hi, dvb, dib, dab, acc, dv, di, da, gbeta, galpha, grho, gth, gadp)
