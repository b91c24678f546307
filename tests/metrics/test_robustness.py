"""Attacks of ``axonal.metrics.robustness`` on tiny models whose gradients are known."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from axonal.metrics.robustness import (PotentialDependentSurrogate, fgsm, margin_loss, pgd, sda,
                                       success_rate, with_surrogate)
from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.surrogate import ATan, Triangle


class TimeMeanLinear(nn.Module):
    """scores = mean_t(x) @ W^T: its input gradient is known in closed form."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64))

    def forward(self, x):
        return x.mean(0) @ self.w.T


def test_fgsm_on_a_linear_model_is_the_analytic_sign_gradient_step():
    torch.manual_seed(0)
    t, b, c, k = 3, 4, 5, 3
    model = TimeMeanLinear(torch.randn(k, c, dtype=torch.float64))
    x = torch.randn(t, b, c, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1])
    eps = 0.1
    p = (x.mean(0) @ model.w.detach().T).softmax(1)
    # d CE(mean over batch) / d x[t, b, c] = (p_b - onehot_b) @ W / (T * B)
    grad = ((p - F.one_hot(y, k)) @ model.w.detach() / (t * b)).expand(t, b, c)
    assert torch.equal(fgsm(model, x, y, eps), x + eps * grad.sign())
    assert torch.equal(fgsm(model, x, y, eps, clamp=(-0.5, 0.5)), (x + eps * grad.sign()).clamp(-0.5, 0.5))


@settings(max_examples=25, deadline=None)
@given(eps=st.floats(0.0, 1.0), steps=st.integers(1, 5), seed=st.integers(0, 1000))
def test_pgd_stays_in_the_epsilon_ball_and_the_clamp(eps, steps, seed):
    g = torch.Generator().manual_seed(seed)
    model = TimeMeanLinear(torch.randn(3, 4, generator=g, dtype=torch.float64))
    x = torch.rand(2, 5, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (5,), generator=g)
    adv = pgd(model, x, y, eps, steps=steps, clamp=(0.0, 1.0), generator=g)
    assert (adv - x).abs().max() <= eps + 1e-12
    assert adv.min() >= 0 and adv.max() <= 1


def test_pgd_raises_the_loss_of_a_linear_model_and_fgsm_success_rate_counts_correct_samples():
    torch.manual_seed(1)
    model = TimeMeanLinear(torch.randn(3, 4, dtype=torch.float64))
    x = torch.randn(2, 16, 4, dtype=torch.float64)
    y = model(x).argmax(1)                                  # every sample correct
    adv = pgd(model, x, y, 0.5, steps=10, random_start=False)
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
    rate = success_rate(model, adv, y, model(x).argmax(1))
    assert rate == pytest.approx(float((model(adv).argmax(1) != y).float().mean()))
    with pytest.raises(ValueError, match="eps"):
        fgsm(model, x, y, -1.0)


def _snn(surrogate="atan"):
    torch.manual_seed(0)
    net = Sequential(nn.Linear(4, 6), LIF(6, surrogate=surrogate, backend="reference"), nn.Linear(6, 3))
    return lambda x: net(x)[0].mean(0), net


def _input_grad(fn, x, y):
    x = x.clone().requires_grad_(True)
    F.cross_entropy(fn(x), y).backward()
    return x.grad


def test_with_surrogate_swaps_the_backward_only_and_restores_it():
    fn, net = _snn("atan")
    torch.manual_seed(3)
    x = torch.rand(6, 5, 4) * 2
    y = torch.tensor([0, 1, 2, 0, 1])
    out0, g0 = fn(x).detach(), _input_grad(fn, x, y)
    with with_surrogate(net, Triangle(width=0.3)):
        assert net.layers[1]._fixed.surrogate == Triangle(width=0.3)
        assert torch.equal(fn(x).detach(), out0)            # forward unchanged
        g1 = _input_grad(fn, x, y)
    assert not torch.allclose(g0, g1)
    assert isinstance(net.layers[1]._fixed.surrogate, ATan)
    assert torch.equal(_input_grad(fn, x, y), g0)
    with pytest.raises(RuntimeError, match="boom"):
        with with_surrogate(net, "triangle"):
            raise RuntimeError("boom")
    assert isinstance(net.layers[1]._fixed.surrogate, ATan)
    with pytest.raises(ValueError, match="no neuron"):
        with with_surrogate(nn.Linear(2, 2), "atan"):
            pass


