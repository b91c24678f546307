"""Triton kernels of the LIF family: forward scan and hand-derived backward (BPTT).

This module imports ``triton`` at the top and is itself imported only by
``axonal.kernels.lif.triton`` on first use, so ``import axonal`` never imports Triton.

Layout: time-major ``[T, M]`` with ``M = B * N`` (batch times neurons, C order). One program
handles ``BLOCK`` consecutive elements of the flattened ``M`` axis and loops over time inside
the kernel, its state in registers; neuron ``j`` of element ``m`` is ``m % N`` (per-neuron
constants ``[N]``). Both kernels process the time steps ``[t0, t1)`` of the full arrays and
read/write the state through in/out buffers, so the same kernel serves a whole sequence in one
launch and the recurrent forms one step per launch (see ``lif.triton``).

The arithmetic is the numba kernel's (``lif._numba``): the same equations in the same order
and dtype as the reference steps, so forward values agree exactly with the reference scan
(launched with ``enable_fp_fusion=False`` so that a multiply and an add are never contracted
into one FMA on the GPU, which would round differently). ``FORM`` (``LIFDynamics.form``: 0
leaky, 1 current-based, 2 adaptive), ``RESET`` (0 subtract, 1 zero, 2 none), ``DETACH`` and the
surrogate ``CODE`` (its index in ``axonal.surrogate.TABLE``) are compile-time constants: each
configuration compiles its own branch-free kernel.

The surrogate derivatives are the table's formulas of ``axonal.surrogate``, compiled here with
their ``ops`` namespace rebound to ``triton.language`` (``with_ops``). Their constants, which
are not exact in float32, are read from a small tensor in the input's dtype: Triton would
otherwise round a Python float literal or argument to float32, which changes float64 results.
"""
from __future__ import annotations

import os

import triton
import triton.language as tl

from ...surrogate import TABLE, with_ops

try:  # Triton >= 3.3 reads its settings through ``knobs``; older 3.x the environment directly
    from triton import knobs

    _interpret = bool(knobs.runtime.interpret)
except ImportError:  # pragma: no cover - depends on the installed Triton
    _interpret = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on")

#: whether these kernels were built for Triton's CPU interpreter (``TRITON_INTERPRET=1`` at import)
INTERPRETED = _interpret

#: whether Triton's own language functions are interpreted too: they are decorated when
#: ``triton`` is first imported, so a ``TRITON_INTERPRET=1`` set after that (here, before this
#: module) leaves them compiled-only, and every interpreted launch fails inside ``tl.zeros``
try:
    from triton.runtime.interpreter import InterpretedFunction as _Interpreted

    LANGUAGE_INTERPRETED = isinstance(tl.zeros, _Interpreted)
except ImportError:  # pragma: no cover - depends on the installed Triton
    LANGUAGE_INTERPRETED = _interpret


# the table's formulas for Triton, one name per code (``CODE`` selects one at compile time)
assert len(TABLE) == 5, "extend _surrogate_grad to the new surrogate"
_d0, _d1, _d2, _d3, _d4 = (triton.jit(with_ops(cls.formula, tl)) for cls in TABLE)


@triton.jit
def _surrogate_grad(z, a, b, one, zero, CODE: tl.constexpr):
    """Surrogate derivative at ``z = v - theta``: the formula of ``TABLE[CODE]``."""
    if CODE == 0:
        g = _d0(z, a, b, one, zero)
    elif CODE == 1:
        g = _d1(z, a, b, one, zero)
    elif CODE == 2:
        g = _d2(z, a, b, one, zero)
    elif CODE == 3:
        g = _d3(z, a, b, one, zero)
    else:
        g = _d4(z, a, b, one, zero)
    return g


