"""Branching-ratio estimators: a branching process of known m is recovered; NALSM's ratio by hand."""
import numpy as np
import pytest
import torch

from axonal.metrics.criticality import (
    branching_process,
    branching_ratio_regression,
    mr_branching_ratio,
    network_branching_factor,
    population_activity,
)


@pytest.mark.parametrize("m", [0.5, 0.8, 0.95])
def test_regression_recovers_m_of_a_fully_observed_process(m):
    a = branching_process(m, drive=20.0, steps=400, trials=40, seed=1)
    assert branching_ratio_regression(a) == pytest.approx(m, abs=0.02)


def test_mr_estimator_is_unbiased_under_subsampling_while_the_conventional_one_is_not():
    m = 0.9
    a = branching_process(m, drive=10.0, steps=500, trials=40, seed=2, subsample=0.05)
    conventional = branching_ratio_regression(a)
    mr = mr_branching_ratio(a, max_lag=30)
    assert conventional < m - 0.3          # strongly biased towards 0
    assert mr.m == pytest.approx(m, abs=0.03)
    assert 0 < mr.b < 0.6                  # the subsampling factor absorbs the bias
    # the fitted curve goes through the measured slopes
    assert np.allclose(mr.b * mr.m ** mr.lags, mr.slopes, atol=0.05)


def test_mr_estimator_of_a_fully_observed_process_has_b_near_one():
    est = mr_branching_ratio(branching_process(0.8, 20.0, 400, trials=30, seed=3), max_lag=10)
    assert est.m == pytest.approx(0.8, abs=0.03)
    assert est.b == pytest.approx(1.0, abs=0.1)


def test_population_activity_bins_and_sums():
    s = np.zeros((7, 2, 3))
    s[0, 0, :] = 1
    s[1, 0, 0] = 1
    s[3, 1, 2] = 1
    s[6, 1, 1] = 1          # dropped: does not fill a bin of 2
    a = population_activity(s, bin_size=2)
    assert a.shape == (3, 2)
    assert a[:, 0].tolist() == [4, 0, 0] and a[:, 1].tolist() == [0, 1, 0]
    assert population_activity(torch.ones(4, 5)).tolist() == [[5], [5], [5], [5]]


def test_network_branching_factor_by_hand():
    # 3 -> 0 -> {1, 2}: neuron 0 spikes at t=6 after its ancestor 3 (t=4); both descendants
    # spike at t=8 -> ratio 2 / 1 for neuron 0. Neuron 3 (t=4) has no ancestors (counted as
    # 1) and one descendant (0 at t=6) -> 1. Neurons 1 and 2 have no descendants -> 0.
    N, T = 4, 14
    adj = np.zeros((N, N), dtype=bool)
    adj[3, 0] = adj[0, 1] = adj[0, 2] = True
    s = np.zeros((T, N))
    s[4, 3] = s[6, 0] = s[8, 1] = s[8, 2] = 1
    assert network_branching_factor(s, adj, window=4, neurons=[0]) == pytest.approx(2.0)
    assert network_branching_factor(s, adj, window=4, neurons=[3]) == pytest.approx(1.0)
    assert network_branching_factor(s, adj, window=4) == pytest.approx((2 + 1 + 0 + 0) / 4)
    # window 1: neuron 0's descendants fire 2 steps later, outside the window
    assert network_branching_factor(s, adj, window=1, neurons=[0]) == 0.0
    # spikes without a full window on both sides are ignored
    assert np.isnan(network_branching_factor(s[:6], adj, window=4))


def test_network_branching_factor_pools_trials_and_accepts_sparse():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    s = (rng.random((50, 3, 20)) < 0.1).astype(float)
    adj = rng.random((20, 20)) < 0.2
    pooled = network_branching_factor(s, adj)
    assert pooled == pytest.approx(network_branching_factor(torch.tensor(s), sp.csr_matrix(adj)))
    assert pooled > 0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="activity"):
        branching_ratio_regression(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="constant"):
        branching_ratio_regression(np.ones(50))
    with pytest.raises(ValueError, match="max_lag"):
        mr_branching_ratio(np.arange(10.0), max_lag=20)
    with pytest.raises(ValueError, match="connectivity"):
        network_branching_factor(np.zeros((10, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="bin_size"):
        population_activity(np.zeros((10, 4)), bin_size=0)
