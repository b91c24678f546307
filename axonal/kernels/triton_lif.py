"""Triton (CUDA) kernels of the LIF family: autograd wrappers and the preparation of their inputs.

``triton_lif_scan(kind, x, state, params, weight=None)`` runs LIF / CuBa-LIF / adaptive LIF
(optionally recurrent) over ``x [T, B, *S]`` with the kernels of ``_triton_lif_kernels`` and
returns ``(spikes, state)`` as the reference ``scan`` of the model's step would, or raises
``Unsupported`` with the reason. ``fused_scan`` calls it for ``backend="triton"`` and, when
Triton imports, for ``backend="auto"`` on CUDA tensors. Triton is imported on first use only.

Design (same equations and the same memory-lean storage as the numba kernels):

- forward: one launch for the whole sequence; each program owns a block of the flattened
  ``[B * N]`` axis and loops over time with its state in registers. When a gradient is needed
  it stores only the membrane before reset (and ``i_t`` for CuBa, ``a_t`` for adaptive)
  besides the spikes, which are the output anyway;
- backward: one launch, reverse-time loop, recomputing ``v_{t-1}`` from the stored values,
  surrogate derivative chosen by its code at compile time, per-element parameter-gradient
  accumulators that torch sums over the batch afterwards (and autograd reduces to each
  parameter's own shape through the torch ops that expanded it);
- recurrent forms (input ``x_t + s_{t-1} W^T``): the matmul of a step needs every neuron's
  spike of the step before, i.e. a grid-wide barrier, which one simple kernel cannot have.
  They run one kernel launch per step, the same kernels on ``[t, t+1)``, with the recurrent
  current (forward) and the gradient reaching ``s_{t-1}`` (backward, ``(dL/du_t) W``) computed
  between launches by a torch matmul (cuBLAS); ``dL/dW`` is one matmul over all steps at the
  end. That costs two launches per step, not the single launch of the feed-forward forms.

Gradients accumulate in the input's dtype (float32 stays float32 on the GPU, where float64
is slow); the numba kernels accumulate in float64.

What was verified, and what was not: every kernel was run and checked in Triton's CPU
interpreter (``TRITON_INTERPRET=1``, tests/test_triton_lif.py): spikes and states equal the
reference scan, gradients (input, initial state, learnable constants, recurrent weight) agree
with autograd through the reference in float32 and float64, for every kind, reset mode,
``detach_reset`` and built-in surrogate. The interpreter executes the kernels' Python with
numpy, so it does not check that they compile for a real GPU, nor the GPU's float32 rounding
(exact equality relies on ``enable_fp_fusion=False``; ``tl.exp`` of the Gaussian surrogate may
use a faster, less exact exponential there), nor their speed. On a CUDA machine with Triton
installed: ``pytest -q tests/test_triton_lif.py`` (it then also runs the CUDA checks) and
``python benchmarks/triton_lif.py``.
"""
from __future__ import annotations

import math
import os

import torch
from torch.nn import functional as F

from ..neurons.base import decay_factor
from .lif import KINDS, RESETS, Unsupported

BLOCK = 256
NUM_WARPS = 4
_TRITON_ERROR: str | None = None


def triton_error() -> str:
    """Empty when ``triton`` imports, else the reason and how to fix it."""
    global _TRITON_ERROR
    if _TRITON_ERROR is None:
        try:
            import triton  # noqa: F401

            _TRITON_ERROR = ""
        except Exception as exc:  # pragma: no cover - depends on the environment
            _TRITON_ERROR = (f"triton is not importable ({exc}); on a machine with a CUDA GPU "
                             "install it with `pip install 'axonal[triton]'` (or `pip install triton`)")
    return _TRITON_ERROR


