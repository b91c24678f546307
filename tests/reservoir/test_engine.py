"""SparseNetwork: the event-driven numba kernel equals dense references; delays, STDP, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.learning import STDP
from axonal.neurons import ConductanceLIF, ConductanceLIFParams, RefractoryLIF, RefractoryLIFParams
from axonal.reservoir import (ActivityModulator, Connectivity, SparseNetwork, SynapseChannel,
                              random_connectivity)
from axonal.reservoir.reference import reference_run


def _t(a):
    """Per-neuron constants are tensors [N] in the library's Params."""
    return torch.as_tensor(np.asarray(a, dtype=float))

pytest.importorskip("numba")


def _random_net(seed, n, n_in, p, n_ch, max_d, integrator, plastic, mod_kind):
    rng = np.random.default_rng(seed)
    kinds = [SynapseChannel(float(rng.choice([0.0, 1.0, 3.0])), "current") if k % 2 == 0 else
             SynapseChannel(float(rng.choice([2.0, 5.0])), "conductance", float(rng.choice([0.0, -80.0])))
             for k in range(n_ch)]
    w_rec = lambda r, pre, post: r.uniform(0.0, 1.5, pre.size)
    d = (lambda r, pre, post: r.integers(0, max_d + 1, pre.size)) if max_d else 0
    ch = lambda r, pre, post: r.integers(0, n_ch, pre.size)
    rec = random_connectivity(n, n, p, weight=w_rec, seed=seed, delay=d, channel=ch)
    inp = random_connectivity(n_in, n, 0.5, weight=lambda r, pre, post: r.uniform(0.5, 3.0, pre.size),
                              seed=seed + 1, delay=d, channel=ch) if n_in else None
    lif = RefractoryLIFParams(tau_mem=_t(rng.uniform(5.0, 20.0, n)), v_rest=-60.0,
                              v_reset=_t(rng.uniform(-65, -58, n)), threshold=-50.0,
                              t_ref=_t(rng.choice([0.0, 1.0, 2.0], n)), bias=_t(rng.uniform(0, 8, n)),
                              dt=0.5, integrator=integrator)
    stdp = in_stdp = None
    if plastic:
        exc = rng.random(n) < 0.7
        stdp = STDP(a_plus=0.05, a_minus=0.06, tau_plus=3.0, tau_minus=4.0, trace_increment=0.5,
                    w_min=0.0, w_max=np.where(exc, 1.6, 1.2), mirror=~exc, dt=0.5,
                    modulates=str(rng.choice(["depression", "potentiation", "both", "none"])))
        if n_in:
            in_stdp = STDP(a_plus=0.1, a_minus=0.08, tau_plus=2.0, tau_minus=2.0, w_min=0.2, w_max=3.5,
                           dt=0.5)
    T = 40
    mod = None
    if mod_kind == "activity":
        mod = ActivityModulator(tau=5.0, w_rec=0.1, w_in=-0.05, bias=0.5, initial=1.0, lo=0.0, hi=3.0)
    elif mod_kind == "values":
        mod = rng.uniform(0, 2, T)
    net = SparseNetwork(lif, channels=kinds, recurrent=rec, input=inp, plasticity=stdp,
                        input_plasticity=in_stdp, modulator=mod)
    cur = rng.normal(8.0, 6.0, (T, n))
    spk = rng.random((T, n_in)) < 0.2 if n_in else None
    v0 = rng.uniform(-60, -50, n)
    return net, T, cur, spk, v0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 25), n_in=st.integers(0, 6),
       p=st.floats(0.0, 0.6), n_ch=st.integers(1, 3), max_d=st.integers(0, 4),
       integrator=st.sampled_from(["euler", "exp_euler"]), plastic=st.booleans(),
       mod_kind=st.sampled_from(["none", "activity", "values"]))
