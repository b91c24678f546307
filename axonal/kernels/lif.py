"""Autograd wrappers around the numba LIF-family kernels, and the preparation of their inputs.

``lif_family_scan(kind, x, state, params, weight=None)`` runs LIF / CuBa-LIF / adaptive LIF
(optionally recurrent) over ``x [T, B, *S]`` and returns ``(spikes, state)`` exactly as the
reference ``scan`` of the model's step would, or raises ``Unsupported`` with the reason.

Parameters (scalars or tensors broadcastable to ``S``) are expanded to one value per neuron
*with torch ops*, so that autograd reduces the per-neuron gradients the kernel returns back to
each parameter's own shape (scalar, per-neuron, learnable log time constant ...). Time
constants enter as their decay ``exp(-dt / tau)`` computed by the same ``decay_factor`` as the
step, and the kernel returns d loss / d decay.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..functional import decay_factor
from .buffers import empty as _buffer
from .registry import KernelUnavailable

KINDS = {"lif": 0, "cuba_lif": 1, "adaptive_lif": 2}
RESETS = {"subtract": 0, "zero": 1, "none": 2}
#: the weight gradient of the event-driven layers is gathered from chunks of dL/du rows of at
#: most this many bytes (read back from L2; ``_numba_sparse._chunk_weight_grad``)
CHUNK_BYTES = 1 << 20
#: and the fused Linear+LIF backward takes at most this many steps a chunk
BACKWARD_TIME_CHUNK = 32


def l2_chunk(row_bytes: int) -> int:
    """Rows of ``row_bytes`` each in one chunk of at most ``CHUNK_BYTES`` (at least one)."""
    return max(1, CHUNK_BYTES // max(1, row_bytes))


def _backward_chunk(T: int, rows: int, itemsize: int) -> int:
    """Steps per backward chunk for a task of ``rows`` = B x block neurons."""
    return max(1, min(T, BACKWARD_TIME_CHUNK, l2_chunk(rows * itemsize)))


#: the kernels' one failure (``axonal.kernels.registry``); the old name stays for readers
Unsupported = KernelUnavailable


def _np(t: torch.Tensor):
    return t.detach().numpy()


def _kernels():
    from . import _numba_lif

    return _numba_lif


# ----------------------------------------------------------------------------- autograd
class _LIFScan(torch.autograd.Function):
    """x [T, M], states [M], per-neuron params [N] -> spikes [T, M], final v, i, a [M]."""

    @staticmethod
    def forward(ctx, cfg, x, v0, i0, a0, beta, alpha, rho, th, adp):
        kind, reset, detach, code, width, n, store = cfg
        k = _kernels()
        spk = _buffer(x.shape, x.dtype)
        vpre = _buffer(x.shape, x.dtype) if store else x.new_empty(0, 0)
        aux = _buffer(x.shape, x.dtype) if (store and kind > 0) else x.new_empty(0, 0)
        v_out, i_out, a_out = (torch.empty_like(v0) for _ in range(3))
        k.lif_forward(_np(x), _np(v0), _np(i0), _np(a0), _np(beta), _np(alpha), _np(rho),
                      _np(th), _np(adp), kind, reset, n, store, spk.numpy(), vpre.numpy(),
                      aux.numpy(), v_out.numpy(), i_out.numpy(), a_out.numpy())
        ctx.cfg = cfg
        ctx.save_for_backward(spk, vpre, aux, v0, i0, a0, beta, alpha, rho, th, adp)
        return spk, v_out, i_out, a_out

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        kind, reset, detach, code, width, n, _ = ctx.cfg
        spk, vpre, aux, v0, i0, a0, beta, alpha, rho, th, adp = ctx.saved_tensors
        gx = _buffer(spk.shape, spk.dtype)
        m = v0.shape[0]
        outs = [torch.empty_like(v0) for _ in range(3)] + [
            torch.empty(m, dtype=torch.float64) for _ in range(5)]
        _kernels().lif_backward(
            _np(gs.contiguous()), _np(gv.contiguous()), _np(gi.contiguous()),
            _np(ga.contiguous()), _np(spk), _np(vpre), _np(aux), _np(v0), _np(i0), _np(a0),
            _np(beta), _np(alpha), _np(rho), _np(th), _np(adp), kind, reset, detach, code,
            float(width), n, gx.numpy(), *(o.numpy() for o in outs))
        gv0, gi0, ga0 = outs[:3]
        pgrads = [g.view(-1, n).sum(0).to(beta.dtype) for g in outs[3:]]
        return (None, gx, gv0, gi0, ga0, *pgrads)


class _RecurrentLIFScan(torch.autograd.Function):
    """As ``_LIFScan`` with input x_t + s_{t-1} W^T; ``rec0`` [M] = s_{-1} W^T given."""

    @staticmethod
    def forward(ctx, cfg, x, rec0, w, v0, i0, a0, beta, alpha, rho, th, adp):
        kind, reset, detach, code, width, n, store = cfg
        spk = _buffer(x.shape, x.dtype)
        vpre = _buffer(x.shape, x.dtype) if store else x.new_empty(0, 0)
        aux = _buffer(x.shape, x.dtype) if (store and kind > 0) else x.new_empty(0, 0)
        v_out, i_out, a_out = (torch.empty_like(v0) for _ in range(3))
        wt = w.detach().t().contiguous()
        _kernels().recurrent_forward(
            _np(x), _np(rec0), _np(wt), _np(v0), _np(i0), _np(a0), _np(beta), _np(alpha),
            _np(rho), _np(th), _np(adp), kind, reset, n, store, spk.numpy(), vpre.numpy(),
            aux.numpy(), v_out.numpy(), i_out.numpy(), a_out.numpy())
        ctx.cfg = cfg
        ctx.save_for_backward(spk, vpre, aux, w, v0, i0, a0, beta, alpha, rho, th, adp)
        return spk, v_out, i_out, a_out

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        kind, reset, detach, code, width, n, _ = ctx.cfg
        spk, vpre, aux, w, v0, i0, a0, beta, alpha, rho, th, adp = ctx.saved_tensors
        gx = _buffer(spk.shape, spk.dtype)
        m = v0.shape[0]
        outs = [torch.empty(m, dtype=torch.float64) for _ in range(8)]
        wc = w.detach().contiguous()
        _kernels().recurrent_backward(
            _np(gs.contiguous()), _np(gv.contiguous()), _np(gi.contiguous()),
            _np(ga.contiguous()), _np(spk), _np(vpre), _np(aux), _np(wc), _np(v0), _np(i0),
            _np(a0), _np(beta), _np(alpha), _np(rho), _np(th), _np(adp), kind, reset, detach,
            code, float(width), n, gx.numpy(), *(o.numpy() for o in outs))
        gv0, gi0, ga0 = (o.to(v0.dtype) for o in outs[:3])
        pgrads = [g.view(-1, n).sum(0).to(beta.dtype) for g in outs[3:]]
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


def _neuron_arrays(k, params, state, x, shape, m):
    """Flat kernel inputs of a LIF-family population of kind ``k`` (0 LIF, 1 CuBa, 2 adaptive):
    initial ``v, i, a`` ``[m]`` and per-neuron ``beta, alpha, rho, threshold, adaptation`` ``[n]``
    in x's dtype and on x's device (zeros for the constants and states the kind does not
    have). Shared by the numba and the Triton kernels."""
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


def lif_family_scan(kind: str, x: torch.Tensor, state, params, weight=None, functions=None):
    """Run the fused kernel; see the module docstring. Raises ``Unsupported``.

    ``functions``: the (feed-forward, recurrent) autograd Functions that run the kernels,
    ``(_LIFScan, _RecurrentLIFScan)`` (numba) by default; ``axonal.kernels.triton_lif`` passes
    its own, so validation, inputs and outputs are prepared in this one place for both."""
    scan_fn, recurrent_fn = functions or (_LIFScan, _RecurrentLIFScan)
    recurrent = kind.startswith("recurrent_")
    base = kind[len("recurrent_"):] if recurrent else kind
    if base not in KINDS:
        raise Unsupported(f"no fused kernel for {kind!r} (LIF family only)")
    code = getattr(params.surrogate, "code", -1)
    if code not in (0, 1, 2, 3, 4):
        raise Unsupported(f"surrogate {type(params.surrogate).__name__} has no kernel code")
    if x.dtype not in (torch.float32, torch.float64):
        raise Unsupported(f"the input dtype is {x.dtype}; the kernels support float32 and "
                          "float64 (convert with x.float())")
    if x.ndim < 2 or x.shape[0] == 0 or x.numel() == 0:
        raise Unsupported("empty input")
    T, B = x.shape[:2]
    shape = tuple(x.shape[2:])
    n = math.prod(shape)
    m = B * n
    k = KINDS[base]
    inner = state.neuron if recurrent else state
    v0, i0, a0, beta, alpha, rho, th, adp = _neuron_arrays(k, params, inner, x, shape, m)
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
        spk, v, i, a = recurrent_fn.apply(cfg, xf, rec0, weight, v0, i0, a0, beta, alpha,
                                          rho, th, adp)
    else:
        spk, v, i, a = scan_fn.apply(cfg, xf, v0, i0, a0, beta, alpha, rho, th, adp)
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


def _family_kernel(kind: str, functions=None):
    """The registered kernel of one LIF-family kind: feed-forward, or recurrent with ``weight``."""
    def kernel(x, state, params, weight=None):
        name = kind if weight is None else "recurrent_" + kind
        return lif_family_scan(name, x, state, params, weight=weight, functions=functions)

    kernel.__name__ = f"{kind}_numba" if functions is None else f"{kind}_kernel"
    return kernel


lif_numba = _family_kernel("lif")
cuba_lif_numba = _family_kernel("cuba_lif")
adaptive_lif_numba = _family_kernel("adaptive_lif")


def sampled_density(x2: torch.Tensor, max_rows: int = 256) -> float:
    """Fraction of nonzero entries of ``x2`` [R, I], estimated on at most ``max_rows`` evenly
    spaced rows: what picks the sparse or the dense path (``EventLinear``) and the grouped
    compaction (``event_lif_scan``). Counted by numba when it imports: torch's
    ``count_nonzero`` on a strided sample cost 0.24 ms per call at [3200, 700], a few percent
    of a sparse inference step."""
    from . import numba_available

    r = x2.shape[0]
    step = math.ceil(r / max_rows) if r > max_rows else 1
    total = -(-r // step) * x2.shape[1]
    if total == 0:
        return 0.0
    if numba_available() and x2.device.type == "cpu" and x2.dtype in (torch.float32, torch.float64):
        return _kernels_sparse().count_nonzero_rows(x2.detach().numpy(), step) / total
    return float(x2[::step].count_nonzero()) / total


# ----------------------------------------------------------------------------- fused Linear+LIF
def _time_broadcast(g: torch.Tensor):
    """(array, tstep): a gradient [T, M] that is constant over time by broadcasting (stride 0,
    as the gradient of a sum over time arrives) is passed as its first row with tstep 0, so
    the backward never materialises it."""
    if g.shape[0] > 1 and g.stride(0) == 0:
        return g[:1].contiguous(), 0
    return g.contiguous(), 1


def spike_lists(x2: torch.Tensor):
    """Compressed sparse rows of ``x2`` [R, I]: (ptr [R+1] int64, idx [nnz] int32, val [nnz],
    binary) where ``binary`` says every nonzero is exactly 1 (spikes).

    Raises ``ValueError`` if the input holds NaN or inf (checked on the nonzeros only, which
    is where they land, so the check costs nothing on sparse input).
    """
    from . import _numba_sparse as ks

    x2 = x2.detach().contiguous()
    counts = torch.zeros(x2.shape[0] + 1, dtype=torch.int64)
    ks.active_counts(x2.numpy(), counts.numpy())
    ptr = counts.cumsum_(0)
    nnz = int(ptr[-1])
    idx = torch.empty(nnz, dtype=torch.int32)
    val = torch.empty(nnz, dtype=x2.dtype)
    xn = x2.numpy()
    grouped = nnz < ks.GROUPED_BELOW * max(x2.numel(), 1)
    nonfinite, not_one = ks.active_fill(xn, ks.bit_view(xn), grouped, ptr.numpy(), idx.numpy(),
                                        val.numpy())
    if nonfinite:
        raise ValueError("input contains NaN or inf; clean or clip the input first")
    return ptr, idx, val, not_one == 0


class _EventLIFScan(torch.autograd.Function):
    """x [T, B, I] (as spike lists), W [N, I], b [N] -> spikes [T, M] and final states, with
    the Linear fused into the scan (``_numba_lif.event_lif_forward``)."""

    @staticmethod
    def forward(ctx, cfg, x, lists, wt, weight, bias, v0, i0, a0, beta, alpha, rho, th, adp):
        kind, reset, detach, code, width, n, store, T, B, block, _ = cfg
        ptr, idx, val, binary = lists
        has_bias = bias is not None
        b = bias.detach().contiguous() if has_bias else wt.new_zeros(0)
        m = B * n
        spk = _buffer((T, m), wt.dtype)
        vpre = _buffer((T, m), wt.dtype) if store else wt.new_empty(0, 0)
        aux = _buffer((T, m), wt.dtype) if (store and kind > 0) else wt.new_empty(0, 0)
        v_out, i_out, a_out = (torch.empty_like(v0) for _ in range(3))
        _kernels().event_lif_forward(
            _np(ptr), _np(idx), _np(val), binary, _np(wt), _np(b), has_bias, T, B, _np(v0), _np(i0),
            _np(a0), _np(beta), _np(alpha), _np(rho), _np(th), _np(adp), kind, reset, store,
            block, spk.numpy(), vpre.numpy(), aux.numpy(), v_out.numpy(), i_out.numpy(),
            a_out.numpy())
        ctx.cfg = cfg
        ctx.lists = lists
        ctx.has_bias = has_bias
        ctx.save_for_backward(spk, vpre, aux, weight, v0, i0, a0, beta, alpha, rho, th, adp)
        return spk, v_out, i_out, a_out

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        kind, reset, detach, code, width, n, _, T, B, _, block = ctx.cfg
        spk, vpre, aux, weight, v0, i0, a0, beta, alpha, rho, th, adp = ctx.saved_tensors
        ptr, idx, val, binary = ctx.lists
        need_x, need_w = ctx.needs_input_grad[1], ctx.needs_input_grad[4]
        need_b = ctx.has_bias and ctx.needs_input_grad[5]
        want_gu = need_x or need_b
        m = v0.shape[0]
        gwt = weight.new_zeros(weight.shape[1], n) if need_w else weight.new_zeros(1, n)
        gu = _buffer((T, m), spk.dtype) if want_gu else spk.new_empty(0, 0)
        outs = [torch.empty_like(v0) for _ in range(3)] + [
            torch.empty(m, dtype=torch.float64) for _ in range(5)]
        gs_a, tstep = _time_broadcast(gs)
        _kernels().event_lif_backward(
            _np(gs_a), tstep, _np(gv.contiguous()), _np(gi.contiguous()), _np(ga.contiguous()),
            _np(spk), _np(vpre), _np(aux), _np(v0), _np(i0), _np(a0), _np(beta), _np(alpha),
            _np(rho), _np(th), _np(adp), kind, reset, detach, code, float(width), _np(ptr),
            _np(idx), _np(val), binary, B, block,
            _backward_chunk(T, B * min(block, n), spk.element_size()), need_w, gwt.numpy(), want_gu,
            gu.numpy(),
            *(o.numpy() for o in outs))
        gv0, gi0, ga0 = outs[:3]
        pgrads = [g.view(-1, n).sum(0).to(beta.dtype) for g in outs[3:]]
        gx = (gu.view(T, B, n) @ weight.detach()) if need_x else None
        gw = gwt.t().contiguous() if need_w else None
        gb = gu.view(-1, n).sum(0) if need_b else None
        return (None, gx, None, None, gw, gb, gv0, gi0, ga0, *pgrads)


def event_lif_scan(kind: str, x: torch.Tensor, weight: torch.Tensor, bias, state, params,
                   block: int | None = None, wt: torch.Tensor | None = None,
                   density: float | None = None):
    """Spikes and final state of ``neuron(linear(x))`` with the Linear fused into the scan.

    ``x`` [T, B, I] (sparse, typically spikes), ``weight`` [N, I], ``bias`` [N] or None;
    ``state`` the neuron's state for [B, N]. The current is gathered per step from the
    weight rows of the active inputs only and never stored; the backward computes the
    weight gradient from the same spike lists. Values equal ``EventLinear(mode="sparse")``
    followed by the neuron's kernel exactly. ``wt``: ``weight.t().contiguous()`` if the
    caller keeps one (computed here otherwise); ``density``: ``sampled_density`` of the input
    if the caller has it (estimated here otherwise, for inference only). Raises
    ``Unsupported`` with the reason.
    """
    if kind not in KINDS:
        raise Unsupported(f"no fused Linear kernel for {kind!r}")
    code = getattr(params.surrogate, "code", -1)
    if code not in (0, 1, 2, 3, 4):
        raise Unsupported(f"surrogate {type(params.surrogate).__name__} has no kernel code")
    if x.ndim != 3 or x.numel() == 0:
        raise Unsupported("the fused Linear kernel needs a non-empty input [T, B, in]")
    dtype = x.dtype
    if weight.dtype != dtype or (bias is not None and bias.dtype != dtype):
        raise Unsupported(f"weight/bias dtype differ from the input ({dtype})")
    if weight.device.type != "cpu":
        raise Unsupported(f"the weight is on {weight.device}, not the CPU")
    T, B, _ = x.shape
    n = weight.shape[0]
    m = B * n
    k = KINDS[kind]
    shape = (n,)
    v0, i0, a0, beta, alpha, rho, th, adp = _neuron_arrays(k, params, state, x, shape, m)
    tensors = [x, weight, bias, v0, i0, a0, beta, alpha, rho, th, adp]
    store = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)
    if block is None:  # forward: long contiguous rows; backward: one block per thread
        import numba

        threads = numba.get_num_threads()
        block = min(n, _kernels_sparse().FUSED_BLOCK)
        while block > 256 and B * -(-n // block) < threads:  # a forward task per thread
            block = -(-block // 2)
        bblock = min(block, max(16, -(-n // threads)))
    else:
        bblock = block
    if wt is None:
        wt = weight.detach().t().contiguous()
    elif tuple(wt.shape) != (weight.shape[1], n) or not wt.is_contiguous():
        raise ValueError("wt must be weight.t().contiguous()")
    if not store:  # inference: straight from the input, no spike lists, no autograd node
        spk, v, i, a = _event_lif_infer(k, RESETS[params.reset], x, wt, bias, v0, i0, a0, beta,
                                        alpha, rho, th, adp, block, density)
        return _event_outputs(k, state, spk, v, i, a, T, B, n)
    lists = spike_lists(x.reshape(T * B, x.shape[2]))
    cfg = (k, RESETS[params.reset], bool(params.detach_reset), int(code),
           float(params.surrogate.width), n, store, T, B, int(block), int(bblock))
    spk, v, i, a = _EventLIFScan.apply(cfg, x, lists, wt,
                                       weight, bias, v0, i0, a0, beta, alpha, rho, th, adp)
    return _event_outputs(k, state, spk, v, i, a, T, B, n)


def _event_outputs(k, state, spk, v, i, a, T, B, n):
    spikes = spk.view(T, B, n)
    if k == 0:
        new = type(state)(v.view(B, n))
    elif k == 1:
        new = type(state)(v.view(B, n), i.view(B, n))
    else:
        new = type(state)(v.view(B, n), a.view(B, n))
    return spikes, new


def _event_lif_infer(k, reset, x, wt, bias, v0, i0, a0, beta, alpha, rho, th, adp, block,
                     density=None):
    """(spikes [T, M], v, i, a) without a gradient (``_numba_lif.event_lif_infer``)."""
    T, B, _ = x.shape
    n = wt.shape[1]
    x2 = x.detach().reshape(T * B, x.shape[2]).contiguous()
    has_bias = bias is not None
    b = bias.detach().contiguous() if has_bias else wt.new_zeros(0)
    spk = _buffer((T, B * n), wt.dtype)
    v_out, i_out, a_out = (torch.empty_like(v0) for _ in range(3))
    bad = torch.zeros(((n + block - 1) // block) * B, dtype=torch.uint8)
    ks = _kernels_sparse()
    xn = x2.numpy()
    if density is None:
        density = sampled_density(x2)
    grouped = density < ks.GROUPED_BELOW
    _kernels().event_lif_infer(
        xn, ks.bit_view(xn), grouped, _np(wt), _np(b), has_bias, T, B, _np(v0), _np(i0), _np(a0), _np(beta),
        _np(alpha), _np(rho), _np(th), _np(adp), k, reset, block, spk.numpy(), v_out.numpy(),
        i_out.numpy(), a_out.numpy(), bad.numpy())
    if bool(bad.any()):
        raise ValueError("input contains NaN or inf; clean or clip the input first")
    return spk, v_out, i_out, a_out


def _kernels_sparse():
    from . import _numba_sparse

    return _numba_sparse