def test_pdsg_backward_is_a_gaussian_of_the_recorded_potential_spread():
    torch.manual_seed(0)
    sg = PotentialDependentSurrogate()
    steps = [torch.randn(8, 3, dtype=torch.float64) * torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
             for _ in range(2)]
    for t, v in enumerate(steps):
        v = v.clone().requires_grad_(True)
        s = sg(v)
        assert torch.equal(s, (v >= 0).to(v.dtype))
        s.sum().backward()
        sigma = torch.cat(steps[: t + 1]).std(0, keepdim=True)   # over past steps and batch, per neuron
        z = (v.detach() - sigma / 2) / sigma
        expected = torch.exp(-z * z / 2) / (sigma * math.sqrt(2 * math.pi))
        torch.testing.assert_close(v.grad, expected)
    sg.reset()
    x = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)   # no spread: sigma = 1
    sg(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, math.exp(-0.125) / math.sqrt(2 * math.pi)))


def test_pdsg_in_a_network_gives_the_same_gradient_on_every_call():
    fn, net = _snn("atan")
    x = torch.rand(6, 5, 4) * 2
    y = torch.tensor([0, 1, 2, 0, 1])
    with with_surrogate(net, "pdsg"):
        g1, g2 = _input_grad(fn, x, y), _input_grad(fn, x, y)
    assert torch.equal(g1, g2) and g1.abs().sum() > 0
    assert isinstance(net.layers[1]._fixed.surrogate, ATan)


def _vote_model():
    # class 0 counts bits 0, 1; class 1 counts bits 2, 3 (ties go to class 0): from [1, 1, 0, 0]
    # the margin is 2 and every flip moves it by one, so fooling it takes exactly 3 flips
    return TimeMeanLinear(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64))


def test_sda_finds_the_minimal_number_of_flips_and_only_flips_bits():
    model = _vote_model()
    x = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]], dtype=torch.float64)   # T=1, B=1, C=4
    y = torch.tensor([0])
    res = sda(model, x, y, k_init=1)
    assert res.success.tolist() == [True] and res.l0.tolist() == [3]
    changed = res.x_adv != x
    assert int(changed.sum()) == 3
    assert torch.equal(res.x_adv[changed], 1 - x[changed])             # only flips
    assert bool(((res.x_adv == 0) | (res.x_adv == 1)).all())
    assert model(res.x_adv).argmax(1).item() != 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(0, 6))
def test_sda_changes_at_most_max_l0_bits_and_only_flips_binary_values(seed, k):
    g = torch.Generator().manual_seed(seed)
    model = TimeMeanLinear(torch.randn(3, 6, generator=g, dtype=torch.float64))
    x = (torch.rand(4, 3, 6, generator=g) < 0.4).to(torch.float64)
    y = model(x).argmax(1)
    res = sda(model, x, y, k_init=2, max_iter=20, max_l0=k)
    changed = res.x_adv != x
    assert bool(((res.x_adv == 0) | (res.x_adv == 1)).all())
    assert torch.equal(res.x_adv[changed], 1 - x[changed])
    per_sample = changed.sum((0, 2))
    assert (per_sample <= k).all()
    assert torch.equal(per_sample, res.l0)
    fooled = model(res.x_adv).argmax(1) != y
    assert torch.equal(fooled, res.success)


def test_sda_rejects_non_binary_input_and_margin_loss_is_zero_once_fooled():
    with pytest.raises(ValueError, match="binary"):
        sda(_vote_model(), torch.full((1, 1, 4), 0.5, dtype=torch.float64), torch.tensor([0]))
    scores = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert margin_loss(scores, torch.tensor([0, 0])).tolist() == [1.0, 0.0]


def test_pdsg_inside_a_recurrent_layer_restarts_its_statistics_every_call():
    from axonal.neurons import Recurrent

    torch.manual_seed(0)
    net = Sequential(nn.Linear(4, 6), Recurrent(LIF(6)), nn.Linear(6, 3))
    fn = lambda x: net(x)[0].mean(0)  # noqa: E731
    x = torch.rand(6, 5, 4) * 2
    y = torch.tensor([0, 1, 2, 0, 1])
    with with_surrogate(net, "pdsg"):
        sg = net.layers[1].neuron._fixed.surrogate
        assert isinstance(sg, PotentialDependentSurrogate)
        g1 = _input_grad(fn, x, y)
        assert sg._stats["n"] == 6 * 5          # one call: 6 steps x 5 samples per neuron
        g2 = _input_grad(fn, x, y)
    assert torch.equal(g1, g2) and g1.abs().sum() > 0
    assert isinstance(net.layers[1].neuron._fixed.surrogate, ATan)
