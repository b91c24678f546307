"""The event-driven Linear concept on the torch side: spike lists, density estimate, and the
fused Linear + LIF-family scan with its autograd wrapper.

``event_lif_scan(dynamics, x, weight, bias, state)`` runs ``neuron(linear(x))`` as one kernel
for any neuron registered in the LIF family (``axonal.kernels.lif.register_lif_family``);
``event_lif_form(params)`` finds the registered form of a neuron's Params, so the caller
(``EventLinear.fused_forward``) needs no neuron name. The numba kernels are in ``_numba``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._backends import numba_available
from ..buffers import empty as _buffer
from ..lif.scan import (FAMILY, LEAKY, Grads, KernelConfig, LIFDynamics, ParamArrays, Saved,
                        StateArrays, check_dynamics, kernel_config, neuron_tensors,
                        new_state, scan_config)
from ..registry import KernelUnavailable, find_form

__all__ = ["sampled_density", "spike_lists", "event_lif_scan", "event_lif_form", "l2_chunk",
           "SpikeLists", "LinearArrays"]

#: the weight gradient of the event-driven layers is gathered from chunks of dL/du rows of at
#: most this many bytes (read back from L2; ``_numba._chunk_weight_grad``)
CHUNK_BYTES = 1 << 20
#: and the fused Linear+LIF backward takes at most this many steps a chunk
BACKWARD_TIME_CHUNK = 32


class SpikeLists(NamedTuple):
    """Compressed sparse rows of an input [R, I]: ``ptr`` [R+1], ``idx``/``val`` [nnz], and
    ``binary`` (every nonzero is exactly 1)."""
    ptr: object
    idx: object
    val: object
    binary: bool


class LinearArrays(NamedTuple):
    """The Linear layer as the fused kernels read it: W^T [I, N] and the bias [N] (or [0])."""
    wt: object
    bias: object
    has_bias: bool


def l2_chunk(row_bytes: int) -> int:
    """Rows of ``row_bytes`` each in one chunk of at most ``CHUNK_BYTES`` (at least one)."""
    return max(1, CHUNK_BYTES // max(1, row_bytes))


def _backward_chunk(T: int, rows: int, itemsize: int) -> int:
    """Steps per backward chunk for a task of ``rows`` = B x block neurons."""
    return max(1, min(T, BACKWARD_TIME_CHUNK, l2_chunk(rows * itemsize)))


def _np(t: torch.Tensor):
    return t.detach().numpy()


def _kernels():
    from . import _numba  # lazy: numba is imported on first use of a kernel only

    return _numba


def sampled_density(x2: torch.Tensor, max_rows: int = 256) -> float:
    """Fraction of nonzero entries of ``x2`` [R, I], estimated on at most ``max_rows`` evenly
    spaced rows: what picks the sparse or the dense path (``EventLinear``) and the grouped
    compaction (``event_lif_scan``). Counted by numba when it imports: torch's
    ``count_nonzero`` on a strided sample cost 0.24 ms per call at [3200, 700], a few percent
    of a sparse inference step."""
    r = x2.shape[0]
    step = math.ceil(r / max_rows) if r > max_rows else 1
    total = -(-r // step) * x2.shape[1]
    if total == 0:
        return 0.0
    if numba_available() and x2.device.type == "cpu" and x2.dtype in (torch.float32, torch.float64):
        return _kernels().count_nonzero_rows(x2.detach().numpy(), step) / total
    return float(x2[::step].count_nonzero()) / total


def _time_broadcast(g: torch.Tensor):
    """(array, tstep): a gradient [T, M] that is constant over time by broadcasting (stride 0,
    as the gradient of a sum over time arrives) is passed as its first row with tstep 0, so
    the backward never materialises it."""
    if g.shape[0] > 1 and g.stride(0) == 0:
        return g[:1].contiguous(), 0
    return g.contiguous(), 1


def spike_lists(x2: torch.Tensor) -> SpikeLists:
    """Compressed sparse rows of ``x2`` [R, I]: (ptr [R+1] int64, idx [nnz] int32, val [nnz],
    binary) where ``binary`` says every nonzero is exactly 1 (spikes).

    Raises ``ValueError`` if the input holds NaN or inf (checked on the nonzeros only, which
    is where they land, so the check costs nothing on sparse input).
    """
    ks = _kernels()
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
    return SpikeLists(ptr, idx, val, not_one == 0)


def _lists_np(lists: SpikeLists) -> SpikeLists:
    return SpikeLists(_np(lists.ptr), _np(lists.idx), _np(lists.val), bool(lists.binary))


class _EventLIFScan(torch.autograd.Function):
    """x [T, B, I] (as spike lists), W [N, I], b [N] -> spikes [T, M] and final states, with
    the Linear fused into the scan (``_numba.event_lif_forward``). ``cfg`` is the neuron's
    ``ScanConfig``, ``shape`` an ``EventShape``."""

    @staticmethod
    def forward(ctx, cfg, shape, x, lists, wt, weight, bias, v0, i0, a0, beta, alpha, rho, th,
                adp):
        T, B = shape.T, shape.B
        has_bias = bias is not None
        b = bias.detach().contiguous() if has_bias else wt.new_zeros(0)
        m = B * cfg.n
        s0, p = StateArrays(v0, i0, a0), ParamArrays(beta, alpha, rho, th, adp)
        saved = Saved(_buffer((T, m), wt.dtype),
                      _buffer((T, m), wt.dtype) if cfg.store else wt.new_empty(0, 0),
                      _buffer((T, m), wt.dtype) if (cfg.store and cfg.form != LEAKY)
                      else wt.new_empty(0, 0))
        out = StateArrays(*(torch.empty_like(v0) for _ in range(3)))
        _kernels().event_lif_forward(cfg.form)(
            _lists_np(lists), LinearArrays(_np(wt), _np(b), has_bias), T, B,
            StateArrays(*map(_np, s0)), ParamArrays(*map(_np, p)), kernel_config(cfg),
            cfg.store, shape.block, Saved(*map(_np, saved)), StateArrays(*map(_np, out)))
        ctx.cfg, ctx.shape, ctx.lists, ctx.has_bias = cfg, shape, lists, has_bias
        ctx.save_for_backward(*saved, weight, *s0, *p)
        return (saved.spk, *out)

    @staticmethod
    def backward(ctx, gs, gv, gi, ga):
        cfg, shape, n = ctx.cfg, ctx.shape, ctx.cfg.n
        T, B = shape.T, shape.B
        t = ctx.saved_tensors
        saved, weight, s0, p = Saved(*t[:3]), t[3], StateArrays(*t[4:7]), ParamArrays(*t[7:])
        spk = saved.spk
        need_x, need_w = ctx.needs_input_grad[2], ctx.needs_input_grad[5]
        need_b = ctx.has_bias and ctx.needs_input_grad[6]
        want_gu = need_x or need_b
        m = s0.v.shape[0]
        gwt = weight.new_zeros(weight.shape[1], n) if need_w else weight.new_zeros(1, n)
        gu = _buffer((T, m), spk.dtype) if want_gu else spk.new_empty(0, 0)
        g0 = StateArrays(*(torch.empty_like(s0.v) for _ in range(3)))
        gp = ParamArrays(*(torch.empty(m, dtype=torch.float64) for _ in range(5)))
        gs_a, tstep = _time_broadcast(gs)
        g = Grads(gs_a, gv.contiguous(), gi.contiguous(), ga.contiguous())
        tchunk = _backward_chunk(T, B * min(shape.backward_block, n), spk.element_size())
        _kernels().event_lif_backward(cfg.form)(
            Grads(*map(_np, g)), tstep, Saved(*map(_np, saved)), StateArrays(*map(_np, s0)),
            ParamArrays(*map(_np, p)), kernel_config(cfg), _lists_np(ctx.lists), B,
            shape.backward_block, tchunk, need_w, gwt.numpy(), want_gu, gu.numpy(),
            StateArrays(*map(_np, g0)), ParamArrays(*map(_np, gp)))
        pgrads = [g.view(-1, n).sum(0).to(p.beta.dtype) for g in gp]
        gx = (gu.view(T, B, n) @ weight.detach()) if need_x else None
        gw = gwt.t().contiguous() if need_w else None
        gb = gu.view(-1, n).sum(0) if need_b else None
        return (None, None, gx, None, None, gw, gb, *g0, *pgrads)


class EventShape(NamedTuple):
    """Steps, batch rows and the neuron blocks of the forward and backward tasks."""
    T: int
    B: int
    block: int
    backward_block: int


def event_lif_form(params):
    """The ``LIFDynamics`` of a neuron's Params when its type registered a LIF-family form
    (``register_lif_family``), else ``None``: what ``event_lif_scan`` runs, found through the
    registry rather than by a neuron's name."""
    form = find_form(type(params), FAMILY)
    return None if form is None else form(params)


