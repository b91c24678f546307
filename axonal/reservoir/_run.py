"""Input checks and the driver loop around the numba kernel (``SparseNetwork.run``).

Imports ``components`` and (lazily) ``kernel``, never ``engine``: the network object comes in
as an argument, so there is no import cycle.
"""
from __future__ import annotations

import numpy as np
import torch

from ..kernels import numba_available
from .components import ActivityModulator, NetworkState, SimulationResult
from .components import as_numpy as _np
from .components import empty_projection, stdp_arrays

_EMPTY_F = np.zeros(0)
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_U8 = np.zeros(0, dtype=np.uint8)


def _check_inputs(net, n_steps, input_current, input_spikes):
    n, n_in = net.n, net.n_inputs
    lengths = []
    cur = None
    if input_current is not None:
        cur = _np(input_current)
        if cur.ndim != 2 or cur.shape[1] != n:
            raise ValueError(f"input_current must be [T, N={n}], got shape {tuple(cur.shape)}")
        if not np.all(np.isfinite(cur)):
            raise ValueError("input_current contains NaN or infinity")
        lengths.append(cur.shape[0])
    spk = None
    if input_spikes is not None:
        if net.input is None:
            raise ValueError("input_spikes given but the network has no input connectivity; pass "
                             "SparseNetwork(input=Connectivity(n_in, N, ...))")
        raw = input_spikes.detach().cpu().numpy() if isinstance(input_spikes, torch.Tensor) \
            else np.asarray(input_spikes)
        if raw.ndim != 2 or raw.shape[1] != n_in:
            raise ValueError(f"input_spikes must be [T, n_in={n_in}] (the input connectivity's "
                             f"n_pre), got shape {tuple(raw.shape)}")
        if raw.dtype != bool:
            if not np.all(np.isfinite(raw)):
                raise ValueError("input_spikes contains NaN or infinity")
            if not np.all((raw == 0) | (raw == 1)):
                raise ValueError("input_spikes must be binary (bool or 0/1 values)")
        spk = np.ascontiguousarray(raw.astype(np.uint8))
        lengths.append(spk.shape[0])
    if len(set(lengths)) > 1:
        raise ValueError(f"input_current and input_spikes have different lengths T: {lengths}")
    if n_steps is None:
        if not lengths:
            raise ValueError("give n_steps or an input with a time axis")
        n_steps = lengths[0]
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 0):
        raise ValueError(f"n_steps must be an int >= 0, got {n_steps!r}")
    if lengths and lengths[0] != n_steps:
        raise ValueError(f"n_steps={n_steps} but the inputs have T={lengths[0]} steps")
    return int(n_steps), cur, spk


def _check_state(net, state: NetworkState):
    n, C, n_in = net.n, len(net.channels), net.n_inputs
    if state.v.shape != (n,) or state.g.shape != (C, n) \
            or state.ring.shape != (net.max_delay + 1, C, n) or state.in_traces[0].shape != (n_in,):
        raise ValueError("the state does not belong to this network (shapes differ); start from "
                         "net.initial_state()")


def _copy_state(s: NetworkState) -> NetworkState:
    return NetworkState(s.t, s.v.copy(), s.last_spike.copy(), s.g.copy(), s.ring.copy(),
                        tuple(x.copy() for x in s.rec_traces), tuple(x.copy() for x in s.in_traces),
                        s.modulator, tuple(x.copy() for x in s.prev_spikes))


def _plasticity(k, rule, conn, dt, active, traces):
    """The kernel's Plasticity bundle of one projection (``k``: the kernel module)."""
    if rule is None or not active or conn is None:
        return k.Plasticity(False, _EMPTY_I, _EMPTY_I, _EMPTY_I, traces[0], traces[1], np.zeros(7),
                            _EMPTY_U8, _EMPTY_F, _EMPTY_F)
    ptr, syn, pre = conn.by_post()
    par, mirror, lo, hi = stdp_arrays(rule, conn.n_pre, dt)
    return k.Plasticity(True, ptr, syn, pre, traces[0], traces[1], par, mirror, lo, hi)


def _projection(k, conn):
    return k.Projection(conn.indptr, conn.indices, conn.weights, conn.delays, conn.channels)


