"""``axonal.network``: Sequential.trace, detach_state, and Recurrent's input weights (issue 22)."""
import pytest
import torch
from torch import nn

import axonal
from axonal import LayerRecord, Sequential, detach_state
from axonal.neurons import LIF, CurrentBasedLIF, Recurrent, RecurrentLIF, RecurrentState


def test_trace_records_every_layer_over_time_and_matches_forward():
    torch.manual_seed(0)
    net = Sequential(nn.Linear(3, 6), LIF(6, decay=0.8), nn.Linear(6, 4), CurrentBasedLIF(4),
                     RecurrentLIF(4))
    x = torch.rand(12, 2, 3) * 2
    y, states = net(x)
    y2, records = net.trace(x)
    torch.testing.assert_close(y2, y)
    assert len(records) == 5 and all(isinstance(r, LayerRecord) for r in records)
    assert records[0].states is None and records[0].output.shape == (12, 2, 6)
    membrane = records[1].states.v                     # the hidden layer's membrane
    assert membrane.shape == (12, 2, 6)
    torch.testing.assert_close(membrane[-1], states[1].v)
    # the membrane is the layer's own trace on the recorded input
    _, ref = net[1].trace(records[0].output)
    torch.testing.assert_close(membrane, ref.v, rtol=0, atol=0)
    assert records[3].states.i.shape == (12, 2, 4)
    torch.testing.assert_close(records[4].states.neuron.v[-1], states[4].neuron.v)


def test_trace_continues_from_states():
    torch.manual_seed(1)
    net = Sequential(nn.Linear(2, 3), LIF(3))
    x = torch.rand(10, 1, 2) * 3
    _, st = net(x[:4])
    y, records = net.trace(x[4:], st)
    torch.testing.assert_close(y, net(x)[0][4:])
    assert records[1].states.v.shape[0] == 6


def test_detach_state_cuts_the_graph_of_any_nesting():
    torch.manual_seed(2)
    net = Sequential(nn.Linear(3, 4), RecurrentLIF(4), nn.Linear(4, 2), LIF(2))
    x = torch.rand(20, 2, 3)
    _, states = net(x[:10])
    assert states[1].neuron.v.requires_grad
    cut = detach_state(states)
    assert type(cut[1]) is RecurrentState and type(cut[1].neuron) is type(states[1].neuron)
    leaves = [cut[1].neuron.v, cut[1].spikes, cut[3].v]
    assert not any(t.requires_grad for t in leaves) and cut[0] is None
    torch.testing.assert_close(cut[3].v, states[3].v, rtol=0, atol=0)
    out, _ = net(x[10:], cut)                          # truncated BPTT: backward stops at the cut
    out.sum().backward()
    assert detach_state({"a": [torch.ones(1, requires_grad=True)]})["a"][0].requires_grad is False
    with pytest.raises(TypeError, match="cannot detach a str"):
        detach_state(("v", torch.ones(1)))


def test_recurrent_input_weights_equal_a_linear_before_the_recurrent_layer():
    torch.manual_seed(3)
    layer = RecurrentLIF(5, in_features=3, backend="scan")
    assert layer.input.weight.shape == (5, 3) and layer.input.bias is None
    x = torch.rand(15, 2, 3) * 2
    ref = Recurrent(LIF(5, backend="scan"))
    ref.weight.data.copy_(layer.weight.data)
    s, st = layer(x)
    s_ref, st_ref = ref(nn.functional.linear(x, layer.input.weight))
    torch.testing.assert_close(s, s_ref, rtol=0, atol=0)
    torch.testing.assert_close(st.neuron.v, st_ref.neuron.v, rtol=0, atol=0)
    s.sum().backward()
    assert layer.input.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"expected \[T, B, 3\]"):
        layer(torch.rand(4, 2, 5))
    # the fused kernel (auto) takes the projected input too
    auto = RecurrentLIF(5, in_features=3)
    auto.load_state_dict(layer.state_dict())
    torch.testing.assert_close(auto(x)[0], s, rtol=0, atol=0)


def test_recurrent_forward_has_its_own_docstring():
    doc = Recurrent.forward.__doc__
    assert doc and "RecurrentState" in doc and "detach_state" in doc
    assert "Define the computation" not in doc


def test_the_package_exports_the_helpers():
    assert axonal.detach_state is detach_state and callable(axonal.register_surrogate)
    assert callable(axonal.set_finite_check)


def test_integer_input_to_an_embedding_is_not_a_dtype_mismatch():
    net = Sequential(nn.Embedding(10, 4), LIF(4))
    assert net(torch.randint(0, 10, (5, 2)))[0].shape == (5, 2, 4)
