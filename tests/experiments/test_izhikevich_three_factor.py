"""Smoke test of experiments/izhikevich_three_factor.py (slow: runs the reservoir for real)."""
import pytest

from experiments import izhikevich_three_factor


@pytest.mark.slow
def test_error_modulated_readout_learns_outcome_probability():
    r = izhikevich_three_factor.run(0, batches=10, switch_batches=1, n_test=96)
    assert r["before"]["nmse"] == pytest.approx(1.0)           # w = 0 predicts nothing
    assert r["after"]["nmse"] < 0.95
    assert r["after"]["amplitude_probability_corr"] > 0.8      # amplitude grows with p_k
    assert 2.0 < r["reservoir_rate_hz"] < 40.0                 # spontaneous, not silent, not bursting
