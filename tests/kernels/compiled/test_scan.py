"""compile_step: a user's scalar step becomes a fused scan with exact gradients.

Every neuron is checked against autograd through a plain torch loop of the same step
(``CompiledStep.reference_step``): spikes, final state and the gradients of the input, the
initial state and every parameter. Kernels are cached on disk (``~/.cache/axonal`` unless
``AXONAL_CACHE_DIR`` says otherwise), so a second run of this file does not compile.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from math import exp
from pathlib import Path

import pytest
import torch

from axonal.kernels import CompiledNeuron, compile_step
from axonal.neurons import LIF
from tests.kernels.ties import STRICT

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
    g_c = torch.autograd.grad((w * s_c).sum() + (v_c ** 2).sum(),
                              [xc, v0, mod.a, mod.v_c, mod.theta])
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


def alif_dynamics(x, v, a, beta, rho, theta, kappa):
    # adaptive threshold (Bellec et al. 2018): two state variables
    v = beta * v + x
    return v - (theta + kappa * a), v, a


def alif_reset(s, v, a, beta, rho, theta, kappa):
    return v - s * (theta + kappa * a), rho * a + s


def math_dynamics(x, v, w, tau):
    i = math.tanh(x) + 0.1 * math.sin(x) * math.cos(w) + math.erf(0.5 * x)
    v = (v * exp(-1.0 / tau) + i * math.sqrt(1.0 + w * w) + 0.05 * math.atan(v)
         + 0.01 * math.log1p(abs(v)) + 0.01 * math.expm1(-math.fabs(w))
         + 0.01 * math.pow(abs(v) + 1.0, 0.5) + 0.001 * math.log(tau) + 0 * math.pi * math.e)
    return v - 1.0, v


def math_reset(s, v, w, tau):
    return (v - s * (1.0 + 0.1 * w),)


def torch_loop(step, x, state, params):
    """Autograd reference: the step in plain torch, one time step at a time."""
    outs = []
    for x_t in x.unbind(0):
        s, state = step.reference_step(x_t, state, params)
        outs.append(s)
    return torch.stack(outs), state


def check_against_loop(step, values, x, state0, dtype, tol):
    """Compare CompiledNeuron with the torch loop: values and every gradient."""
    n = x.shape[-1]
    mod = CompiledNeuron(step, n, learn=tuple(values), **values).to(dtype)
    x = x.to(dtype)
    state0 = tuple(s.to(dtype).requires_grad_() for s in state0)
    xc, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_c, st_c = mod(xc, state0)
    ps = [getattr(mod, p).detach().clone().requires_grad_() for p in step.param_names]
    s_r, st_r = torch_loop(step, xr, state0, ps)
    assert torch.equal(s_c, s_r)
    assert 0 < s_c.sum() < s_c.numel()
    for a, b in zip(st_c, st_r):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    w = torch.randn_like(s_r)
    loss_c = (w * s_c).sum() + sum((st ** 2).sum() for st in st_c)
    loss_r = (w * s_r).sum() + sum((st ** 2).sum() for st in st_r)
    params_c = [getattr(mod, p) for p in step.param_names]
    g_c = torch.autograd.grad(loss_c, [xc, *state0, *params_c])
    g_r = torch.autograd.grad(loss_r, [xr, *state0, *ps])
    for a, b in zip(g_c, g_r):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("detach", [True, False])
def test_adaptive_two_state_neuron_float64(detach):
    torch.manual_seed(2)
    step = compile_step(alif_dynamics, alif_reset, state=("v", "a"),
                        params=("beta", "rho", "theta", "kappa"), detach_reset=detach)
    n = 7
    values = dict(beta=torch.rand(n) * 0.3 + 0.6, rho=torch.rand(n) * 0.2 + 0.7,
                  theta=torch.rand(n) * 0.4 + 0.8, kappa=torch.rand(n) * 0.5)
    x = torch.rand(40, 3, n) * 0.8
    check_against_loop(step, values, x, (torch.rand(3, n) * 0.5, torch.rand(3, n) * 0.2),
                       torch.float64, 1e-9)


def test_adaptive_two_state_neuron_float32():
    torch.manual_seed(3)
    step = compile_step(alif_dynamics, alif_reset, state=("v", "a"),
                        params=("beta", "rho", "theta", "kappa"), surrogate="gaussian")
    n = 300  # more than one block of neurons per batch row
    values = dict(beta=0.85, rho=0.9, theta=1.0, kappa=0.3)
    x = torch.rand(30, 2, n) * 0.8
    check_against_loop(step, values, x, (torch.zeros(2, n), torch.zeros(2, n)),
                       torch.float32, 2e-4)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_math_functions_against_loop(dtype, tol):
    torch.manual_seed(4)
    step = compile_step(math_dynamics, math_reset, state=("v",), params=("w", "tau"),
                        surrogate="triangle", detach_reset=False)
    n = 6
    values = dict(w=torch.randn(n) * 0.5, tau=torch.rand(n) * 5 + 2)
    x = torch.randn(30, 2, n) * 0.8
    check_against_loop(step, values, x, (torch.randn(2, n) * 0.3,), dtype, tol)


def test_gradcheck_tiny():
    """Finite differences of the final state (the spike pattern stays put for a tiny
    perturbation, and with a detached reset the state does not see the surrogate)."""
    step = compile_step(qif_dynamics, qif_reset, state=("v",), params=("a", "v_c", "theta"))
    torch.manual_seed(5)
    x = (torch.rand(8, 6, dtype=torch.float64) * 0.6).requires_grad_()
    v0 = (torch.rand(1, 6, dtype=torch.float64) * 0.3).requires_grad_()
    p = torch.tensor([[0.3] * 3, [0.2] * 3, [1.0] * 3], dtype=torch.float64).requires_grad_()
    assert step.scan(x, v0, p)[0].sum() > 0  # 6 = 2 batch rows of 3 neurons, some spikes
    assert torch.autograd.gradcheck(lambda *a: step.scan(*a)[1], (x, v0, p))


def test_bad_steps_name_the_problem_and_the_fix():
    def branchy(x, v, theta):
        v = v + x
        if v > theta:
            v = v - theta
        return v - theta, v

    with pytest.raises(ValueError, match="branch-free.*v - s \\* theta"):
        compile_step(branchy, lif_reset, state=("v",), params=("theta",))

    def one_output(x, v, theta):
        return v + x - theta

    with pytest.raises(ValueError, match="tuple of 2 values.*returned one value"):
        compile_step(one_output, lif_reset, state=("v",), params=("theta",))

    def bare_reset(s, v, beta, theta):
        return v - s * theta

    with pytest.raises(ValueError, match="reset 'bare_reset' must return a tuple of 1 value .*"
                                         "return \\(v_new,\\)"):
        compile_step(lif_dynamics, bare_reset, state=("v",), params=("beta", "theta"))

    with pytest.raises(ValueError,
                       match="dynamics 'lif_dynamics' must take \\(x, \\*state, \\*params\\), 5"):
        compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta", "extra"))

    def floors(x, v, theta):
        v = math.floor(v) + x
        return v - theta, v

    with pytest.raises(ValueError, match="math.floor is not supported.*math.\\{exp"):
        compile_step(floors, lif_reset, state=("v",), params=("theta",))


def test_nan_input_is_refused():
    step = compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta"))
    mod = CompiledNeuron(step, 4, beta=0.9, theta=1.0).double()
    x = torch.rand(5, 2, 4, dtype=torch.float64)
    x[3, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        mod(x)


_CACHE_CHECK = """
import sys, torch
from axonal.kernels import CompiledNeuron, compile_step

