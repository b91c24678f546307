"""Fused CPU scan of the Izhikevich neuron (numba), with a hand-derived backward pass.

Same arithmetic as :func:`axonal.neurons.izhikevich.izhikevich_step` (two half steps for v,
u with v clipped at v_peak, detached reset), looped over time inside compiled code and
parallel over neurons. Forward stores v and u at every step (2 x [T, M]); backward recomputes
the half steps and runs backpropagation through time:

    v1 = v + h f(v),  v2 = v1 + h f(v1),  f(w) = 0.04 w^2 + 5 w + 140 - u + I,  h = dt/2
    vc = min(v2, v_peak);  u2 = (1 - dt a) u + dt a b vc;  s = H(v2 - v_peak)
    v' = (1 - s) vc + s c;  u' = u2 + d s                (s detached in the reset)

    g_vc = (1 - s) g_v' + dt a b g_u'
    g_v2 = g_s sg'(v2 - v_peak) + [v2 <= v_peak] g_vc
    g_v1 = g_v2 (1 + h (0.08 v1 + 5));  g_v = g_v1 (1 + h (0.08 v + 5))
    g_u  = (1 - dt a) g_u' - h (g_v1 + g_v2);   g_I = h (g_v1 + g_v2)

Gradients flow to the input and the initial state; when a, b, c or d require gradients, or the
reset is not detached, :func:`izhikevich_numba` raises ``KernelUnavailable`` and ``auto`` uses
the reference scan. ``axonal.neurons.izhikevich`` registers it as the ``numba`` kernel of
``IzhikevichParams``.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)
from ._numba_surrogate import surrogate_derivative
from .registry import KernelUnavailable

__all__ = ["izhikevich_numba"]


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _forward(x, v0, u0, a, b, c, d, vpk, dt, out, vs, us):
    t_n, m = x.shape
    h = 0.5 * dt
    for j in numba.prange(m):
        v = v0[j]
        u = u0[j]
        for t in range(t_n):
            vs[t, j] = v
            us[t, j] = u
            i = x[t, j]
            v1 = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
            v2 = v1 + h * (0.04 * v1 * v1 + 5.0 * v1 + 140.0 - u + i)
            vc = v2 if v2 < vpk else vpk
            u2 = u + dt * a[j] * (b[j] * vc - u)
            if v2 >= vpk:
                out[t, j] = 1.0
                v = c[j]
                u = u2 + d[j]
            else:
                out[t, j] = 0.0
                v = vc
                u = u2
        vs[t_n, j] = v
        us[t_n, j] = u


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _backward(g_out, g_vT, g_uT, x, vs, us, a, b, vpk, dt, code, width, g_x, g_v0, g_u0):
    t_n, m = x.shape
    h = 0.5 * dt
    for j in numba.prange(m):
        gv = g_vT[j]
        gu = g_uT[j]
        aj = a[j]
        bj = b[j]
        for t in range(t_n - 1, -1, -1):
            v = vs[t, j]
            u = us[t, j]
            i = x[t, j]
            v1 = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
            v2 = v1 + h * (0.04 * v1 * v1 + 5.0 * v1 + 140.0 - u + i)
            s = 1.0 if v2 >= vpk else 0.0
            g_vc = (1.0 - s) * gv + dt * aj * bj * gu
            g_v2 = g_out[t, j] * surrogate_derivative(code, width, v2 - vpk)
            if v2 <= vpk:
                g_v2 += g_vc
            g_v1 = g_v2 * (1.0 + h * (0.08 * v1 + 5.0))
            g_x[t, j] = h * (g_v1 + g_v2)
            gu = (1.0 - dt * aj) * gu - h * (g_v1 + g_v2)
            gv = g_v1 * (1.0 + h * (0.08 * v + 5.0))
        g_v0[j] = gv
        g_u0[j] = gu


def _flat_param(p, shape, dtype):
    t = torch.as_tensor(p, dtype=dtype)
    return np.ascontiguousarray(t.expand(shape).reshape(-1).numpy())


class _IzhikevichScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, u0, params):
        shape = x.shape[1:]
        t_n = x.shape[0]
        dt = x.dtype
        xn = x.detach().reshape(t_n, -1).contiguous().numpy()
        m = xn.shape[1]
        a = _flat_param(params.a, shape, dt)
        b = _flat_param(params.b, shape, dt)
        c = _flat_param(params.c, shape, dt)
        d = _flat_param(params.d, shape, dt)
        out = np.empty_like(xn)
        vs = np.empty((t_n + 1, m), xn.dtype)
        us = np.empty((t_n + 1, m), xn.dtype)
        _forward(xn, v0.detach().reshape(-1).contiguous().numpy(), u0.detach().reshape(-1).contiguous().numpy(),
                 a, b, c, d, float(params.v_peak), float(params.dt), out, vs, us)
        ctx.save_for_backward(x, torch.from_numpy(vs), torch.from_numpy(us))
        ctx.consts = (a, b, params)
        spikes = torch.from_numpy(out).reshape(x.shape)
        return spikes, torch.from_numpy(vs[t_n].copy()).reshape(shape), torch.from_numpy(us[t_n].copy()).reshape(shape)

    @staticmethod
    def backward(ctx, g_out, g_v, g_u):
        x, vs, us = ctx.saved_tensors
        a, b, p = ctx.consts
        t_n = x.shape[0]
        shape = x.shape[1:]

        go = np.ascontiguousarray((torch.zeros_like(x) if g_out is None else g_out).reshape(t_n, -1).numpy())
        gv = np.ascontiguousarray((torch.zeros(shape, dtype=x.dtype) if g_v is None else g_v).reshape(-1).numpy())
        gu = np.ascontiguousarray((torch.zeros(shape, dtype=x.dtype) if g_u is None else g_u).reshape(-1).numpy())
        m = go.shape[1]
        g_x = np.empty((t_n, m), go.dtype)
        g_v0 = np.empty(m, go.dtype)
        g_u0 = np.empty(m, go.dtype)
        _backward(go, gv, gu, x.detach().reshape(t_n, -1).contiguous().numpy(), vs.numpy(), us.numpy(),
                  a, b, float(p.v_peak), float(p.dt), int(p.surrogate.code), float(p.surrogate.width),
                  g_x, g_v0, g_u0)
        return (torch.from_numpy(g_x).reshape(x.shape), torch.from_numpy(g_v0).reshape(shape),
                torch.from_numpy(g_u0).reshape(shape), None)


def izhikevich_numba(x, state, params, weight=None):
    """Fused scan: ``(spikes [T, ...], state)`` of the state's own type, or
    ``KernelUnavailable`` when it does not apply (recurrent weight, empty input, learnable
    a/b/c/d, attached reset, a surrogate without a kernel code)."""
    if weight is not None:
        raise KernelUnavailable("the Izhikevich kernel has no recurrent form")
    if x.shape[0] == 0:
        raise KernelUnavailable("empty input")
    if not params.detach_reset or getattr(params.surrogate, "code", -1) < 0:
        raise KernelUnavailable("the Izhikevich kernel needs detach_reset=True and a built-in surrogate")
    for name in ("a", "b", "c", "d"):
        val = getattr(params, name)
        if isinstance(val, torch.Tensor) and (val.requires_grad or val.device.type != "cpu"):
            raise KernelUnavailable(f"the Izhikevich kernel needs a fixed {name} (it is learned)")
    v0 = state.v.to(x.dtype).expand(x.shape[1:])
    u0 = state.u.to(x.dtype).expand(x.shape[1:])
    s, v, u = _IzhikevichScan.apply(x, v0, u0, params)
    return s, type(state)(v, u)
