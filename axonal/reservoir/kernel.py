"""Numba kernel of the sparse recurrent network engine (:mod:`axonal.reservoir.engine`).

One compiled loop over time for a population of refractory LIF neurons (the library's
``RefractoryLIFParams`` / ``ConductanceLIFParams`` as per-neuron arrays) with exponential
current- or conductance-based synaptic channels, CSR projections by presynaptic neuron
(event-driven: only the rows of this step's spikes are touched), per-synapse delays through a
ring buffer, and ``axonal.learning.STDP`` (additive, all-to-all traces) on the existing
synapses with a global modulator. The readable definition of the same dynamics, with dense
matrices, is :mod:`axonal.reservoir.reference`; tests check the two agree.

The arguments come in named bundles (NamedTuples of arrays, which numba compiles as tuples
with named fields): :class:`Neurons`, :class:`NeuronState`, :class:`Channels`,
:class:`Drive`, :class:`Projection` (twice: recurrent and input), :class:`Plasticity` (twice),
:class:`Modulator` and :class:`Recording`.

Serial on purpose: a step of a few thousand neurons is microseconds of work, less than the
barrier of a parallel loop, and the machine this runs on is shared.

numba's disk cache: ``axonal.kernels._numba_cache.install`` keys the cached machine code of
the functions defined in this directory on a digest of this directory's ``.py`` sources (numba
alone would look at this file's timestamp only), so an edit of any of them recompiles.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from ..kernels import _numba_cache

_numba_cache.install(Path(__file__).resolve().parent)

__all__ = ["Neurons", "NeuronState", "Channels", "Drive", "Projection", "Plasticity", "Modulator",
           "Recording", "simulate", "MOD_VALUES", "MOD_ACTIVITY"]

#: Modulator.mode: per-step values / the leaky activity integrator (ActivityModulator)
MOD_VALUES, MOD_ACTIVITY = 0, 1


class Neurons(NamedTuple):
    """Per-neuron constants ``[N]`` (float64, mV and ms; ``ref_steps`` int64)."""
    tau_m: np.ndarray
    v_rest: np.ndarray
    v_reset: np.ndarray
    v_thresh: np.ndarray
    ref_steps: np.ndarray
    i_bias: np.ndarray


class NeuronState(NamedTuple):
    """Membranes ``[N]`` and the absolute step of each neuron's last spike ``[N]`` (int64)."""
    v: np.ndarray
    last_spike: np.ndarray


class Channels(NamedTuple):
    """Synaptic channels: values ``g [C, N]``, spikes in flight ``ring [D, C, N]``, per-channel
    decay ``[C]``, conductance flag ``[C]`` (uint8) and reversal potential ``[C]``."""
    g: np.ndarray
    ring: np.ndarray
    decay: np.ndarray
    cond: np.ndarray
    erev: np.ndarray


class Drive(NamedTuple):
    """External current ``[T, N]`` (mV) and input spikes ``[T, n_in]`` (uint8), each with a flag
    saying whether it is given (a placeholder array stands in otherwise)."""
    i_ext: np.ndarray
    has_iext: bool
    in_spikes: np.ndarray
    has_in: bool


class Projection(NamedTuple):
    """CSR rows by presynaptic neuron (``axonal.reservoir.Connectivity``)."""
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    channels: np.ndarray


class Plasticity(NamedTuple):
    """STDP of one projection: the synapses by postsynaptic neuron (``post_ptr``,
    ``post_syn``, ``post_pre``), the traces ``x_pre [n_pre]``, ``x_post [N]``, ``par`` =
    [pre decay, post decay, trace increment, A+, A-, modulates A+, modulates A-], the mirror
    flags ``[n_pre]`` (uint8) and the bounds ``w_min``, ``w_max`` ``[n_pre]``."""
    plastic: bool
    post_ptr: np.ndarray
    post_syn: np.ndarray
    post_pre: np.ndarray
    x_pre: np.ndarray
    x_post: np.ndarray
    par: np.ndarray
    mirror: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray


class Modulator(NamedTuple):
    """``mode`` (MOD_VALUES / MOD_ACTIVITY), per-step ``values [T]``, ``par`` = [tau (steps),
    w_rec, w_in, bias, lo, hi], the integrator's value ``state [1]`` and the ``trace [T]`` of
    the value used at every step."""
    mode: int
    values: np.ndarray
    par: np.ndarray
    state: np.ndarray
    trace: np.ndarray


