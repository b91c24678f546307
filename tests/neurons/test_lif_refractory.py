"""RefractoryLIF and ConductanceLIF: known values, the refractory count, gradients, errors."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.neurons import (ConductanceLIF, ConductanceLIFParams, RefractoryLIF, RefractoryLIFParams,
                            RefractoryLIFState, neuron_class, refractory_lif_step)

f64 = torch.float64


def test_registered_by_name():
    assert neuron_class("refractory_lif") is RefractoryLIF
    assert neuron_class("coba_lif") is ConductanceLIF
    assert RefractoryLIF.learnable_names == ("tau_mem", "v_rest", "v_reset", "threshold", "bias")


def test_known_values_reset_and_refractory_clamp():
    """tau = dt = 1 with Euler: an integrating membrane equals its drive v_rest + bias + x.
    Driven far above threshold with t_ref = 3 steps it fires every 3 steps, clamped at
    v_reset in between and starting at v_rest."""
    m = RefractoryLIF(1, tau_mem=1.0, v_rest=0.5, v_reset=-5.0, threshold=1.0, t_ref=3.0, dt=1.0,
                      bias=0.25)
    x = torch.full((10, 1, 1), 10.0, dtype=f64)
    x[7:] = 0.0  # steps 7 and 8 are clamped anyway; step 9 integrates the drive 0.75 < 1
    s, states = m.trace(x)
    assert s[:, 0, 0].tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    assert states.v[:, 0, 0].tolist() == [-5.0] * 9 + [0.75]
    assert states.refractory[:, 0, 0].tolist() == [3.0, 2.0, 1.0] * 3 + [0.0]
    v0 = m.initial_state(x[0]).v
    assert v0.item() == 0.5  # starts at rest


def test_reset_modes_subtract_and_none():
    x = torch.tensor([[[1.3]], [[0.0]]], dtype=f64)
    common = dict(tau_mem=1.0, v_rest=0.0, v_reset=0.2, threshold=1.0, t_ref=0.0, dt=1.0)
    _, st = RefractoryLIF(1, reset="subtract", **common).trace(x)
    assert st.v[0, 0, 0].item() == pytest.approx(1.3 - 0.8)
    _, st = RefractoryLIF(1, reset="none", **common).trace(x)
    assert st.v[0, 0, 0].item() == pytest.approx(1.3)


def test_exp_euler_is_exact_for_constant_input():
    m = RefractoryLIF(1, tau_mem=10.0, v_rest=-60.0, threshold=0.0, dt=0.5, integrator="exp_euler")
    x = torch.full((20, 1, 1), 5.0, dtype=f64)
    _, st = m.trace(x)
    t = 0.5 * torch.arange(1, 21, dtype=f64)
    torch.testing.assert_close(st.v[:, 0, 0], -55.0 - 5.0 * torch.exp(-t / 10.0), rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(ref_steps=st.integers(0, 80), dt=st.sampled_from([0.01, 0.1, 0.25, 1.0]),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_refractory_period_lasts_round_t_ref_over_dt_steps(ref_steps, dt, dtype):
    """Whatever the rounding of the repeated countdown (t_ref = 5 ms at dt = 0.1 ms in float32
    included), a neuron driven far above threshold fires every max(round(t_ref / dt), 1) steps,
    the engine's rule (axonal.reservoir)."""
    t_ref = ref_steps * dt
    m = RefractoryLIF(1, tau_mem=dt, v_rest=0.0, v_reset=0.0, threshold=1.0, t_ref=t_ref, dt=dt)
    s, _ = m(torch.full((200, 1, 1), 100.0, dtype=dtype))
    times = s[:, 0, 0].nonzero().flatten()
    assert times[0] == 0
    assert set(times.diff().tolist()) == {max(ref_steps, 1)}


def test_streaming_equals_one_pass():
    torch.manual_seed(0)
    m = RefractoryLIF(6, t_ref=torch.rand(6, dtype=f64) * 3, tau_mem=torch.rand(6, dtype=f64) * 10 + 2)
    x = torch.randn(60, 3, 6, dtype=f64) * 30 + 20
    s, st = m(x)
    s1, st1 = m(x[:25])
    s2, st2 = m(x[25:], st1)
    assert torch.equal(torch.cat([s1, s2]), s)
    assert torch.equal(st2.v, st.v) and torch.equal(st2.refractory, st.refractory)


