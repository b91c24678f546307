"""Numba kernels of the event-driven Linear concept: y = x W^T + b touching only the weights of
nonzero inputs.

- spike lists: compressed rows of the input (``active_counts``, ``active_fill``, the
  branch-free compaction ``_compact_row``);
- the gather of a row's current from the active inputs' weight rows (``_gather_row``) and the
  chunked weight gradient (``_chunk_weight_grad``);
- ``EventLinear``'s own kernels on spike lists (``csr_linear_forward``,
  ``csr_linear_weight_grad``);
- the fused Linear + LIF-family scans (``event_lif_forward`` / ``_backward`` / ``_infer``),
  which gather each step's current inside the neuron scan of ``axonal.kernels.lif._numba``.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from .. import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from ..lif._numba import _bwd_row, _bwd_store, _coef, _fwd_loop, _fwd_row, _task_state, _task_store


# ----------------------------------------------------------------------------- spike lists
@njit(parallel=True, cache=True, error_model="numpy")
def active_counts(x, counts):
    """counts[r + 1] <- number of nonzero entries of row r of x [R, I] (counts[0] untouched).
    Branch-free, so it vectorises."""
    R, I = x.shape
    for r in prange(R):
        c = 0
        xr = x[r]
        for k in range(I):
            c += 1 if xr[k] != 0 else 0
        counts[r + 1] = c


@njit(cache=True, error_model="numpy")
def count_nonzero_rows(x, step):
    """Nonzero entries of rows 0, step, 2 step, ... of x [R, I] (branch-free; the density
    estimate that picks the sparse or dense path reads a sample of rows, not the tensor)."""
    R, I = x.shape
    c = 0
    for r in range(0, R, step):
        xr = x[r]
        for k in range(I):
            c += 1 if xr[k] != 0 else 0
    return c


#: below this input density the compaction first skips all-zero groups of four inputs (an OR
#: of their bit patterns): 0.77 vs 1.11 ms at 2 % on [3200, 700], 1.04 vs 1.27 at 5 %, but
#: 1.44 vs 1.12 at 10 %, where most groups hold a spike
GROUPED_BELOW = 0.06


def bit_view(x: np.ndarray) -> np.ndarray:
    """The bit patterns of a contiguous float32/float64 array [R, I] as unsigned integers (no
    copy): float64 as uint64 [R, I]; float32 as uint64 [R, I / 2] (two inputs a word) when I
    is even, as uint32 [R, I] otherwise. ``_compact_row`` tells the forms apart by length."""
    if x.dtype == np.float32 and x.shape[-1] % 2 == 0:
        return x.view(np.uint64)
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint64)


@njit(inline="always", cache=True, error_model="numpy")
def _compact_row(xr, xb, grouped, buf, gbuf):
    """buf[:c] <- the indices of the nonzero entries of ``xr``, increasing; returns c.

    Stream compaction without a data-dependent branch (every index is written, the write
    position advances only past nonzeros): a branch per element mispredicts at spike
    densities of a few percent and was measured 2-5x slower. ``grouped`` first compacts the
    groups of four whose bits ``xb`` (``bit_view(xr)``) are not all zero, then the entries of
    those groups; a float compare decides in both forms, so -0.0 is zero and NaN is nonzero
    either way and the result is the same. Where ``xb`` packs two float32 inputs a word, a
    group is two words (an OR of two loads instead of four: 0.70 vs 0.86 ms on [3200, 700] at
    2 %, 1.34 vs 1.53 at 10 %). ``buf`` needs len(xr) + 1 entries, ``gbuf``
    len(xr) // 4 + 1.
    """
    n = xr.shape[0]
    c = 0
    start = 0
    if grouped:
        ng = 0
        if xb.shape[0] < n:  # two inputs a word
            for g in range(n // 4):
                gbuf[ng] = 4 * g
                ng += 1 if (xb[2 * g] | xb[2 * g + 1]) != 0 else 0
        else:
            for g in range(n // 4):
                k = 4 * g
                gbuf[ng] = k
                ng += 1 if (xb[k] | xb[k + 1] | xb[k + 2] | xb[k + 3]) != 0 else 0
        for q in range(ng):
            k = gbuf[q]
            for j in range(4):
                buf[c] = k + j
                c += 1 if xr[k + j] != 0 else 0
        start = 4 * (n // 4)
    for k in range(start, n):
        buf[c] = k
        c += 1 if xr[k] != 0 else 0
    return c


@njit(parallel=True, cache=True, error_model="numpy")
def active_fill(x, xb, grouped, ptr, idx, val):
    """Row r's nonzero inputs, in increasing input order, at idx/val[ptr[r]:ptr[r + 1]]
    (compressed sparse rows; ``_compact_row``). NaN and inf are nonzero, so they land in
    ``val``. Returns (how many values are NaN or inf, how many differ from 1), counted while
    the values are written (two torch passes over ``val`` cost 0.8 ms at 10 % density on
    [3200, 700], a sixth of building the lists)."""
    R, I = x.shape
    nonfinite = 0
    not_one = 0
    for r in prange(R):
        buf = np.empty(I + 1, dtype=np.int32)
        gbuf = np.empty(I // 4 + 1, dtype=np.int32)
        xr = x[r]
        c = _compact_row(xr, xb[r], grouped, buf, gbuf)
        p = ptr[r]
        for q in range(c):
            k = buf[q]
            v = xr[k]
            idx[p + q] = k
            val[p + q] = v
            nonfinite += 0 if v - v == 0 else 1
            not_one += 0 if v == 1 else 1
    return nonfinite, not_one


# ----------------------------------------------------------------------------- fused Linear+LIF
#: most neurons per forward task: long contiguous weight rows, and one compaction of each input
#: row per task, measured fastest (one thread, CPU ms, T=100; on this project's machine):
#: 700->512 B=32 2 %: 512 beat 256 and 128 by 1.5-2x; 700->1024 B=128: 1024 beat 512 by 20 %
#: (inference 56 vs 70 at 2 %, 139 vs 163 at 10 %) and 12 % (training); 700->2048 B=32 2 %:
#: inference 18.4 / 20.3 / 27.0 with 2048 / 1024 / 512. ``event_lif_scan`` takes smaller blocks
#: only to give every thread a task.
FUSED_BLOCK = 2048


@njit(inline="always", cache=True, error_model="numpy")
def _gather_row(p0, p1, idx, val, binary, wt, bias, has_bias, n0, L, u):
    """u[:L] <- bias[n0:n0+L] + sum over the row's active inputs k of val * W^T[k, n0:n0+L].

    The sum runs in increasing input order, one input at a time (eight, four, two or one
    inputs per pass over ``u``, but each output is still ``((u + a) + b) + ...``: the same
    rounding), in the fused layer as in ``csr_linear_forward``, so the fused layer reproduces
    ``EventLinear`` followed by the neuron kernel bit for bit. Eight inputs a pass rather
    than four halve the passes over ``u``: the fused Linear+LIF forward took 8.1 instead of
    9.8 ms at 10 % input density, 3.0 instead of 3.2 at 2 % (T=100 B=32 700->512, one
    thread); sixteen gained nothing more. ``binary`` (every value is 1, as for spikes) drops
    the multiplications, which are exact then: it halves the arithmetic.
    """
    if has_bias:
        for o in range(L):
            u[o] = bias[n0 + o]
    else:
        for o in range(L):
            u[o] = 0
    if binary:
        _gather_ones(p0, p1, idx, wt, n0, L, u)
    else:
        _gather_values(p0, p1, idx, val, wt, n0, L, u)


@njit(inline="always", cache=True, error_model="numpy")
def _gather_ones(p0, p1, idx, wt, n0, L, u):
    """u[:L] += W^T[k, n0:n0+L] for k in idx[p0:p1], in order (``_gather_row``)."""
    p = p0
    while p + 8 <= p1:
        w0, w1 = wt[idx[p], n0:n0 + L], wt[idx[p + 1], n0:n0 + L]
        w2, w3 = wt[idx[p + 2], n0:n0 + L], wt[idx[p + 3], n0:n0 + L]
        w4, w5 = wt[idx[p + 4], n0:n0 + L], wt[idx[p + 5], n0:n0 + L]
        w6, w7 = wt[idx[p + 6], n0:n0 + L], wt[idx[p + 7], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + w0[o] + w1[o] + w2[o] + w3[o] + w4[o] + w5[o] + w6[o] + w7[o]
        p += 8
    if p + 4 <= p1:
        w0, w1 = wt[idx[p], n0:n0 + L], wt[idx[p + 1], n0:n0 + L]
        w2, w3 = wt[idx[p + 2], n0:n0 + L], wt[idx[p + 3], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + w0[o] + w1[o] + w2[o] + w3[o]
        p += 4
    if p + 2 <= p1:
        w0, w1 = wt[idx[p], n0:n0 + L], wt[idx[p + 1], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + w0[o] + w1[o]
        p += 2
    if p < p1:
        w0 = wt[idx[p], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + w0[o]


@njit(inline="always", cache=True, error_model="numpy")
def _gather_values(p0, p1, idx, val, wt, n0, L, u):
    """u[:L] += val * W^T[k, n0:n0+L] for the entries p0:p1, in order (``_gather_row``)."""
    p = p0
    while p + 8 <= p1:
        c0, c1, c2, c3 = val[p], val[p + 1], val[p + 2], val[p + 3]
        c4, c5, c6, c7 = val[p + 4], val[p + 5], val[p + 6], val[p + 7]
        w0, w1 = wt[idx[p], n0:n0 + L], wt[idx[p + 1], n0:n0 + L]
        w2, w3 = wt[idx[p + 2], n0:n0 + L], wt[idx[p + 3], n0:n0 + L]
        w4, w5 = wt[idx[p + 4], n0:n0 + L], wt[idx[p + 5], n0:n0 + L]
        w6, w7 = wt[idx[p + 6], n0:n0 + L], wt[idx[p + 7], n0:n0 + L]
        for o in range(L):
            u[o] = (u[o] + c0 * w0[o] + c1 * w1[o] + c2 * w2[o] + c3 * w3[o] + c4 * w4[o]
                    + c5 * w5[o] + c6 * w6[o] + c7 * w7[o])
        p += 8
    if p + 4 <= p1:
        c0, c1, c2, c3 = val[p], val[p + 1], val[p + 2], val[p + 3]
        w0, w1 = wt[idx[p], n0:n0 + L], wt[idx[p + 1], n0:n0 + L]
        w2, w3 = wt[idx[p + 2], n0:n0 + L], wt[idx[p + 3], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + c0 * w0[o] + c1 * w1[o] + c2 * w2[o] + c3 * w3[o]
        p += 4
    while p < p1:
        c0 = val[p]
        w0 = wt[idx[p], n0:n0 + L]
        for o in range(L):
            u[o] = u[o] + c0 * w0[o]
        p += 1


@njit(inline="always", cache=True, error_model="numpy")
def _chunk_scratch(ptr, chunk, n_in, val):
    """Scratch of ``_chunk_weight_grad`` for rows taken ``chunk`` at a time from row 0:
    (cnt [I+1], pos [I], crow, cval), the last two sized for the chunk with the most spikes."""
    R = ptr.shape[0] - 1
    cap = 1
    for r0 in range(0, R, chunk):
        cap = max(cap, ptr[min(r0 + chunk, R)] - ptr[r0])
    return (np.empty(n_in + 1, dtype=np.int64), np.empty(n_in, dtype=np.int64),
            np.empty(cap, dtype=np.int32), np.empty(cap, dtype=val.dtype))


@njit(inline="always", cache=True, error_model="numpy")
def _chunk_weight_grad(ptr, idx, val, binary, r0, r1, src, base, c0, L, gwt, n0, cnt, pos,
                       crow, cval):
    """gwt[k, n0:n0+L] += sum of val * src[r - base, c0:c0+L] over the rows r in [r0, r1)
    whose input k is active, added in increasing r: the weight gradient of a chunk of rows.

    The chunk's spike lists are first turned around (counting sort by input into ``crow`` /
    ``cval``; ``cnt`` [I+1] and ``pos`` [I] scratch), then each active input's gradient row is
    gathered from the chunk's rows eight at a time (``_gather_ones``): one read-modify-write
    of the gradient row per eight rows instead of one per row, the rows read from cache when
    the chunk fits in L2. The additions and their order are those of adding each row, in
    increasing r, to the gradient rows of its active inputs, so the result is the same bit for
    bit as that scatter (which it replaced: 9-15 % off the fused training step at 2-10 %
    input density).
    """
    I = gwt.shape[0]
    for q in range(I + 1):
        cnt[q] = 0
    for p in range(ptr[r0], ptr[r1]):
        cnt[idx[p] + 1] += 1
    for q in range(I):
        cnt[q + 1] += cnt[q]
        pos[q] = cnt[q]
    for r in range(r0, r1):
        for p in range(ptr[r], ptr[r + 1]):
            k = idx[p]
            e = pos[k]
            crow[e] = r - base
            cval[e] = val[p]
            pos[k] = e + 1
    for k in range(I):
        if cnt[k] < cnt[k + 1]:
            row = gwt[k, n0:n0 + L]
            if binary:
                _gather_ones(cnt[k], cnt[k + 1], crow, src, c0, L, row)
            else:
                _gather_values(cnt[k], cnt[k + 1], crow, cval, src, c0, L, row)


# ----------------------------------------------------------------------------- on spike lists
@njit(parallel=True, cache=True, error_model="numpy")
def csr_linear_forward(ptr, idx, val, binary, wt, bias, has_bias, y):
    """y [R, O] <- rows given as spike lists (``active_fill``) times W^T [I, O] (+ bias).

    For each row, the rows of W^T of its nonzero inputs are scaled and added, so the work is
    (number of nonzeros) x O instead of R x I x O."""
    R = y.shape[0]
    O = wt.shape[1]
    for r in prange(R):
        _gather_row(ptr[r], ptr[r + 1], idx, val, binary, wt, bias, has_bias, 0, O, y[r])


@njit(parallel=True, cache=True, error_model="numpy")
def csr_linear_weight_grad(ptr, idx, val, binary, g, block, chunk, gwt):
    """gwt [I, O] += x^T g for x given as spike lists and g [R, O]. Tasks own ``block`` output
    columns, so every element of ``gwt`` has a single writer; each task walks the rows in
    chunks of ``chunk`` (sized by the caller so that a chunk of its columns stays in L2) and
    gathers every active input's gradient row from the chunk (``_chunk_weight_grad``): the
    same sums, in increasing row order, as adding each row to its active inputs' rows."""
    R, O = g.shape
    I = gwt.shape[0]
    nb = (O + block - 1) // block
    for blk in prange(nb):
        n0 = blk * block
        L = min(n0 + block, O) - n0
        cnt, pos, crow, cval = _chunk_scratch(ptr, chunk, I, val)
        for r0 in range(0, R, chunk):
            _chunk_weight_grad(ptr, idx, val, binary, r0, min(r0 + chunk, R), g, 0, n0, L, gwt,
                               n0, cnt, pos, crow, cval)


