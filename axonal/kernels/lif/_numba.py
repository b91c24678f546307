"""Numba kernels of the LIF family: forward scan and hand-derived backward (BPTT).

Each kernel is compiled per form of the family (``kind`` = ``LIFDynamics.form``: 0 leaky,
1 current-based, 2 adaptive; the non-leaky IF is the leaky form with decay 1), on first use of
that form: ``lif_forward(kind)`` etc. return the numba kernel of that form (built once per
process, ``functools.cache``, with ``kind`` a closure constant, and cached on disk by numba,
``cache=True``), so a model compiles only the form it uses (first-use compile of the demo's
recurrent LIF layer: 17 CPU s instead of 31 with every form in one kernel, issue 24). Every
reset mode (``reset`` 0 subtract, 1 zero, 2 none), ``detach_reset``, every surrogate (``code``,
its index in ``axonal.surrogate.TABLE``) and ``store`` are runtime arguments, in one bundle,
``cfg`` (a ``KernelConfig`` named tuple), with the arrays in named bundles too
(``StateArrays``, ``ParamArrays``, ``Saved``, ``Grads`` of ``axonal.kernels.lif.scan``),
unpacked once at the top of each kernel. Each form's kernel compiles once per dtype (float32,
float64).
They must nevertheless not reach the innermost loops as branches, which would stop LLVM from
vectorising them (measured: a branchy generic loop ran 9x slower than a specialised one):

- ``kind`` is a compile-time constant of the loops (``_fwd_loop``, ``_bwd_prep_loop``,
  ``_bwd_loop`` inlined with it), so the compiler folds the other forms away; ``store``
  chooses one of two copies of the forward loop once per step (``_fwd_row``);
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

import functools

import numpy as np
from numba import njit, prange

from .. import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from .._numba_surrogate import surrogate_row

BLOCK = 256


# ----------------------------------------------------------------------------- forward rows
@njit(inline="always", cache=True, error_model="numpy")
def _fwd_loop(kind, store, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero, spk,
              vpre, aux):
    """One time step for L neurons (all arguments are length-L views); when ``store``, the
    membrane before reset goes to ``vpre`` and i_t (current-based) or a_t (adaptive) to
    ``aux``."""
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
def _fwd_row(kind, store, t, lo, hi, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero,
             spk, vpre, aux):
    """Step t of the neurons lo:hi of the flat state (``_fwd_loop``), writing the rows t of
    the saved arrays when ``store``: the two copies of the loop are chosen here, once per
    step, not per neuron."""
    L = hi - lo
    if store:
        vp_row = vpre[t, lo:hi]
        aux_row = aux[t, lo:hi] if kind > 0 else vp_row
        _fwd_loop(kind, True, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero,
                  spk[t, lo:hi], vp_row, aux_row)
    else:
        _fwd_loop(kind, False, L, u, v, i, a, beta, alpha, rho, th, adp, cs, cz, one, zero,
                  spk[t, lo:hi], v, v)


@njit(inline="always", cache=True, error_model="numpy")
def _task_state(s0, lo, hi):
    """Copies (v, i, a) of the flat state rows lo:hi. Explicit loops here and in
    ``_task_store``: inside a parallel kernel every slice copy or slice assignment is a parfor
    of its own for numba to analyse and lower, which made up a good part of the first-use
    compile time."""
    v0, i0, a0 = s0
    L = hi - lo
    v = np.empty(L, dtype=v0.dtype)
    i = np.empty(L, dtype=i0.dtype)
    a = np.empty(L, dtype=a0.dtype)
    for j in range(L):
        v[j] = v0[lo + j]
        i[j] = i0[lo + j]
        a[j] = a0[lo + j]
    return v, i, a


@njit(inline="always", cache=True, error_model="numpy")
def _task_store(s_out, lo, v, i, a):
    """s_out's rows lo:lo+len(v) <- (v, i, a) (see ``_task_state``)."""
    v_out, i_out, a_out = s_out
    for j in range(v.shape[0]):
        v_out[lo + j] = v[j]
        i_out[lo + j] = i[j]
        a_out[lo + j] = a[j]


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


