"""Dense reference of :class:`~.engine.SparseNetwork`: the same step, written with full matrices.

This is the readable definition the numba kernel is tested against (``tests/test_reservoir_
engine.py``): every step multiplies the whole spike vector by dense ``[pre, post]`` weight
matrices (one per delay and channel), so it costs ``O(N^2)`` per step and is meant for small
networks. It runs in PyTorch float64 on any device. Connectivities must not hold duplicate
``(pre, post)`` pairs (a dense matrix has one entry per pair).

It stays as the engine's test reference because it is independent of the kernel: dense
matrices instead of CSR rows and a ring buffer, and the plasticity is the library's dense
``axonal.learning.STDP.step`` / ``apply`` on the weight matrix (masked to the synapses), not a
re-implementation. The membrane is written out for any mix of current and conductance
channels; ``tests/reservoir/test_engine.py`` also checks the engine against the library's
neuron modules (``RefractoryLIF``, ``ConductanceLIF``) where their inputs can be formed.
"""
from __future__ import annotations


import numpy as np
import torch

from .components import ActivityModulator, neuron_arrays
from .connectivity import Connectivity
from .engine import SparseNetwork

__all__ = ["reference_run"]


def _dense(conn: Connectivity, device):
    if conn is None:
        return None
    pre = conn.pre_indices
    if len(set(zip(pre.tolist(), conn.indices.tolist()))) != conn.nnz:
        raise ValueError("reference_run needs a connectivity without duplicate (pre, post) pairs")
    f = lambda a: torch.as_tensor(a, device=device)
    return dict(W=f(conn.to_dense("weights")), M=f(conn.to_dense("mask")),
                D=f(conn.to_dense("delays")), C=f(conn.to_dense("channels")))


def _stdp_dense(P, s_pre, s_post, state, rule, m):
    """One step of ``rule`` (axonal.learning.STDP) on projection ``P``: updates ``P['W']``
    ``[pre, post]`` on its synapses, clipping only those a spike touched (as the sparse
    kernel does); returns the rule's new trace state."""
    W = P["W"].T.clone()                    # the rule's layout [out = post, in = pre]
    mask = P["M"].T
    dw, state = rule.step(s_pre[None], s_post[None], state, W, modulator=m)
    touched = mask & ((s_post[:, None] > 0) | (s_pre[None, :] > 0))
    rule.apply(W, dw * mask, where=touched)
    P["W"] = W.T
    return state


def reference_run(net: SparseNetwork, n_steps: int, *, v0=None, input_current=None,
                  input_spikes=None, plastic: bool = True, modulator=None, device="cpu"):
    """Simulate ``net`` from its initial state for ``n_steps`` with dense matrices.

    Returns ``(raster [T, N] bool, v_final [N], weights)`` where ``weights`` is a dict with the
    final dense ``"recurrent"`` / ``"input"`` weight matrices ``[pre, post]`` (or None), and
    ``modulator_trace [T]``. Same arguments as :meth:`SparseNetwork.run` (``modulator``: None,
    a float, per-step values, or an :class:`ActivityModulator`).
    """
    dev = torch.device(device)
    f64 = dict(dtype=torch.float64, device=dev)
    n, dt = net.n, net.dt
    lif = neuron_arrays(net.neurons, n)
    tau, vr, vreset, vth, ib = (torch.as_tensor(lif[k], **f64) for k in
                                ("tau_m", "v_rest", "v_reset", "v_thresh", "i_bias"))
    ref = torch.as_tensor(lif["ref_steps"], device=dev)
    C = len(net.channels)
    decay = torch.tensor([c.decay(dt) for c in net.channels], **f64)
    cond = torch.tensor([c.kind == "conductance" for c in net.channels], device=dev)
    erev = torch.tensor([c.e_rev or 0.0 for c in net.channels], **f64)
    v = torch.as_tensor(lif["v_rest"], **f64).clone() if v0 is None else \
        torch.as_tensor(np.broadcast_to(np.asarray(v0, float), (n,)).copy(), **f64)
    g = torch.zeros(C, n, **f64)
    last = torch.full((n,), -(1 << 40), dtype=torch.int64, device=dev)
    R, U = _dense(net.recurrent, dev), _dense(net.input, dev)
    pending = {}
    modulator = net.modulator if modulator is None else modulator
    m_state = modulator.initial if isinstance(modulator, ActivityModulator) else None
    tr_r = tr_u = None  # the STDP trace states (None: fresh)
    cur = None if input_current is None else torch.as_tensor(np.asarray(input_current), **f64)
    inp = None if input_spikes is None else torch.as_tensor(np.asarray(input_spikes, float), **f64)
    raster = torch.zeros(n_steps, n, dtype=torch.bool, device=dev)
    mtrace = torch.zeros(n_steps, **f64)
    for t in range(n_steps):
        # 1. membrane
        gc = torch.where(cond[:, None], g, torch.zeros_like(g))
        drive = vr + ib + torch.where(cond[:, None], g * erev[:, None], g).sum(0)
        if cur is not None:
            drive = drive + cur[t]
        gsum = 1.0 + gc.sum(0)
        if net.integrator == "euler":
            vn = v + dt / tau * (drive - gsum * v)
        else:
            vinf = drive / gsum
            vn = vinf + (v - vinf) * torch.exp(-dt * gsum / tau)
        active = (t - last) >= ref
        v = torch.where(active, vn, v)
        # 2. decay; 3. spikes and reset
        g = g * decay[:, None]
        s = (v >= vth) & active
        v = torch.where(s, vreset, v)
        last = torch.where(s, torch.full_like(last, t), last)
        raster[t] = s
        sf = s.double()
        u = inp[t] if inp is not None else None
        # 5. emission: every synapse of delay d and channel c adds its weight at step t + d
        for P, x in ((R, sf), (U, u)):
            if P is None or x is None:
                continue
            for d in torch.unique(P["D"][P["M"]]).tolist():
                for c in range(C):
                    sel = P["M"] & (P["D"] == d) & (P["C"] == c)
                    contrib = x @ torch.where(sel, P["W"], torch.zeros_like(P["W"]))
                    pending.setdefault(t + d, torch.zeros(C, n, **f64))[c] += contrib
        # 6. plasticity
        if plastic and (net.plasticity is not None or net.input_plasticity is not None):
            if isinstance(modulator, ActivityModulator):
                m = m_state
            elif modulator is None:
                m = 1.0
            elif isinstance(modulator, (int, float)):
                m = float(modulator)
            else:
                m = float(np.asarray(modulator)[t])
            mtrace[t] = m
            if net.plasticity is not None:
                tr_r = _stdp_dense(R, sf, sf, tr_r, net.plasticity, m)
            if net.input_plasticity is not None:
                uu = u if u is not None else torch.zeros(net.n_inputs, **f64)
                tr_u = _stdp_dense(U, uu, sf, tr_u, net.input_plasticity, m)
            if isinstance(modulator, ActivityModulator):
                nu = float(u.sum()) if u is not None else 0.0
                drive_m = modulator.w_rec * float(sf.sum()) + modulator.w_in * nu + modulator.bias
                m_state = m_state + (drive_m - m_state) / (modulator.tau / dt)
                m_state = min(max(m_state, modulator.lo), modulator.hi)
        # 7. arrivals of this step act from the next step on
        if t in pending:
            g = g + pending.pop(t)
    weights = {"recurrent": None if R is None else R["W"], "input": None if U is None else U["W"]}
    return raster, v, weights, mtrace
