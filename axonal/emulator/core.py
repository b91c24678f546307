"""Bit-exact integer engine of the NeuroCoreX-style core: a pure-Python reference and a numba engine.

Follows the LIF update of NeuroCoreX's ``Core_engine.vhd`` (Gautam et al., 2025, arXiv
2506.14138) as summarised in core.md §4; where the summary leaves a choice open, the rule below
is ours and is the specification both engines implement (tests check they agree bit for bit).

Integer semantics. ``sat(x) = min(max(x, -2^17), 2^17 - 1)`` (18-bit signed saturation);
intermediate sums are exact (Python ints / int64), each stored register saturates once.
At every step t, for every neuron i, from the state at t-1 (all neurons update together):

1. recurrent current (no decay by default, as in the VHDL; ``syn_decay_shift = k > 0`` subtracts
   ``I >> k``, an arithmetic shift that rounds toward minus infinity)::

       I_i <- sat(I_i - (I_i >> k) + syn_amp * sum_j W_AA[j, i] s_j(t-1))

2. feed-forward current, lasting this step only: ``F_i = syn_amp_ff * sum_k W_FF[k, i] x_k(t)``
3. refractory neurons (``r_i > 0``): ``r_i -= 1``, ``V_i = 0``, no spike. Others::

       V_i <- max(sat(V_i + bias_i - leak_i + I_i + F_i + ext_i(t)), v_floor)
       if V_i >= threshold_i:  spike, V_i <- 0 (V_reset), r_i <- refractory_i

   ``ext`` is an optional external current per step (the board's UART ``Iin``; also the teacher
   signal of supervised STDP).
4. STDP (when learning). Counters ``c`` = steps since a source's last spike, saturating at 127
   and starting at 127 (never fired): each step all counters become ``min(c + 1, 127)``, then
   ``0`` for sources that spiked now (inputs ``x(t)``, neurons ``s(t)``). For each synapse from
   source k to neuron i with ``stdp_mask[k, i]``:

   - potentiation when i spiked now and ``c_k <= window_pre``: ``w <- min(w + dw_plus, max(w, w_max))``
   - depression when k spiked now, i did not, and ``1 <= c_i <= window_post``:
     ``w <- max(w - dw_minus, min(w, w_min))``

   so a move never crosses a bound and never pushes an out-of-bounds weight further out. Weights
   stay int8 because ``-128 <= w_min < w_max <= 127``.

Learning processes samples one after another, the weights carrying over (as on the board); the
neuron state starts from zero for every sample. Without learning, samples are independent and
run in parallel.
"""
from __future__ import annotations

import numba
import numpy as np

from .protocol import V_MAX, V_MIN, CoreConfig

__all__ = ["run_reference", "run_engine"]

CMAX = 127


def _sat(x: int) -> int:
    return V_MIN if x < V_MIN else (V_MAX if x > V_MAX else x)


def _check_inputs(cfg: CoreConfig, inputs, currents):
    x = np.asarray(inputs)
    if x.ndim != 3 or x.shape[2] != cfg.n_inputs:
        raise ValueError(f"inputs must be time-major [T, B, n_inputs={cfg.n_inputs}] spikes, got shape {x.shape}")
    if x.size and not np.isin(x, (0, 1)).all():
        raise ValueError("inputs must be 0/1 spikes; binarise with (x > 0)")
    x = np.ascontiguousarray(x.astype(np.uint8).transpose(1, 0, 2))  # [B, T, n_in]
    if currents is None:
        c = np.zeros((x.shape[0], x.shape[1], cfg.n_neurons), np.int64)
    else:
        c = np.asarray(currents)
        if c.shape != (x.shape[1], x.shape[0], cfg.n_neurons):
            raise ValueError(f"currents must be [T, B, n_neurons] = [{x.shape[1]}, {x.shape[0]}, "
                             f"{cfg.n_neurons}] integers, got shape {c.shape}")
        if c.size and not np.all(c == np.round(c)):
            raise ValueError("currents must be integers (the core has no fractions)")
        c = np.ascontiguousarray(c.astype(np.int64).transpose(1, 0, 2))
    return x, c


def run_reference(cfg: CoreConfig, inputs, currents=None, learn: bool = False):
    """Plain-Python loop over samples, steps and neurons: the readable specification.

    ``inputs [T, B, n_inputs]`` 0/1, ``currents [T, B, n_neurons]`` ints or None.
    Returns ``(spikes [T, B, n_neurons] uint8, w_ff, w_aa)`` (weights after learning).
    """
    x, ext = _check_inputs(cfg, inputs, currents)
    b_n, t_n, n_in = x.shape
    n = cfg.n_neurons
    w_ff = [[int(v) for v in row] for row in cfg.w_ff]
    w_aa = [[int(v) for v in row] for row in cfg.w_aa]
    mask = cfg.stdp_mask
    out = np.zeros((t_n, b_n, n), np.uint8)
    for b in range(b_n):
        v = [0] * n
        cur = [0] * n
        ref = [0] * n
        s_prev = [0] * n
        c_src = [CMAX] * (n_in + n)
        for t in range(t_n):
            xt = [int(u) for u in x[b, t]]
            s = [0] * n
            for i in range(n):
                rec = sum(w_aa[j][i] for j in range(n) if s_prev[j])
                if cfg.syn_decay_shift:
                    cur[i] = cur[i] - (cur[i] >> cfg.syn_decay_shift)
                cur[i] = _sat(cur[i] + cfg.syn_amp * rec)
                ff = cfg.syn_amp_ff * sum(w_ff[k][i] for k in range(n_in) if xt[k])
                if ref[i] > 0:
                    ref[i] -= 1
                    v[i] = 0
                    continue
                v[i] = max(_sat(v[i] + int(cfg.bias[i]) - int(cfg.leak[i]) + cur[i] + ff + int(ext[b, t, i])),
                           cfg.v_floor)
                if v[i] >= cfg.threshold[i]:
                    s[i] = 1
                    v[i] = 0
                    ref[i] = int(cfg.refractory[i])
            if learn:
                src_spk = xt + s
                for k in range(n_in + n):
                    c_src[k] = 0 if src_spk[k] else min(c_src[k] + 1, CMAX)
                for k in range(n_in + n):
                    row = w_ff[k] if k < n_in else w_aa[k - n_in]
                    for i in range(n):
                        if not mask[k, i]:
                            continue
                        if s[i] and c_src[k] <= cfg.window_pre:
                            row[i] = min(row[i] + cfg.dw_plus, max(row[i], cfg.w_max))
                        elif src_spk[k] and not s[i] and 1 <= c_src[n_in + i] <= cfg.window_post:
                            row[i] = max(row[i] - cfg.dw_minus, min(row[i], cfg.w_min))
            out[t, b] = s
            s_prev = s
    return out, np.array(w_ff, np.int8).reshape(n_in, n), np.array(w_aa, np.int8).reshape(n, n)


