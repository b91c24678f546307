"""Local learning rules: STDP (pair vs trace, bounds, forms), Tempotron, three-factor, the loop."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.learning import (
    STDP, PlasticLinear, Tempotron, ThreeFactor, local_train, pair_stdp, stdp_window,
    tempotron_kernel_traces, tempotron_update,
)
from axonal.neurons import LIF


def rasters(seed, t=40, b=3, n_in=5, n_out=4, p=0.2):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(t, b, n_in, generator=g) < p).double(),
            (torch.rand(t, b, n_out, generator=g) < p).double())


@pytest.mark.parametrize("seed", range(5))
def test_trace_stdp_equals_pair_based_all_to_all(seed):
    pre, post = rasters(seed)
    rule = STDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=15.0, w_min=-10, w_max=10)
    w = torch.zeros(4, 5, dtype=torch.float64)
    dw, _ = rule.sequence(pre, post, w)
    ref = pair_stdp(pre, post, 0.01, 0.012, 20.0, 15.0)
    torch.testing.assert_close(dw, ref, rtol=1e-10, atol=1e-12)


def test_pair_window_and_single_pairs():
    assert stdp_window(5.0).item() == pytest.approx(0.01 * math.exp(-5 / 20))
    assert stdp_window(-5.0).item() == pytest.approx(-0.012 * math.exp(-5 / 20))
    assert stdp_window(0.0).item() == 0.0
    pre = torch.zeros(10, 1, 1)
    post = torch.zeros(10, 1, 1)
    pre[2], post[6] = 1, 1                      # pre 4 steps before post: LTP
    dw, _ = STDP().sequence(pre, post, torch.zeros(1, 1))
    assert dw.item() == pytest.approx(0.01 * math.exp(-4 / 20), rel=1e-6)
    dw, _ = STDP().sequence(post, pre, torch.zeros(1, 1))  # swapped: post first -> LTD
    assert dw.item() == pytest.approx(-0.012 * math.exp(-4 / 20), rel=1e-6)


def test_nearest_pairing_counts_only_the_last_pre_spike():
    pre = torch.zeros(10, 1, 1)
    post = torch.zeros(10, 1, 1)
    pre[1], pre[3], post[5] = 1, 1, 1
    near, _ = STDP(pairing="nearest", a_minus=0).sequence(pre, post, torch.zeros(1, 1))
    allp, _ = STDP(a_minus=0).sequence(pre, post, torch.zeros(1, 1))
    assert near.item() == pytest.approx(0.01 * math.exp(-2 / 20), rel=1e-6)
    assert allp.item() == pytest.approx(0.01 * (math.exp(-2 / 20) + math.exp(-4 / 20)), rel=1e-6)


def test_multiplicative_scales_with_distance_to_bounds():
    pre = torch.zeros(5, 1, 2)
    post = torch.zeros(5, 1, 1)
    pre[0], post[2] = 1, 1
    w = torch.tensor([[0.2, 0.8]])
    add, _ = STDP(form="additive").sequence(pre, post, w)
    mul, _ = STDP(form="multiplicative").sequence(pre, post, w)
    torch.testing.assert_close(add[0, 0], add[0, 1])
    torch.testing.assert_close(mul, add * (1 - w))       # LTP x (w_max - w)


def test_multiplicative_depression_scales_with_w_minus_wmin():
    pre = torch.zeros(5, 1, 2)
    post = torch.zeros(5, 1, 1)
    post[1], pre[3] = 1, 1                                # post before pre: LTD
    w = torch.tensor([[0.2, 0.8]])
    add, _ = STDP().sequence(pre, post, w)
    mul, _ = STDP(form="multiplicative").sequence(pre, post, w)
    assert (add < 0).all()
    torch.testing.assert_close(mul, add * w)              # LTD x (w - w_min), w_min = 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["additive", "multiplicative"]),
       st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.floats(-1.0, 0.0), st.floats(0.1, 2.0))
def test_weight_bounds_hold_online(seed, form, a_plus, a_minus, w_min, span):
    pre, post = rasters(seed, t=30, p=0.5)
    w_max = w_min + span
    rule = STDP(a_plus=a_plus, a_minus=a_minus, w_min=w_min, w_max=w_max, form=form)
    g = torch.Generator().manual_seed(seed)
    w = (w_min + span * torch.rand(4, 5, generator=g)).double()
    rule.sequence(pre, post, w, apply=True)
    assert (w >= w_min).all() and (w <= w_max).all()


def test_stdp_validation():
    with pytest.raises(ValueError, match="form"):
        STDP(form="quadratic")
    with pytest.raises(ValueError, match="w_min < w_max"):
        STDP(w_min=1, w_max=0)
    with pytest.raises(ValueError, match="weight must be"):
        STDP().step(torch.zeros(2, 3), torch.zeros(2, 4), None, torch.zeros(3, 4))


# ----------------------------------------------------------------------------- three-factor
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(-2.0, 2.0), st.sampled_from([0.0, 50.0]))
def test_three_factor_zero_and_sign(seed, m, tau_e):
    pre, post = rasters(seed, p=0.4)
    rule = ThreeFactor(lr=0.1, tau_eligibility=tau_e)
    w = torch.zeros(4, 5, dtype=torch.float64)
    zero, _ = rule.sequence(pre, post, w, modulator=0.0)
    assert torch.count_nonzero(zero) == 0
    dw, st_ = rule.sequence(pre, post, w, modulator=m)
    if m == 0:
        assert torch.count_nonzero(dw) == 0
    else:
        assert ((dw * m) >= 0).all()
        unit, _ = rule.sequence(pre, post, w, modulator=1.0)
        assert (unit > 0).any()
        torch.testing.assert_close(dw, m * unit)          # linear in the modulator


def test_three_factor_known_value_and_delayed_reward():
    rule = ThreeFactor(lr=0.5, tau_pre=10.0, tau_eligibility=20.0)
    pre = torch.zeros(3, 1, 1)
    post = torch.zeros(3, 1, 1)
    pre[0], post[1] = 1, 1
    w = torch.zeros(1, 1)
    _, state = rule.sequence(pre, post, w)                    # no modulator: no change, trace charges
    # r(1) = e^{-0.1}; e(1) = r(1); e(2) = e^{-1/20} e(1)
    expected_e = math.exp(-0.1) * math.exp(-1 / 20)
    assert state.eligibility.item() == pytest.approx(expected_e, rel=1e-6)
    assert rule.finish(state, w, -2.0).item() == pytest.approx(0.5 * -2.0 * expected_e, rel=1e-6)
    # per-neuron error modulation (Yamada & Chao): dw_ij = lr * M e_i r_j with tau_eligibility = 0
    rule0 = ThreeFactor(lr=1.0, tau_eligibility=0.0, tau_pre=1e-9)
    dw, _ = rule0.step(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]]), None, torch.zeros(2, 2),
                       modulator=torch.tensor([[1.0, 3.0]]))
    torch.testing.assert_close(dw, torch.tensor([[0.5, 1.0], [-3.0, -6.0]]))
    with pytest.raises(ValueError, match="modulator must be"):
        rule0.step(torch.ones(1, 2), torch.ones(1, 2), None, torch.zeros(2, 2), modulator=torch.ones(3))


def test_three_factor_reward_learns_a_choice():
    """Reward-modulated Hebbian learning: the neuron driven by the rewarded input pattern wins."""
    torch.manual_seed(0)
    layer = PlasticLinear(4, 2, LIF(2, tau_mem=5.0, threshold=0.5), ThreeFactor(lr=0.05, w_min=0.0, w_max=2.0),
                          seed=1)
    g = torch.Generator().manual_seed(0)

    def batches():
        for _ in range(30):
            y = torch.randint(0, 2, (16,), generator=g)
            rates = torch.where(y[:, None] == 0, torch.tensor([0.6, 0.6, 0.05, 0.05]), torch.tensor([0.05, 0.05, 0.6, 0.6]))
            yield (torch.rand(20, 16, 4, generator=g) < rates).float(), y

    def reward(out, y):
        counts = out.sum(0)                                   # [B, 2]
        correct = counts.gather(1, y[:, None]).squeeze(1)
        wrong = counts.gather(1, (1 - y)[:, None]).squeeze(1)
        # reward the correct neuron's activity, punish the wrong one's: per-neuron modulator
        m = torch.where(torch.nn.functional.one_hot(y, 2).bool(), 1.0, -1.0)
        return m * (correct - wrong).abs().clamp(min=1.0)[:, None]

    local_train(layer, list(batches()), epochs=3, reward=reward)
    w = layer.weight.detach()
    assert w[0, :2].mean() > w[0, 2:].mean() and w[1, 2:].mean() > w[1, :2].mean()


# ----------------------------------------------------------------------------- Tempotron
def test_tempotron_kernel_peak_is_one_and_starts_at_zero():
    x = torch.zeros(80, 1, 1)
    x[0] = 1
    k = tempotron_kernel_traces(x, tau=15.0)[:, 0, 0]
    assert k[0].item() == 0.0
    assert k.max().item() == pytest.approx(1.0, abs=2e-3)   # discrete sampling of a unit-peak kernel
    t_peak = 15 * 3.75 * math.log(4) / (15 - 3.75)
    assert abs(int(k.argmax()) - t_peak) <= 1


def test_tempotron_update_signs():
    k = torch.rand(10, 2, 3)
    v = torch.zeros(10, 2, 1)
    v[4, 0, 0] = 2.0                                          # sample 0 fires (peak at t=4)
    v[7, 1, 0] = 0.5                                          # sample 1 stays silent (peak at t=7)
    dw = tempotron_update(k, v, torch.tensor([[0.0], [1.0]]), threshold=1.0, lr=0.1)
    torch.testing.assert_close(dw, 0.1 * (k[7, 1] - k[4, 0])[None, :])
    ok = tempotron_update(k, v, torch.tensor([[1.0], [0.0]]), threshold=1.0, lr=0.1)
    assert torch.count_nonzero(ok) == 0


def test_tempotron_learns_separable_spike_patterns():
    g = torch.Generator().manual_seed(0)
    patterns = (torch.rand(50, 20, 30, generator=g) < 0.04).float()   # 20 fixed patterns, T=50
    labels = torch.arange(20) % 2
    tp = Tempotron(30, 1, lr=0.01, seed=0)
    before = (tp.predict(patterns) == labels).float().mean()
    for _ in range(300):
        if tp.local_update(patterns, labels) == 0:
            break
    assert before < 1.0 and (tp.predict(patterns) == labels).all()


# ----------------------------------------------------------------------------- loop and mixing
def test_supervised_stdp_with_teacher_learns_two_patterns():
    g = torch.Generator().manual_seed(0)
    proto = torch.tensor([[0.5] * 5 + [0.02] * 5, [0.02] * 5 + [0.5] * 5])

    def data(n):
        y = torch.randint(0, 2, (n,), generator=g)
        return (torch.rand(30, n, 10, generator=g) < proto[y]).float(), y

    layer = PlasticLinear(10, 2, LIF(2, tau_mem=10.0, threshold=2.0),
                          STDP(a_plus=0.002, a_minus=0.001, w_min=0.0, w_max=0.5), seed=0)
    one_hot = lambda y: torch.nn.functional.one_hot(y, 2).float()
    teach = lambda y: 2.0 * one_hot(y) - 10.0 * (1 - one_hot(y))   # drive the right one, silence the other
    x, y = data(200)
    before = (layer(x)[0].sum(0).argmax(1) == y).float().mean()
    assert before < 0.7
    hist = local_train(layer, [data(32) for _ in range(10)], epochs=2, teacher=teach)
    assert len(hist) == 2 and "loss" not in hist[0]
    out, _ = layer(x)
    acc = (out.sum(0).argmax(1) == y).float().mean()
    assert acc > 0.9


def test_mixing_local_weights_with_gradient_on_intrinsics():
    torch.manual_seed(0)
    neuron = LIF(3, learn=("threshold",), per_neuron=True)
    layer = PlasticLinear(6, 3, neuron, STDP(w_min=0.0, w_max=1.0), seed=0)
    opt = torch.optim.SGD([neuron.threshold_param], lr=0.1)
    w0 = layer.weight.detach().clone()
    th0 = neuron.threshold_param.detach().clone()
    x = (torch.rand(20, 8, 6) < 0.3).float()
    y = torch.randint(0, 3, (8,))
    loss_fn = lambda out, y: torch.nn.functional.cross_entropy(out.sum(0), y)
    hist = local_train(layer, [(x, y)], epochs=1, loss_fn=loss_fn, optimizer=opt)
    assert "loss" in hist[0]
    assert not torch.equal(neuron.threshold_param.detach(), th0)      # gradient moved the intrinsic
    assert not torch.equal(layer.weight.detach(), w0)                 # STDP moved the weights
    assert layer.weight.grad is None                                  # weights got no gradient
    with pytest.raises(ValueError, match="together"):
        local_train(layer, [(x, y)], loss_fn=loss_fn)


def _traces_loop(x, tau, tau_s):
    """The reference: the two exponential traces stepped one at a time."""
    da, db = torch.exp(-1.0 / tau), torch.exp(-1.0 / tau_s)
    t_peak = tau * tau_s * torch.log(tau / tau_s) / (tau - tau_s)
    v0 = 1.0 / (torch.exp(-t_peak / tau) - torch.exp(-t_peak / tau_s))
    a = b = torch.zeros_like(x[0])
    out = []
    for x_t in x.unbind(0):
        a, b = a * da + x_t, b * db + x_t
        out.append(v0 * (a - b))
    return torch.stack(out)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 40), block=st.integers(1, 16), tau=st.floats(1.5, 60.0), wide=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 10_000))
def test_closed_form_traces_equal_the_loop_values_and_gradients(t, block, tau, wide, dtype, seed):
    """The block-matmul traces (no loop over steps) against the stepped recurrence."""
    from axonal.learning import tempotron
    from axonal.neurons import readout as tmod

    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(t, 2, 3, generator=g, dtype=dtype) < 0.3).to(dtype).requires_grad_()
    tau_t = torch.tensor(tau, dtype=dtype, requires_grad=True)
    old = tmod._BLOCK, tmod._LOOP_WIDTH
    try:
        tmod._BLOCK, tmod._LOOP_WIDTH = block, (2 if wide else old[1])   # wide: the stepped form
        fast = tempotron.tempotron_kernel_traces(x, tau_t, tau_t / 4)
    finally:
        tmod._BLOCK, tmod._LOOP_WIDTH = old
    ref = _traces_loop(x, tau_t, tau_t / 4)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast, ref, **tol)
    w = torch.linspace(-1, 1, fast.numel(), dtype=dtype).reshape(fast.shape)
    gf = torch.autograd.grad((fast * w).sum(), [x, tau_t])
    gr = torch.autograd.grad((ref * w).sum(), [x, tau_t])
    for a, b in zip(gf, gr):
        torch.testing.assert_close(a, b, **tol)


# ----------------------------------------------------------------------------- Tempotron intrinsics
def test_tempotron_cost_gradient_in_weights_is_the_rule():
    """The rule is gradient descent on the Tempotron cost: -d(cost)/dw * B * out == dw / lr."""
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(40, 12, 8, generator=g) < 0.1).float()
    y = torch.arange(12) % 2
    tp = Tempotron(8, 1, lr=0.1, threshold=0.6, seed=3)
    v, k = tp.potential(x)
    dw = tempotron_update(k, v, tp.targets(y), 0.6, lr=0.1)
    assert dw.abs().sum() > 0
    tp.weight.requires_grad_(True)
    (grad,) = torch.autograd.grad(tp.cost(x, y), tp.weight)
    torch.testing.assert_close(-grad * 12 * 0.1, dw)


def test_tempotron_learned_intrinsics_are_differentiable_and_move():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(50, 16, 10, generator=g) < 0.08).float()
    k_float = tempotron_kernel_traces(x, 12.0)
    k_tensor = tempotron_kernel_traces(x, torch.tensor(12.0, dtype=torch.float64))
    torch.testing.assert_close(k_tensor.float(), k_float)
    tp = Tempotron(10, 1, tau=15.0, threshold=1.0, seed=0, learn=("tau", "threshold"))
    assert tp.tau.item() == pytest.approx(15.0) and tp.tau_s.item() == pytest.approx(3.75)
    y = torch.arange(16) % 2
    cost = tp.cost(x, y)
    assert cost.item() > 0                                  # some answers are wrong at init
    cost.backward()
    assert tp.log_tau.grad is not None and tp.threshold_param.grad is not None
    assert tp.log_tau.grad.abs() > 0 and tp.threshold_param.grad.abs() > 0
    assert tp.weight.grad is None                           # the weights keep the local rule
    with pytest.raises(ValueError, match="cannot learn"):
        Tempotron(3, learn=("beta",))
    with pytest.raises(ValueError, match="tau_s"):
        Tempotron(3, tau_s=2.0, learn=("tau",))


def test_local_train_with_teacher_takes_the_loss_on_a_free_pass():
    """With a teacher the plastic pass answers correctly by construction (its loss is ~0), so the
    intrinsic parameters must be trained on a free pass: they move, and the weights still learn."""
    g = torch.Generator().manual_seed(0)
    neuron = LIF(2, tau_mem=10.0, threshold=2.0, learn=("threshold",), per_neuron=True)
    layer = PlasticLinear(6, 2, neuron, STDP(a_plus=0.002, a_minus=0.001, w_min=0.0, w_max=0.5), seed=0)
    x = (torch.rand(30, 16, 6, generator=g) < 0.3).float()
    y = torch.arange(16) % 2
    one_hot = lambda y: torch.nn.functional.one_hot(y, 2).float()
    teach = lambda y: 5.0 * one_hot(y) - 20.0 * (1 - one_hot(y))
    loss_fn = lambda out, y: torch.nn.functional.cross_entropy(out.sum(0), y)
    forced, _ = layer(x, teacher=teach(y))
    assert (forced.sum(0).argmax(1) == y).all()             # the teacher decides the answer
    th0, w0 = neuron.threshold_param.detach().clone(), layer.weight.detach().clone()
    with torch.no_grad():
        free_loss = loss_fn(layer(x)[0], y).item()
    assert free_loss > loss_fn(forced, y).item() + 0.1
    hist = local_train(layer, [(x, y)], teacher=teach, loss_fn=loss_fn,
                       optimizer=torch.optim.SGD([neuron.threshold_param], lr=0.5))
    assert hist[0]["loss"] == pytest.approx(free_loss, rel=1e-6)   # recorded on the free pass
    assert not torch.equal(neuron.threshold_param.detach(), th0)
    assert not torch.equal(layer.weight.detach(), w0)


# ----------------------------------------------------------------------------- error-modulated rule
def test_error_modulated_three_factor_converges_to_least_squares_readout():
    """dw = lr M e r with e = target - w r (Yamada & Chao's rule) is online least squares: with
    the gate open it reaches the lstsq readout; with the gate closed nothing changes."""
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(400, 8, 5, generator=g) < 0.2).float()
    rule = ThreeFactor(lr=0.02, tau_pre=5.0, tau_eligibility=0.0)
    decay = math.exp(-1 / 5.0)
    traces, r = [], torch.zeros(8, 5)
    for s in spikes.unbind(0):
        r = decay * r + s
        traces.append(r)
    traces = torch.stack(traces)
    w_true = torch.tensor([[0.5, -0.3, 0.2, 0.0, 0.8]])
    target = traces @ w_true.T                                # [T, B, 1]
    for gate, moves in ((0.0, False), (1.0, True)):
        w = torch.zeros(1, 5)
        state = None
        for _ in range(3):
            for t, s in enumerate(spikes.unbind(0)):
                err = target[t] - traces[t] @ w.T
                dw, state = rule.step(s, err, state, w, gate)
                torch.testing.assert_close(state.pre_trace, traces[t])   # the readout reads the rule's trace
                rule.apply(w, dw)
            state = None
        if moves:
            torch.testing.assert_close(w, w_true, atol=1e-3, rtol=0)
        else:
            assert torch.count_nonzero(w) == 0
