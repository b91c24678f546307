"""AM-SU (astrocyte-modulated LIF): the astrocyte's slow dynamics on known values, the two
feedback paths, population spread, learnable gains of free sign, recurrence and gradients."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.neurons import Recurrent
from axonal.neurons.astrocyte import AstrocyteLIF, AstrocyteParams, AstrocyteState, astrocyte_lif_step


def test_astrocyte_integrates_spikes_as_slow_low_pass():
    """Neuron forced to fire every step for 50 steps, then silent: a_t = 1 - alpha^t, then
    decays as alpha^k (alpha = exp(-1/tau_astro)) — known closed forms."""
    p = AstrocyteParams(tau_mem=5.0, tau_astro=100.0, threshold=1.0, current_gain=0.0, reset="zero")
    alpha = math.exp(-1 / 100)
    st = AstrocyteState(torch.zeros(1, 1), torch.zeros(1, 1))
    for t in range(1, 51):
        s, st = astrocyte_lif_step(torch.full((1, 1), 10.0), st, p)
        assert s.item() == 1.0
        assert math.isclose(st.a.item(), 1 - alpha ** t, rel_tol=1e-5)
    a50 = st.a.item()
    for k in range(1, 201):
        s, st = astrocyte_lif_step(torch.zeros(1, 1), st, p)
        assert s.item() == 0.0
    assert math.isclose(st.a.item(), a50 * alpha ** 200, rel_tol=1e-4)
    # slow: after 200 silent steps the astrocyte still holds e^-2 of its value, while the
    # membrane (tau 5) forgot everything
    assert st.a.item() > 0.05 and st.v.abs().item() < 1e-12


def test_current_feedback_sustains_firing_after_input_stops():
    kw = dict(tau_mem=5.0, tau_astro=200.0, threshold=1.0, reset="subtract")
    x = torch.cat([torch.full((30, 1, 1), 2.0), torch.zeros(100, 1, 1)])
    no_fb, _ = AstrocyteLIF(1, current_gain=0.0, **kw)(x)
    fb, _ = AstrocyteLIF(1, current_gain=1.5, **kw)(x)
    assert no_fb[40:].sum() == 0          # a plain LIF falls silent once its membrane leaks away
    assert fb[40:].sum() >= 5              # the astrocyte current keeps the unit active


def test_threshold_feedback_is_homeostatic():
    kw = dict(tau_mem=5.0, tau_astro=50.0, threshold=1.0, current_gain=0.0)
    x = torch.full((200, 1, 1), 1.5)
    plain, _ = AstrocyteLIF(1, threshold_gain=0.0, **kw)(x)
    homeo, _ = AstrocyteLIF(1, threshold_gain=3.0, **kw)(x)
    assert homeo.sum() < plain.sum()


def test_one_step_known_values_with_both_feedbacks_and_spread():
    p = AstrocyteParams(tau_mem=10.0, tau_astro=20.0, threshold=1.0, current_gain=0.5, threshold_gain=2.0,
                        spread=0.5)
    beta, alpha = math.exp(-0.1), math.exp(-0.05)
    v0 = torch.tensor([[0.5, 0.2]])
    a0 = torch.tensor([[0.4, 0.0]])
    x = torch.tensor([[1.0, 0.9]])
    s, st = astrocyte_lif_step(x, AstrocyteState(v0, a0), p)
    v = beta * v0 + x + 0.5 * a0                   # [1.652.., 1.081..]
    theta = 1.0 + 2.0 * a0                          # [1.8, 1.0]
    expected_s = (v >= theta).float()               # [0, 1]
    assert s.tolist() == expected_s.tolist() == [[0.0, 1.0]]
    r = 0.5 * expected_s + 0.5 * expected_s.mean(-1, keepdim=True)   # [0.25, 0.75]
    torch.testing.assert_close(st.a, alpha * a0 + (1 - alpha) * r)
    torch.testing.assert_close(st.v, v - expected_s * theta)


def test_learnable_gains_keep_their_sign_and_get_gradients():
    torch.manual_seed(0)
    pop = AstrocyteLIF(8, current_gain=-0.3, threshold_gain=0.2, tau_astro=100.0,
                       learn=("tau_astro", "current_gain", "threshold_gain", "threshold"), per_neuron=True)
    p = pop.params()
    assert torch.allclose(p.current_gain, torch.full((8,), -0.3))   # negative gain not clamped
    assert torch.allclose(p.tau_astro, torch.full((8,), 100.0))
    rec = Recurrent(pop)
    out, _ = rec(torch.randn(40, 3, 8) * 2)
    out.sum().backward()
    for name in ("tau_astro_param", "current_gain_param", "threshold_gain_param"):
        assert getattr(pop, name).grad is not None and getattr(pop, name).grad.abs().sum() > 0


def test_gradcheck_through_astrocyte_state():
    p = AstrocyteParams(tau_mem=4.0, tau_astro=30.0, threshold=1.0, current_gain=0.3, threshold_gain=0.1)
    # the surrogate makes spikes piecewise constant; check the smooth path through a and v
    a0 = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    v0 = torch.zeros(2, 3, dtype=torch.float64)
    x = torch.full((2, 3), -5.0, dtype=torch.float64)   # far below threshold: no spikes
    assert torch.autograd.gradcheck(lambda a: astrocyte_lif_step(x, AstrocyteState(v0, a), p)[1].a
                                    + astrocyte_lif_step(x, AstrocyteState(v0, a), p)[1].v, (a0,))


def test_validation():
    with pytest.raises(ValueError, match="spread"):
        AstrocyteParams(spread=1.5)
    with pytest.raises(ValueError, match="tau_astro"):
        AstrocyteParams(tau_astro=-1.0)
    with pytest.raises(ValueError, match="cannot learn"):
        AstrocyteLIF(4, learn=("spread",))


@settings(max_examples=20, deadline=None)
@given(reset=st.sampled_from(["subtract", "zero", "none"]),
       surrogate=st.sampled_from(["fast_sigmoid", "atan", "gaussian"]),
       learned=st.booleans(), per_neuron=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64]),
       t=st.integers(1, 12), b=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_fused_kernel_equals_reference_values_and_gradients(reset, surrogate, learned, per_neuron,
                                                            dtype, t, b, seed):
    """spread = 0: the compiled kernel is the reference step (values and every gradient)."""
    from axonal.neurons.astrocyte import AstrocyteState
    from axonal.surrogate import get_surrogate

    g = torch.Generator().manual_seed(seed)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(1, generator=g).item()
    n = 5
    kw = dict(tau_mem=u(2, 20), tau_astro=u(20, 200), threshold=u(0.5, 1.5), current_gain=u(-1, 1),
              threshold_gain=u(-0.5, 0.5), reset=reset, surrogate=get_surrogate(surrogate, 0.3),
              detach_reset=False, per_neuron=per_neuron,
              learn=AstrocyteLIF.learnable_names if learned else ())
    ref, fused = AstrocyteLIF(n, backend="reference", **kw), AstrocyteLIF(n, backend="compiled", **kw)
    fused.load_state_dict(ref.state_dict())
    x = (1.5 * torch.rand(t, b, n, generator=g, dtype=dtype)).requires_grad_()
    v0 = (0.4 * torch.rand(b, n, generator=g, dtype=dtype)).requires_grad_()
    a0 = (0.5 * torch.rand(b, n, generator=g, dtype=dtype)).requires_grad_()
    outs, grads = [], []
    for mod in (ref, fused):
        mod.to(dtype)
        out, st_ = mod(x, AstrocyteState(v0, a0))
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=dtype).reshape(out.shape)
        loss = (out * w).sum() + (st_.v * 0.7).sum() + (st_.a * 1.3).sum()
        grads.append(torch.autograd.grad(loss, [x, v0, a0] + list(mod.parameters())))
        outs.append((out, st_.v, st_.a))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(outs[1][0], outs[0][0])
    for f, r in zip(outs[1][1:], outs[0][1:]):
        torch.testing.assert_close(f, r, **tol)
    for gf, gr in zip(grads[1], grads[0]):
        torch.testing.assert_close(gf, gr, **tol)


def test_fused_kernel_declines_what_it_cannot_compute_exactly():
    from axonal.kernels.registry import KernelUnavailable

    x = torch.rand(6, 2, 4)
    with pytest.raises(KernelUnavailable, match="spread"):
        AstrocyteLIF(4, spread=0.5, backend="compiled")(x)
    with pytest.raises(KernelUnavailable, match="detach_reset"):
        AstrocyteLIF(4, learn=("threshold",), backend="compiled")(x)
    # inference with the default detach_reset=True runs fused and equals the reference
    with torch.no_grad():
        fused, _ = AstrocyteLIF(4, backend="compiled", threshold=0.5)(x)
        ref, _ = AstrocyteLIF(4, backend="reference", threshold=0.5)(x)
    torch.testing.assert_close(fused, ref)
    assert fused.sum() > 0
    # auto falls back silently where the kernel declines
    auto, _ = AstrocyteLIF(4, spread=0.5)(x)
    torch.testing.assert_close(auto, AstrocyteLIF(4, spread=0.5, backend="reference")(x)[0])