@numba.njit(cache=True, nogil=True)
def _sample(x, ext, w_ff, w_aa, thr, leak, tref, bias, mask, sc, learn, out):
    """One sample [T, n_in] through the core; updates w_ff / w_aa in place when learning."""
    syn_amp, syn_amp_ff, shift, dwp, dwm, wpre, wpost, wmin, wmax, vfloor = (
        sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7], sc[8], sc[9])
    t_n, n_in = x.shape
    n = thr.shape[0]
    v = np.zeros(n, np.int64)
    cur = np.zeros(n, np.int64)
    ref = np.zeros(n, np.int64)
    s_prev = np.zeros(n, np.uint8)
    s = np.zeros(n, np.uint8)
    c_src = np.full(n_in + n, CMAX, np.int64)
    rec = np.zeros(n, np.int64)
    ff = np.zeros(n, np.int64)
    for t in range(t_n):
        rec[:] = 0
        for j in range(n):
            if s_prev[j]:
                for i in range(n):
                    rec[i] += w_aa[j, i]
        ff[:] = 0
        for k in range(n_in):
            if x[t, k]:
                for i in range(n):
                    ff[i] += w_ff[k, i]
        for i in range(n):
            c = cur[i]
            if shift > 0:
                c = c - (c >> shift)
            c = c + syn_amp * rec[i]
            cur[i] = min(max(c, V_MIN), V_MAX)
            s[i] = 0
            if ref[i] > 0:
                ref[i] -= 1
                v[i] = 0
                continue
            u = v[i] + bias[i] - leak[i] + cur[i] + syn_amp_ff * ff[i] + ext[t, i]
            u = min(max(u, V_MIN), V_MAX)
            if u < vfloor:
                u = vfloor
            if u >= thr[i]:
                s[i] = 1
                u = 0
                ref[i] = tref[i]
            v[i] = u
        if learn:
            for k in range(n_in + n):
                spk = x[t, k] if k < n_in else s[k - n_in]
                if spk:
                    c_src[k] = 0
                elif c_src[k] < CMAX:
                    c_src[k] += 1
            for k in range(n_in + n):
                spk = x[t, k] if k < n_in else s[k - n_in]
                for i in range(n):
                    if not mask[k, i]:
                        continue
                    w = w_ff[k, i] if k < n_in else w_aa[k - n_in, i]
                    if s[i] and c_src[k] <= wpre:
                        w = min(w + dwp, max(w, wmax))
                    elif spk and not s[i] and c_src[n_in + i] >= 1 and c_src[n_in + i] <= wpost:
                        w = max(w - dwm, min(w, wmin))
                    else:
                        continue
                    if k < n_in:
                        w_ff[k, i] = w
                    else:
                        w_aa[k - n_in, i] = w
        for i in range(n):
            out[t, i] = s[i]
            s_prev[i] = s[i]


@numba.njit(cache=True, parallel=True)
def _run_parallel(x, ext, w_ff, w_aa, thr, leak, tref, bias, mask, sc, out):
    for b in numba.prange(x.shape[0]):
        _sample(x[b], ext[b], w_ff, w_aa, thr, leak, tref, bias, mask, sc, False, out[b])


@numba.njit(cache=True)
def _run_learning(x, ext, w_ff, w_aa, thr, leak, tref, bias, mask, sc, out):
    for b in range(x.shape[0]):
        _sample(x[b], ext[b], w_ff, w_aa, thr, leak, tref, bias, mask, sc, True, out[b])


def run_engine(cfg: CoreConfig, inputs, currents=None, learn: bool = False):
    """The compiled engine; same arguments and results as :func:`run_reference`."""
    x, ext = _check_inputs(cfg, inputs, currents)
    w_ff = cfg.w_ff.astype(np.int64)
    w_aa = cfg.w_aa.astype(np.int64)
    sc = np.array([cfg.syn_amp, cfg.syn_amp_ff, cfg.syn_decay_shift, cfg.dw_plus, cfg.dw_minus,
                   cfg.window_pre, cfg.window_post, cfg.w_min, cfg.w_max, cfg.v_floor], np.int64)
    out = np.zeros((x.shape[0], x.shape[1], cfg.n_neurons), np.uint8)
    args = (x, ext, w_ff, w_aa, cfg.threshold, cfg.leak, cfg.refractory, cfg.bias,
            np.ascontiguousarray(cfg.stdp_mask.astype(np.uint8)), sc, out)
    (_run_learning if learn else _run_parallel)(*args)
    return np.ascontiguousarray(out.transpose(1, 0, 2)), w_ff.astype(np.int8), w_aa.astype(np.int8)