def test_kernel_equals_dense_reference(seed, n, n_in, p, n_ch, max_d, integrator, plastic, mod_kind):
    """Event-driven propagation, delays, channels, refractoriness and sparse STDP with a
    modulator all equal the dense per-step reference."""
    net, T, cur, spk, v0 = _random_net(seed, n, n_in, p, n_ch, max_d, integrator, plastic, mod_kind)
    w_rec0 = net.recurrent.to_dense()
    w_in0 = net.input.to_dense() if net.input is not None else None
    raster_ref, v_ref, w_ref, m_ref = reference_run(net, T, v0=v0, input_current=cur, input_spikes=spk)
    # the reference does not touch the connectivity; the kernel does (plastic run)
    assert np.array_equal(net.recurrent.to_dense(), w_rec0)
    res = net.run(input_current=cur, input_spikes=spk, state=net.initial_state(v0), record_v=range(n))
    assert torch.equal(res.raster(), raster_ref)
    np.testing.assert_allclose(res.state.v, v_ref.numpy(), rtol=0, atol=1e-9)
    torch.testing.assert_close(res.v[-1], v_ref, rtol=0, atol=1e-9)
    torch.testing.assert_close(torch.from_numpy(net.recurrent.to_dense()), w_ref["recurrent"],
                               rtol=0, atol=1e-10)
    if w_in0 is not None:
        torch.testing.assert_close(torch.from_numpy(net.input.to_dense()), w_ref["input"], rtol=0, atol=1e-10)
    if net.plasticity is not None:
        torch.testing.assert_close(res.modulator, m_ref, rtol=0, atol=1e-12)


def test_streaming_equals_one_run():
    """Running in two halves with the returned state equals one run (ring buffer, traces,
    refractoriness and the modulator carry over)."""
    net, T, cur, spk, v0 = _random_net(3, 20, 4, 0.3, 2, 3, "euler", True, "activity")
    a = net.run(input_current=cur, input_spikes=spk, state=net.initial_state(v0))
    w_a = net.recurrent.weights.copy()
    net2, *_ = _random_net(3, 20, 4, 0.3, 2, 3, "euler", True, "activity")
    h = T // 2
    r1 = net2.run(input_current=cur[:h], input_spikes=spk[:h], state=net2.initial_state(v0))
    r2 = net2.run(input_current=cur[h:], input_spikes=spk[h:], state=r1.state)
    assert r2.t_start == h
    both = torch.cat([r1.raster(), r2.raster()])
    assert torch.equal(both, a.raster())
    np.testing.assert_allclose(net2.recurrent.weights, w_a, rtol=0, atol=1e-12)
    assert r2.state.modulator == pytest.approx(a.state.modulator, abs=1e-12)


def test_callable_modulator_sees_previous_spikes_and_equals_values():
    """A callable gets step t-1's spikes; feeding its values back as an array gives the same run."""
    net, T, cur, spk, v0 = _random_net(11, 15, 3, 0.3, 1, 2, "euler", True, "none")
    rec0, in0 = net.recurrent.weights.copy(), net.input.weights.copy()
    seen = []

    def mod(t, rec_prev, in_prev):
        seen.append((t, rec_prev.copy(), in_prev.copy()))
        return 0.5 + 0.1 * rec_prev.sum() - 0.05 * in_prev.sum()

    a = net.run(input_current=cur, input_spikes=spk, state=net.initial_state(v0), modulator=mod)
    raster = a.raster().numpy()
    assert [t for t, *_ in seen] == list(range(T))
    assert not seen[0][1].any() and not seen[0][2].any()
    for t in range(1, T):
        assert np.array_equal(seen[t][1], raster[t - 1])
        assert np.array_equal(seen[t][2], spk[t - 1])
    w_a = net.recurrent.weights.copy()
    net.recurrent.set_weights(rec0)
    net.input.set_weights(in0)
    b = net.run(input_current=cur, input_spikes=spk, state=net.initial_state(v0),
                modulator=a.modulator.numpy())
    assert torch.equal(a.raster(), b.raster())
    np.testing.assert_allclose(net.recurrent.weights, w_a, rtol=0, atol=1e-12)


