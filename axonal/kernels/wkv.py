"""The RWKV-v4 time-mixing operator (WKV): torch reference, fused numba CPU kernel, tested backward.

After Peng et al., "RWKV: Reinventing RNNs for the Transformer Era" (EMNLP Findings 2023) and
its spiking form in Zhu, Zhao, Li & Eshraghian, "SpikeGPT" (TMLR 2024). Per channel ``c``, with
decay ``w = exp(time_decay) > 0`` and bonus ``u = time_first``::

    wkv_t = (sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t)
            / (sum_{i<t} e^{-(t-1-i) w + k_i}     + e^{u + k_t})

computed as a recurrence over the numerator ``N`` and denominator ``D`` (``N_{t+1} = e^{-w}
N_t + e^{k_t} v_t``, likewise ``D``) in the numerically stable form of the RWKV kernels: the
state is kept as ``(aa, bb, pp)`` with ``N = aa e^{pp}``, ``D = bb e^{pp}``, and every
exponential is taken of a difference to the running maximum ``pp``, so nothing overflows for
any ``k`` (a naive ``exp(k)`` overflows float32 above 88).

Backward (hand-derived, in the same scaled form): with the adjoints of ``N_t`` and ``D_t``
scaled by ``e^{pp_t}`` (``hN``, ``hD``), a reverse sweep gives

    hN_t = g_t e1y_t / den_t + e1u_t hN_{t+1}          hD_t = -g_t y_t e1y_t / den_t + e1u_t hD_{t+1}
    dv_t = g_t e2y_t / den_t + e2u_t hN_{t+1}          dk_t = g_t e2y_t (v_t - y_t) / den_t + e2u_t (v_t hN_{t+1} + hD_{t+1})
    du  += g_t e2y_t (v_t - y_t) / den_t               d(-w) += e1u_t (hN_{t+1} aa_t + hD_{t+1} bb_t)

where ``e1y, e2y, den`` are the scaled terms of the output at ``t`` and ``e1u, e2u`` those of the
state update; every factor is at most 1, so the backward is as stable as the forward. The
forward stores the state before each step (3 floats per element) for it.

State: ``wkv(..., state=(aa, bb, pp))`` continues a sequence (streaming, truncated BPTT,
generation); ``state=None`` starts empty (``pp = -1e38``). The incoming state is a constant of the
call (no gradient flows into it: truncated BPTT detaches it anyway), and the returned final
state carries no gradient.

``backend``: ``"torch"`` (the reference loop, autograd), ``"numba"`` (fused kernel, CPU tensors),
``"auto"`` (numba on CPU when it imports, else torch).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["WKVState", "wkv", "wkv_reference", "wkv_direct", "initial_state"]

_EMPTY = -1e38


class WKVState(NamedTuple):
    aa: torch.Tensor   # numerator / e^pp        [B, C]
    bb: torch.Tensor   # denominator / e^pp      [B, C]
    pp: torch.Tensor   # running max exponent    [B, C]


def initial_state(batch: int, channels: int, dtype=torch.float32, device=None) -> WKVState:
    z = torch.zeros(batch, channels, dtype=dtype, device=device)
    return WKVState(z, z.clone(), torch.full_like(z, _EMPTY))


def _check(time_decay, time_first, k, v, state):
    if k.ndim != 3 or k.shape != v.shape:
        raise ValueError(f"wkv needs k and v of the same shape [T, B, C]; got k {tuple(k.shape)}, v {tuple(v.shape)}")
    C = k.shape[-1]
    if tuple(time_decay.shape) != (C,) or tuple(time_first.shape) != (C,):
        raise ValueError(f"wkv needs time_decay and time_first of shape [C]=({C},); got "
                         f"{tuple(time_decay.shape)} and {tuple(time_first.shape)}")
    if state is not None:
        if len(state) != 3 or any(tuple(s.shape) != tuple(k.shape[1:]) for s in state):
            raise ValueError(f"wkv state must be (aa, bb, pp), each [B, C]={tuple(k.shape[1:])}")
    if k.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"wkv needs float32 or float64 inputs, got {k.dtype}")


def wkv_reference(time_decay, time_first, k, v, state: WKVState | None = None):
    """Plain torch loop of the stable recurrence (autograd); ``-> (y [T, B, C], final state)``."""
    _check(time_decay, time_first, k, v, state)
    if state is None:
        state = initial_state(k.shape[1], k.shape[2], k.dtype, k.device)
    aa, bb, pp = (s.detach() for s in state)
    w = -torch.exp(time_decay)
    ys = []
    for kk, vv in zip(k.unbind(0), v.unbind(0)):
        ww = time_first + kk
        p = torch.maximum(pp, ww)
        e1, e2 = torch.exp(pp - p), torch.exp(ww - p)
        ys.append((e1 * aa + e2 * vv) / (e1 * bb + e2))
        ww = w + pp
        p = torch.maximum(ww, kk)
        e1, e2 = torch.exp(ww - p), torch.exp(kk - p)
        aa, bb, pp = e1 * aa + e2 * vv, e1 * bb + e2, p
    return torch.stack(ys), WKVState(aa.detach(), bb.detach(), pp.detach())


def wkv_direct(time_decay, time_first, k, v):
    """The defining formula evaluated literally (O(T^2), no stabilisation): a test oracle for small ``k``."""
    T = k.shape[0]
    w = torch.exp(time_decay)
    out = []
    for t in range(T):
        num = torch.exp(time_first + k[t]) * v[t]
        den = torch.exp(time_first + k[t])
        for i in range(t):
            e = torch.exp(-(t - 1 - i) * w + k[i])
            num = num + e * v[i]
            den = den + e
        out.append(num / den)
    return torch.stack(out)


class _WKVNumba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, time_decay, time_first, k, v, aa0, bb0, pp0):
        from ._wkv_numba import wkv_forward

        T, B, C = k.shape
        dt = k.dtype
        w = (-torch.exp(time_decay.detach())).expand(B, C).contiguous().view(-1)
        u = time_first.detach().expand(B, C).contiguous().view(-1)
        kf = k.detach().contiguous().view(T, B * C)
        vf = v.detach().contiguous().view(T, B * C)
        y = torch.empty_like(kf)
        saved = [torch.empty_like(kf) for _ in range(3)]
        final = [torch.empty(B * C, dtype=dt) for _ in range(3)]
        wkv_forward(w.numpy(), u.numpy(), kf.numpy(), vf.numpy(),
                    *(s.detach().contiguous().view(-1).to(dt).numpy() for s in (aa0, bb0, pp0)),
                    y.numpy(), *(s.numpy() for s in saved), *(s.numpy() for s in final))
        ctx.save_for_backward(time_decay, w, u, kf, vf, y, *saved)
        ctx.shape = (T, B, C)
        ctx.mark_non_differentiable(*final)
        return (y.view(T, B, C), *(f.view(B, C) for f in final))

    @staticmethod
    def backward(ctx, gy, *_):
        from ._wkv_numba import wkv_backward

        time_decay, w, u, kf, vf, y, aa_s, bb_s, pp_s = ctx.saved_tensors
        T, B, C = ctx.shape
        gyf = gy.contiguous().view(T, B * C).to(kf.dtype)
        gk, gv = torch.empty_like(kf), torch.empty_like(kf)
        gw, gu = torch.empty_like(w), torch.empty_like(u)
        wkv_backward(w.numpy(), u.numpy(), kf.numpy(), vf.numpy(), y.numpy(), aa_s.numpy(), bb_s.numpy(),
                     pp_s.numpy(), gyf.numpy(), gw.numpy(), gu.numpy(), gk.numpy(), gv.numpy())
        # w = -exp(time_decay): d/d time_decay = gw * w
        g_decay = (gw.view(B, C) * w.view(B, C)).sum(0).to(time_decay.dtype)
        g_first = gu.view(B, C).sum(0)
        return g_decay, g_first, gk.view(T, B, C), gv.view(T, B, C), None, None, None


def _use_numba(backend: str, k: torch.Tensor) -> bool:
    if backend == "torch":
        return False
    if backend not in ("auto", "numba"):
        raise ValueError(f"unknown wkv backend {backend!r}; choose 'auto', 'numba' or 'torch'")
    from ._backends import numba_available

    ok = k.device.type == "cpu" and numba_available()
    if backend == "numba" and not ok:
        raise RuntimeError("wkv backend 'numba' needs CPU tensors and an importable numba (pip install numba); "
                           "use backend='torch'")
    return ok


def wkv(time_decay, time_first, k, v, state: WKVState | None = None, backend: str = "auto"):
    """WKV over ``k, v [T, B, C]`` with per-channel ``time_decay, time_first [C]``.

    Returns ``(wkv [T, B, C], WKVState)``; see the module docstring for the equations.
    """
    _check(time_decay, time_first, k, v, state)
    if not _use_numba(backend, k):
        return wkv_reference(time_decay, time_first, k, v, state)
    dt = torch.promote_types(k.dtype, v.dtype)
    if state is None:
        state = initial_state(k.shape[1], k.shape[2], dt)
    y, aa, bb, pp = _WKVNumba.apply(time_decay.to(dt), time_first.to(dt), k.to(dt), v.to(dt), *state)
    return y, WKVState(aa, bb, pp)
