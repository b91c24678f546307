"""Perforated Backpropagation (axonal.models.perforated)."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from axonal.models.perforated import DendriteWrapper, PerforatedTrainer, add_dendrite_wrappers, wrappers
from axonal.network import Sequential
from axonal.neurons import LIF


def test_forward_known_values_with_cascade():
    w = DendriteWrapper(nn.Linear(2, 1))
    with torch.no_grad():
        w.module.weight.copy_(torch.tensor([[1.0, 2.0]]))
        w.module.bias.zero_()
    w.add_candidate()
    w.accept_candidate()
    w.add_candidate()
    w.accept_candidate()
    with torch.no_grad():
        w.dendrites[0].weight.copy_(torch.tensor([[1.0, 0.0]])); w.dendrites[0].bias.zero_()
        w.dendrites[1].weight.copy_(torch.tensor([[0.0, 1.0]])); w.dendrites[1].bias.zero_()
        w.u[1].copy_(torch.tensor([[2.0]]))
        w.v[0].copy_(torch.tensor([3.0])); w.v[1].copy_(torch.tensor([-1.0]))
    x = torch.tensor([[0.5, -1.0]])
    d0 = torch.sigmoid(torch.tensor(0.5))
    d1 = torch.sigmoid(torch.tensor(-1.0) + 2.0 * d0)
    want = (0.5 - 2.0) + 3.0 * d0 - 1.0 * d1
    assert float(w(x).detach()) == pytest.approx(float(want), rel=1e-6)


def test_accepting_a_candidate_keeps_the_function_and_freezes_it():
    torch.manual_seed(0)
    w = DendriteWrapper(nn.Linear(4, 3))
    x = torch.randn(5, 4)
    before = w(x).detach()
    params = w.add_candidate(torch.Generator().manual_seed(0))
    assert all(p.numel() == 0 or p.abs().max() < 0.1 for p in params)   # N(0,1) * 0.01 initialisation
    torch.testing.assert_close(w(x).detach(), before)           # a candidate never changes the output
    w.accept_candidate()
    torch.testing.assert_close(w(x).detach(), before)           # v starts at zero
    assert not any(p.requires_grad for p in w.dendrites[0].parameters()) and w.v[0].requires_grad


def test_correlation_objective_known_value_and_it_rises_in_p_mode():
    torch.manual_seed(0)
    w = DendriteWrapper(nn.Linear(3, 2))
    w.add_candidate()
    w._candidate_out = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    w._error = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    # unit 0: centred c (-1, 1), e (-1, 1) -> 2; unit 1: c (-1, 1), e (1, -1) -> -2 -> |.| = 2
    assert float(w.correlation()) == pytest.approx(4.0)
    # on a task the neuron alone cannot fit, training the candidate raises the correlation
    net = nn.Sequential(nn.Linear(2, 1))
    add_dendrite_wrappers(net)
    x = torch.randn(256, 2)
    y = (x[:, :1] * x[:, 1:]).sign()          # XOR-like residual
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(100):
        loss = F.mse_loss(net(x), y); opt.zero_grad(); loss.backward(); opt.step()
    trainer = PerforatedTrainer(net, lambda m, b: F.mse_loss(m(b[0]), b[1]), lambda: [(x, y)], lambda m: 0.0)
    params = wrappers(net)[0].add_candidate(torch.Generator().manual_seed(0))
    p_opt = torch.optim.Adam(params, lr=0.05)
    first = trainer._p_epoch(p_opt)
    for _ in range(60):
        last = trainer._p_epoch(p_opt)
    assert last > 2 * first


def test_trainer_cycles_never_lower_validation_and_work_on_spiking_layers():
    torch.manual_seed(0)
    x = torch.randn(400, 2) * 1.5
    y = ((x[:, 0] * x[:, 1]) > 0).long()             # XOR quadrants: hard for 2 hidden units
    xv, yv = x[300:], y[300:]
    net = Sequential(nn.Linear(2, 2), LIF(2, threshold=0.5), nn.Linear(2, 2))
    add_dendrite_wrappers(net)
    assert len(wrappers(net)) == 2

    def scores(m, xb):
        return m(xb.unsqueeze(0).expand(4, *xb.shape))[0].mean(0)

    def loss_fn(m, b):
        return F.cross_entropy(scores(m, b[0]), b[1])

    def score(m):
        with torch.no_grad():
            return float((scores(m, xv).argmax(1) == yv).float().mean())

    batches = lambda: [(x[i:i + 50], y[i:i + 50]) for i in range(0, 300, 50)]
    tr = PerforatedTrainer(net, loss_fn, batches, score, lr=1e-2, p_lr=1e-2, n_epochs_to_switch=3,
                           p_epochs_max=4, max_dendrite_tries=2)
    hist = tr.fit(60)
    bests = [h["best"] for h in hist if h["mode"] == "n"]
    assert all(b2 >= b1 for b1, b2 in zip(bests, bests[1:]))      # a cycle never lowers the best score
    assert any(h["mode"] == "p" for h in hist)
    assert score(net) == pytest.approx(max(bests))
    with pytest.raises(ValueError, match="no DendriteWrapper"):
        PerforatedTrainer(nn.Linear(2, 2), loss_fn, batches, score)
    with pytest.raises(TypeError, match="wraps"):
        DendriteWrapper(nn.ReLU())
