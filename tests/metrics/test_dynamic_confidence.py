"""Dynamic-confidence early exit (``axonal.metrics.dynamic_confidence``)."""
from __future__ import annotations

import math

import pytest
import torch

from axonal.metrics.dynamic_confidence import (calibrate_threshold, confidence, early_exit, energy_profile,
                                               latency_curve, oracle_exit, running_scores)
from axonal.metrics.energy_model import energy_breakdown
from axonal.models import SpikingClassifier


def _running():
    # 3 samples, T = 4, K = 2; sample 0 confident from step 2, sample 1 never, sample 2 at step 4
    big, none = torch.tensor([4.0, 0.0]), torch.tensor([0.0, 0.0])
    r = torch.stack([
        torch.stack([none, none, none]),
        torch.stack([big, none, none]),
        torch.stack([big, torch.tensor([0.1, 0.0]), none]),
        torch.stack([big, torch.tensor([0.0, 0.2]), big.flip(0)]),
    ])
    return r, torch.tensor([0, 1, 1])


def test_early_exit_stops_at_the_first_confident_step():
    r, y = _running()
    res = early_exit(r, threshold=0.9)
    assert res.steps.tolist() == [2, 4, 4]
    assert res.predictions.tolist() == [0, 1, 1]
    assert res.mean_steps == pytest.approx(10 / 3)
    assert res.latency_reduction == pytest.approx(1 - 10 / 12)
    assert early_exit(r, threshold=0.9, min_steps=3).steps.tolist() == [3, 4, 4]
    assert early_exit(r, threshold=1.01).steps.tolist() == [4, 4, 4]   # never confident: full length


def test_oracle_stops_where_the_prediction_becomes_and_stays_right():
    r, y = _running()
    res = oracle_exit(r, y)
    # sample 0 is right from step 1 (argmax of a tie is class 0) and stays right
    assert res.steps.tolist() == [1, 4, 4] and res.accuracy(y) == 1.0


def test_confidence_policies():
    s = torch.tensor([[math.log(3.0), 0.0]])                   # p = (0.75, 0.25)
    assert confidence(s, "max_prob").item() == pytest.approx(0.75)
    assert confidence(s, "margin").item() == pytest.approx(0.5)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert confidence(s, "entropy").item() == pytest.approx(1 - h / math.log(2))
    with pytest.raises(ValueError, match="policy"):
        confidence(s, "vote")


def test_latency_curve_and_calibration():
    r, y = _running()
    rows = latency_curve(r, y, thresholds=[0.9], energy_per_sample=12.0)
    assert rows[0]["threshold"] is None and rows[0]["mean_steps"] == 4 and rows[0]["energy_j"] == 12.0
    assert rows[1]["mean_steps"] == pytest.approx(10 / 3) and rows[1]["energy_j"] == pytest.approx(10.0)
    c = calibrate_threshold(r, y, max_drop=0.0, thresholds=[0.5, 0.9, 1.0])
    assert early_exit(r, c).accuracy(y) >= rows[0]["accuracy"]


def test_running_scores_end_at_the_models_own_scores():
    torch.manual_seed(0)
    for readout in ("membrane_mean", "spike_count", "membrane_max", "last_membrane"):
        model = SpikingClassifier(3, 4, hidden=(8,), recurrent=False, readout=readout).eval()
        x = torch.randn(7, 2, 3)
        r = running_scores(model, x)
        assert r.shape == (7, 2, 4)
        torch.testing.assert_close(r[-1], model(x).detach())


def test_energy_profile_is_measured_on_prefixes_and_interpolated_at_exit_steps():
    torch.manual_seed(0)
    model = SpikingClassifier(3, 2, hidden=(8,), recurrent=False).eval()
    x = torch.randn(4, 3, 3)
    prof = energy_profile(model, x, [1, 2, 4])
    assert [t for t, _ in prof] == [1, 2, 4]
    assert prof[1][1] == energy_breakdown(model, x[:2]).total_j
    r, y = _running()                                           # exits at steps 2, 4, 4 (T = 4)
    rows = latency_curve(r, y, thresholds=[0.9], energy_profile=prof)
    assert rows[0]["energy_j"] == prof[2][1]
    assert rows[1]["energy_j"] == pytest.approx((prof[1][1] + 2 * prof[2][1]) / 3)
    with pytest.raises(ValueError, match="outside"):
        energy_profile(model, x, [5])