def event_lif_scan(dyn: LIFDynamics, x: torch.Tensor, weight: torch.Tensor, bias, state,
                   block: int | None = None, wt: torch.Tensor | None = None,
                   density: float | None = None):
    """Spikes and final state of ``neuron(linear(x))`` with the Linear fused into the scan.

    ``dyn``: the neuron's ``LIFDynamics`` (``event_lif_form(params)``). ``x`` [T, B, I]
    (sparse, typically spikes), ``weight`` [N, I], ``bias`` [N] or None; ``state`` the
    neuron's state for [B, N]. The current is gathered per step from the weight rows of the
    active inputs only and never stored; the backward computes the weight gradient from the
    same spike lists. Values equal ``EventLinear(mode="sparse")`` followed by the neuron's
    kernel exactly. ``wt``: ``weight.t().contiguous()`` if the caller keeps one (computed
    here otherwise); ``density``: ``sampled_density`` of the input if the caller has it
    (estimated here otherwise, for inference only). Raises ``KernelUnavailable`` with the
    reason.
    """
    check_dynamics(dyn, x)
    if dyn.input_gain is not None:  # it would scale W and b: not the unfused layers' rounding
        raise KernelUnavailable("the fused Linear kernel takes no input gain (parametric LIF); the "
                          "Linear layer and the neuron's kernel run one after the other")
    if x.ndim != 3 or x.numel() == 0:
        raise KernelUnavailable("the fused Linear kernel needs a non-empty input [T, B, in]")
    dtype = x.dtype
    if weight.dtype != dtype or (bias is not None and bias.dtype != dtype):
        raise KernelUnavailable(f"weight/bias dtype differ from the input ({dtype})")
    if weight.device.type != "cpu":
        raise KernelUnavailable(f"the weight is on {weight.device}, not the CPU")
    T, B, _ = x.shape
    n = weight.shape[0]
    m = B * n
    s0, p = neuron_tensors(dyn, state, x, (n,), m)
    tensors = [x, weight, bias, *s0, *p]
    store = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)
    if block is None:  # forward: long contiguous rows; backward: one block per thread
        import numba  # lazy: numba_available() was checked by the caller

        threads = numba.get_num_threads()
        block = min(n, _kernels().FUSED_BLOCK)
        while block > 256 and B * -(-n // block) < threads:  # a forward task per thread
            block = -(-block // 2)
        bblock = min(block, max(16, -(-n // threads)))
    else:
        bblock = block
    if wt is None:
        wt = weight.detach().t().contiguous()
    elif tuple(wt.shape) != (weight.shape[1], n) or not wt.is_contiguous():
        raise ValueError("wt must be weight.t().contiguous()")
    cfg = scan_config(dyn, n, store)
    if not store:  # inference: straight from the input, no spike lists, no autograd node
        spk, v, i, a = _event_lif_infer(kernel_config(cfg), x, wt, bias, s0, p, block, density)
    else:
        lists = spike_lists(x.reshape(T * B, x.shape[2]))
        shape = EventShape(T, B, int(block), int(bblock))
        spk, v, i, a = _EventLIFScan.apply(cfg, shape, x, lists, wt, weight, bias, *s0, *p)
    return spk.view(T, B, n), new_state(dyn, state, v, i, a, (B, n))


def _event_lif_infer(cfg: KernelConfig, x, wt, bias, s0: StateArrays, p: ParamArrays, block,
                     density=None):
    """(spikes [T, M], v, i, a) without a gradient (``_numba.event_lif_infer``)."""
    T, B, _ = x.shape
    n = wt.shape[1]
    x2 = x.detach().reshape(T * B, x.shape[2]).contiguous()
    has_bias = bias is not None
    b = bias.detach().contiguous() if has_bias else wt.new_zeros(0)
    spk = _buffer((T, B * n), wt.dtype)
    out = StateArrays(*(torch.empty_like(s0.v) for _ in range(3)))
    bad = torch.zeros(((n + block - 1) // block) * B, dtype=torch.uint8)
    ks = _kernels()
    xn = x2.numpy()
    if density is None:
        density = sampled_density(x2)
    grouped = density < ks.GROUPED_BELOW
    ks.event_lif_infer(cfg.form)(xn, ks.bit_view(xn), grouped, LinearArrays(_np(wt), _np(b), has_bias), T,
                       B, StateArrays(*map(_np, s0)), ParamArrays(*map(_np, p)), cfg, block,
                       spk.numpy(), StateArrays(*map(_np, out)), bad.numpy())
    if bool(bad.any()):
        raise ValueError("input contains NaN or inf; clean or clip the input first")
    return (spk, *out)
