"""Delta Activation Layer (axonal.synapses.delta_activation)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.synapses.delta_activation import DeltaActivation, accumulate_linear, quantise


def test_known_deltas_sparsity_and_reconstruction():
    layer = DeltaActivation(step=0.5)
    a = torch.tensor([[1.0], [1.1], [1.9], [1.8]]).unsqueeze(-1)       # [T=4, B=1, 1]
    q, state = layer(a)
    torch.testing.assert_close(q.flatten(), torch.tensor([1.0, 1.0, 2.0, 2.0]))
    torch.testing.assert_close(layer.last_deltas.flatten(), torch.tensor([1.0, 0.0, 1.0, 0.0]))
    assert layer.sparsity() == 0.5
    torch.testing.assert_close(torch.cumsum(layer.last_deltas, 0), q)     # telescoping: exact
    assert float(state.previous) == 2.0


def test_accumulating_linear_equals_dense_and_streaming_equals_whole():
    torch.manual_seed(0)
    a = torch.randn(12, 3, 5).cumsum(0) * 0.3
    lin = nn.Linear(5, 4)
    layer = DeltaActivation(step=0.1)
    q, _ = layer(a)
    torch.testing.assert_close(accumulate_linear(layer.last_deltas, lin), lin(q), atol=1e-5, rtol=1e-5)
    q1, st = layer(a[:5])
    d1 = layer.last_deltas
    q2, _ = layer(a[5:], st)
    torch.testing.assert_close(torch.cat([q1, q2]), q)
    torch.testing.assert_close(torch.cat([d1, layer.last_deltas]), DeltaActivation(step=0.1)(a)[0].diff(dim=0,
        prepend=torch.zeros(1, 3, 5)))


def test_penalty_gradient_is_straight_through_and_raises_sparsity():
    torch.manual_seed(0)
    a = (torch.randn(20, 4, 6) * 0.2 + torch.linspace(0, 1, 20)[:, None, None]).requires_grad_()
    layer = DeltaActivation(step=0.05, l1=1.0)
    layer(a)
    layer.penalty().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    # descending the penalty smooths the sequence in time: more zero deltas
    x = a.detach().clone().requires_grad_()
    opt = torch.optim.SGD([x], lr=0.5)
    layer(x)
    s0 = layer.sparsity()
    for _ in range(50):
        layer(x)
        opt.zero_grad()
        layer.penalty().backward()
        opt.step()
    layer(x)
    assert layer.sparsity() > s0 + 0.15
    with pytest.raises(ValueError, match="step"):
        DeltaActivation(step=0)
    assert float(quantise(torch.tensor(0.26), 0.1)) == pytest.approx(0.3)
