"""IIR-SNN timestep annealing (axonal.train.annealing)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.neurons.readout import LeakyIntegrator
from axonal.train.annealing import anneal_timesteps, fit_static, static_accuracy


def test_schedule_carries_weights_and_thresholds_and_validates():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    model = Sequential(nn.Linear(4, 16), LIF(16, learn=("threshold", "tau_mem")), nn.Linear(16, 2),
                       LeakyIntegrator(2))
    seen = []

    def fit(m, steps, opt):
        seen.append((steps, float(m[1].threshold_param.detach()), opt))
        return fit_static(m, x, y, steps, epochs=10, lr=1e-2, optimizer=opt)

    recs = anneal_timesteps(model, fit, [4, 2, 1], evaluate=lambda m, t: {"acc": static_accuracy(m, x, y, t)},
                            reset_optimizer=False)
    assert [r["steps"] for r in recs] == [4, 2, 1]
    # each stage starts where the previous one ended (the threshold kept training)
    assert seen[0][1] != seen[1][1] != seen[2][1]
    assert seen[0][2] is None and seen[1][2] is not None   # optimiser carried when asked
    assert recs[-1]["acc"] > 0.8
    with pytest.raises(ValueError, match="strictly decrease"):
        anneal_timesteps(model, fit, [2, 4])
