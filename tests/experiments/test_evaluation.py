"""Smoke test of experiments/evaluation.py on one quick digits model (slow: trains for real)."""
import pytest

from experiments import evaluation


@pytest.mark.slow
def test_digits_conv_energy_early_exit_and_attacks_run():
    model, data = evaluation.train_digits("conv", 0, epochs=1)
    x, y = data["test"]
    e = evaluation.energy_rows(model, x[:, :32])
    assert 0.5 < e["horowitz_45nm/none"]["memory_share"] < 1
    dc = evaluation.dynamic_confidence(model, data["val"], data["test"], e["horowitz_45nm/none"]["total_j"],
                                       train=data["train"])
    assert 1 <= dc["mean_steps"] <= dc["steps"] == 8
    att = evaluation.attacks(model, x[:, :32], y[:32], [0.1], clamp=(0.0, 1.0), pgd_steps=2)
    assert set(att) >= {"fgsm/pdsg", "pgd/own (atan)"}
    s = evaluation.sda_stats(model, x, y, n=3, max_iter=10)
    assert s["samples"] == 3 and 0 <= s["success_rate"] <= 1