# ----------------------------------------------------------------------------- fused Linear+LIF scans
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


@functools.cache
def event_lif_forward(kind):
    """The fused forward of form ``kind``, compiled on first use."""

    @njit(parallel=True, cache=True, error_model="numpy")
    def event_lif_forward(lists, linear, T, B, s0, p, cfg, store, block, saved, s_out):
        """Event-driven Linear followed by the LIF-family scan, without materialising the current.

        The input is given as compressed sparse rows (``ptr``, ``idx``, ``val``; row ``r = t B + b``
        lists the active inputs of batch row b at step t, see ``active_fill``);
        ``wt`` = W^T [I, N]. A task owns ``block`` neurons of one batch row and loops over time:
        at each step it gathers the current of its neurons from the weight rows of the active
        inputs (``_gather_row``, work = active inputs x block) and advances the neurons
        (``_fwd_row``, the same update as ``lif_forward``). ``lists`` a ``SpikeLists``, ``linear`` a
        ``LinearArrays`` (W^T, bias, has_bias); the neuron's bundles and the outputs as in
        ``lif_forward``.
        """
        ptr, idx, val, binary = lists
        wt, bias, has_bias = linear
        beta, alpha, rho, th, adp = p
        reset = cfg.reset
        spk, vpre, aux = saved
        n = wt.shape[1]
        nb = (n + block - 1) // block
        cs, cz, one, zero = _coef(reset, wt)
        for task in prange(nb * B):
            b, n0, L, lo, hi = _event_task(task, B, block, n)
            v, i, a = _task_state(s0, lo, hi)
            u = np.empty(L, dtype=wt.dtype)
            pb, pa, pr = beta[n0:n0 + L], alpha[n0:n0 + L], rho[n0:n0 + L]
            pt, pd = th[n0:n0 + L], adp[n0:n0 + L]
            for t in range(T):
                r = t * B + b
                _gather_row(ptr[r], ptr[r + 1], idx, val, binary, wt, bias, has_bias, n0, L, u)
                _fwd_row(kind, store, t, lo, hi, u, v, i, a, pb, pa, pr, pt, pd, cs, cz, one,
                         zero, spk, vpre, aux)
            _task_store(s_out, lo, v, i, a)

    return event_lif_forward