class Recording(NamedTuple):
    """Spike buffers ``spk_t``, ``spk_i`` (capacity = their length), the recorded neurons
    ``rec_idx [K]`` and their membranes ``v_trace [T, K]``."""
    spk_t: np.ndarray
    spk_i: np.ndarray
    rec_idx: np.ndarray
    v_trace: np.ndarray


@njit(cache=True, error_model="numpy")
def _stdp_project(spk_pre, n_spk_pre, spk_post, n_spk_post, proj, pl, a_plus, a_minus):
    """Sparse STDP of one projection for one step (traces already decayed, spikes not yet
    added). A post spike adds ``coef1 * x_pre`` to its incoming synapses, a pre spike adds
    ``coef2 * x_post`` to its outgoing ones; then the touched weights are clipped.
    Normal presynapses: coef1 = +a_plus, coef2 = -a_minus; mirrored ones (inhibitory sources
    in NALSM): coef1 = -a_minus, coef2 = +a_plus."""
    indptr, indices, weights = proj.indptr, proj.indices, proj.weights
    post_ptr, post_syn, post_pre = pl.post_ptr, pl.post_syn, pl.post_pre
    x_pre, x_post, mirror, w_min, w_max = pl.x_pre, pl.x_post, pl.mirror, pl.w_min, pl.w_max
    for q in range(n_spk_post):
        i = spk_post[q]
        for s in range(post_ptr[i], post_ptr[i + 1]):
            k = post_syn[s]
            j = post_pre[s]
            if mirror[j]:
                weights[k] -= a_minus * x_pre[j]
            else:
                weights[k] += a_plus * x_pre[j]
    for q in range(n_spk_pre):
        j = spk_pre[q]
        if mirror[j]:
            c = a_plus
        else:
            c = -a_minus
        for k in range(indptr[j], indptr[j + 1]):
            weights[k] += c * x_post[indices[k]]
    # clip what was touched (idempotent, so synapses touched twice are fine)
    for q in range(n_spk_post):
        i = spk_post[q]
        for s in range(post_ptr[i], post_ptr[i + 1]):
            k = post_syn[s]
            j = post_pre[s]
            if weights[k] < w_min[j]:
                weights[k] = w_min[j]
            elif weights[k] > w_max[j]:
                weights[k] = w_max[j]
    for q in range(n_spk_pre):
        j = spk_pre[q]
        lo = w_min[j]
        hi = w_max[j]
        for k in range(indptr[j], indptr[j + 1]):
            if weights[k] < lo:
                weights[k] = lo
            elif weights[k] > hi:
                weights[k] = hi


@njit(cache=True, error_model="numpy")
def _plastic_step(spk_pre, n_pre_spk, spk_post, n_post_spk, proj, pl, m):
    """Decay the traces, apply the rule with the modulator value ``m``, raise the traces."""
    par, x_pre, x_post = pl.par, pl.x_pre, pl.x_post
    dpre, dpost, inc, a_plus, a_minus = par[0], par[1], par[2], par[3], par[4]
    ap = a_plus * m if par[5] != 0.0 else a_plus
    am = a_minus * m if par[6] != 0.0 else a_minus
    for j in range(x_pre.shape[0]):
        x_pre[j] *= dpre
    for i in range(x_post.shape[0]):
        x_post[i] *= dpost
    _stdp_project(spk_pre, n_pre_spk, spk_post, n_post_spk, proj, pl, ap, am)
    for q in range(n_pre_spk):
        x_pre[spk_pre[q]] += inc
    for q in range(n_post_spk):
        x_post[spk_post[q]] += inc