def test_delays_equal_brute_force_loop():
    """Arrival times and amounts of every synapse, with per-synapse delays, equal a plain loop.

    Drivers (threshold 0.5) spike exactly when given a unit current; targets never spike
    (threshold 1e9). With dt = tau_m = 1, Euler and a one-step pulse channel, a target's
    membrane after step t equals the sum of the weights arriving at t."""
    rng = np.random.default_rng(0)
    nd, nt, T, n_in = 6, 9, 30, 4
    n = nd + nt
    pre, post, w, d = [], [], [], []
    for j in range(nd):
        for i in rng.choice(nt, 4, replace=False):
            pre.append(j), post.append(nd + i), w.append(rng.uniform(0.1, 1.0)), d.append(rng.integers(0, 6))
    rec = Connectivity.from_coo(pre, post, w, n, n, delays=d)
    ipre, ipost, iw, idl = [], [], [], []
    for j in range(n_in):
        for i in rng.choice(nt, 3, replace=False):
            ipre.append(j), ipost.append(nd + i), iw.append(rng.uniform(0.1, 1.0)), idl.append(rng.integers(0, 6))
    inp = Connectivity.from_coo(ipre, ipost, iw, n_in, n, delays=idl)
    lif = RefractoryLIFParams(tau_mem=1.0, v_rest=0.0, v_reset=0.0,
                              threshold=_t(np.r_[np.full(nd, 0.5), np.full(nt, 1e9)]), t_ref=0.0, dt=1.0)
    net = SparseNetwork(lif, channels=(SynapseChannel(0.0),), recurrent=rec, input=inp)
    drive = np.zeros((T, n))
    drive[:, :nd] = rng.random((T, nd)) < 0.3
    ispk = rng.random((T, n_in)) < 0.3
    res = net.run(input_current=drive, input_spikes=ispk, state=net.initial_state(0.0), record_v=range(n))
    raster = res.raster().numpy()
    assert np.array_equal(raster[:, :nd], drive[:, :nd] > 0)
    expected = np.zeros((T, n))
    for t0 in range(T):
        for k in range(len(pre)):
            if raster[t0, pre[k]] and t0 + d[k] + 1 < T:
                expected[t0 + d[k] + 1, post[k]] += w[k]
        for k in range(len(ipre)):
            if ispk[t0, ipre[k]] and t0 + idl[k] + 1 < T:
                expected[t0 + idl[k] + 1, ipost[k]] += iw[k]
    np.testing.assert_allclose(res.v.numpy()[:, nd:], expected[:, nd:], rtol=0, atol=1e-12)


def test_sparse_stdp_equals_library_stdp_on_existing_synapses():
    """Feed-forward input projection, forced post spikes: the sparse rule's weights equal
    axonal.learning.STDP (dense, additive, all-to-all, online) restricted to the synapses."""
    rng = np.random.default_rng(5)
    n_in, n, T = 12, 10, 60
    inp = random_connectivity(n_in, n, 0.4, weight=lambda r, a, b: r.uniform(0.3, 0.7, a.size), seed=4)
    rule = STDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=15.0, w_min=0.0, w_max=1.0)
    # a pulse channel and a threshold the synaptic drive cannot reach: only the current spikes
    lif = RefractoryLIFParams(tau_mem=1.0, v_rest=0.0, v_reset=0.0, threshold=100.0, t_ref=0.0, dt=1.0)
    net = SparseNetwork(lif, channels=(SynapseChannel(0.0),), input=inp, input_plasticity=rule)
    pre = rng.random((T, n_in)) < 0.2
    post = rng.random((T, n)) < 0.15
    w0 = inp.to_dense().T.copy()                    # [out, in]
    mask = inp.to_dense("mask").T
    res = net.run(input_current=post * 200.0, input_spikes=pre)
    assert np.array_equal(res.raster().numpy(), post)
    ref = STDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=15.0, w_min=0.0, w_max=1.0,
               reduce="sum")
    W = torch.tensor(w0)
    state = None
    for t in range(T):
        dw, state = ref.step(torch.tensor(pre[t:t + 1], dtype=torch.float64),
                             torch.tensor(post[t:t + 1], dtype=torch.float64), state, W)
        ref.apply(W, dw * torch.tensor(mask))
    np.testing.assert_allclose(inp.to_dense().T[mask], W.numpy()[mask], rtol=0, atol=1e-12)
    assert not np.allclose(inp.to_dense().T[mask], w0[mask])  # the rule did something


