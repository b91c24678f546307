"""Numba kernels of the LIF family: forward scan and hand-derived backward (BPTT).

One kernel serves LIF (``kind`` 0), current-based LIF (1) and adaptive LIF (2), every reset
mode (``reset`` 0 subtract, 1 zero, 2 none), ``detach_reset`` and every surrogate (``code`` as
in ``axonal.surrogate``). These are runtime arguments, so each kernel is compiled once per
dtype (float32, float64) and cached on disk (``cache=True``), not once per configuration.
They must nevertheless not reach the innermost loops as branches, which would stop LLVM from
vectorising them (measured: a branchy generic loop ran 9x slower than a specialised one):

- ``kind`` selects one of three copies of each inner loop, written once as an inlined row
  function called with a literal kind, so the compiler folds the other kinds away;
- the reset is arithmetic, ``v = vp - s (cs theta + cz vp)`` with ``(cs, cz)`` = (1, 0)
  subtract, (0, 1) zero, (0, 0) none; this is exactly the reference's value in every mode
  (the products by 0 and 1 are exact), and ``detach_reset`` is a 0/1 factor on the
  gradient through ``s``;
- the surrogate derivative is its own pass over a row, one loop per code.

Layout: inputs are time-major ``[T, M]`` with ``M = B * N`` (batch times neurons, C order).
Work is split into tasks of up to ``BLOCK`` neurons of one batch row; a task loops over time
inside compiled code and, at each step, over its neurons in contiguous inner loops. Tasks run
in parallel (``prange``).

The per-neuron update is the same arithmetic, in the same order and the same dtype, as
``lif_step`` / ``current_based_lif_step`` / ``adaptive_lif_step`` with ``apply_reset``, so
spikes and states agree exactly with the reference scan (tests/test_kernels.py).

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
and the surrogate constants are folded into that dtype (``_surrogate_consts``). The kernels use
``error_model="numpy"``: numba's default Python error model puts a zero-division check with an
exception branch on every division, which keeps LLVM from vectorising the loop (4x on a stand-alone
LIF backward loop).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from ._numba_sparse import _chunk_scratch, _chunk_weight_grad, _compact_row, _gather_row

BLOCK = 256


@njit(inline="always", cache=True, error_model="numpy")
def surrogate_derivative(code, width, x):
    """Scalar surrogate derivative (same formulas as ``axonal.surrogate.derivative_by_code``)."""
    if code == 0:
        a = abs(x) / width
        return 1.0 / (2.0 * width * (1.0 + a) * (1.0 + a))
    if code == 1:
        z = math.pi * x / (2.0 * width)
        return 1.0 / (2.0 * width * (1.0 + z * z))
    if code == 2:
        a = 1.0 - abs(x) / width
        return a / width if a > 0.0 else 0.0
    if code == 3:
        z = x / width
        return math.exp(-0.5 * z * z) / (width * 2.5066282746310002)
    return 1.0 if abs(x) < width else 0.0


@njit(inline="always", cache=True, error_model="numpy")
def _surrogate_consts(width, like):
    """The constants of ``_surrogate_row`` (and 1, 0) in the dtype of ``like``: float literals are
    float64 in numba, so a float32 row would otherwise be widened and lose half its SIMD lanes.
    The derivative of each code is rewritten as ``f(c1, c2, x)`` with the divisions by the
    width folded into the constants (one division or exp per element, not three)."""
    c = np.zeros(8, dtype=like.dtype)
    c[0] = 1.0 / (2.0 * width)
    c[1] = 1.0 / width
    c[2] = math.pi / (2.0 * width)
    c[3] = 1.0 / (width * 2.5066282746310002)
    c[4] = -0.5 / (width * width)
    c[5] = width
    c[6] = 1
    return c


@njit(inline="always", cache=True, error_model="numpy")
def _surrogate_row(code, width, z, L):
    """In place: z[:L] <- surrogate'(z[:L]); one branch-free loop per code, in z's dtype.
    Same functions as ``surrogate_derivative``, up to rounding."""
    c = _surrogate_consts(width, z)
    one, zero = c[6], c[7]
    if code == 0:  # 1 / (2w (1 + |x|/w)^2)
        h, k = c[0], c[1]
        for j in range(L):
            q = one + k * abs(z[j])
            z[j] = h / (q * q)
    elif code == 1:  # 1 / (2w (1 + (pi x / 2w)^2))
        h, k = c[0], c[2]
        for j in range(L):
            q = k * z[j]
            z[j] = h / (one + q * q)
    elif code == 2:  # max(0, 1 - |x|/w) / w
        k = c[1]
        for j in range(L):
            z[j] = max(zero, one - k * abs(z[j])) * k
    elif code == 3:  # exp(-x^2 / 2w^2) / (w sqrt(2 pi))
        h, k = c[3], c[4]
        for j in range(L):
            x = z[j]
            z[j] = h * math.exp(k * x * x)
    else:  # straight-through: 1 inside the window
        w = c[5]
        for j in range(L):
            z[j] = one if abs(z[j]) < w else zero


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
def lif_forward(x, v0, i0, a0, beta, alpha, rho, th, adp, kind, reset, n, store,
                spk, vpre, aux, v_out, i_out, a_out):
    """Scan over time. x [T, M]; v0, i0, a0 [M]; beta..adp [N]; outputs preallocated
    (``vpre``/``aux`` [T, M] only when ``store``)."""
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
    _surrogate_row(code, width, z, L)
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
def lif_backward(gs, gv, gi, ga, spk, vpre, aux, v0, i0, a0, beta, alpha, rho, th, adp,
                 kind, reset, detach, code, width, n,
                 gx, gv0, gi0, ga0, gbeta, galpha, grho, gth, gadp):
    """BPTT of ``lif_forward``. Parameter gradients are per element [M] (summed over B later)."""
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
def recurrent_forward(x, rec0, wt, v0, i0, a0, beta, alpha, rho, th, adp, kind, reset, n, store,
                      spk, vpre, aux, v, i, a):
    """Recurrent scan: input at step t is x_t + s_{t-1} W^T (``rec0`` = s_{-1} W^T given).

    ``wt`` is W^T [N, N] (row q = weights out of neuron q). The recurrent input is
    event-driven: only the rows of neurons that spiked at t-1 are added (spikes are exactly
    0 or 1 inside the scan), so its cost scales with the number of spikes, not N^2.
    Parallel over batch rows, each looping over time: batch rows are independent, so there
    is no barrier per time step (a barrier per step costs a scheduler time slice whenever
    the cores are shared, measured at ~10 ms per step on a loaded 2-core machine).
    ``v, i, a`` [M] receive the final state.
    """
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
def recurrent_backward(gs, gv, gi, ga, spk, vpre, aux, w, v0, i0, a0, beta, alpha, rho, th, adp,
                       kind, reset, detach, code, width, n,
                       gx, dv, di, da, gbeta, galpha, grho, gth, gadp):
    """BPTT of ``recurrent_forward``, parallel over batch rows like it. The gradient reaching
    s_{t-1} through the recurrence, (dL/du_t) W, is a vector-matrix product per row and step
    (contiguous, vectorised loop); dL/dW is left to one matmul over all steps afterwards.
    ``dv, di, da`` [M] receive the gradients of the initial state; ``g*`` [M] the per-element
    parameter gradients (computed in the state dtype, like every backward here).
    """
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


# ----------------------------------------------------------------------------- fused Linear+LIF
@njit(inline="always", cache=True, error_model="numpy")
def _event_task(task, B, block, n):
    """(b, n0, L, lo, hi) of a forward task of the fused Linear+LIF kernels: tasks run the
    batch rows of one neuron block in turn (``task = block index * B + b``), so consecutive
    tasks read the same weight columns; neurons ``n0:n0+L``, flat state ``lo:hi``."""
    blk = task // B
    b = task - blk * B
    n0 = blk * block
    L = min(n0 + block, n) - n0
    lo = b * n + n0
    return b, n0, L, lo, lo + L


@njit(parallel=True, cache=True, error_model="numpy")
def event_lif_forward(ptr, idx, val, binary, wt, bias, has_bias, T, B, v0, i0, a0, beta, alpha, rho,
                      th, adp, kind, reset, store, block, spk, vpre, aux, v_out, i_out, a_out):
    """Event-driven Linear followed by the LIF-family scan, without materialising the current.

    The input is given as compressed sparse rows (``ptr``, ``idx``, ``val``; row ``r = t B + b``
    lists the active inputs of batch row b at step t, see ``_numba_sparse.active_fill``);
    ``wt`` = W^T [I, N]. A task owns ``block`` neurons of one batch row and loops over time:
    at each step it gathers the current of its neurons from the weight rows of the active
    inputs (``_gather_row``, work = active inputs x block) and advances the neurons
    (``_fwd_row``, the same update as ``lif_forward``). Outputs as in ``lif_forward``.
    """
    n = wt.shape[1]
    nb = (n + block - 1) // block
    cs, cz, one, zero = _coef(reset, wt)
    for task in prange(nb * B):
        b, n0, L, lo, hi = _event_task(task, B, block, n)
        v = v0[lo:hi].copy()
        i = i0[lo:hi].copy()
        a = a0[lo:hi].copy()
        u = np.empty(L, dtype=wt.dtype)
        pb, pa, pr = beta[n0:n0 + L], alpha[n0:n0 + L], rho[n0:n0 + L]
        pt, pd = th[n0:n0 + L], adp[n0:n0 + L]
        for t in range(T):
            r = t * B + b
            _gather_row(ptr[r], ptr[r + 1], idx, val, binary, wt, bias, has_bias, n0, L, u)
            if store:
                vp_row = vpre[t, lo:hi]
                aux_row = aux[t, lo:hi] if kind > 0 else vp_row
            else:
                vp_row = v
                aux_row = v
            _fwd_row(kind, store, L, u, v, i, a, pb, pa, pr, pt, pd, cs, cz, one, zero,
                     spk[t, lo:hi], vp_row, aux_row)
        v_out[lo:hi] = v
        i_out[lo:hi] = i
        a_out[lo:hi] = a


@njit(parallel=True, cache=True, error_model="numpy")
def event_lif_backward(gs, tstep, gv, gi, ga, spk, vpre, aux, v0, i0, a0, beta, alpha, rho, th,
                       adp, kind, reset, detach, code, width, ptr, idx, val, binary, B, block,
                       tchunk, want_gw, gwt, want_gu, gu, gv0, gi0, ga0, gbeta, galpha, grho, gth,
                       gadp):
    """BPTT of ``event_lif_forward``. A task owns ``block`` neurons of *every* batch row, so
    the weight gradient of its neurons, ``gwt[k, block] += val * dL/du_t`` for each active
    input k (event-driven like the forward), has a single writer.

    Time runs backwards in chunks of ``tchunk`` steps: within a chunk each batch row's
    neurons are stepped back through the chunk (``_bwd_row``, its states kept per row between
    chunks), with dL/du stored for the chunk only ([tchunk, B, block] per task, or straight
    into ``gu``); then the chunk's weight gradient is gathered per active input from the
    chunk's rows (``_chunk_weight_grad``: the same additions in the same order as scattering
    row by row). The caller sizes the chunk to stay in L2 (about 1 MB). Measured against
    scattering right after each row's step (backward kernel alone, one thread): 12.6-13.3 vs
    15.2 ms at 10 % input density (T=100 B=32 700->512), 33.5 vs 37.6 (T=250), 110 vs 156 (B=128
    N=1024), 7.6 vs 8.5 and 14.0 vs 18.8 at 2 %; chunks of 2 MB or more lost the gain.

    ``gs`` is [T, M] or [1, M] with ``tstep`` 0 (a gradient broadcast over time, e.g. from a
    sum over time, is not materialised). ``gu`` [T, M] receives dL/d(current) when
    ``want_gu`` (needed for the input's gradient). Other outputs as in ``lif_backward``.
    """
    T = spk.shape[0]
    n = gwt.shape[1]
    nb = (n + block - 1) // block
    fcs, fcz, one, zero = _coef(reset, vpre)
    cs, cz = fcs, fcz
    P = np.stack((beta, alpha, rho, th, adp))
    nd = zero if detach else one
    for blk in prange(nb):
        n0 = blk * block
        L = min(n0 + block, n) - n0
        z = np.empty(L, dtype=vpre.dtype)
        vprev = np.empty(L, dtype=vpre.dtype)
        grec = np.zeros(L, dtype=spk.dtype)
        dvs = np.empty((B, L), dtype=gv.dtype)
        dis = np.empty((B, L), dtype=gv.dtype)
        das = np.empty((B, L), dtype=gv.dtype)
        accs = np.zeros((B, 5, L), dtype=vpre.dtype)
        g_chunk = np.empty((1, 1, L) if want_gu else (tchunk, B, L), dtype=spk.dtype)
        # where the chunk's dL/du rows are read from: gu [T B, n], or the chunk [tchunk B, L]
        src = gu.reshape((T * B, n)) if want_gu else g_chunk.reshape((tchunk * B, L))
        cnt, pos, crow, cval = _chunk_scratch(ptr, tchunk * B, gwt.shape[0], val)
        for b in range(B):
            lo = b * n + n0
            dvs[b] = gv[lo:lo + L]
            dis[b] = gi[lo:lo + L]
            das[b] = ga[lo:lo + L]
        t1 = ((T - 1) // tchunk) * tchunk
        while t1 >= 0:
            t2 = min(t1 + tchunk, T)
            for b in range(B):
                lo = b * n + n0
                hi = lo + L
                dv, di, da, acc = dvs[b], dis[b], das[b], accs[b]
                for t in range(t2 - 1, t1 - 1, -1):
                    g_row = gu[t, lo:hi] if want_gu else g_chunk[t - t1, b]
                    _bwd_row(kind, t, lo, hi, n0, L, gs[t * tstep, lo:hi], grec, spk, vpre, aux,
                             v0, i0, a0, P, cs, cz, fcs, fcz, nd, code, width, dv, di, da, g_row,
                             acc, z, vprev)
            if want_gw:  # the chunk's rows r = t B + b, t1 <= t < t2
                base = 0 if want_gu else t1 * B
                c0 = n0 if want_gu else 0
                _chunk_weight_grad(ptr, idx, val, binary, t1 * B, t2 * B, src, base, c0, L, gwt,
                                   n0, cnt, pos, crow, cval)
            t1 -= tchunk
        for b in range(B):
            lo = b * n + n0
            _bwd_store(lo, lo + L, dvs[b], dis[b], das[b], accs[b], gv0, gi0, ga0, gbeta, galpha,
                       grho, gth, gadp)


@njit(parallel=True, cache=True, error_model="numpy")
def event_lif_infer(x, xb, grouped, wt, bias, has_bias, T, B, v0, i0, a0, beta, alpha, rho, th,
                    adp, kind, reset, block, spk, v_out, i_out, a_out, bad):
    """``event_lif_forward`` without a gradient, straight from the dense input x [T*B, I].

    Inference keeps nothing for a backward, so no spike lists are built: each task compacts
    the row it is about to use into a local list (``_compact_row``, as ``active_fill``;
    ``xb`` and ``grouped`` as there) and
    gathers from it, which saves two passes over the input and its lists. Same sums in the
    same order, hence the same spikes and states bit for bit. ``bad[task]`` <- 1 where the
    input holds NaN or inf.
    """
    n = wt.shape[1]
    I = x.shape[1]
    nb = (n + block - 1) // block
    cs, cz, one, zero = _coef(reset, wt)
    for task in prange(nb * B):
        b, n0, L, lo, hi = _event_task(task, B, block, n)
        v = v0[lo:hi].copy()
        i = i0[lo:hi].copy()
        a = a0[lo:hi].copy()
        u = np.empty(L, dtype=wt.dtype)
        idx = np.empty(I + 1, dtype=np.int32)
        gbuf = np.empty(I // 4 + 1, dtype=np.int32)
        val = np.empty(I + 1, dtype=x.dtype)
        pb, pa, pr = beta[n0:n0 + L], alpha[n0:n0 + L], rho[n0:n0 + L]
        pt, pd = th[n0:n0 + L], adp[n0:n0 + L]
        for t in range(T):
            xr = x[t * B + b]
            c = _compact_row(xr, xb[t * B + b], grouped, idx, gbuf)
            binary = True
            for q in range(c):
                xv = xr[idx[q]]
                val[q] = xv
                if xv != 1:
                    binary = False
                if not (xv - xv == 0):
                    bad[task] = 1
            _gather_row(0, c, idx, val, binary, wt, bias, has_bias, n0, L, u)
            _fwd_row(kind, False, L, u, v, i, a, pb, pa, pr, pt, pd, cs, cz, one, zero,
                     spk[t, lo:hi], v, v)
        v_out[lo:hi] = v
        i_out[lo:hi] = i
        a_out[lo:hi] = a
