"""The LIF family: known values, parameter validation, learnable constants, recurrence, streaming."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal import Sequential
from axonal.neurons import (
    LIF,
    AdaptiveLIF,
    CurrentBasedLIF,
    LIFParams,
    LIFState,
    Recurrent,
    RecurrentLIF,
    lif_step,
)
from axonal.neurons.base import tau_from_decay

ALL = [LIF, CurrentBasedLIF, AdaptiveLIF]


def seq(*values):
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)


def test_lif_known_values_subtract_reset():
    # decay 0.5, threshold 1: v = 0.6 -> 0.9 -> 1.05 (spike, -> 0.05) -> 0.625 -> 0.3125
    m = LIF(decay=0.5, threshold=1.0, reset="subtract", backend="scan")
    s, v = m.trace(seq(0.6, 0.6, 0.6, 0.6, 0.0))
    assert s.flatten().tolist() == [0, 0, 1, 0, 0]
    assert v.v.flatten().tolist() == pytest.approx([0.6, 0.9, 0.05, 0.625, 0.3125], abs=1e-6)


def test_lif_known_values_zero_and_no_reset():
    x = seq(0.6, 0.6, 0.6, 0.6)
    s, v = LIF(decay=0.5, reset="zero", backend="scan").trace(x)
    assert s.flatten().tolist() == [0, 0, 1, 0]
    assert v.v.flatten().tolist() == pytest.approx([0.6, 0.9, 0.0, 0.6])
    s, v = LIF(decay=0.5, reset="none", backend="scan").trace(x)
    assert s.flatten().tolist() == [0, 0, 1, 1]
    assert v.v.flatten().tolist() == pytest.approx([0.6, 0.9, 1.05, 1.125])


def test_cuba_known_values():
    # alpha = beta = 0.5; a single input pulse of 1.0: i = 1, .5, .25; v = 1 (spike->0), .5, .5
    m = CurrentBasedLIF(tau_mem=tau_from_decay(0.5), tau_syn=tau_from_decay(0.5), backend="scan")
    s, st_ = m.trace(seq(1.0, 0.0, 0.0))
    assert st_.i.flatten().tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert s.flatten().tolist() == [1, 0, 0]
    assert st_.v.flatten().tolist() == pytest.approx([0.0, 0.5, 0.5])


def test_adaptive_threshold_rises_after_spike_and_decays():
    m = AdaptiveLIF(tau_mem=tau_from_decay(0.5), tau_adapt=tau_from_decay(0.5), adaptation=1.0,
                    backend="scan")
    s, st_ = m.trace(seq(1.2, 1.2, 1.2, 1.2))
    # t0: v=1.2 spike (theta 1), v->0.2, a=1; t1: v=1.3 < theta=2; a=.5; t2: v=1.85 >= 1.5 spike
    assert s.flatten().tolist() == [1, 0, 1, 0]
    assert st_.a.flatten().tolist() == pytest.approx([1.0, 0.5, 1.25, 0.625])
    assert st_.v.flatten().tolist()[:3] == pytest.approx([0.2, 1.3, 0.35])


@settings(max_examples=30, deadline=None)
@given(decay=st.floats(0.05, 0.95), thr=st.floats(0.2, 3.0), seed=st.integers(0, 10_000))
def test_lif_membrane_stays_below_threshold_after_subtract_reset(decay, thr, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(30, 4, 5, generator=g) * thr * 0.9
    s, states = LIF(decay=decay, threshold=thr, backend="scan").trace(x)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    # input per step < thr and decay < 1 -> after the reset the membrane is below threshold
    assert (states.v < thr + 1e-5).all()


@pytest.mark.parametrize("bad", [dict(tau_mem=-1.0), dict(tau_mem=0.0), dict(threshold=-0.5),
                                 dict(tau_mem=float("nan")), dict(dt=0.0)])
def test_invalid_constants_are_rejected(bad):
    with pytest.raises(ValueError, match="must be positive"):
        LIF(**bad)


def test_bad_reset_and_surrogate_names_list_choices():
    with pytest.raises(ValueError, match=r"unknown reset mode 'soft'.*subtract"):
        LIF(reset="soft")
    with pytest.raises(ValueError, match="unknown surrogate"):
        LIF(surrogate="sigmod")
    with pytest.raises(ValueError, match="either tau_mem or decay"):
        LIF(decay=0.9, tau_mem=3.0)
    with pytest.raises(ValueError, match=r"cannot learn \['tau_syn'\]"):
        LIF(learn=["tau_syn"])
    with pytest.raises(ValueError, match="per_neuron=True needs size"):
        LIF(learn=["threshold"], per_neuron=True)


def test_input_errors_say_what_and_how():
    m = LIF(8)
    _, state = m(torch.zeros(20, 4, 8))  # time-major, batch 4
    with pytest.raises(ValueError, match="batch-major.*transpose"):
        m(torch.zeros(4, 20, 8), state)  # the same batch passed batch-major
    with pytest.raises(TypeError, match="x.float"):
        m(torch.zeros(5, 2, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN or inf"):
        m(torch.full((5, 2, 8), float("nan")))
    with pytest.raises(ValueError, match="unsqueeze"):
        LIF()(torch.zeros(8))
    with pytest.raises(ValueError, match="state=None"):
        m(torch.zeros(5, 2, 8), LIFState(torch.zeros(3, 8)))
    with pytest.raises(TypeError, match="LIFState"):
        m(torch.zeros(5, 2, 8), (torch.zeros(2, 8),))


def test_batch_major_hint_on_shape_mismatch():
    m = LIF((3,))
    x = torch.zeros(2, 7, 3)  # fine: T=2, B=7
    m(x)
    with pytest.raises(ValueError, match="expected \\[T, B, 3\\]"):
        m(torch.zeros(2, 3, 7))


@pytest.mark.parametrize("cls", ALL)
def test_streaming_equals_one_pass(cls):
    torch.manual_seed(0)
    m = cls(6, backend="scan")
    x = torch.rand(40, 3, 6) * 1.5
    full, st_full = m(x)
    a, st_a = m(x[:17])
    b, st_b = m(x[17:], st_a)
    assert torch.equal(torch.cat([a, b]), full)
    for u, w in zip(st_b, st_full):
        assert torch.equal(u, w)


@pytest.mark.parametrize("cls", ALL)
def test_learnable_constants_receive_gradients_per_neuron(cls):
    m = cls(5, learn=cls.learnable_names, per_neuron=True, surrogate="fast_sigmoid", backend="scan")
    x = torch.rand(25, 4, 5) * 2
    s, _ = m(x)
    s.sum().backward()
    for name in cls.learnable_names:
        p = getattr(m, f"{name}_param")
        assert p.shape == (5,)
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_learned_tau_is_stored_as_log_and_matches_fixed_forward():
    fixed = LIF(4, tau_mem=7.0, backend="scan")
    learned = LIF(4, tau_mem=7.0, learn=["tau_mem"], backend="scan")
    assert learned.tau_mem_param.item() == pytest.approx(math.log(7.0))
    x = torch.rand(20, 2, 4) * 1.3
    assert torch.allclose(fixed(x)[0], learned(x)[0])


def test_membrane_gradient_matches_finite_differences_without_reset():
    # With reset "none" the membrane is linear in x and in the initial state: exact gradcheck.
    p = LIFParams(tau_mem=4.0, reset="none")

    def final_v(x, v0):
        st_ = LIFState(v0)
        for x_t in x.unbind(0):
            _, st_ = lif_step(x_t, st_, p)
        return st_.v

    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    v0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(final_v, (x, v0))


def test_spike_gradient_is_surrogate_through_time():
    # One step: ds/dx = surrogate'(x - theta); check against the surrogate object directly.
    m = LIF(decay=0.5, surrogate="triangle", backend="scan")
    x = torch.tensor([[[0.7]]], requires_grad=True)
    s, _ = m(x)
    s.sum().backward()
    assert x.grad.item() == pytest.approx(m.params().surrogate.derivative(torch.tensor(-0.3)).item())


def test_recurrent_matches_manual_loop():
    torch.manual_seed(1)
    r = Recurrent(LIF(4, decay=0.8, backend="scan"))
    x = torch.rand(15, 2, 4)
    s, st_ = r(x)
    v = torch.zeros(2, 4)
    prev = torch.zeros(2, 4)
    outs = []
    for x_t in x.unbind(0):
        v = 0.8 * v + x_t + prev @ r.weight.T
        sp = (v >= 1.0).float()
        v = v - sp
        outs.append(sp)
        prev = sp
    assert torch.allclose(s, torch.stack(outs))
    assert torch.allclose(st_.neuron.v, v, atol=1e-6)
    assert torch.equal(st_.spikes, prev)


def test_recurrent_weights_learn_and_zero_diagonal():
    r = Recurrent(CurrentBasedLIF(6, backend="scan"), zero_diagonal=True)
    assert torch.equal(r.recurrent_weight().diagonal(), torch.zeros(6))
    s, _ = r(torch.rand(20, 3, 6) * 2)
    s.sum().backward()
    assert r.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="1-D size"):
        Recurrent(LIF())


def test_sequential_chains_layers_and_streams():
    torch.manual_seed(2)
    net = Sequential(torch.nn.Linear(3, 8), RecurrentLIF(8, backend="scan"), torch.nn.Linear(8, 2),
                     LIF(2, backend="scan"))
    x = torch.randn(30, 5, 3)
    y, states = net(x)
    assert y.shape == (30, 5, 2) and states[0] is None and states[2] is None
    a, st_a = net(x[:10])
    b, _ = net(x[10:], st_a)
    assert torch.equal(torch.cat([a, b]), y)
    with pytest.raises(ValueError, match="states has 1 entries"):
        net(x, (None,))


def test_conv_layers_fold_time_into_batch():
    net = Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), LIF((4, 8, 8), backend="scan"))
    y, _ = net(torch.rand(6, 3, 2, 8, 8))
    assert y.shape == (6, 3, 4, 8, 8)