def test_learned_constants_get_gradients_and_reset_gradient_is_optional():
    torch.manual_seed(1)
    x = (torch.randn(40, 4, 5) * 15 + 12).requires_grad_()
    kw = dict(learn=("tau_mem", "threshold", "v_rest", "bias"), per_neuron=True, t_ref=1.0, dt=0.5)
    m = RefractoryLIF(5, **kw)
    s, st = m(x)
    assert s.sum() > 0
    (s.sum() + st.v.sum()).backward()
    for name in ("tau_mem_param", "threshold_param", "v_rest_param", "bias_param"):
        g = getattr(m, name).grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name
    # detach_reset=False: the same forward, another gradient (the reset's path)
    m2 = RefractoryLIF(5, detach_reset=False, t_ref=1.0, dt=0.5)
    m1 = RefractoryLIF(5, t_ref=1.0, dt=0.5)
    xa = x.detach().clone().requires_grad_()
    xb = x.detach().clone().requires_grad_()
    sa, sta = m1(xa)
    sb, stb = m2(xb)
    assert torch.equal(sa, sb) and torch.equal(sta.v, stb.v)
    sta.v.sum().backward()
    stb.v.sum().backward()
    assert not torch.allclose(xa.grad, xb.grad)


def test_membrane_gradient_matches_finite_differences():
    """Below threshold the membrane is smooth in the input and the constants: gradcheck."""
    x = (torch.rand(12, 2, 3, dtype=f64) * 5).requires_grad_()
    tau = torch.tensor(7.0, dtype=f64, requires_grad=True)
    v_rest = torch.tensor(-60.0, dtype=f64, requires_grad=True)

    def f(x, tau, v_rest):
        p = RefractoryLIFParams(tau_mem=tau, v_rest=v_rest, dt=0.5, threshold=100.0)
        st = RefractoryLIFState(torch.full_like(x[0], -60.0), torch.zeros_like(x[0]))
        for x_t in x.unbind(0):
            _, st = refractory_lif_step(x_t, st, p)
        return st.v

    assert torch.autograd.gradcheck(f, (x, tau, v_rest))


def test_bad_constants_are_rejected():
    with pytest.raises(ValueError, match="t_ref"):
        RefractoryLIFParams(t_ref=-0.1)
    with pytest.raises(ValueError, match="integrator"):
        RefractoryLIFParams(integrator="rk4")
    with pytest.raises(ValueError, match="tau_exc"):
        ConductanceLIFParams(tau_exc=0.0)
    with pytest.raises(ValueError, match="unknown reset"):
        ConductanceLIFParams(reset="soft")


# ----------------------------------------------------------------------------- conductance LIF
def test_conductance_known_values():
    """One excitatory arrival of 0.6 at step 0: it acts from step 1 on, decays with tau_exc,
    and the Euler membrane follows the formula written out by hand."""
    dt, tau_m, tau_e, w = 0.1, 20.0, 5.0, 0.6
    T = 30
    x = torch.zeros(T, 1, 2, 1, dtype=f64)
    x[0, 0, 0, 0] = w
    _, st = ConductanceLIF(1, t_ref=0.0, dt=dt).trace(x)
    v, g = -60.0, 0.0
    vs, gs = [], []
    for t in range(T):
        v = v + dt / tau_m * ((-60.0 + g * 0.0) - (1 + g) * v)
        g *= math.exp(-dt / tau_e)
        if t == 0:
            g += w
        vs.append(v)
        gs.append(g)
    torch.testing.assert_close(st.v[:, 0, 0], torch.tensor(vs, dtype=f64), rtol=0, atol=1e-12)
    torch.testing.assert_close(st.g_exc[:, 0, 0], torch.tensor(gs, dtype=f64), rtol=0, atol=1e-15)
    assert st.v[0, 0, 0] == -60.0 and st.v[1:, 0, 0].max() > -60.0
    # an inhibitory arrival pulls the membrane towards e_inh = -80
    x2 = x.flip(2)
    _, st2 = ConductanceLIF(1, t_ref=0.0, dt=dt).trace(x2)
    assert st2.v[-1, 0, 0] < -60.0 and torch.equal(st2.g_exc, torch.zeros_like(st2.g_exc))


def test_conductance_batch_rows_are_independent_and_gradients_flow():
    torch.manual_seed(2)
    m = ConductanceLIF(7, learn=("e_exc", "tau_exc", "threshold"), bias=20.0)
    x = (torch.rand(200, 3, 2, 7) < 0.05).float() * torch.tensor([0.6, 6.7])[:, None]
    s, st = m(x)
    s1, _ = m(x[:, 1:2])
    assert torch.equal(s[:, 1:2], s1)
    assert s.sum() > 0
    (s.sum() + st.v.sum()).backward()
    for name in ("e_exc_param", "tau_exc_param", "threshold_param"):
        g = getattr(m, name).grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name


def test_conductance_input_shape_errors_say_how():
    m = ConductanceLIF(4)
    with pytest.raises(ValueError, match=r"\[T, B, 2, \.\.\.\]"):
        m(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="expected"):
        m(torch.zeros(5, 2, 2, 3))
    _, st = m(torch.zeros(5, 2, 2, 4))
    with pytest.raises(ValueError, match="state=None"):
        m(torch.zeros(5, 3, 2, 4), st)
