"""HLOP: Hebbian subspace extraction and orthogonal gradient projection (axonal.learning.hlop)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.learning.hlop import HLOP, HebbianSubspace


def _low_rank_data(n=12, rank=3, samples=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, rank, generator=g))
    scales = torch.tensor([3.0, 2.0, 1.5])[:rank]
    return (torch.randn(samples, rank, generator=g) * scales) @ basis.T, basis


def test_oja_subspace_converges_to_the_principal_subspace():
    x, basis = _low_rank_data()
    sub = HebbianSubspace(12)
    sub.extend(3, generator=torch.Generator().manual_seed(1))
    for _ in range(30):
        for i in range(0, len(x), 100):
            sub.hebbian_step(x[i:i + 100], lr=0.02)
    want = basis @ basis.T
    torch.testing.assert_close(sub.projector(), want, atol=2e-3, rtol=0)
    torch.testing.assert_close(sub.H @ sub.H.T, torch.eye(3), atol=2e-3, rtol=0)   # orthonormal rows


def test_extend_freezes_old_rows_and_keeps_new_ones_orthogonal():
    sub = HebbianSubspace(6)
    sub.extend(2, generator=torch.Generator().manual_seed(0))
    old = sub.H.clone()
    sub.extend(3, generator=torch.Generator().manual_seed(1))
    assert sub.frozen == 2 and sub.dim == 5
    torch.testing.assert_close(sub.H @ sub.H.T, torch.eye(5), atol=1e-5, rtol=0)
    sub.hebbian_step(torch.randn(50, 6))
    torch.testing.assert_close(sub.H[:2], old)


def test_projected_steps_leave_old_task_outputs_unchanged():
    """After the subspace of task-1 inputs is stored, training on task 2 does not change the
    layer's response to task-1 inputs (they lie in that subspace)."""
    torch.manual_seed(0)
    x1, _ = _low_rank_data(seed=1)
    layer = nn.Sequential(nn.Linear(12, 5, bias=False))
    hlop = HLOP(layer)
    with torch.no_grad(), hlop.record():
        layer(x1)
    hlop.learn_subspace(3, epochs=30, lr=0.02)
    before = layer(x1).detach()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x2 = torch.randn(200, 12)
    y2 = x2 @ torch.randn(12, 5)
    start = float(((layer(x2) - y2) ** 2).mean().detach())
    for _ in range(100):
        loss = ((layer(x2) - y2) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        hlop.project_gradients()
        opt.step()
    assert float(loss.detach()) < 0.5 * start            # task 2 is learned (in the free directions)
    torch.testing.assert_close(layer(x1).detach(), before, atol=0.02 * float(before.abs().max()), rtol=0)


def test_hlop_errors():
    with pytest.raises(ValueError, match="nn.Linear"):
        HLOP(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), layers=["1"])
    h = HLOP(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(RuntimeError, match="no inputs recorded"):
        h.learn_subspace(1)