def device_error(device: torch.device) -> str:
    """Empty when the kernels can run on tensors of ``device``, else why not and what to do."""
    if device.type == "cuda":
        return ""
    if device.type == "cpu":
        if os.environ.get("TRITON_INTERPRET") != "1":
            return ("the input is on the CPU; the Triton kernels run on CUDA tensors. On the CPU "
                    "use backend='numba' (or 'auto'); to test the Triton kernels on the CPU set "
                    "TRITON_INTERPRET=1 before importing triton (Triton's slow interpreter)")
        if not _kernels().INTERPRETED:
            return ("TRITON_INTERPRET=1 was set after the Triton kernels were built for the GPU; "
                    "set it before the first Triton call of the process")
        return ""
    return f"the input is on {device}; the Triton kernels run on CUDA tensors only"


def _kernels():
    from . import _triton_lif_kernels

    return _triton_lif_kernels


# ----------------------------------------------------------------------------- launches
def _grid(m: int):
    return ((m + BLOCK - 1) // BLOCK,)


def _forward(cfg, x, rec, v, i, a, P, spk, vpre, aux, t0, t1):
    kind, reset, _, _, _, n, store = cfg
    _kernels().lif_forward_kernel[_grid(x.shape[1])](
        x, rec, v, i, a, *P, spk, vpre, aux, t0, t1, x.shape[1], n,
        KIND=kind, RESET=reset, STORE=store, HAS_REC=rec is not x, BLOCK=BLOCK,
        num_warps=NUM_WARPS, enable_fp_fusion=False)


def _backward(cfg, gs, grec, saved, consts, dv, di, da, acc, gx, t0, t1):
    kind, reset, detach, code, _, n, _ = cfg
    spk, vpre, aux, v0, i0, a0, *P = saved
    _kernels().lif_backward_kernel[_grid(gs.shape[1])](
        gs, grec, spk, vpre, aux, v0, i0, a0, *P, consts, dv, di, da, acc, gx, t0, t1,
        gs.shape[1], n, KIND=kind, RESET=reset, DETACH=detach, CODE=code,
        HAS_REC=grec is not gs, BLOCK=BLOCK, num_warps=NUM_WARPS, enable_fp_fusion=False)


def _outputs(cfg, x, v0, i0, a0):
    """Spikes, stored arrays (a one-element placeholder when not stored) and state buffers."""
    kind, store = cfg[0], cfg[6]
    spk = torch.empty_like(x)
    vpre = torch.empty_like(x) if store else x.new_empty(1)
    aux = torch.empty_like(x) if (store and kind > 0) else x.new_empty(1)
    return spk, vpre, aux, v0.detach().clone(), i0.detach().clone(), a0.detach().clone()


def _grad_buffers(cfg, spk, v0, gv, gi, ga):
    width = cfg[4]
    consts = torch.tensor([width, math.pi, math.sqrt(2 * math.pi)], dtype=spk.dtype,
                          device=spk.device)
    dv, di, da = (g.detach().to(v0.dtype).contiguous().clone() for g in (gv, gi, ga))
    acc = spk.new_zeros(5, spk.shape[1])
    return consts, dv, di, da, acc, torch.empty_like(spk)


def _param_grads(acc, n):
    return [g.view(-1, n).sum(0) for g in acc]


class _TritonLIFScan(torch.autograd.Function):
    """x [T, M], states [M], per-neuron params [N] -> spikes [T, M], final v, i, a [M]."""

    @staticmethod
    def forward(ctx, cfg, x, v0, i0, a0, beta, alpha, rho, th, adp):
        P = (beta, alpha, rho, th, adp)
        spk, vpre, aux, v, i, a = _outputs(cfg, x, v0, i0, a0)
        _forward(cfg, x, x, v, i, a, P, spk, vpre, aux, 0, x.shape[0])
        ctx.cfg = cfg
        ctx.save_for_backward(spk, vpre, aux, v0, i0, a0, *P)
        return spk, v, i, a

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        saved = ctx.saved_tensors
        spk, v0 = saved[0], saved[3]
        gs = gs.contiguous()
        consts, dv, di, da, acc, gx = _grad_buffers(ctx.cfg, spk, v0, gv, gi, ga)
        _backward(ctx.cfg, gs, gs, saved, consts, dv, di, da, acc, gx, 0, spk.shape[0])
        return (None, gx, dv, di, da, *_param_grads(acc, ctx.cfg[5]))


class _TritonRecurrentScan(torch.autograd.Function):
    """As ``_TritonLIFScan`` with input x_t + s_{t-1} W^T, one launch per step (module
    docstring); ``rec0`` [M] = s_{-1} W^T given."""

    @staticmethod
    def forward(ctx, cfg, x, rec0, w, v0, i0, a0, beta, alpha, rho, th, adp):
        P = (beta, alpha, rho, th, adp)
        T, m = x.shape
        n = cfg[5]
        spk, vpre, aux, v, i, a = _outputs(cfg, x, v0, i0, a0)
        wd = w.detach()
        rec = rec0.detach().contiguous()
        for t in range(T):
            _forward(cfg, x, rec, v, i, a, P, spk, vpre, aux, t, t + 1)
            if t + 1 < T:
                rec = F.linear(spk[t].view(m // n, n), wd).reshape(m)
        ctx.cfg = cfg
        ctx.save_for_backward(spk, vpre, aux, v0, i0, a0, *P, w)
        return spk, v, i, a

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        *saved, w = ctx.saved_tensors
        spk, v0 = saved[0], saved[3]
        T, m = spk.shape
        n = ctx.cfg[5]
        wd = w.detach()
        gs = gs.contiguous()
        consts, dv, di, da, acc, gx = _grad_buffers(ctx.cfg, spk, v0, gv, gi, ga)
        grec = torch.zeros_like(v0)
        for t in range(T - 1, -1, -1):
            _backward(ctx.cfg, gs, grec, saved, consts, dv, di, da, acc, gx, t, t + 1)
            if t > 0:
                grec = (gx[t].view(m // n, n) @ wd).reshape(m)
        gw = None
        if ctx.needs_input_grad[3]:
            gw = (gx[1:].reshape(-1, n).t() @ spk[:-1].reshape(-1, n) if T > 1
                  else torch.zeros_like(w))
        return (None, gx, gx[0], gw, dv, di, da, *_param_grads(acc, n))


# ----------------------------------------------------------------------------- preparation
def _per_neuron(value, shape, x, name):
    """A parameter as a contiguous [N] tensor of x's dtype on x's device (differentiable when
    it is a tensor, so autograd reduces the kernel's per-neuron gradient to its shape)."""
    n = math.prod(shape)
    if isinstance(value, torch.Tensor):
        if value.device != x.device:
            raise Unsupported(f"parameter {name} is on {value.device}, the input on {x.device}")
        if not value.is_floating_point():
            raise Unsupported(f"parameter {name} has dtype {value.dtype}")
        if value.ndim > 0 and torch.promote_types(value.dtype, x.dtype) != x.dtype:
            raise Unsupported(f"parameter {name} ({value.dtype}) would promote the input ({x.dtype})")
        try:
            value = torch.broadcast_to(value, shape)
        except RuntimeError:
            raise Unsupported(
                f"parameter {name} of shape {tuple(value.shape)} does not broadcast to the "
                f"neuron shape {tuple(shape)}") from None
        return value.to(x.dtype).reshape(n).contiguous()
    return torch.full((n,), float(value), dtype=x.dtype, device=x.device)


def _flat_state(t: torch.Tensor, x, m: int, name: str) -> torch.Tensor:
    if t.dtype != x.dtype or t.device != x.device:
        raise Unsupported(f"state {name} is {t.dtype} on {t.device}; the input is {x.dtype} "
                          f"on {x.device}")
    return t.reshape(m).contiguous()


def _inputs(k, params, state, x, shape, m):
    """Initial ``v, i, a`` [m] and per-neuron ``beta, alpha, rho, threshold, adaptation`` [N]
    (zeros for what the kind does not have); time constants enter as ``decay_factor``."""
    n = math.prod(shape)
    beta = _per_neuron(decay_factor(params.tau_mem, params.dt), shape, x, "tau_mem")
    th = _per_neuron(params.threshold, shape, x, "threshold")
    alpha = rho = adp = x.new_zeros(n)
    i0 = a0 = x.new_zeros(m)
    v0 = _flat_state(state.v, x, m, "v")
    if k == 1:
        alpha = _per_neuron(decay_factor(params.tau_syn, params.dt), shape, x, "tau_syn")
        i0 = _flat_state(state.i, x, m, "i")
    elif k == 2:
        rho = _per_neuron(decay_factor(params.tau_adapt, params.dt), shape, x, "tau_adapt")
        adp = _per_neuron(params.adaptation, shape, x, "adaptation")
        a0 = _flat_state(state.a, x, m, "a")
    return v0, i0, a0, beta, alpha, rho, th, adp


def triton_lif_scan(kind: str, x: torch.Tensor, state, params, weight=None):
    """Run the Triton kernels; see the module docstring. Raises ``Unsupported``."""
    recurrent = kind.startswith("recurrent_")
    base = kind[len("recurrent_"):] if recurrent else kind
    if base not in KINDS:
        raise Unsupported(f"no Triton kernel for {kind!r} (LIF family only)")
    code = getattr(params.surrogate, "code", -1)
    if code not in (0, 1, 2, 3, 4):
        raise Unsupported(f"surrogate {type(params.surrogate).__name__} has no kernel code")
    if x.dtype not in (torch.float32, torch.float64):
        raise Unsupported(f"the input dtype is {x.dtype}; the kernels support float32 and "
                          "float64 (convert with x.float())")
    if x.ndim < 2 or x.numel() == 0:
        raise Unsupported("empty input")
    T, B = x.shape[:2]
    shape = tuple(x.shape[2:])
    n = math.prod(shape)
    m = B * n
    k = KINDS[base]
    inner = state.neuron if recurrent else state
    v0, i0, a0, beta, alpha, rho, th, adp = _inputs(k, params, inner, x, shape, m)
    xf = x.reshape(T, m).contiguous()
    tensors = [xf, v0, i0, a0, beta, alpha, rho, th, adp]
    if recurrent:
        tensors += [weight, state.spikes]
    store = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)
    cfg = (k, RESETS[params.reset], bool(params.detach_reset), int(code),
           float(params.surrogate.width), n, store)
    if recurrent:
        if weight is None or tuple(weight.shape) != (n, n):
            raise Unsupported("recurrent kernel needs a weight of shape [N, N]")
        if weight.device != x.device or weight.dtype != x.dtype:
            raise Unsupported(f"recurrent weight is {weight.dtype} on {weight.device}; the input "
                              f"is {x.dtype} on {x.device}")
        if state.spikes.dtype != x.dtype or state.spikes.device != x.device:
            raise Unsupported("state spikes dtype or device differ from the input")
        rec0 = F.linear(state.spikes.reshape(B, n), weight).reshape(m)
        spk, v, i, a = _TritonRecurrentScan.apply(cfg, xf, rec0, weight, v0, i0, a0, beta,
                                                  alpha, rho, th, adp)
    else:
        spk, v, i, a = _TritonLIFScan.apply(cfg, xf, v0, i0, a0, beta, alpha, rho, th, adp)
    spikes = spk.reshape(x.shape)
    sshape = x.shape[1:]
    if k == 0:
        new = type(inner)(v.reshape(sshape))
    elif k == 1:
        new = type(inner)(v.reshape(sshape), i.reshape(sshape))
    else:
        new = type(inner)(v.reshape(sshape), a.reshape(sshape))
    if recurrent:
        new = type(state)(new, spikes[-1])
    return spikes, new
