"""Smoke tests of experiments/training_methods.py and basicmotions_stability.py."""
import argparse

import pytest

from experiments import basicmotions_stability, training_methods


def test_loss_rise_known_values():
    assert basicmotions_stability.loss_rise([3, 2, 1, 0.5, 0.4, 0.3, 0.2]) == 0
    # after epoch 5 the loss jumps from a minimum of 0.3 to 1.3
    assert basicmotions_stability.loss_rise([3, 2, 1, 0.5, 0.4, 0.3, 1.3, 0.2]) == pytest.approx(1.0)
    # rises inside the first five epochs do not count
    assert basicmotions_stability.loss_rise([1, 2, 0.5, 0.4, 0.3, 0.2]) == 0


@pytest.mark.slow
def test_iir_conversion_and_continual_run_one_epoch():
    a = argparse.Namespace(seeds=[0], epochs=1, ewc_lambda=10.0)
    r = training_methods.iir(a)["runs"][0]
    assert [s["steps"] for s in r["annealed"]] == [8, 4, 2, 1]
    c = training_methods.conversion(a)["runs"][0]
    assert 0 <= c["qcfs_converted"][4] <= 1
