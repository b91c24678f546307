"""Continual-learning protocols, EWC and the runner (axonal.train.continual)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.neurons.readout import LeakyIntegrator
from axonal.train.continual import EWC, permuted_tasks, run_continual, split_tasks


def _data(n=400, f=8, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, f, generator=g) * 2
    y = torch.randint(0, k, (n,), generator=g)
    return centres[y] + torch.randn(n, f, generator=g) * 0.5, y


def test_task_builders():
    x, y = _data()
    tasks = split_tasks(x[:300], y[:300], x[300:], y[300:], n_tasks=2)
    assert [t.classes for t in tasks] == [[0, 1], [2, 3]]
    assert set(tasks[1].y_train.tolist()) == {2, 3}
    with pytest.raises(ValueError, match="equal tasks"):
        split_tasks(x, y, x, y, n_tasks=3)
    p = permuted_tasks(x[:300], y[:300], x[300:], y[300:], n_tasks=3)
    torch.testing.assert_close(p[0].x_train, x[:300])
    assert not torch.equal(p[1].x_train, x[:300])
    torch.testing.assert_close(p[1].x_train.sort(1).values, x[:300].sort(1).values)


def test_ewc_penalty_known_value():
    m = nn.Linear(2, 1, bias=False)
    ewc = EWC(m, lam=4.0)
    ewc.fisher["weight"] = torch.tensor([[1.0, 3.0]])
    ewc.anchor["weight"] = torch.zeros(1, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[1.0, 2.0]]))
    assert float(ewc.penalty().detach()) == pytest.approx(0.5 * 4.0 * (1.0 + 3.0 * 4.0))


def test_runner_accuracy_matrix_and_metrics():
    x, y = _data()
    tasks = split_tasks(x[:300], y[:300], x[300:], y[300:], n_tasks=2)
    torch.manual_seed(0)
    model = Sequential(nn.Linear(8, 16, bias=False), LIF(16), nn.Linear(16, 4, bias=False), LeakyIntegrator(4))
    res = run_continual(model, tasks, method="hlop", protocol="task", steps=2, epochs=5, lr=1e-2, hlop_dims=4)
    assert len(res["R"]) == 2 and len(res["R"][0]) == 2
    assert res["acc"] == pytest.approx(sum(res["R"][-1]) / 2)
    assert res["bwt"] == pytest.approx(res["R"][1][0] - res["R"][0][0])
    assert res["R"][0][0] > 0.9
    with pytest.raises(ValueError, match="unknown method"):
        run_continual(model, tasks, method="replay")