def run_network(net, n_steps, input_current, input_spikes, state, plastic, record_v, modulator):
    if not numba_available():
        raise RuntimeError("SparseNetwork.run needs numba: pip install numba")
    # lazy: numba compiles or loads the kernel on first use, never on `import axonal.reservoir`
    from . import kernel as k

    n_steps, cur, spk = _check_inputs(net, n_steps, input_current, input_spikes)
    state = net.initial_state() if state is None else state
    _check_state(net, state)
    s = _copy_state(state)
    n, n_in = net.n, net.n_inputs
    lif = net._cache["lif"]
    nrn = k.Neurons(lif["tau_m"], lif["v_rest"], lif["v_reset"], lif["v_thresh"], lif["ref_steps"],
                    lif["i_bias"])
    ch_decay = np.array([c.decay(net.dt) for c in net.channels])
    ch_cond = np.array([c.kind == "conductance" for c in net.channels], dtype=np.uint8)
    ch_erev = np.array([c.e_rev if c.e_rev is not None else 0.0 for c in net.channels])
    rec = _projection(k, net.recurrent if net.recurrent is not None else empty_projection(n, n))
    inp = _projection(k, net.input if net.input is not None else empty_projection(0, n))
    rx, ux = s.rec_traces, s.in_traces
    rp = _plasticity(k, net.plasticity, net.recurrent, net.dt, plastic, rx)
    up = _plasticity(k, net.input_plasticity, net.input, net.dt, plastic, ux)
    any_plastic = rp.plastic or up.plastic

    # modulator
    mod_mode, mod_par, mod_values, callback = 0, np.zeros(6), None, None
    if isinstance(modulator, ActivityModulator):
        mod_mode, mod_par = 1, modulator.kernel_params(net.dt)
        mod_values = np.zeros(max(n_steps, 1))
    elif modulator is None or isinstance(modulator, (int, float, np.floating)):
        m = 1.0 if modulator is None else float(modulator)
        if not np.isfinite(m):
            raise ValueError("modulator must be finite")
        mod_values = np.full(max(n_steps, 1), m)
    elif callable(modulator):
        callback = modulator
        mod_values = np.zeros(max(n_steps, 1))
    else:
        mod_values = _np(modulator).ravel()
        if mod_values.shape != (n_steps,):
            raise ValueError(f"a per-step modulator must have n_steps = {n_steps} values, got "
                             f"shape {mod_values.shape}")
        if not np.all(np.isfinite(mod_values)):
            raise ValueError("modulator values contain NaN or infinity")
        mod_values = np.ascontiguousarray(mod_values)
    mod_state = np.array([s.modulator])
    mod_trace = np.zeros(max(n_steps, 1))

    rec_idx = _EMPTY_I if record_v is None else np.asarray(record_v, dtype=np.int64).ravel()
    if rec_idx.size and (rec_idx.min() < 0 or rec_idx.max() >= n):
        raise ValueError(f"record_v indices must lie in [0, N={n})")
    v_trace = np.zeros((max(n_steps, 1), rec_idx.size))
    cap = max(4 * n, int(n_steps * n * 0.02) + n)
    spk_t = np.empty(cap, dtype=np.int64)
    spk_i = np.empty(cap, dtype=np.int64)
    n_rec = 0
    iext = cur if cur is not None else np.zeros((1, 1))
    u_sp = spk if spk is not None else np.zeros((1, max(n_in, 0)), dtype=np.uint8)
    if u_sp.shape[1] != n_in:
        u_sp = np.zeros((1, n_in), dtype=np.uint8)
    chan = k.Channels(s.g, s.ring, ch_decay, ch_cond, ch_erev)
    nstate = k.NeuronState(s.v, s.last_spike)
    mode = k.MOD_ACTIVITY if mod_mode == 1 else k.MOD_VALUES

    done = 0
    while done < n_steps:
        if callback is not None:
            rprev, uprev = s.prev_spikes
            mod_values[done] = float(callback(s.t + 0, rprev, uprev))
            if not np.isfinite(mod_values[done]):
                raise ValueError(f"the modulator callable returned {mod_values[done]} at step {s.t}")
            chunk = 1
        else:
            chunk = n_steps - done
        sl = slice(done, done + chunk)
        cur_c = iext[sl] if cur is not None else iext
        spk_c = u_sp[sl] if spk is not None else u_sp
        n_before = n_rec
        steps, n_rec = k.simulate(
            chunk, s.t, float(net.dt), 0 if net.integrator == "euler" else 1, nrn, nstate, chan,
            k.Drive(cur_c, cur is not None, spk_c, spk is not None), rec, inp, rp, up,
            k.Modulator(mode, mod_values[sl], mod_par, mod_state, mod_trace[sl]),
            k.Recording(spk_t, spk_i, rec_idx, v_trace[sl]), n_rec)
        if steps > 0:
            last_t = s.t + steps - 1
            tail = slice(n_before, n_rec)
            prev_r = np.zeros(n, bool)
            sel = spk_t[tail] == last_t
            prev_r[spk_i[tail][sel]] = True
            prev_u = spk[done + steps - 1].astype(bool) if spk is not None else np.zeros(n_in, bool)
            s = s._replace(prev_spikes=(prev_r, prev_u))
        done += steps
        s = s._replace(t=s.t + steps)
        if steps < chunk:  # spike buffer full: grow it and go on
            spk_t = np.concatenate([spk_t, np.empty_like(spk_t)])
            spk_i = np.concatenate([spk_i, np.empty_like(spk_i)])
    s = s._replace(modulator=float(mod_state[0]))
    return SimulationResult(
        torch.from_numpy(spk_t[:n_rec].copy()), torch.from_numpy(spk_i[:n_rec].copy()),
        state.t, n_steps, n, float(net.dt), s,
        torch.from_numpy(v_trace[:n_steps]) if rec_idx.size else None,
        torch.from_numpy(mod_trace[:n_steps].copy()) if any_plastic else None)
