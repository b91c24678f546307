"""Izhikevich neuron: firing patterns of the presets, fused numba scan vs the reference step."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.kernels import KernelUnavailable
from axonal.kernels.izhikevich import izhikevich_numba as izhikevich_fused
from axonal.neurons.base import scan
from axonal.neurons.izhikevich import (
    IZHIKEVICH_PRESETS, Izhikevich, IzhikevichParams, IzhikevichState, izhikevich_step,
)


def spike_times(preset, current=10.0, steps=1000):
    s, _ = Izhikevich(1, preset=preset, backend="scan")(torch.full((steps, 1, 1), current))
    return torch.nonzero(s[:, 0, 0]).flatten().numpy()


def test_regular_spiking_adapts():
    isi = np.diff(spike_times("RS"))
    assert 15 <= len(isi) + 1 <= 40                     # ~20 Hz tonic firing at I = 10
    assert isi[0] < 0.7 * isi[-1]                        # inter-spike intervals lengthen
    assert np.all(np.diff(isi) >= 0)                     # monotonically (spike-frequency adaptation)


def test_fast_spiking_is_fast_and_regular():
    fs, rs = spike_times("FS"), spike_times("RS")
    assert len(fs) > 3 * len(rs)
    isi = np.diff(fs)[2:]
    assert isi.std() / isi.mean() < 0.1                  # regular: coefficient of variation < 0.1
    assert isi.mean() < 15                               # > 65 Hz


def test_chattering_fires_bursts():
    isi = np.diff(spike_times("CH"))
    short, long_ = isi < 10, isi > 30
    assert short.sum() + long_.sum() == len(isi)         # bimodal: within-burst and between-burst
    bursts = np.split(isi, np.flatnonzero(long_) + 1)
    sizes = [int((b < 10).sum()) + 1 for b in bursts[1:-1]]
    assert len(sizes) >= 10 and min(sizes) >= 3          # >= 10 bursts of >= 3 spikes


def test_intrinsically_bursting_starts_with_a_burst():
    isi = np.diff(spike_times("IB"))
    assert isi[0] < 10 and np.all(isi[1:] > 25)


def test_initial_state_is_rest_and_validation():
    n = Izhikevich(3, preset="FS")
    st_ = n.initial_state(torch.zeros(2, 3))
    assert torch.all(st_.v == -65) and torch.all(st_.u == -13)
    with pytest.raises(ValueError, match="unknown preset"):
        Izhikevich(3, preset="XX")
    with pytest.raises(ValueError, match="sets"):
        Izhikevich(3, preset="RS", a=0.1)
    with pytest.raises(ValueError, match="a must be positive"):
        IzhikevichParams(a=-0.1)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 60), st.integers(1, 3), st.integers(1, 5), st.sampled_from(sorted(IZHIKEVICH_PRESETS)),
       st.booleans(), st.integers(0, 10_000))
def test_fused_equals_step_values_and_gradients(t, b, n, preset, hetero, seed):
    g = torch.Generator().manual_seed(seed)
    kw = dict(IZHIKEVICH_PRESETS[preset])
    if hetero:   # per-neuron parameters, as in a heterogeneous reservoir
        kw = {k: v * (1 + 0.1 * torch.rand(n, generator=g, dtype=torch.float64)) for k, v in kw.items()}
    p = IzhikevichParams(**kw)
    x = (15 * torch.rand(t, b, n, generator=g, dtype=torch.float64)).requires_grad_()
    v0 = (-70 + 10 * torch.rand(b, n, generator=g, dtype=torch.float64)).requires_grad_()
    u0 = (-14 + 2 * torch.rand(b, n, generator=g, dtype=torch.float64)).requires_grad_()
    s_ref, st_ref = scan(izhikevich_step, x, IzhikevichState(v0, u0), p)
    s_f, st_f = izhikevich_fused(x, IzhikevichState(v0, u0), p)
    torch.testing.assert_close(s_f, s_ref)
    torch.testing.assert_close(st_f.v, st_ref.v)
    torch.testing.assert_close(st_f.u, st_ref.u)
    w1 = torch.randn(t, b, n, generator=g, dtype=torch.float64)
    w2 = torch.randn(b, n, generator=g, dtype=torch.float64)
    grads_ref = torch.autograd.grad((s_ref * w1).sum() + (st_ref.v * w2).sum() + 0.1 * st_ref.u.sum(), (x, v0, u0))
    grads_f = torch.autograd.grad((s_f * w1).sum() + (st_f.v * w2).sum() + 0.1 * st_f.u.sum(), (x, v0, u0))
    for gr, gf in zip(grads_ref, grads_f):
        torch.testing.assert_close(gf, gr, rtol=1e-8, atol=1e-8)


def test_fused_backward_gradcheck_subthreshold():
    p = IzhikevichParams()
    x = (2.0 * torch.rand(15, 2, 3, dtype=torch.float64)).requires_grad_()
    v0 = torch.full((2, 3), -65.0, dtype=torch.float64, requires_grad=True)
    u0 = torch.full((2, 3), -13.0, dtype=torch.float64, requires_grad=True)

    def f(x, v0, u0):
        _, st_ = izhikevich_fused(x, IzhikevichState(v0, u0), p)
        return st_.v, st_.u

    assert torch.autograd.gradcheck(f, (x, v0, u0))


def test_module_float32_and_fallbacks():
    n = Izhikevich(4, preset="RS")
    x = torch.full((50, 2, 4), 10.0)
    s_auto, st_auto = n(x)
    ref, st_ref = Izhikevich(4, preset="RS", backend="scan")(x)
    torch.testing.assert_close(s_auto, ref)
    fused, _ = izhikevich_fused(x, n.initial_state(x[0]), n.params())
    torch.testing.assert_close(fused, ref)
    learn = Izhikevich(4, preset="RS", learn=("a",))
    with pytest.raises(KernelUnavailable, match="fixed"):   # needs param grads
        izhikevich_fused(x, learn.initial_state(x[0]), learn.params())
    s, _ = learn(x)
    s.sum().backward()
    assert learn.a_param.grad is not None