@functools.cache
def lif_forward(kind):
    """The forward scan of form ``kind``, compiled on first use (see the module docstring)."""

    @njit(parallel=True, cache=True, error_model="numpy")
    def lif_forward(x, s0, p, cfg, n, store, saved, s_out):
        """Scan over time. x [T, M]; ``s0`` (v, i, a) [M]; ``p`` (beta, alpha, rho,
        threshold, adaptation) [N]; ``cfg`` a ``KernelConfig``; outputs preallocated:
        ``saved`` (spikes, and ``vpre``/``aux`` [T, M] only when ``store``), ``s_out`` the
        final (v, i, a)."""
        beta, alpha, rho, th, adp = p
        spk, vpre, aux = saved
        T = x.shape[0]
        M = x.shape[1]
        B = M // n
        nb = (n + BLOCK - 1) // BLOCK
        cs, cz, one, zero = _coef(cfg.reset, x)
        for task in prange(B * nb):
            b = task // nb
            n0 = (task - b * nb) * BLOCK
            L = min(n0 + BLOCK, n) - n0
            lo = b * n + n0
            hi = lo + L
            v, i, a = _task_state(s0, lo, hi)
            pb, pa, pr = beta[n0:n0 + L], alpha[n0:n0 + L], rho[n0:n0 + L]
            pt, pd = th[n0:n0 + L], adp[n0:n0 + L]
            for t in range(T):
                _fwd_row(kind, store, t, lo, hi, x[t, lo:hi], v, i, a, pb, pa, pr, pt, pd, cs,
                         cz, one, zero, spk, vpre, aux)
            _task_store(s_out, lo, v, i, a)

    return lif_forward


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
    _bwd_prep_loop(kind, L, first, vp, a_prev, a_pp, prev_vp, prev_s, v0r, pt, pd, fcs, fcz, z,
                   vprev)
    surrogate_row(code, width, z, L)
    _bwd_loop(kind, L, gs_row, grec_row, vp, s, a_prev, i_prev, vprev, z, pb, pa, pr, pt, pd,
              cs, cz, nd, dv, di, da, gx_row, acc)


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_start(gv, gi, ga, lo, hi, vpre, gs):
    """Per-task state of a backward over neurons lo:hi: (dv, di, da) from the gradients of the
    final state, the parameter accumulators acc [5, L], scratch z, vprev, and grec = 0."""
    L = hi - lo
    dv, di, da = _task_state((gv, gi, ga), lo, hi)
    acc = np.empty((5, L), dtype=vpre.dtype)
    grec = np.empty(L, dtype=gs.dtype)
    for j in range(L):  # loops, not np.zeros (see ``_task_state``)
        for k in range(5):
            acc[k, j] = 0
        grec[j] = 0
    return dv, di, da, acc, np.empty(L, dtype=vpre.dtype), np.empty(L, dtype=vpre.dtype), grec


@njit(inline="always", cache=True, error_model="numpy")
def _bwd_store(lo, hi, dv, di, da, acc, gv0, gi0, ga0, gbeta, galpha, grho, gth, gadp):
    """Write a task's initial-state gradients and per-element parameter gradients."""
    for j in range(hi - lo):  # one loop, not eight slice assignments (each a parfor to compile)
        q = lo + j
        gv0[q] = dv[j]
        gi0[q] = di[j]
        ga0[q] = da[j]
        gbeta[q] = acc[0, j]
        galpha[q] = acc[1, j]
        grho[q] = acc[2, j]
        gth[q] = acc[3, j]
        gadp[q] = acc[4, j]


@functools.cache
def lif_backward(kind):
    """The BPTT of form ``kind`` compiled on first use (every surrogate)."""

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
        reset, detach, code, width = cfg.reset, cfg.detach, cfg.surrogate, cfg.width
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

    return lif_backward


# ----------------------------------------------------------------------------- recurrent
@functools.cache
def recurrent_forward(kind):
    """The recurrent scan of form ``kind``, compiled on first use."""

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
        beta, alpha, rho, th, adp = p
        reset = cfg.reset
        spk, vpre, aux = saved
        T = x.shape[0]
        M = x.shape[1]
        B = M // n
        cs, cz, one, zero = _coef(reset, x)
        for b in prange(B):
            lo = b * n
            hi = lo + n
            vb, ib, ab = _task_state(s0, lo, hi)
            u = np.empty(n, dtype=x.dtype)
            rec = np.empty(n, dtype=x.dtype)
            for t in range(T):
                if t == 0:
                    for jj in range(n):
                        u[jj] = x[0, lo + jj] + rec0[lo + jj]
                else:
                    for jj in range(n):
                        rec[jj] = 0
                    for q in range(n):
                        if spk[t - 1, lo + q] != 0:
                            w = wt[q]
                            for jj in range(n):
                                rec[jj] += w[jj]
                    for jj in range(n):
                        u[jj] = x[t, lo + jj] + rec[jj]
                _fwd_row(kind, store, t, lo, hi, u, vb, ib, ab, beta, alpha, rho, th, adp, cs,
                         cz, one, zero, spk, vpre, aux)
            _task_store(s_out, lo, vb, ib, ab)

    return recurrent_forward


@functools.cache
def recurrent_backward(kind):
    """The BPTT of ``recurrent_forward(kind)`` compiled on first use (every surrogate)."""

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
        reset, detach, code, width = cfg.reset, cfg.detach, cfg.surrogate, cfg.width
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

    return recurrent_backward
