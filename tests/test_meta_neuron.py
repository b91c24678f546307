"""Probabilistic meta neuron: sampling statistics, reparameterised gradients, learnable intrinsics."""
import pytest
import torch

from axonal.neurons.meta import MetaNeuronLayer, MetaNeuronParams, MetaNeuronState, meta_neuron_step


def test_expected_drive_matches_mean_field():
    w = torch.tensor([[0.5, -0.25, 1.0]])
    x = torch.ones(20000, 3)
    p = MetaNeuronParams(w, transmission=0.6, inhibition=2.0, threshold=1e9, beta=0.0)
    g = torch.Generator().manual_seed(0)
    _, st = meta_neuron_step(x, MetaNeuronState(torch.zeros(20000, 1)), p, g)
    expected = 0.6 * 0.5 * (0.5 - 2.0 * 0.25 + 1.0)                  # s E[Q] (w+ - b w-)
    assert st.v.mean().item() == pytest.approx(expected, abs=0.01)
    det = MetaNeuronParams(w, transmission=0.6, inhibition=2.0, threshold=1e9, beta=0.0, stochastic=False)
    _, st_det = meta_neuron_step(x[:2], MetaNeuronState(torch.zeros(2, 1)), det)
    assert st_det.v[0].item() == pytest.approx(expected, rel=1e-6)


def test_transmission_zero_silences_and_threshold_fires():
    layer = MetaNeuronLayer(4, 3, transmission=0.0, seed=0)
    out, _ = layer(torch.ones(10, 2, 4))
    assert out.sum() == 0
    layer = MetaNeuronLayer(4, 3, transmission=1.0, threshold=0.1, beta=1.0, seed=0)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    out, _ = layer(torch.ones(10, 2, 4))
    assert out.sum() > 0


def test_seeded_forward_is_reproducible():
    x = (torch.rand(30, 4, 8) < 0.5).float()
    layer = MetaNeuronLayer(8, 5, seed=3, threshold=0.3)
    torch.testing.assert_close(layer(x)[1].v, layer(x)[1].v)


def test_gradients_reach_every_intrinsic_parameter_and_the_weights():
    torch.manual_seed(0)
    layer = MetaNeuronLayer(8, 5, learn=MetaNeuronLayer.INTRINSIC, threshold=0.5, seed=1)
    x = (torch.rand(20, 4, 8) < 0.5).float()
    out, st = layer(x)
    (out.sum() + st.v.sum()).backward()
    for name in MetaNeuronLayer.INTRINSIC:
        g = getattr(layer, f"{name}_raw").grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name
    assert layer.weight.grad.abs().sum() > 0
    vals = layer.intrinsic()
    assert 0 < vals["transmission"].min() and vals["transmission"].max() < 1
    assert (vals["threshold"] > 0).all() and (vals["inhibition"] >= 0).all()


def test_straight_through_gradient_of_transmission_equals_mean_field():
    """d E[drive] / d s estimated through the samples equals the mean-field derivative."""
    torch.manual_seed(0)
    w = torch.tensor([[0.7, -0.3]])
    s = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    x = torch.ones(50000, 2, dtype=torch.float64)
    p = MetaNeuronParams(w.double(), transmission=s, inhibition=1.0, threshold=1e9, beta=0.0)
    _, st = meta_neuron_step(x, MetaNeuronState(torch.zeros(50000, 1, dtype=torch.float64)), p)
    (g,) = torch.autograd.grad(st.v.mean(), s)
    assert g.item() == pytest.approx(0.5 * (0.7 - 0.3), rel=0.03)


def test_validation():
    with pytest.raises(ValueError, match="transmission"):
        MetaNeuronParams(torch.zeros(1, 1), transmission=1.5)
    with pytest.raises(ValueError, match="cannot learn"):
        MetaNeuronLayer(2, 2, learn=("tau",))
    with pytest.raises(ValueError, match="expected"):
        MetaNeuronLayer(2, 2)(torch.zeros(5, 3, 4))


def test_learned_intrinsics_train_on_a_toy_task():
    torch.manual_seed(0)
    x0 = (torch.rand(30, 64, 6) < torch.tensor([0.6, 0.6, 0.6, 0.05, 0.05, 0.05])).float()
    x1 = (torch.rand(30, 64, 6) < torch.tensor([0.05, 0.05, 0.05, 0.6, 0.6, 0.6])).float()
    x, y = torch.cat([x0, x1], 1), torch.cat([torch.zeros(64), torch.ones(64)]).long()
    layer = MetaNeuronLayer(6, 2, learn=MetaNeuronLayer.INTRINSIC, threshold=0.5, seed=0)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(25):
        out, _ = layer(x)
        loss = torch.nn.functional.cross_entropy(out.sum(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out, _ = layer(x)
    assert (out.sum(0).argmax(1) == y).float().mean() > 0.9


def test_teacher_current_adds_to_the_drive():
    x = (torch.rand(15, 3, 4, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    layer = MetaNeuronLayer(4, 2, seed=5, threshold=0.5)
    free, st_free = layer(x)
    held, st_held = layer(x, current=torch.zeros(3, 2))
    torch.testing.assert_close(held, free)                      # zero current: the same pass
    torch.testing.assert_close(st_held.v, st_free.v)
    cur = torch.tensor([5.0, -50.0]).expand(15, 3, 2)           # drive neuron 0, silence neuron 1
    out, _ = layer(x, current=cur)
    assert out[:, :, 0].all() and not out[:, :, 1].any()
    with pytest.raises(ValueError, match=r"current must be \[B, out\]"):
        layer(x, current=torch.zeros(4, 2))
