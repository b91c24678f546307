"""Numba kernel of the sparse recurrent network engine (``axonal.reservoir.engine``).

One compiled loop over time for a population of LIF neurons with exponential current- or
conductance-based synaptic channels, CSR projections by presynaptic neuron (event-driven:
only the rows of this step's spikes are touched), per-synapse delays through a ring buffer,
and sparse trace STDP with a global modulator. The readable definition of the same dynamics,
with dense matrices, is ``axonal.reservoir.reference``; tests check the two agree.

Serial on purpose: a step of a few thousand neurons is microseconds of work, less than the
barrier of a parallel loop, and the machine this runs on is shared.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import _numba_cache  # noqa: F401  (keys the disk cache on all kernel sources)


@njit(cache=True, error_model="numpy")
def _stdp_project(spk_pre, n_spk_pre, spk_post, n_spk_post, indptr, indices, weights,
                  post_ptr, post_syn, post_pre, x_pre, x_post, a_first_pos, a_first_neg,
                  a_second_pos, a_second_neg, mirror, w_min, w_max):
    """Sparse STDP of one projection for one step (traces already decayed, spikes not yet
    added). A post spike adds ``coef1 * x_pre`` to its incoming synapses, a pre spike adds
    ``coef2 * x_post`` to its outgoing ones; then the touched weights are clipped.
    Normal presynapses: coef1 = +a_first_pos, coef2 = -a_second_neg; mirrored ones (inhibitory
    sources in NALSM): coef1 = -a_first_neg, coef2 = +a_second_pos."""
    for q in range(n_spk_post):
        i = spk_post[q]
        for s in range(post_ptr[i], post_ptr[i + 1]):
            k = post_syn[s]
            j = post_pre[s]
            if mirror[j]:
                weights[k] -= a_first_neg * x_pre[j]
            else:
                weights[k] += a_first_pos * x_pre[j]
    for q in range(n_spk_pre):
        j = spk_pre[q]
        if mirror[j]:
            c = a_second_pos
        else:
            c = -a_second_neg
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
def simulate(n_steps, t_abs0, dt, integrator,
             # neurons [N]
             v, last_spike, tau_m, v_rest, v_reset, v_thresh, ref_steps, i_bias,
             # synaptic channels
             g, ring, ch_decay, ch_cond, ch_erev,
             # inputs
             i_ext, has_iext, in_spikes, has_in,
             # recurrent CSR
             r_indptr, r_indices, r_weights, r_delays, r_channels,
             # input CSR
             u_indptr, u_indices, u_weights, u_delays, u_channels,
             # recurrent plasticity
             r_plastic, r_post_ptr, r_post_syn, r_post_pre, r_xpre, r_xpost, r_par, r_mirror,
             r_wmin, r_wmax,
             # input plasticity
             u_plastic, u_post_ptr, u_post_syn, u_post_pre, u_xpre, u_xpost, u_par, u_mirror,
             u_wmin, u_wmax,
             # modulator: mode 0 = per-step values, 1 = leaky activity integrator
             mod_mode, mod_values, mod_par, mod_state, mod_trace,
             # recording
             spk_t, spk_i, n_rec, rec_idx, v_trace):
    """Advance ``n_steps`` steps in place. Returns ``(steps_done, n_rec)``: it stops early when
    the spike buffers ``spk_t / spk_i`` could overflow at the next step (the caller grows them
    and calls again from there). See ``axonal.reservoir.engine`` for the step's definition.

    ``r_par`` / ``u_par``: [pre_decay, post_decay, increment, a_plus, a_minus, mod_ltp, mod_ltd].
    ``mod_par``: [tau, w_rec, w_in, bias, lo, hi].
    """
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
            drive = v_rest[i] + i_bias[i]
            gsum = 1.0
            for c in range(C):
                gc = g[c, i]
                if ch_cond[c]:
                    drive += gc * ch_erev[c]
                    gsum += gc
                else:
                    drive += gc
            if has_iext:
                drive += i_ext[s, i]
            vi = v[i]
            if integrator == 0:  # forward Euler
                vi += dt_tau[i] * (drive - gsum * vi)
            else:  # exponential Euler: exact for conductances constant over the step
                vinf = drive / gsum
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
            if mod_mode == 0:
                m = mod_values[s]
            else:
                m = mod_state[0]
            mod_trace[s] = m
            if r_plastic:
                _plastic_step(spk, ns, spk, ns, r_indptr, r_indices, r_weights, r_post_ptr,
                              r_post_syn, r_post_pre, r_xpre, r_xpost, r_par, r_mirror, r_wmin,
                              r_wmax, m)
            if u_plastic:
                _plastic_step(spk_u, nu, spk, ns, u_indptr, u_indices, u_weights, u_post_ptr,
                              u_post_syn, u_post_pre, u_xpre, u_xpost, u_par, u_mirror, u_wmin,
                              u_wmax, m)
            if mod_mode == 1:
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


@njit(cache=True, error_model="numpy")
def _plastic_step(spk_pre, n_pre_spk, spk_post, n_post_spk, indptr, indices, weights, post_ptr,
                  post_syn, post_pre, x_pre, x_post, par, mirror, w_min, w_max, m):
    dpre, dpost, inc, a_plus, a_minus = par[0], par[1], par[2], par[3], par[4]
    ap = a_plus * m if par[5] != 0.0 else a_plus
    am = a_minus * m if par[6] != 0.0 else a_minus
    for j in range(x_pre.shape[0]):
        x_pre[j] *= dpre
    for i in range(x_post.shape[0]):
        x_post[i] *= dpost
    _stdp_project(spk_pre, n_pre_spk, spk_post, n_post_spk, indptr, indices, weights, post_ptr,
                  post_syn, post_pre, x_pre, x_post, ap, am, ap, am, mirror, w_min, w_max)
    for q in range(n_pre_spk):
        x_pre[spk_pre[q]] += inc
    for q in range(n_post_spk):
        x_post[spk_post[q]] += inc
