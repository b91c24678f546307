"""Autograd wrappers around the numba LIF-family kernels, and the preparation of their inputs.

A neuron of the LIF family describes itself to the kernels by a **form**: a function of its
Params returning ``LIFDynamics`` (decays, threshold, optional synaptic current or adaptation,
reset rule, surrogate), registered with ``register_lif_family`` next to the neuron. The
kernels never see a neuron class or a neuron name: they see that bundle, and the one integer
the compiled loops branch on (``LIFDynamics.form``: leaky, current-based or adaptive) is
derived from it in one place.

``lif_family_scan(dynamics, x, state, weight=None)`` runs the population (optionally
recurrent) over ``x [T, B, *S]`` and returns ``(spikes, state)`` exactly as the reference
``scan`` of the model's step would, or raises ``KernelUnavailable`` with the reason. The state
is any NamedTuple with a field ``v`` (and ``i`` for the current-based form, ``a`` for the
adaptive one); the new state is the same type.

Parameters (scalars or tensors broadcastable to ``S``) are expanded to one value per neuron
*with torch ops*, so that autograd reduces the per-neuron gradients the kernel returns back to
each parameter's own shape (scalar, per-neuron, learnable log time constant ...). Time
constants enter as their decay ``exp(-dt / tau)`` computed by the form with the same
``decay_factor`` as the step, and the kernel returns d loss / d decay.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.nn import functional as F

from ..buffers import empty as _buffer
from ..registry import KernelUnavailable, register_form, register_kernel
from .bundles import (ADAPTIVE, CURRENT_BASED, FAMILY, LEAKY, RESETS, Grads,  # noqa: F401
                      KernelConfig, LIFDynamics, ParamArrays, Saved, ScanConfig, StateArrays,
                      _EXTRA_STATE, kernel_config)

__all__ = ["LIFDynamics", "LEAKY", "CURRENT_BASED", "ADAPTIVE", "register_lif_family",
           "lif_family_scan", "lif_kernel"]


def _np(t: torch.Tensor):
    return t.detach().numpy()


def _nps(bundle_type, tensors):
    """A bundle of numpy views of ``tensors``."""
    return bundle_type(*(_np(t) for t in tensors))


def _kernels():
    from . import _numba  # lazy: numba is imported on first use of a kernel only

    return _numba


def _stored(cfg: ScanConfig, x: torch.Tensor):
    """Saved buffers: spikes, and (when storing) v before reset and i_t / a_t."""
    spk = _buffer(x.shape, x.dtype)
    vpre = _buffer(x.shape, x.dtype) if cfg.store else x.new_empty(0, 0)
    aux = _buffer(x.shape, x.dtype) if (cfg.store and cfg.form != LEAKY) else x.new_empty(0, 0)
    return Saved(spk, vpre, aux)


# ----------------------------------------------------------------------------- autograd
class _LIFScan(torch.autograd.Function):
    """x [T, M], states v0, i0, a0 [M], per-neuron params beta, alpha, rho, threshold,
    adaptation [N] -> spikes [T, M], final v, i, a [M]. ``cfg`` is a ``ScanConfig``."""

    @staticmethod
    def forward(ctx, cfg, x, v0, i0, a0, beta, alpha, rho, th, adp):
        saved = _stored(cfg, x)
        s0, p = StateArrays(v0, i0, a0), ParamArrays(beta, alpha, rho, th, adp)
        out = StateArrays(*(torch.empty_like(v0) for _ in range(3)))
        _kernels().lif_forward(cfg.form)(_np(x), _nps(StateArrays, s0), _nps(ParamArrays, p),
                               kernel_config(cfg), cfg.n, cfg.store, _nps(Saved, saved),
                               _nps(StateArrays, out))
        ctx.cfg = cfg
        ctx.save_for_backward(*saved, *s0, *p)
        return (saved.spk, *out)

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        cfg = ctx.cfg
        t = ctx.saved_tensors
        saved, s0, p = Saved(*t[:3]), StateArrays(*t[3:6]), ParamArrays(*t[6:])
        gx = _buffer(saved.spk.shape, saved.spk.dtype)
        m = s0.v.shape[0]
        g0 = StateArrays(*(torch.empty_like(s0.v) for _ in range(3)))
        gp = ParamArrays(*(torch.empty(m, dtype=torch.float64) for _ in range(5)))
        g = Grads(*(g.contiguous() for g in (gs, gv, gi, ga)))
        _kernels().lif_backward(cfg.form)(_nps(Grads, g), _nps(Saved, saved), _nps(StateArrays, s0),
                                _nps(ParamArrays, p), kernel_config(cfg), cfg.n, gx.numpy(),
                                _nps(StateArrays, g0), _nps(ParamArrays, gp))
        pgrads = [g.view(-1, cfg.n).sum(0).to(p.beta.dtype) for g in gp]
        return (None, gx, *g0, *pgrads)


class _RecurrentLIFScan(torch.autograd.Function):
    """As ``_LIFScan`` with input x_t + s_{t-1} W^T; ``rec0`` [M] = s_{-1} W^T given."""

    @staticmethod
    def forward(ctx, cfg, x, rec0, w, v0, i0, a0, beta, alpha, rho, th, adp):
        saved = _stored(cfg, x)
        s0, p = StateArrays(v0, i0, a0), ParamArrays(beta, alpha, rho, th, adp)
        out = StateArrays(*(torch.empty_like(v0) for _ in range(3)))
        wt = w.detach().t().contiguous()
        _kernels().recurrent_forward(cfg.form)(
            _np(x), _np(rec0), _np(wt), _nps(StateArrays, s0), _nps(ParamArrays, p),
            kernel_config(cfg), cfg.n, cfg.store, _nps(Saved, saved), _nps(StateArrays, out))
        ctx.cfg = cfg
        ctx.save_for_backward(*saved, w, *s0, *p)
        return (saved.spk, *out)

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        cfg, n = ctx.cfg, ctx.cfg.n
        t = ctx.saved_tensors
        saved, w, s0, p = Saved(*t[:3]), t[3], StateArrays(*t[4:7]), ParamArrays(*t[7:])
        spk = saved.spk
        gx = _buffer(spk.shape, spk.dtype)
        m = s0.v.shape[0]
        g0 = StateArrays(*(torch.empty(m, dtype=torch.float64) for _ in range(3)))
        gp = ParamArrays(*(torch.empty(m, dtype=torch.float64) for _ in range(5)))
        g = Grads(*(g.contiguous() for g in (gs, gv, gi, ga)))
        _kernels().recurrent_backward(cfg.form)(
            _nps(Grads, g), _nps(Saved, saved), _np(w.contiguous()), _nps(StateArrays, s0),
            _nps(ParamArrays, p), kernel_config(cfg), n, gx.numpy(), _nps(StateArrays, g0),
            _nps(ParamArrays, gp))
        gv0, gi0, ga0 = (o.to(s0.v.dtype) for o in g0)
        pgrads = [g.view(-1, n).sum(0).to(p.beta.dtype) for g in gp]
        gw = None
        if ctx.needs_input_grad[3] and spk.shape[0] > 1:
            gw = gx[1:].reshape(-1, n).t() @ spk[:-1].reshape(-1, n)
        elif ctx.needs_input_grad[3]:
            gw = torch.zeros_like(w)
        return (None, gx, gx[0], gw, gv0, gi0, ga0, *pgrads)


# ----------------------------------------------------------------------------- preparation
def _per_neuron(value, shape, x, name):
    """A parameter as a contiguous [N] tensor of x's dtype on x's device (differentiable when
    it is a tensor, so autograd reduces the kernel's per-neuron gradient to its shape)."""
    n = math.prod(shape)
    if isinstance(value, torch.Tensor):
        if value.device != x.device:
            raise KernelUnavailable(f"parameter {name} is on {value.device}, the input on {x.device}")
        if not value.is_floating_point():
            raise KernelUnavailable(f"parameter {name} has dtype {value.dtype}")
        if value.ndim > 0 and torch.promote_types(value.dtype, x.dtype) != x.dtype:
            raise KernelUnavailable(f"parameter {name} ({value.dtype}) would promote the input ({x.dtype})")
        try:
            value = torch.broadcast_to(value, shape)
        except RuntimeError:
            raise KernelUnavailable(
                f"parameter {name} of shape {tuple(value.shape)} does not broadcast to the "
                f"neuron shape {tuple(shape)}") from None
        return value.to(x.dtype).reshape(n).contiguous()
    return torch.full((n,), float(value), dtype=x.dtype, device=x.device)


def _flat_state(t: torch.Tensor, x, m: int, name: str) -> torch.Tensor:
    if t.dtype != x.dtype or t.device != x.device:
        raise KernelUnavailable(f"state {name} is {t.dtype} on {t.device}; the input is {x.dtype} "
                          f"on {x.device}")
    return t.reshape(m).contiguous()


def neuron_tensors(dyn: LIFDynamics, state, x, shape, m):
    """Flat kernel inputs of a population: ``(StateArrays [m], ParamArrays [n])`` in x's dtype
    on x's device (zeros for the constants and states the form does not have). Shared by the
    numba, the Triton and the fused Linear kernels."""
    form = dyn.form
    n = math.prod(shape)
    beta = _per_neuron(dyn.beta, shape, x, "beta (membrane decay)")
    th = _per_neuron(dyn.threshold, shape, x, "threshold")
    alpha = rho = adp = x.new_zeros(n)
    i0 = a0 = x.new_zeros(m)
    v0 = _flat_state(state.v, x, m, "v")
    if form == CURRENT_BASED:
        alpha = _per_neuron(dyn.alpha, shape, x, "alpha (synaptic decay)")
        i0 = _flat_state(state.i, x, m, "i")
    elif form == ADAPTIVE:
        rho = _per_neuron(dyn.rho, shape, x, "rho (adaptation decay)")
        adp = _per_neuron(dyn.adaptation, shape, x, "adaptation")
        a0 = _flat_state(state.a, x, m, "a")
    return StateArrays(v0, i0, a0), ParamArrays(beta, alpha, rho, th, adp)


def check_dynamics(dyn: LIFDynamics, x: torch.Tensor) -> None:
    """What every LIF-family kernel needs of the bundle and the input."""
    code = getattr(dyn.surrogate, "code", -1)
    if not isinstance(code, int) or code < 0:
        raise KernelUnavailable(f"surrogate {type(dyn.surrogate).__name__} has no kernel code (its "
                          "formula is not in axonal.surrogate.TABLE)")
    if dyn.reset not in RESETS:
        raise KernelUnavailable(f"reset {dyn.reset!r} has no kernel; choose one of {list(RESETS)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise KernelUnavailable(f"the input dtype is {x.dtype}; the kernels support float32 and "
                          "float64 (convert with x.float())")


def scan_config(dyn: LIFDynamics, n: int, store: bool) -> ScanConfig:
    return ScanConfig(dyn.form, RESETS[dyn.reset], bool(dyn.detach_reset),
                      int(dyn.surrogate.code), float(dyn.surrogate.width), n, bool(store))


def new_state(dyn: LIFDynamics, state, v, i, a, shape):
    """The state after the scan, of the type of ``state`` (fields ``v`` and ``i``/``a``)."""
    extra = _EXTRA_STATE[dyn.form]
    fields = {"v": v.reshape(shape)}
    if extra is not None:
        fields[extra] = (i if extra == "i" else a).reshape(shape)
    return state._replace(**fields)


def lif_family_scan(dyn: LIFDynamics, x: torch.Tensor, state, weight=None, functions=None):
    """Run the fused kernel; see the module docstring. Raises ``KernelUnavailable``.

    ``weight`` [N, N] selects the recurrent form (``state`` a ``RecurrentState``-like
    ``(neuron, spikes)``). ``functions``: the (feed-forward, recurrent) autograd Functions
    that run the kernels, ``(_LIFScan, _RecurrentLIFScan)`` (numba) by default;
    ``axonal.kernels.lif.triton`` passes its own, so validation, inputs and outputs are
    prepared in this one place for both."""
    scan_fn, recurrent_fn = functions or (_LIFScan, _RecurrentLIFScan)
    recurrent = weight is not None
    check_dynamics(dyn, x)
    if x.ndim < 2 or x.shape[0] == 0 or x.numel() == 0:
        raise KernelUnavailable("empty input")
    T, B = x.shape[:2]
    shape = tuple(x.shape[2:])
    n = math.prod(shape)
    m = B * n
    inner = state.neuron if recurrent else state
    if dyn.input_gain is not None:
        gain = _per_neuron(dyn.input_gain, shape, x, "input_gain")
        x = x * gain.view(shape)
        if recurrent:
            weight = gain[:, None] * weight
    s0, p = neuron_tensors(dyn, inner, x, shape, m)
    xf = x.reshape(T, m).contiguous()
    tensors = [xf, *s0, *p]
    if recurrent:
        tensors += [weight, state.spikes]
    store = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)
    cfg = scan_config(dyn, n, store)
    if recurrent:
        if tuple(weight.shape) != (n, n):
            raise KernelUnavailable("recurrent kernel needs a weight of shape [N, N]")
        if weight.device != x.device or weight.dtype != x.dtype:
            raise KernelUnavailable(f"recurrent weight is {weight.dtype} on {weight.device}; the input "
                              f"is {x.dtype} on {x.device}")
        if state.spikes.dtype != x.dtype or state.spikes.device != x.device:
            raise KernelUnavailable("state spikes dtype or device differ from the input")
        rec0 = F.linear(state.spikes.reshape(B, n), weight).reshape(m)
        spk, v, i, a = recurrent_fn.apply(cfg, xf, rec0, weight, *s0, *p)
    else:
        spk, v, i, a = scan_fn.apply(cfg, xf, *s0, *p)
    spikes = spk.reshape(x.shape)
    new = new_state(dyn, inner, v, i, a, x.shape[1:])
    if recurrent:
        new = type(state)(new, spikes[-1])
    return spikes, new


