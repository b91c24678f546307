"""Triton (CUDA) kernels of the LIF family: autograd wrappers.

``scan.lif_family_scan(dynamics, x, state, weight, functions=FUNCTIONS)`` runs a LIF-family
population (any form of ``LIFDynamics``, optionally recurrent) over ``x [T, B, *S]`` with the
kernels of ``_triton_kernels`` and returns ``(spikes, state)`` as the reference ``scan`` of the
model's step would, or raises ``KernelUnavailable`` with the reason; inputs are prepared there
(one place for numba and Triton), only the autograd Functions here differ. ``register_lif_family`` registers it
as each family member's ``triton`` kernel: the registry runs it for ``backend="triton"`` and,
when Triton imports, for ``backend="auto"`` on CUDA tensors. Triton is imported on first use
only.

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
interpreter (``TRITON_INTERPRET=1``, tests/kernels/lif/test_triton.py): spikes and states equal the
reference scan, gradients (input, initial state, learnable constants, recurrent weight) agree
with autograd through the reference in float32 and float64, for every kind, reset mode,
``detach_reset`` and built-in surrogate. The interpreter executes the kernels' Python with
numpy, so it does not check that they compile for a real GPU, nor the GPU's float32 rounding
(exact equality relies on ``enable_fp_fusion=False``; ``tl.exp`` of the Gaussian surrogate may
use a faster, less exact exponential there), nor their speed. On a CUDA machine with Triton
installed: ``pytest -q tests/kernels/lif/test_triton.py`` (it then also runs the CUDA checks) and
``python benchmarks/triton_lif.py``.
"""
from __future__ import annotations

import os

import torch
from torch.nn import functional as F

from ...surrogate import TABLE
from .bundles import LEAKY, ScanConfig

BLOCK = 256
NUM_WARPS = 4
_TRITON_ERROR: str | None = None


def triton_error() -> str:
    """Empty when ``triton`` imports, else the reason and how to fix it."""
    global _TRITON_ERROR
    if _TRITON_ERROR is None:
        try:
            import triton  # noqa: F401  (lazy: Triton is optional)

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
        if not _kernels().LANGUAGE_INTERPRETED:
            return ("TRITON_INTERPRET=1 was set after triton itself was imported (by this or "
                    "another library), so its language functions cannot be interpreted; set it "
                    "before anything imports triton (e.g. in the environment of the process)")
        return ""
    return f"the input is on {device}; the Triton kernels run on CUDA tensors only"


def _kernels():
    from . import _triton_kernels  # lazy: imports triton

    return _triton_kernels


# ----------------------------------------------------------------------------- launches
def _grid(m: int):
    return ((m + BLOCK - 1) // BLOCK,)


def _forward(cfg: ScanConfig, x, rec, v, i, a, P, spk, vpre, aux, t0, t1):
    _kernels().lif_forward_kernel[_grid(x.shape[1])](
        x, rec, v, i, a, *P, spk, vpre, aux, t0, t1, x.shape[1], cfg.n,
        FORM=cfg.form, RESET=cfg.reset, STORE=cfg.store, HAS_REC=rec is not x, BLOCK=BLOCK,
        num_warps=NUM_WARPS, enable_fp_fusion=False)


def _backward(cfg: ScanConfig, gs, grec, saved, consts, dv, di, da, acc, gx, t0, t1):
    spk, vpre, aux, v0, i0, a0, *P = saved
    _kernels().lif_backward_kernel[_grid(gs.shape[1])](
        gs, grec, spk, vpre, aux, v0, i0, a0, *P, consts, dv, di, da, acc, gx, t0, t1,
        gs.shape[1], cfg.n, FORM=cfg.form, RESET=cfg.reset, DETACH=cfg.detach,
        CODE=cfg.surrogate, HAS_REC=grec is not gs, BLOCK=BLOCK, num_warps=NUM_WARPS,
        enable_fp_fusion=False)


def _outputs(cfg: ScanConfig, x, v0, i0, a0):
    """Spikes, stored arrays (a one-element placeholder when not stored) and state buffers."""
    spk = torch.empty_like(x)
    vpre = torch.empty_like(x) if cfg.store else x.new_empty(1)
    aux = torch.empty_like(x) if (cfg.store and cfg.form != LEAKY) else x.new_empty(1)
    return spk, vpre, aux, v0.detach().clone(), i0.detach().clone(), a0.detach().clone()


def _grad_buffers(cfg: ScanConfig, spk, v0, gv, gi, ga):
    """The surrogate's constants (a, b, 1, 0) of ``axonal.surrogate.TABLE`` in the data's dtype
    (Triton would round a Python float to float32), the state gradients and accumulators."""
    a, b = TABLE[cfg.surrogate].constants(cfg.width)
    consts = torch.tensor([a, b, 1.0, 0.0], dtype=spk.dtype, device=spk.device)
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
        return (None, gx, dv, di, da, *_param_grads(acc, ctx.cfg.n))


class _TritonRecurrentScan(torch.autograd.Function):
    """As ``_TritonLIFScan`` with input x_t + s_{t-1} W^T, one launch per step (module
    docstring); ``rec0`` [M] = s_{-1} W^T given."""

    @staticmethod
    def forward(ctx, cfg, x, rec0, w, v0, i0, a0, beta, alpha, rho, th, adp):
        P = (beta, alpha, rho, th, adp)
        T, m = x.shape
        n = cfg.n
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
        n = ctx.cfg.n
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


# ----------------------------------------------------------------------------- entry point
#: the (feed-forward, recurrent) autograd Functions that ``scan.lif_family_scan`` runs for
#: Triton (``scan.register_lif_family`` registers them as each family member's kernel)
FUNCTIONS = (_TritonLIFScan, _TritonRecurrentScan)