@triton.jit
def surrogate_kernel(z_ptr, c_ptr, out_ptr, M, CODE: tl.constexpr, BLOCK: tl.constexpr):
    """out[:M] <- the derivative of ``TABLE[CODE]`` at z[:M] (constants (a, b, 1, 0) at
    ``c_ptr``): the backward's surrogate on its own, to check it against the torch class."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    z = tl.load(z_ptr + offs, mask=mask, other=0.0)
    g = _surrogate_grad(z, tl.load(c_ptr), tl.load(c_ptr + 1), tl.load(c_ptr + 2),
                        tl.load(c_ptr + 3), CODE)
    tl.store(out_ptr + offs, g, mask=mask)


@triton.jit
def _after_reset(vp, s, theta, RESET: tl.constexpr):
    """Membrane after the spike ``s``: the reference ``apply_reset`` arithmetic."""
    if RESET == 0:
        v = vp - s * theta
    elif RESET == 1:
        v = vp * (1.0 - s)
    else:
        v = vp
    return v


@triton.jit(do_not_specialize=["t0", "t1"])
def lif_forward_kernel(x_ptr, rec_ptr, v_ptr, i_ptr, a_ptr,
                       beta_ptr, alpha_ptr, rho_ptr, th_ptr, adp_ptr,
                       spk_ptr, vpre_ptr, aux_ptr, t0, t1, M, N,
                       FORM: tl.constexpr, RESET: tl.constexpr, STORE: tl.constexpr,
                       HAS_REC: tl.constexpr, BLOCK: tl.constexpr):
    """Steps ``[t0, t1)``: reads x (+ ``rec`` [M] when ``HAS_REC``, single step only), updates
    ``v, i, a`` [M] in place, writes spikes and (``STORE``) v before reset and i_t / a_t."""
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    m64 = tl.zeros([BLOCK], dtype=tl.int64) + M  # row stride in int64: no overflow at T*M >= 2^31
    nj = offs % N
    v = tl.load(v_ptr + offs, mask=mask, other=0.0)
    beta = tl.load(beta_ptr + nj, mask=mask, other=0.0)
    th = tl.load(th_ptr + nj, mask=mask, other=0.0)
    if FORM == 1:
        i = tl.load(i_ptr + offs, mask=mask, other=0.0)
        alpha = tl.load(alpha_ptr + nj, mask=mask, other=0.0)
    if FORM == 2:
        a = tl.load(a_ptr + offs, mask=mask, other=0.0)
        rho = tl.load(rho_ptr + nj, mask=mask, other=0.0)
        adp = tl.load(adp_ptr + nj, mask=mask, other=0.0)
    for k in range(t1 - t0):
        row = (t0 + k) * m64 + offs
        u = tl.load(x_ptr + row, mask=mask, other=0.0)
        if HAS_REC:
            u = u + tl.load(rec_ptr + offs, mask=mask, other=0.0)
        if FORM == 1:
            i = alpha * i + u
            u = i
        vp = beta * v + u
        if FORM == 2:
            theta = th + adp * a
        else:
            theta = th
        s = (vp - theta >= 0).to(vp.dtype)
        v = _after_reset(vp, s, theta, RESET)
        tl.store(spk_ptr + row, s, mask=mask)
        if FORM == 2:
            a = rho * a + s
        if STORE:
            tl.store(vpre_ptr + row, vp, mask=mask)
            if FORM == 1:
                tl.store(aux_ptr + row, i, mask=mask)
            if FORM == 2:
                tl.store(aux_ptr + row, a, mask=mask)
    tl.store(v_ptr + offs, v, mask=mask)
    if FORM == 1:
        tl.store(i_ptr + offs, i, mask=mask)
    if FORM == 2:
        tl.store(a_ptr + offs, a, mask=mask)


@triton.jit(do_not_specialize=["t0", "t1"])
def lif_backward_kernel(gs_ptr, grec_ptr, spk_ptr, vpre_ptr, aux_ptr, v0_ptr, i0_ptr, a0_ptr,
                        beta_ptr, alpha_ptr, rho_ptr, th_ptr, adp_ptr, c_ptr,
                        dv_ptr, di_ptr, da_ptr, acc_ptr, gx_ptr, t0, t1, M, N,
                        FORM: tl.constexpr, RESET: tl.constexpr, DETACH: tl.constexpr,
                        CODE: tl.constexpr, HAS_REC: tl.constexpr, BLOCK: tl.constexpr):
    """Reverse of steps ``[t0, t1)`` (from ``t1 - 1`` down to ``t0``).

    ``dv, di, da`` [M]: dL/d(state after step t1 - 1) in, dL/d(state before step t0) out.
    ``acc`` [5, M] accumulates (in place) the per-element gradients of beta, alpha, rho,
    threshold and adaptation. ``gx`` [T, M] receives dL/d(input) of each step; ``grec`` [M]
    (``HAS_REC``, single step only) is added to the spike gradient (the recurrent path).
    ``v_{t-1}`` is recomputed exactly from the stored ``vpre[t-1]``, ``s[t-1]`` (and
    ``a[t-2]``), so nothing else is stored; the rows of step t-1 read at step t are carried
    in registers to step t-1.
    """
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    m64 = tl.zeros([BLOCK], dtype=tl.int64) + M
    nj = offs % N
    sa = tl.load(c_ptr)  # the surrogate's constants (a, b, 1, 0) in the data's dtype
    sb = tl.load(c_ptr + 1)
    one = tl.load(c_ptr + 2)
    zero = tl.load(c_ptr + 3)
    beta = tl.load(beta_ptr + nj, mask=mask, other=0.0)
    th = tl.load(th_ptr + nj, mask=mask, other=0.0)
    v0 = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    dv = tl.load(dv_ptr + offs, mask=mask, other=0.0)
    g_beta = tl.load(acc_ptr + offs, mask=mask, other=0.0)
    g_th = tl.load(acc_ptr + 3 * m64 + offs, mask=mask, other=0.0)
    if FORM == 1:
        alpha = tl.load(alpha_ptr + nj, mask=mask, other=0.0)
        init = tl.load(i0_ptr + offs, mask=mask, other=0.0)
        di = tl.load(di_ptr + offs, mask=mask, other=0.0)
        g_alpha = tl.load(acc_ptr + m64 + offs, mask=mask, other=0.0)
    if FORM == 2:
        rho = tl.load(rho_ptr + nj, mask=mask, other=0.0)
        adp = tl.load(adp_ptr + nj, mask=mask, other=0.0)
        init = tl.load(a0_ptr + offs, mask=mask, other=0.0)
        da = tl.load(da_ptr + offs, mask=mask, other=0.0)
        g_rho = tl.load(acc_ptr + 2 * m64 + offs, mask=mask, other=0.0)
        g_adp = tl.load(acc_ptr + 4 * m64 + offs, mask=mask, other=0.0)
    # rows of the last step t = t1 - 1: v before reset, spike, and i_{t-1} / a_{t-1}
    last = t1 - 1
    vp_c = tl.load(vpre_ptr + last * m64 + offs, mask=mask, other=0.0)
    s_c = tl.load(spk_ptr + last * m64 + offs, mask=mask, other=0.0)
    if FORM > 0:
        prev = tl.load(aux_ptr + tl.maximum(last - 1, 0) * m64 + offs, mask=mask, other=0.0)
        aux_c = tl.where(last >= 1, prev, init)
    for k in range(t1 - t0):
        t = t1 - 1 - k
        row = t * m64 + offs
        prow = tl.maximum(t - 1, 0) * m64 + offs
        vp_p = tl.load(vpre_ptr + prow, mask=mask, other=0.0)
        s_p = tl.load(spk_ptr + prow, mask=mask, other=0.0)
        if FORM > 0:  # i_{t-2} / a_{t-2}: the carried value of step t-1
            pp = tl.load(aux_ptr + tl.maximum(t - 2, 0) * m64 + offs, mask=mask, other=0.0)
            aux_p = tl.where(t >= 2, pp, init)
        if FORM == 2:
            theta = th + adp * aux_c
            theta_p = th + adp * aux_p
        else:
            theta = th
            theta_p = th
        vprev = tl.where(t >= 1, _after_reset(vp_p, s_p, theta_p, RESET), v0)
        g_s = tl.load(gs_ptr + row, mask=mask, other=0.0)
        if HAS_REC:
            g_s = g_s + tl.load(grec_ptr + offs, mask=mask, other=0.0)
        if FORM == 2:  # a_t = rho a_{t-1} + s_t
            g_s = g_s + da
        # v_t = reset(vp, s, theta)
        if RESET == 0:
            g_vp = dv
            g_theta = -s_c * dv
            if not DETACH:
                g_s = g_s - theta * dv
        elif RESET == 1:
            g_vp = dv * (1.0 - s_c)
            g_theta = 0.0 * dv
            if not DETACH:
                g_s = g_s - vp_c * dv
        else:
            g_vp = dv
            g_theta = 0.0 * dv
        g_z = g_s * _surrogate_grad(vp_c - theta, sa, sb, one, zero, CODE)
        g_vp = g_vp + g_z
        g_theta = g_theta - g_z
        g_th += g_theta
        if FORM == 2:  # theta_t = th + adp a_{t-1}
            g_adp += g_theta * aux_c
            g_rho += da * aux_c
            da = rho * da + g_theta * adp
        g_beta += g_vp * vprev
        dv = beta * g_vp
        if FORM == 1:  # i_t = alpha i_{t-1} + u_t ; vp = beta v + i_t
            g_u = di + g_vp
            g_alpha += g_u * aux_c
            di = alpha * g_u
        else:
            g_u = g_vp
        tl.store(gx_ptr + row, g_u, mask=mask)
        vp_c = vp_p
        s_c = s_p
        if FORM > 0:
            aux_c = aux_p
    tl.store(dv_ptr + offs, dv, mask=mask)
    tl.store(acc_ptr + offs, g_beta, mask=mask)
    tl.store(acc_ptr + 3 * m64 + offs, g_th, mask=mask)
    if FORM == 1:
        tl.store(di_ptr + offs, di, mask=mask)
        tl.store(acc_ptr + m64 + offs, g_alpha, mask=mask)
    if FORM == 2:
        tl.store(da_ptr + offs, da, mask=mask)
        tl.store(acc_ptr + 2 * m64 + offs, g_rho, mask=mask)
        tl.store(acc_ptr + 4 * m64 + offs, g_adp, mask=mask)
