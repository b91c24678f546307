"""Probabilistic meta neuron: sampling statistics, reparameterised gradients, learnable intrinsics,
the soma's fused kernel against its reference step, and the random stream across chunks."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.neurons import neuron_class
from axonal.neurons.base import NeuronModule
from axonal.neurons.meta import (MetaNeuron, MetaNeuronLayer, MetaNeuronParams, MetaNeuronState,
                                 StochasticSynapseParams, meta_neuron_step, stochastic_drive)
from axonal.surrogate import get_surrogate


def test_expected_drive_matches_mean_field():
    w = torch.tensor([[0.5, -0.25, 1.0]])
    x = torch.ones(20000, 3)
    p = StochasticSynapseParams(transmission=0.6, inhibition=2.0)
    g = torch.Generator().manual_seed(0)
    drive = stochastic_drive(x, w, p, g)
    expected = 0.6 * 0.5 * (0.5 - 2.0 * 0.25 + 1.0)                  # s E[Q] (w+ - b w-)
    assert drive.mean().item() == pytest.approx(expected, abs=0.01)
    det = StochasticSynapseParams(transmission=0.6, inhibition=2.0, stochastic=False)
    assert stochastic_drive(x[:2], w, det)[0].item() == pytest.approx(expected, rel=1e-6)


def test_soma_known_values_and_contract():
    p = MetaNeuronParams(threshold=1.0, beta=0.5)
    x = torch.tensor([0.6, 0.8, 0.0, 2.0]).reshape(4, 1, 1)
    v, out = torch.zeros(1, 1), []
    for x_t in x:
        s, (v,) = meta_neuron_step(x_t, MetaNeuronState(v), p)
        out.append(float(s))
    # v: 0.6; 0.3 + 0.8 = 1.1 -> spike, 0.1; 0.05; 2.025 -> spike
    assert out == [0.0, 1.0, 0.0, 1.0] and float(v) == pytest.approx(1.025)
    assert neuron_class("meta") is MetaNeuron and issubclass(MetaNeuron, NeuronModule)
    assert MetaNeuron.learnable_names == ("threshold", "beta")
    assert MetaNeuronParams.learn_rules() == {"threshold": "positive", "beta": "unit"}
    assert StochasticSynapseParams.learn_rules() == {"transmission": "unit", "inhibition": "positive"}


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


@pytest.mark.parametrize("split", [1, 7, 29])
def test_chunked_streaming_equals_one_call(split):
    """The random stream continues across calls: chunks with the state = one pass."""
    x = (torch.rand(30, 4, 8, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    layer = MetaNeuronLayer(8, 5, seed=3, threshold=0.3)
    full, st_full = layer(x)
    a, st_a = layer(x[:split])
    b, st_b = layer(x[split:], st_a)
    torch.testing.assert_close(torch.cat([a, b]), full)
    torch.testing.assert_close(st_b.v, st_full.v)
    assert int(st_b.synapse.step) == 30
    # the noise really changes from step to step (the stream is not restarted per call)
    again, _ = layer(x[split:])
    assert not torch.equal(again, b) or split == 29


def test_gradients_reach_every_intrinsic_parameter_and_the_weights():
    torch.manual_seed(0)
    layer = MetaNeuronLayer(8, 5, learn=MetaNeuronLayer.INTRINSIC, threshold=0.5, seed=1)
    x = (torch.rand(20, 4, 8) < 0.5).float()
    out, st = layer(x)
    (out.sum() + st.v.sum()).backward()
    raw = layer.intrinsic_parameters()
    assert set(raw) == set(MetaNeuronLayer.INTRINSIC)
    for name in MetaNeuronLayer.INTRINSIC:
        g = raw[name].grad
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
    p = StochasticSynapseParams(transmission=s, inhibition=1.0)
    drive = stochastic_drive(x, w.double(), p)
    (g,) = torch.autograd.grad(drive.mean(), s)
    assert g.item() == pytest.approx(0.5 * (0.7 - 0.3), rel=0.03)


def test_validation():
    with pytest.raises(ValueError, match="transmission"):
        StochasticSynapseParams(transmission=1.5)
    with pytest.raises(ValueError, match="inhibition"):
        MetaNeuronLayer(2, 2, inhibition=-1.0)
    with pytest.raises(ValueError, match="beta"):
        MetaNeuronParams(beta=1.5)
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


@settings(max_examples=20, deadline=None)
@given(reset=st.sampled_from(["subtract", "zero", "none"]),
       surrogate=st.sampled_from(["fast_sigmoid", "atan", "triangle"]),
       detach=st.booleans(), learned=st.booleans(), per_neuron=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64]),
       t=st.integers(1, 12), b=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_fused_soma_equals_reference_values_and_gradients(reset, surrogate, detach, learned, per_neuron,
                                                          dtype, t, b, seed):
    g = torch.Generator().manual_seed(seed)
    n = 5
    kw = dict(threshold=0.5 + torch.rand(1, generator=g).item(), beta=0.3 + 0.6 * torch.rand(1, generator=g).item(),
              reset=reset, surrogate=get_surrogate(surrogate, 0.3), detach_reset=detach,
              learn=("threshold", "beta") if learned else (), per_neuron=per_neuron)
    ref, fused = MetaNeuron(n, backend="reference", **kw), MetaNeuron(n, backend="compiled", **kw)
    fused.load_state_dict(ref.state_dict())
    x = (1.5 * torch.rand(t, b, n, generator=g, dtype=dtype)).requires_grad_()
    v0 = (0.4 * torch.rand(b, n, generator=g, dtype=dtype)).requires_grad_()
    outs, grads = [], []
    for mod in (ref, fused):
        mod.to(dtype)
        out, st_ = mod(x, MetaNeuronState(v0))
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=dtype).reshape(out.shape)
        loss = (out * w).sum() + (st_.v * 0.7).sum()
        inputs = [x, v0] + list(mod.parameters())
        grads.append(torch.autograd.grad(loss, inputs))
        outs.append((out, st_.v))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(outs[1][0], outs[0][0])
    torch.testing.assert_close(outs[1][1], outs[0][1], **tol)
    for gf, gr in zip(grads[1], grads[0]):
        torch.testing.assert_close(gf, gr, **tol)


def test_layer_soma_takes_the_fused_kernel_under_auto():
    from axonal.kernels.registry import registered

    assert "compiled" in registered(MetaNeuronParams)
    x = (torch.rand(12, 3, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    auto = MetaNeuronLayer(6, 4, seed=0, threshold=0.3)
    ref = MetaNeuronLayer(6, 4, seed=0, threshold=0.3, backend="reference")
    ref.load_state_dict(auto.state_dict())
    torch.testing.assert_close(auto(x)[0], ref(x)[0])


def test_clear_errors_for_empty_time_wrong_dtype_and_no_inputs():
    """Issue 24: these gave raw torch errors (stack of an empty list, a dtype clash deep in
    einsum, a division by zero in the initialisation)."""
    layer = MetaNeuronLayer(6, 4, seed=0)
    with pytest.raises(ValueError, match=r"zero time steps.*T >= 1"):
        layer(torch.zeros(0, 3, 6))
    with pytest.raises(TypeError, match=r"float64.*float32.*layer\.to"):
        layer(torch.zeros(5, 3, 6, dtype=torch.float64))
    spikes, _ = MetaNeuronLayer(6, 4, seed=0).double()(torch.ones(5, 3, 6, dtype=torch.float64))
    assert spikes.dtype == torch.float64  # the fix the message names works
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="in_features must be a positive int"):
            MetaNeuronLayer(bad, 4)
    with pytest.raises(ValueError, match="out_features must be a positive int"):
        MetaNeuronLayer(3, 0)