def test_conductance_known_values():
    """One neuron, one excitatory conductance synapse: exponential decay of g and the exact
    membrane (exp_euler) / Euler values against hand-computed formulas."""
    dt, tau_m, tau_e, w = 0.1, 20.0, 5.0, 0.6
    inp = Connectivity.from_coo([0], [0], [w], 1, 1)
    net = SparseNetwork(RefractoryLIFParams(t_ref=0.0, dt=dt, integrator="exp_euler"),
                        channels=(SynapseChannel(tau_e, "conductance", 0.0),), input=inp)
    T = 50
    spikes = np.zeros((T, 1), bool)
    spikes[0] = True
    res = net.run(input_spikes=spikes, record_v=[0])
    v, g, E_l = -60.0, 0.0, -60.0
    expected = []
    for t in range(T):
        gs = 1 + g
        vinf = (E_l + g * 0.0) / gs
        v = vinf + (v - vinf) * math.exp(-dt * gs / tau_m)
        expected.append(v)
        g *= math.exp(-dt / tau_e)
        if t == 0:
            g += w
    np.testing.assert_allclose(res.v[:, 0].numpy(), expected, rtol=0, atol=1e-12)
    # the conductance after the run: w * exp(-(T-1) dt / tau_e)
    assert res.state.g[0, 0] == pytest.approx(w * math.exp(-(T - 1) * dt / tau_e), rel=1e-12)
    assert res.v[1, 0] > -60.0 and res.v.max() < -50.0  # depolarised towards E = 0 but subthreshold


def test_refractory_period_and_reset():
    """A neuron driven far above threshold fires every ref_steps steps, reset in between."""
    net = SparseNetwork(RefractoryLIFParams(tau_mem=1.0, v_rest=0.0, v_reset=-5.0, threshold=1.0, t_ref=3.0,
                                            dt=1.0), n=1)
    res = net.run(input_current=np.full((12, 1), 10.0), record_v=[0])
    assert res.spike_times.tolist() == [0, 3, 6, 9]
    assert res.v[1, 0] == -5.0 and res.v[2, 0] == -5.0


