"""COBA benchmark network: rates and irregularity in the documented range; recipe; ISI CV."""
from __future__ import annotations

import numpy as np
import pytest

from axonal.metrics.spike_statistics import firing_rates, isi_cv
from axonal.reservoir.coba import COBAConfig, build_coba, load_coba_config, run_coba

pytest.importorskip("numba")


def test_isi_cv_known_values():
    # neuron 0: regular (CV 0); neuron 1: ISIs 1, 3 (mean 2, std 1: CV 0.5); neuron 2: 2 spikes (NaN)
    t = [0, 10, 20, 30, 0, 1, 4, 5, 9]
    i = [0, 0, 0, 0, 1, 1, 1, 2, 2]
    cv = isi_cv(t, i, 3)
    assert cv[0] == 0.0 and cv[1] == pytest.approx(0.5) and np.isnan(cv[2])
    # a Poisson process has CV 1
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.exponential(10.0, 20000))
    assert isi_cv(times, np.zeros_like(times, dtype=int), 1)[0] == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(firing_rates([0, 0, 2], 3, 0.5), [4.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        isi_cv([0, 1], [0], 1)


def test_recipe_file_equals_default_and_validation():
    assert load_coba_config("coba.yaml") == COBAConfig() == load_coba_config("coba")
    cfg = load_coba_config("brian2_benchmark", {"duration_ms": 50.0})
    assert cfg.i_bias == 20.0 and cfg.v_init_mean == -55.0 and cfg.n_steps == 500
    with pytest.raises(ValueError, match="known keys are: n_exc"):
        load_coba_config("coba", {"n_excitatory": 10})
    with pytest.raises(ValueError, match="p must lie"):
        COBAConfig(p=2.0)
    with pytest.raises(ValueError, match="unknown COBA source"):
        load_coba_config("cuba")


def test_build_is_seeded_and_follows_the_benchmark():
    net, state = build_coba(seed=3)
    net2, state2 = build_coba(seed=3)
    assert net.recurrent.equal(net2.recurrent) and np.array_equal(state.v, state2.v)
    conn = net.recurrent
    assert conn.nnz == pytest.approx(4000 * 4000 * 0.02, rel=0.01)
    pre = conn.pre_indices
    np.testing.assert_array_equal(conn.channels, (pre >= 3200).astype(int))
    np.testing.assert_array_equal(conn.weights, np.where(pre < 3200, 0.6, 6.7))
    assert [c.e_rev for c in net.channels] == [0.0, -80.0] and net.dt == 0.1


@pytest.mark.parametrize("preset", ["coba", "brian2_benchmark"])
def test_short_run_is_asynchronous_irregular(preset):
    """200 ms of the full 4000-neuron network: sustained activity at 10-30 Hz in both
    populations, irregular firing (CV over a short window is biased low; >= 0.5)."""
    r = run_coba(load_coba_config(preset, {"duration_ms": 200.0}), seed=0)
    assert 10.0 <= r.rate_hz <= 30.0
    assert r.rate_exc_hz > 5.0 and r.rate_inh_hz > 5.0
    assert 0.5 <= r.cv_isi <= 1.5
    # activity lasts to the end (it does not die out after the initial transient)
    counts = r.result.population_counts().numpy()
    assert counts[-500:].sum() > 0.1 * counts.sum() / 4


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["coba", "brian2_benchmark"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_second_rate_and_cv(preset, seed):
    """The full benchmark (1 s): mean rate in the documented 10-25 Hz range, CV of the ISIs
    above 1 (irregular), as Brian2 and BrainPy report for this network."""
    r = run_coba(load_coba_config(preset), seed=seed)
    assert 10.0 <= r.rate_hz <= 25.0
    assert 1.0 <= r.cv_isi <= 2.5


def test_same_spikes_as_brian2_on_the_same_network():
    """Brian2 2.9 (cython, Euler) simulated a 500-neuron COBA network with a 20 mV drive for
    200 ms (benchmarks/coba_brian2_fixture.py wrote its synapses, initial values and spikes).
    axonal on the same synapses and initial values, with the conductance decay Brian2's Euler
    step implies (g <- g (1 - dt/tau), i.e. tau' = -dt / ln(1 - dt/tau)), gives the same spikes."""
    import math
    from pathlib import Path

    from axonal.neurons import ConductanceLIFParams
    from axonal.reservoir import Connectivity, SparseNetwork

    d = np.load(Path(__file__).resolve().parents[1] / "fixtures" / "coba_brian2_small.npz")
    ne, n = int(d["n_exc"]), int(d["n_exc"] + d["n_inh"])
    pre, post = d["pre"].astype(int), d["post"].astype(int)
    exc = pre < ne
    conn = Connectivity.from_coo(pre, post, np.where(exc, 0.6, 6.7), n, n, channels=np.where(exc, 0, 1))
    dt = 0.1
    tau = lambda t: -dt / math.log(1 - dt / t)
    net = SparseNetwork(ConductanceLIFParams(bias=20.0, tau_exc=tau(5.0), tau_inh=tau(10.0), dt=dt),
                        recurrent=conn)
    state = net.initial_state(d["v0"])
    state.g[0], state.g[1] = d["ge0"], d["gi0"]
    res = net.run(int(d["steps"]), state=state)
    ours = res.raster().numpy()
    theirs = np.zeros_like(ours)
    theirs[d["spike_steps"], d["spike_neurons"].astype(int)] = True
    assert theirs.sum() > 1000                     # the fixture is an active network
    assert np.array_equal(ours, theirs), f"{(ours != theirs).sum()} spikes differ"