# ----------------------------------------------------------------------------- registration
def lif_kernel(form: Callable, functions: Callable | None = None, name: str = "lif_kernel"):
    """A registry kernel ``kernel(x, state, params, weight=None)`` that runs the population
    ``form(params)`` (a ``LIFDynamics``). ``functions``: a zero-argument callable returning the
    autograd Functions (imported on first call; numba's by default)."""
    def kernel(x, state, params, weight=None):
        fns = functions() if functions is not None else None
        return lif_family_scan(form(params), x, state, weight=weight, functions=fns)

    kernel.__name__ = kernel.__qualname__ = name
    return kernel


def _triton_functions():
    from .triton import FUNCTIONS  # lazy: Triton is optional and imported on first use

    return FUNCTIONS


def register_lif_family(params_type: type, form: Callable) -> None:
    """Register the LIF-family kernels of ``params_type``: ``form(params) -> LIFDynamics``
    describes the neuron; this registers its numba and Triton kernels (feed-forward and
    recurrent) and the form itself, which the fused event-driven Linear kernel
    (``axonal.kernels.event``) looks up."""
    register_form(params_type, FAMILY, form)
    name = params_type.__name__
    register_kernel(params_type, "numba", lif_kernel(form, name=f"{name}_numba"))
    register_kernel(params_type, "triton",
                    lif_kernel(form, _triton_functions, name=f"{name}_triton"))
