"""LSM readout and features; NALSM liquid: construction, input layer, plasticity modes, astrocyte."""
import numpy as np
import pytest
import torch

from axonal.encoding.rate import rate_encode
from axonal.reservoir.lsm import LiquidStateMachine, liquid_features
from axonal.reservoir.nalsm import NALSMConfig, SpatialLiquid, input_layer_spikes


def test_liquid_features_counts_and_traces_by_hand():
    s = torch.zeros(4, 1, 2)
    s[0, 0, 0] = s[1, 0, 0] = s[3, 0, 1] = 1
    assert liquid_features(s).tolist() == [[2.0, 1.0]]
    assert liquid_features(s, bins=2).tolist() == [[2.0, 0.0, 0.0, 1.0]]
    d = np.exp(-1 / 2.0)
    tr = liquid_features(s, "trace", bins=2, tau=2.0)
    assert tr[0].tolist() == pytest.approx([d + 1, 0.0, (d + 1) * d ** 2, 1.0])
    with pytest.raises(ValueError, match="bins"):
        liquid_features(s, bins=5)
    with pytest.raises(ValueError, match="kind"):
        liquid_features(s, kind="rates")


class RandomLiquid:
    """A fixed random threshold network: spikes where a random projection of the input is high."""

    def __init__(self, n_in, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(n_in, n, generator=g)

    def __call__(self, x):
        return ((x @ self.w) > 0.5).float(), None


def test_lsm_logistic_readout_learns_a_separable_task():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    # class 0 drives channels 0-4, class 1 channels 5-9
    rates = torch.zeros(200, 10)
    rates[y == 0, :5] = 0.5
    rates[y == 1, 5:] = 0.5
    x = rate_encode(rates, 30, generator=g)
    lsm = LiquidStateMachine(RandomLiquid(10, 50), batch_size=64).fit(x[:, :100], y[:100])
    assert lsm.score(x[:, 100:], y[100:]) == 1.0
    assert lsm.transform(x[:, :3]).shape == (3, 50)


def test_lsm_ridge_readout_regresses_the_input_rate():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(300, 1, generator=g) * 0.8
    x = rate_encode(p.expand(300, 4), 50, generator=g)
    lsm = LiquidStateMachine(lambda v: v, readout="ridge").fit(x[:, :200], p[:200])
    assert lsm.score(x[:, 200:], p[200:]) < 0.2       # NRMSE: binomial noise only


def test_lsm_checks():
    with pytest.raises(TypeError):
        LiquidStateMachine(3)
    with pytest.raises(ValueError, match="readout"):
        LiquidStateMachine(lambda v: v, readout="svm")
    with pytest.raises(RuntimeError, match="fit"):
        LiquidStateMachine(lambda v: v).predict(torch.zeros(3, 2, 1))


# ----------------------------------------------------------------------------- NALSM
SMALL = NALSMConfig(grid=(5, 5, 4), input_density=0.5)


def test_input_layer_is_lif_with_refractory_period():
    x = torch.zeros(8, 1, 2)
    x[0, 0, 0] = x[1, 0, 0] = x[2, 0, 0] = 1     # events at 0,1,2: refractory at 1 and 2
    x[5, 0, 1] = 1
    s = input_layer_spikes(x)
    # neuron 0 spikes at 0; at 1, 2 it is refractory but integrates, so it fires at 3
    assert torch.nonzero(s[:, 0, 0]).flatten().tolist() == [0, 3]
    assert torch.nonzero(s[:, 0, 1]).flatten().tolist() == [5]


def test_spatial_liquid_structure_follows_the_config():
    liq = SpatialLiquid(16, SMALL, mode="none", seed=0)
    n = SMALL.n_neurons
    assert liq.exc.sum() == round(0.8 * n)
    adj = liq.adjacency()
    assert adj.shape == (n, n) and not adj.diagonal().any()
    w = liq.weights()
    pre = liq.recurrent.pre_indices
    assert np.all(w[liq.exc[pre]] == 1.0) and np.all(w[~liq.exc[pre]] == -1.0)
    assert set(np.unique(liq.weights("input"))) <= {-1.0, 1.0}
    assert liq.input.nnz / (16 * n) == pytest.approx(0.5, abs=0.08)
    # seeded: the same seed rebuilds the same liquid
    assert liq.recurrent.equal(SpatialLiquid(16, SMALL, mode="none", seed=0).recurrent)


def _drive(T=40, B=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return input_layer_spikes(rate_encode(torch.full((B, 16), 0.3), T, generator=g))


def test_frozen_liquid_is_deterministic_and_never_changes_weights():
    liq = SpatialLiquid(16, SMALL, mode="stdp", seed=1)
    x = _drive()
    w0 = liq.weights().copy()
    a, b = liq(x), liq(x)
    assert torch.equal(a, b) and a.any()
    assert np.array_equal(liq.weights(), w0)


def test_plasticity_modes_respect_bounds_and_the_astrocyte_follows_its_equation():
    x = _drive(T=20, B=10)
    lsm = SpatialLiquid(16, SMALL, mode="none", seed=2)
    w0 = lsm.weights().copy()
    assert lsm.plasticity_phase(x).size == 0 and np.array_equal(lsm.weights(), w0)
    for mode in ("stdp", "astrocyte"):
        liq = SpatialLiquid(16, SMALL, mode=mode, seed=2)
        trace = liq.plasticity_phase(x)
        w = liq.weights()
        assert not np.array_equal(w, w0)
        pre = liq.recurrent.pre_indices
        assert np.all((w[liq.exc[pre]] >= 0) & (w[liq.exc[pre]] <= 3))
        assert np.all((w[~liq.exc[pre]] >= -3) & (w[~liq.exc[pre]] <= 0))
        assert np.all(np.abs(liq.weights("input")) <= 3)
    # astrocyte: A relaxes to b_a + w_a (liquid spikes - input spikes) per step; check one sample
    cfg = SMALL
    liq = SpatialLiquid(16, cfg, mode="astrocyte", seed=3)
    one = x[:, :1]
    res = liq.network.run(input_spikes=one[:, 0], plastic=False)
    rec = np.bincount(res.spike_times.numpy(), minlength=20)   # frozen run = same spikes as the first
    inp = one[:, 0].sum(1).numpy()                               # plastic step (weights change after)
    a = liq.astro_initial
    a1 = a + (cfg.astro_weight * (rec[0] - inp[0]) + liq.astro_initial - a) / cfg.astro_tau
    liq.plasticity_phase(one[:1])                                # one step
    assert liq.modulator_value == pytest.approx(a1, rel=1e-9)


def test_spatial_liquid_checks():
    with pytest.raises(ValueError, match="mode"):
        SpatialLiquid(16, SMALL, mode="apstdp")
    with pytest.raises(ValueError, match="spikes"):
        SpatialLiquid(16, SMALL, mode="none")(torch.zeros(5, 2, 3))
    with pytest.raises(ValueError, match="grid"):
        NALSMConfig(grid=(10, 10))
