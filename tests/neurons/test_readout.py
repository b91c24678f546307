"""The one leaky-integrator readout (axonal/neurons/readout.py) and the models that use it."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.neurons import neuron_class
from axonal.neurons.readout import LeakyIntegrator, LeakyIntegratorState


def _loop(x, decay, gain, v=None):
    v = torch.zeros_like(x[0]) if v is None else v
    out = []
    for x_t in x:
        v = decay * v + gain * x_t
        out.append(v)
    return torch.stack(out)


def test_known_values_and_library_decay_convention():
    x = torch.tensor([1.0, 0.0, 0.0, 2.0]).reshape(4, 1, 1)
    out, st_ = LeakyIntegrator(1, tau=2.0)(x)
    b = math.exp(-0.5)
    want = torch.tensor([1.0, b, b * b, b ** 3 + 2.0]).reshape(4, 1, 1)
    torch.testing.assert_close(out, want)
    assert isinstance(st_, LeakyIntegratorState) and st_.v.item() == pytest.approx(want[-1].item())
    assert neuron_class("leaky_integrator") is LeakyIntegrator


def test_unit_gain_settles_at_a_constant_input():
    out, _ = LeakyIntegrator(3, decay=0.8, unit_gain=True)(torch.full((200, 2, 3), 0.7))
    torch.testing.assert_close(out[-1], torch.full((2, 3), 0.7))


@settings(max_examples=25, deadline=None)
@given(decay=st.floats(0.01, 0.99), unit=st.booleans(), split=st.integers(1, 9), seed=st.integers(0, 999))
def test_matches_the_recurrence_and_streams(decay, unit, split, seed):
    x = torch.randn(10, 2, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    mod = LeakyIntegrator(4, decay=decay, unit_gain=unit)
    out, _ = mod(x)
    torch.testing.assert_close(out, _loop(x, decay, (1 - decay) if unit else 1.0))
    a, s = mod(x[:split])
    b, _ = mod(x[split:], s)
    torch.testing.assert_close(torch.cat([a, b]), out)


def test_learned_tau_gets_a_gradient_and_bad_values_are_rejected():
    mod = LeakyIntegrator(3, tau=4.0, learn="tau", per_neuron=True)
    out, _ = mod(torch.randn(6, 2, 3))
    out.sum().backward()
    assert mod.tau_param.grad is not None and mod.tau_param.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="tau"):
        LeakyIntegrator(3, tau=-1.0)
    with pytest.raises(ValueError, match="decay"):
        LeakyIntegrator(3, decay=0.0)
    with pytest.raises(ValueError, match="either tau or decay"):
        LeakyIntegrator(3, decay=0.5, tau=2.0)


@pytest.mark.parametrize("tau_dcls", [1.0, 1.005, 1.5, 10.0])
def test_dcls_readout_keeps_the_papers_decay(tau_dcls):
    """DCLS's tau means decay 1 - 1/tau: the built readout must have exactly that leak."""
    from axonal.models.dcls_delays import DCLSDelaySNN

    net = DCLSDelaySNN(6, 3, hidden=(5,), max_delay=4, tau=tau_dcls, delays="none", pad_end=False)
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    net.readout.double()
    out, _ = net.readout(x)
    torch.testing.assert_close(out, _loop(x, 1.0 - 1.0 / tau_dcls, 1.0))


def test_long_memory_readout_has_unit_dc_gain_and_streams():
    from axonal.models.long_memory import SpikingRNNClassifier

    m = SpikingRNNClassifier(3, 4, hidden_size=6, readout_decay=0.8)
    x = torch.randn(7, 2, 4)
    out, _ = m.read(x)
    torch.testing.assert_close(out, _loop(x, 0.8, 0.2))
    xs = torch.randn(10, 2, 3)
    full, _ = m(xs)
    a, s = m(xs[:4])
    b, _ = m(xs[4:], s)
    torch.testing.assert_close(torch.cat([a, b]), full)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 30), block=st.integers(1, 8), decay=st.floats(0.05, 1.0), wide=st.booleans(),
       start=st.booleans(), seed=st.integers(0, 999))
def test_leaky_sum_closed_form_equals_the_step(t, block, decay, wide, start, seed):
    """leaky_sum (block matmuls, or the stepped form for wide inputs) = the readout's step."""
    from axonal.neurons import readout

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(t, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    v0 = torch.randn(2, 3, generator=g, dtype=torch.float64).requires_grad_() if start else None
    d = torch.tensor(decay, dtype=torch.float64, requires_grad=True)
    old = readout._LOOP_WIDTH
    try:
        readout._LOOP_WIDTH = 2 if wide else old
        fast = readout.leaky_sum(x, d, v0, block=block)
    finally:
        readout._LOOP_WIDTH = old
    ref = _loop(x, d, 1.0, v0)
    torch.testing.assert_close(fast, ref)
    inputs = [x, d] + ([v0] if start else [])
    for a, b in zip(torch.autograd.grad(fast.square().sum(), inputs), torch.autograd.grad(ref.square().sum(), inputs)):
        torch.testing.assert_close(a, b)
