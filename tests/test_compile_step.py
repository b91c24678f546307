"""compile_step: a user's scalar step becomes a fused scan with exact gradients."""
from __future__ import annotations

import math

import pytest
import torch

from axonal.kernels import CompiledNeuron, compile_step
from axonal.neurons import LIF

pytest.importorskip("numba")


def lif_dynamics(x, v, beta, theta):
    v = beta * v + x
    return v - theta, v


def lif_reset(s, v, beta, theta):
    return (v - s * theta,)


def qif_dynamics(x, v, a, v_c, theta):
    # quadratic integrate-and-fire (Ermentrout & Kopell 1986, discretised, dt = 1)
    v = v + a * (v - v_c) * v + x
    return v - theta, v


def qif_reset(s, v, a, v_c, theta):
    return (v * (1 - s),)


def test_reproduces_lif_values_and_gradients():
    torch.manual_seed(0)
    step = compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta"))
    beta = torch.rand(6, dtype=torch.float64) * 0.5 + 0.4
    theta = torch.rand(6, dtype=torch.float64) * 0.5 + 0.8
    ref = LIF(6, tau_mem=-1.0 / torch.log(beta), threshold=theta, backend="scan")
    mod = CompiledNeuron(step, 6, learn=("beta", "theta"), beta=beta, theta=theta).double()
    x = torch.rand(25, 3, 6, dtype=torch.float64) * 1.2
    xr, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_r, st_r = ref(xr)
    s_c, st_c = mod(xc)
    assert torch.equal(s_r, s_c) and s_r.sum() > 0
    torch.testing.assert_close(st_c[0], st_r.v, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(s_r)
    gr = torch.autograd.grad((w * s_r).sum() + st_r.v.sum(), xr)[0]
    gc, gb, gt = torch.autograd.grad((w * s_c).sum() + st_c[0].sum(), [xc, mod.beta, mod.theta])
    torch.testing.assert_close(gc, gr, rtol=1e-10, atol=1e-10)
    # parameter gradients against autograd through the torch reference step
    bp, tp = beta.clone().requires_grad_(), theta.clone().requires_grad_()
    state = (torch.zeros(3, 6, dtype=torch.float64),)
    outs = []
    for x_t in x.unbind(0):
        s, state = step.reference_step(x_t, state, (bp, tp))
        outs.append(s)
    loss = (w * torch.stack(outs)).sum() + state[0].sum()
    gb_r, gt_r = torch.autograd.grad(loss, [bp, tp])
    torch.testing.assert_close(gb, gb_r, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gt, gt_r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("detach", [True, False])
def test_quadratic_integrate_and_fire_against_torch_loop(detach):
    torch.manual_seed(1)
    step = compile_step(qif_dynamics, qif_reset, state=("v",), params=("a", "v_c", "theta"),
                        surrogate="fast_sigmoid", detach_reset=detach)
    mod = CompiledNeuron(step, 5, learn=("a", "v_c", "theta"), a=0.3, v_c=0.2, theta=1.0).double()
    x = torch.rand(30, 2, 5, dtype=torch.float64) * 0.5
    v0 = (torch.rand(2, 5, dtype=torch.float64) * 0.5).requires_grad_()
    xc = x.clone().requires_grad_()
    s_c, (v_c,) = mod(xc, (v0,))
    assert 0 < s_c.sum() < s_c.numel()
    # plain torch loop of the same step, autograd through it
    xr = x.clone().requires_grad_()
    ps = [p.detach().clone().requires_grad_() for p in (mod.a, mod.v_c, mod.theta)]
    state, outs = (v0,), []
    for x_t in xr.unbind(0):
        s, state = step.reference_step(x_t, state, ps)
        outs.append(s)
    s_r = torch.stack(outs)
    assert torch.equal(s_r, s_c)
    torch.testing.assert_close(v_c, state[0], rtol=1e-12, atol=1e-12)
    w = torch.randn_like(s_r)
    g_c = torch.autograd.grad((w * s_c).sum() + (v_c ** 2).sum(), [xc, v0, mod.a, mod.v_c, mod.theta])
    g_r = torch.autograd.grad((w * s_r).sum() + (state[0] ** 2).sum(), [xr, v0, *ps])
    for a, b in zip(g_c, g_r):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_math_functions_and_streaming():
    def dyn(x, v, tau):
        v = v * math.exp(-1.0 / tau) + math.tanh(x)
        return v - 1.0, v

    def rst(s, v, tau):
        return (v - s,)

    step = compile_step(dyn, rst, state=("v",), params=("tau",))
    mod = CompiledNeuron(step, 4, tau=5.0)
    x = torch.rand(20, 2, 4) * 2
    s, st = mod(x)
    s1, st1 = mod(x[:9])
    s2, st2 = mod(x[9:], st1)
    assert torch.equal(torch.cat([s1, s2]), s)
    torch.testing.assert_close(st2[0], st[0])


def test_bad_parameters_are_named():
    step = compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta"))
    with pytest.raises(ValueError, match="missing \\['theta'\\]"):
        CompiledNeuron(step, 3, beta=0.9)