@functools.cache
def event_lif_backward(kind):
    """The BPTT of ``event_lif_forward(kind)`` compiled on first use (every surrogate)."""

    @njit(parallel=True, cache=True, error_model="numpy")
    def event_lif_backward(g, tstep, saved, s0, p, cfg, lists, B, block, tchunk, want_gw, gwt,
                           want_gu, gu, g0, gp):
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
        ``want_gu`` (needed for the input's gradient). Bundles and other outputs as in
        ``lif_backward`` and ``event_lif_forward``.
        """
        gs, gv, gi, ga = g
        spk, vpre, aux = saved
        v0, i0, a0 = s0
        beta, alpha, rho, th, adp = p
        reset, detach, code, width = cfg.reset, cfg.detach, cfg.surrogate, cfg.width
        ptr, idx, val, binary = lists
        gv0, gi0, ga0 = g0
        gbeta, galpha, grho, gth, gadp = gp
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

    return event_lif_backward


@functools.cache
def event_lif_infer(kind):
    """The fused inference of form ``kind``, compiled on first use."""

    @njit(parallel=True, cache=True, error_model="numpy")
    def event_lif_infer(x, xb, grouped, linear, T, B, s0, p, cfg, block, spk, s_out, bad):
        """``event_lif_forward`` without a gradient, straight from the dense input x [T*B, I].

        Inference keeps nothing for a backward, so no spike lists are built: each task compacts
        the row it is about to use into a local list (``_compact_row``, as ``active_fill``;
        ``xb`` and ``grouped`` as there) and
        gathers from it, which saves two passes over the input and its lists. Same sums in the
        same order, hence the same spikes and states bit for bit. ``bad[task]`` <- 1 where the
        input holds NaN or inf.
        """
        wt, bias, has_bias = linear
        beta, alpha, rho, th, adp = p
        reset = cfg.reset
        n = wt.shape[1]
        I = x.shape[1]
        nb = (n + block - 1) // block
        cs, cz, one, zero = _coef(reset, wt)
        for task in prange(nb * B):
            b, n0, L, lo, hi = _event_task(task, B, block, n)
            v, i, a = _task_state(s0, lo, hi)
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
                _fwd_loop(kind, False, L, u, v, i, a, pb, pa, pr, pt, pd, cs, cz, one, zero,
                          spk[t, lo:hi], v, v)
            _task_store(s_out, lo, v, i, a)

    return event_lif_infer