def test_bad_inputs_raise_clear_errors():
    conn = random_connectivity(5, 5, 0.5, seed=0, delay=3)
    lif = RefractoryLIFParams()
    with pytest.raises(ValueError, match="max_delay"):
        SparseNetwork(lif, recurrent=conn, max_delay=2)
    net = SparseNetwork(lif, recurrent=conn, input=random_connectivity(3, 5, 0.5, seed=1))
    with pytest.raises(ValueError, match=r"\[T, N=5\]"):
        net.run(input_current=np.zeros((10, 4)))
    with pytest.raises(ValueError, match="n_in=3"):
        net.run(input_spikes=np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        net.run(input_current=np.full((3, 5), np.nan))
    with pytest.raises(ValueError, match="binary"):
        net.run(input_spikes=np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="different lengths"):
        net.run(input_current=np.zeros((3, 5)), input_spikes=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_steps"):
        net.run()
    with pytest.raises(ValueError, match="per-step modulator"):
        net.run(4, modulator=np.ones(3))
    with pytest.raises(ValueError, match="5 x 5"):
        SparseNetwork(lif, recurrent=random_connectivity(4, 5, 0.5, seed=0))
    with pytest.raises(ValueError, match="channel"):
        SparseNetwork(lif, recurrent=random_connectivity(5, 5, 0.5, seed=0, channel=2))
    with pytest.raises(ValueError, match="tau_mem"):
        RefractoryLIFParams(tau_mem=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        RefractoryLIFParams(threshold=torch.tensor([0.0, math.nan, 1.0]))
    with pytest.raises(ValueError, match="t_ref"):
        RefractoryLIFParams(t_ref=-1.0)
    with pytest.raises(ValueError, match="e_rev"):
        SynapseChannel(5.0, "conductance")
    with pytest.raises(ValueError, match="modulates"):
        STDP(modulates="sometimes")
    with pytest.raises(ValueError, match="does not belong"):
        SparseNetwork(lif, n=4).run(3, state=net.initial_state())
    with pytest.raises(ValueError, match="no input connectivity"):
        SparseNetwork(lif, n=5).run(input_spikes=np.zeros((3, 3)))
    # the library's objects, checked where the network is built
    with pytest.raises(ValueError, match=r"STDP.dt = 1.0 but the neurons step dt = 0.1"):
        SparseNetwork(lif, recurrent=conn, plasticity=STDP())
    with pytest.raises(ValueError, match="additive all-to-all"):
        SparseNetwork(lif, recurrent=conn, plasticity=STDP(dt=0.1, pairing="nearest"))
    with pytest.raises(ValueError, match="reset='zero'"):
        SparseNetwork(RefractoryLIFParams(reset="subtract"), n=5)
    with pytest.raises(ValueError, match="leave channels=None"):
        SparseNetwork(ConductanceLIFParams(), channels=(SynapseChannel(1.0),), n=5)
    with pytest.raises(ValueError, match="give n"):
        SparseNetwork(lif)
    with pytest.raises(ValueError, match="sizes disagree"):
        SparseNetwork(lif, recurrent=conn, n=4)
    with pytest.raises(TypeError, match="RefractoryLIFParams"):
        SparseNetwork(object(), n=3)


# ----------------------------------------------------------------------------- engine = library neurons
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), integrator=st.sampled_from(["euler", "exp_euler"]))
def test_engine_neurons_are_the_library_refractory_lif(seed, n, integrator):
    """Without synapses the engine's population is RefractoryLIF: per-neuron constants,
    refractoriness and both integrators give the same spikes and membranes as the library
    module (float64) driven by the same current."""
    rng = np.random.default_rng(seed)
    p = RefractoryLIFParams(tau_mem=_t(rng.uniform(2.0, 20.0, n)), v_rest=-60.0,
                            v_reset=_t(rng.uniform(-70, -58, n)), threshold=_t(rng.uniform(-55, -45, n)),
                            t_ref=_t(rng.choice([0.0, 0.5, 1.0, 2.5], n)), bias=_t(rng.uniform(0, 5, n)),
                            dt=0.5, integrator=integrator)
    T = 80
    cur = rng.normal(10.0, 8.0, (T, n))
    v0 = rng.uniform(-62, -50, n)
    res = SparseNetwork(p, n=n).run(input_current=cur, state=SparseNetwork(p, n=n).initial_state(v0),
                                    record_v=range(n))
    module = RefractoryLIF(n, **{f: getattr(p, f) for f in
                                 ("tau_mem", "v_rest", "v_reset", "threshold", "t_ref", "bias", "dt",
                                  "integrator")})
    x = torch.as_tensor(cur)[:, None]
    state = module.initial_state(x[0])._replace(v=torch.as_tensor(v0)[None])
    s, states = module.trace(x, state)
    assert torch.equal(s[:, 0].bool(), res.raster())
    torch.testing.assert_close(states.v[:, 0], res.v, rtol=0, atol=1e-9)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), integrator=st.sampled_from(["euler", "exp_euler"]))