@njit(cache=True, error_model="numpy")
def simulate(n_steps, t_abs0, dt, integrator, nrn, state, chan, drive, rec, inp, rec_pl, inp_pl,
             mod, out, n_rec):
    """Advance ``n_steps`` steps in place. Returns ``(steps_done, n_rec)``: it stops early when
    the spike buffers ``out.spk_t / out.spk_i`` could overflow at the next step (the caller
    grows them and calls again from there). ``integrator``: 0 forward Euler, 1 exponential
    Euler. See :mod:`axonal.reservoir.engine` for the step's definition."""
    # unpack the bundles once: the loops below read plain arrays
    v, last_spike = state.v, state.last_spike
    tau_m, v_rest, v_reset, v_thresh = nrn.tau_m, nrn.v_rest, nrn.v_reset, nrn.v_thresh
    ref_steps, i_bias = nrn.ref_steps, nrn.i_bias
    g, ring, ch_decay, ch_cond, ch_erev = chan.g, chan.ring, chan.decay, chan.cond, chan.erev
    i_ext, has_iext, in_spikes, has_in = drive.i_ext, drive.has_iext, drive.in_spikes, drive.has_in
    r_indptr, r_indices, r_weights, r_delays, r_channels = (rec.indptr, rec.indices, rec.weights,
                                                            rec.delays, rec.channels)
    u_indptr, u_indices, u_weights, u_delays, u_channels = (inp.indptr, inp.indices, inp.weights,
                                                            inp.delays, inp.channels)
    r_plastic, u_plastic = rec_pl.plastic, inp_pl.plastic
    mod_mode, mod_values, mod_par, mod_state, mod_trace = (mod.mode, mod.values, mod.par,
                                                           mod.state, mod.trace)
    spk_t, spk_i, rec_idx, v_trace = out.spk_t, out.spk_i, out.rec_idx, out.v_trace

    N = v.shape[0]
    C = g.shape[0]
    D = ring.shape[0]
    n_in = in_spikes.shape[1]
    cap = spk_t.shape[0]
    spk = np.empty(N, dtype=np.int64)
    spk_u = np.empty(max(n_in, 1), dtype=np.int64)
    K = rec_idx.shape[0]
    dt_tau = dt / tau_m
    for s in range(n_steps):
        if cap - n_rec < N:
            return s, n_rec
        t = t_abs0 + s
        # 1. membrane update of the non-refractory neurons with this step's conductances
        for i in range(N):
            if t - last_spike[i] < ref_steps[i]:
                continue
            drv = v_rest[i] + i_bias[i]
            gsum = 1.0
            for c in range(C):
                gc = g[c, i]
                if ch_cond[c]:
                    drv += gc * ch_erev[c]
                    gsum += gc
                else:
                    drv += gc
            if has_iext:
                drv += i_ext[s, i]
            vi = v[i]
            if integrator == 0:  # forward Euler
                vi += dt_tau[i] * (drv - gsum * vi)
            else:  # exponential Euler: exact for conductances constant over the step
                vinf = drv / gsum
                vi = vinf + (vi - vinf) * np.exp(-dt * gsum / tau_m[i])
            v[i] = vi
        # 2. synaptic decay
        for c in range(C):
            dc = ch_decay[c]
            for i in range(N):
                g[c, i] *= dc
        # 3. threshold, reset
        ns = 0
        for i in range(N):
            if v[i] >= v_thresh[i] and t - last_spike[i] >= ref_steps[i]:
                spk[ns] = i
                ns += 1
                v[i] = v_reset[i]
                last_spike[i] = t
        nu = 0
        if has_in:
            for j in range(n_in):
                if in_spikes[s, j]:
                    spk_u[nu] = j
                    nu += 1
        # 4. record
        for q in range(ns):
            spk_t[n_rec] = t
            spk_i[n_rec] = spk[q]
            n_rec += 1
        for q in range(K):
            v_trace[s, q] = v[rec_idx[q]]
        # 5. event-driven propagation into the ring buffer
        base = t % D  # slot of delay d: base + d, wrapped without a division per synapse
        for q in range(ns):
            j = spk[q]
            for k in range(r_indptr[j], r_indptr[j + 1]):
                slot = base + r_delays[k]
                if slot >= D:
                    slot -= D
                ring[slot, r_channels[k], r_indices[k]] += r_weights[k]
        for q in range(nu):
            j = spk_u[q]
            for k in range(u_indptr[j], u_indptr[j + 1]):
                slot = base + u_delays[k]
                if slot >= D:
                    slot -= D
                ring[slot, u_channels[k], u_indices[k]] += u_weights[k]
        # 6. plasticity, scaled by this step's modulator value
        if r_plastic or u_plastic:
            if mod_mode == MOD_VALUES:
                m = mod_values[s]
            else:
                m = mod_state[0]
            mod_trace[s] = m
            if r_plastic:
                _plastic_step(spk, ns, spk, ns, rec, rec_pl, m)
            if u_plastic:
                _plastic_step(spk_u, nu, spk, ns, inp, inp_pl, m)
            if mod_mode == MOD_ACTIVITY:
                drive_m = mod_par[1] * ns + mod_par[2] * nu + mod_par[3]
                mv = mod_state[0] + (drive_m - mod_state[0]) / mod_par[0]
                if mv < mod_par[4]:
                    mv = mod_par[4]
                elif mv > mod_par[5]:
                    mv = mod_par[5]
                mod_state[0] = mv
        # 7. deliver what arrives now; it acts from the next step on
        slot = t % D
        for c in range(C):
            for i in range(N):
                g[c, i] += ring[slot, c, i]
                ring[slot, c, i] = 0.0
    return n_steps, n_rec