def no_param_dynamics(x, v):
    v = 0.5 * v + x
    return v - 1.0, v


def no_param_reset(s, v):
    return (v * (1 - s),)


step = compile_step(no_param_dynamics, no_param_reset, state=("v",))
x = torch.rand(6, 2, 3, requires_grad=True)
s, (v,) = CompiledNeuron(step, 3)(x)
(s.sum() + v.sum()).backward()
k = step.kernels()
print(step.kernel_file, "sympy" in sys.modules,
      sum(sum(f.stats.cache_hits.values()) for f in (k.forward, k.backward)),
      sum(sum(f.stats.cache_misses.values()) for f in (k.forward, k.backward)))
"""


def no_param_dynamics(x, v):
    v = 0.5 * v + x
    return v - 1.0, v


def no_param_reset(s, v):
    return (v * (1 - s),)


def test_kernels_are_cached_on_disk_for_the_next_process(tmp_path):
    code = _CACHE_CHECK
    env = dict(os.environ, AXONAL_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    (file0, sympy0, hits0, miss0), (file1, sympy1, hits1, miss1) = runs
    assert file0 == file1 and Path(file0).parent == tmp_path / "compile_step"
    assert (sympy0, hits0, miss0) == ("True", "0", "2")   # traced and compiled
    assert (sympy1, hits1, miss1) == ("False", "2", "0")  # loaded: no sympy, no compile


def test_cache_key_does_not_change_once_the_step_has_run():
    """The key hashes the user's code deterministically (``marshal`` output changes with the
    reference counts of the constants, which numba and the torch loop change)."""
    from axonal.kernels.compiled._codegen import cache_key

    key = cache_key(math_dynamics, math_reset, 1, 2, 2)
    step = compile_step(math_dynamics, math_reset, state=("v",), params=("w", "tau"),
                        surrogate="triangle", detach_reset=False)
    mod = CompiledNeuron(step, 3, w=0.1, tau=3.0).double()
    mod(torch.rand(4, 2, 3, dtype=torch.float64))
    torch_loop(step, torch.rand(4, 3), (torch.zeros(3),), (torch.zeros(3), torch.ones(3) * 3))
    assert step.cache_key == key == cache_key(math_dynamics, math_reset, 1, 2, 2)


def test_unwritable_cache_directory_compiles_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    monkeypatch.setenv("AXONAL_CACHE_DIR", str(blocker / "cache"))

    def leaky_dynamics(x, v):  # a neuron of its own, so nothing is loaded yet
        v = 0.75 * v + x
        return v - 1.0, v

    step = compile_step(leaky_dynamics, no_param_reset, state=("v",))
    x = torch.rand(6, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        s, (v,) = CompiledNeuron(step, 3)(x)
    s_r, (v_r,) = torch_loop(step, x, (torch.zeros(2, 3, dtype=torch.float64),), ())
    assert step.kernel_file == "memory"
    assert torch.equal(s, s_r) and torch.allclose(v, v_r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_fires_on_an_exact_tie_like_the_reference(dtype):
    """Issue 24: spikes on ``h >= 0`` as the reference step. Inputs in quarters and a decay
    of 1/2 keep every membrane exact, so membranes land exactly on the threshold; the strict
    rule (threshold one float32 ulp higher) gives other spikes, so ``>`` would fail here."""
    step = compile_step(lif_dynamics, lif_reset, state=("v",), params=("beta", "theta"))
    x = (torch.randint(0, 5, (16, 3, 6), generator=torch.Generator().manual_seed(2)) / 4).to(dtype)
    spikes = {}
    for theta in (1.0, STRICT):
        mod = CompiledNeuron(step, 6, beta=0.5, theta=theta).to(dtype)
        ref = LIF(6, decay=0.5, threshold=theta, backend="scan").to(dtype)
        with torch.no_grad():
            s_c, st_c = mod(x)
            s_r, st_r = ref(x)
        assert torch.equal(s_c, s_r) and torch.equal(st_c[0], st_r.v)
        spikes[theta] = s_c
    assert not torch.equal(spikes[1.0], spikes[STRICT]), "no exact tie reached"