def test_coba_engine_neurons_are_the_library_conductance_lif(seed, integrator):
    """A recurrent COBA network: feeding the library's ConductanceLIF the conductance that the
    engine's spikes send through the synapses (dense weights, per channel) reproduces the
    engine's spikes and membranes: the engine's neuron is conductance_lif_step."""
    rng = np.random.default_rng(seed)
    n, ne, T = 60, 48, 400
    exc = np.arange(n) < ne
    conn = random_connectivity(n, n, 0.2, weight=np.where(exc, 0.6, 6.7), channel=np.where(exc, 0, 1),
                               seed=seed)
    p = ConductanceLIFParams(bias=20.0, dt=0.1, integrator=integrator)
    net = SparseNetwork(p, recurrent=conn)
    v0 = rng.normal(-55.0, 5.0, n)
    ge0, gi0 = rng.uniform(0, 1, n), rng.uniform(0, 5, n)
    state = net.initial_state(v0)
    state.g[0], state.g[1] = ge0, gi0
    res = net.run(T, state=state, record_v=range(n))
    raster = res.raster().double()
    assert raster.sum() > 20
    W = torch.as_tensor(conn.to_dense())                     # [pre, post]
    x = torch.stack([raster @ (W * torch.as_tensor(exc)[:, None]),
                     raster @ (W * torch.as_tensor(~exc)[:, None])], dim=1)[:, None]  # [T, 1, 2, N]
    module = ConductanceLIF(n, bias=20.0, dt=0.1, integrator=integrator)
    st0 = module.initial_state(x[0])._replace(v=torch.as_tensor(v0)[None], g_exc=torch.as_tensor(ge0)[None],
                                              g_inh=torch.as_tensor(gi0)[None])
    s, states = module.trace(x, st0)
    assert torch.equal(s[:, 0].bool(), res.raster())
    torch.testing.assert_close(states.v[:, 0], res.v, rtol=0, atol=1e-9)


def test_connectivity_synapse_with_library_neurons_equals_the_engine():
    """The reservoir's projection as a SparseSynapse, followed by RefractoryLIF, is the engine
    with a one-step pulse channel: an input spike at step t moves the membrane at t + 1."""
    rng = np.random.default_rng(4)
    n_in, n, T = 8, 10, 60
    inp = random_connectivity(n_in, n, 0.5, weight=lambda r, a, b: r.uniform(0.5, 4.0, a.size), seed=2)
    p = RefractoryLIFParams(tau_mem=5.0, v_rest=0.0, v_reset=0.0, threshold=3.0, t_ref=1.0, dt=1.0)
    net = SparseNetwork(p, channels=(SynapseChannel(0.0),), input=inp)
    spikes = rng.random((T, n_in)) < 0.3
    res = net.run(input_spikes=spikes, record_v=range(n))
    syn = inp.synapse(dtype=torch.float64)
    y = syn(torch.as_tensor(spikes, dtype=torch.float64)[:, None])     # [T, 1, n]
    x = torch.cat([torch.zeros_like(y[:1]), y[:-1]])                  # arrives one step later
    s, states = RefractoryLIF(n, tau_mem=5.0, v_rest=0.0, v_reset=0.0, threshold=3.0, t_ref=1.0,
                              dt=1.0).trace(x)
    assert res.raster().any()
    assert torch.equal(s[:, 0].bool(), res.raster())
    torch.testing.assert_close(states.v[:, 0], res.v, rtol=0, atol=1e-12)


def test_kernel_cache_is_keyed_on_the_reservoir_sources():
    """numba's disk cache of the moved kernel is keyed on a digest of the reservoir's sources
    (axonal.kernels._numba_cache), not on the kernel file's timestamp alone: an edit of any
    of them recompiles, a checkout that restores them reuses the cache."""
    from pathlib import Path

    from axonal.kernels._numba_cache import sources_digest
    from axonal.reservoir import kernel

    want = ("sources-digest", sources_digest(Path(kernel.__file__).resolve().parent))
    for fn in (kernel.simulate, kernel._plastic_step, kernel._stdp_project):
        assert fn._cache._impl.locator.get_source_stamp() == want
