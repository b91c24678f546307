"""Delayed synapses: values against a brute-force loop, Gaussian <-> integer round trip,
numerical gradients, streaming, errors, training helpers, the DCLS zoo model and the
heterogeneous-delay motif detector."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.synapses.delay import (
    _causal_conv,
    DelayedLinear,
    DelayState,
    clamp_positions,
    delay_param_groups,
    delay_reference,
    gaussian_delay_kernel,
    set_sigma,
    sigma_schedule,
)


def spikes(t, b, c, p=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, c, generator=g) < p).float()


# ----------------------------------------------------------------------------- values
def test_one_hot_kernel_shifts_by_the_delay():
    # one synapse, delay 3: the output is the input three steps later
    layer = DelayedLinear(1, 1, max_delay=5, delays=torch.tensor([[3]]))
    with torch.no_grad():
        layer.weight.fill_(2.0)
    x = torch.zeros(10, 1, 1)
    x[1, 0, 0] = 1.0
    x[6, 0, 0] = 0.5
    y, _ = layer(x)
    expected = torch.zeros(10)
    expected[4] = 2.0
    expected[9] = 1.0
    torch.testing.assert_close(y[:, 0, 0], expected)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 12), b=st.integers(1, 3), n_in=st.integers(1, 5), n_out=st.integers(1, 4),
       max_delay=st.integers(0, 7), seed=st.integers(0, 10_000), sparse=st.booleans())
def test_integer_delays_match_brute_force_loop(t, b, n_in, n_out, max_delay, seed, sparse):
    g = torch.Generator().manual_seed(seed)
    d = torch.randint(0, max_delay + 1, (n_out, n_in), generator=g)
    layer = DelayedLinear(n_in, n_out, max_delay, delays=d, generator=g)
    x = spikes(t, b, n_in, 0.2, seed) if sparse else torch.randn(t, b, n_in, generator=g)
    ref = delay_reference(x, layer.weight.detach(), d)
    y, _ = layer(x)  # dense conv path (weight requires grad)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # event-driven path when the input is sparse
        y2, _ = layer(x)
    torch.testing.assert_close(y2, ref, atol=1e-5, rtol=1e-5)


def test_event_path_equals_dense_path_at_shd_scale():
    layer = DelayedLinear(70, 32, 25, delays="learn", generator=torch.Generator().manual_seed(1)).eval()
    x = spikes(40, 4, 70, 0.05, 3)
    with torch.no_grad():
        y_event, _ = layer(x)
        assert layer._event_path_ok(x)
    y_dense, _ = layer(x)  # grad enabled and weight requires grad -> dense conv
    ref = delay_reference(x, layer.weight.detach(), layer.integer_delays())
    torch.testing.assert_close(y_event, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y_dense, ref, atol=1e-5, rtol=1e-5)


def test_gaussian_kernel_is_normalised_and_centred():
    w = torch.ones(3, 2)
    p = torch.tensor([[5.0, 7.3], [10.0, 12.5], [2.0, 0.4]])
    k = gaussian_delay_kernel(w, p, sigma=1.5, max_delay=25)
    assert k.shape == (3, 2, 26)
    torch.testing.assert_close(k.sum(-1), torch.ones(3, 2), atol=1e-6, rtol=0)
    taps = torch.arange(26.0)
    centre = (k * taps).sum(-1)
    # away from the edges the centre of mass is the position
    torch.testing.assert_close(centre[:2], p[:2], atol=2e-3, rtol=0)


# ----------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("sigma", [0.05, 0.23])
def test_gaussian_form_round_trips_to_integer_delays(sigma):
    """Train form at integer positions equals the integer shift within 2 exp(-1/(2 sigma^2))."""
    torch.manual_seed(0)
    layer = DelayedLinear(12, 6, 9, delays="learn")
    d = torch.randint(0, 10, (6, 12))
    layer.set_delays(d)
    layer.sigma = sigma
    x = spikes(30, 3, 12, 0.3)
    layer.train()
    y_train, _ = layer(x)
    layer.eval()
    y_eval, _ = layer(x)
    ref = delay_reference(x, layer.weight.detach(), d)
    torch.testing.assert_close(y_eval, ref, atol=1e-5, rtol=0)
    # per tap the neighbours carry at most exp(-1/(2 sigma^2)) of the weight (times 2 sides)
    tol = 2 * math.exp(-1 / (2 * sigma ** 2)) * float(layer.weight.detach().abs().sum(1).max()) + 1e-5
    assert (y_train - ref).abs().max() <= tol
    assert torch.equal(layer.integer_delays(), d)


def test_eval_rounds_continuous_positions():
    layer = DelayedLinear(2, 1, 6, delays="learn")
    with torch.no_grad():
        layer.position.copy_(torch.tensor([[2.4, 4.6]]))
    assert layer.integer_delays().tolist() == [[2, 5]]
    layer.eval()
    x = spikes(15, 2, 2, 0.5)
    y, _ = layer(x)
    torch.testing.assert_close(y, delay_reference(x, layer.weight.detach(), torch.tensor([[2, 5]])))


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_weights_and_positions():
    torch.manual_seed(0)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    p = (torch.rand(3, 4, dtype=torch.float64) * 5).requires_grad_()
    x = torch.randn(8, 2, 4, dtype=torch.float64)

    def f(w, p):
        k = gaussian_delay_kernel(w, p, 1.3, 5)
        return _causal_conv(x, k, x.new_zeros(5, 2, 4))

    assert torch.autograd.gradcheck(f, (w, p))


def test_gradcheck_through_module_and_input():
    torch.manual_seed(1)
    layer = DelayedLinear(3, 2, 4, delays="learn", sigma=0.8, mode="gaussian").double()
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)

    # the input numerically; weights and positions are checked through the kernel above
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))
    y = layer(x)[0].sum()
    y.backward()
    assert layer.position.grad is not None and layer.position.grad.abs().sum() > 0
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_fixed_delays_have_no_position_gradient():
    layer = DelayedLinear(4, 3, 5, delays="random")
    assert not layer.learn_delays
    assert "position" not in dict(layer.named_parameters())
    y, _ = layer(spikes(10, 2, 4))
    y.sum().backward()
    assert layer.weight.grad is not None
    assert (layer.integer_delays() >= 0).all() and (layer.integer_delays() <= 5).all()


# ----------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("mode", ["gaussian", "integer"])
def test_streaming_equals_one_pass(mode):
    torch.manual_seed(0)
    layer = DelayedLinear(5, 4, 6, delays="learn", mode=mode, sigma=1.0)
    x = spikes(23, 3, 5, 0.3)
    y_full, s_full = layer(x)
    ys, state = [], None
    for chunk in (x[:4], x[4:5], x[5:17], x[17:]):
        y, state = layer(chunk, state)
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys), y_full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state.buffer, s_full.buffer)
    assert isinstance(state, DelayState) and state.buffer.shape == (6, 3, 5)


def test_streaming_in_sequential_with_lif():
    torch.manual_seed(0)
    net = Sequential(DelayedLinear(6, 8, 4, delays="random"), LIF(8, decay=0.5),
                     nn.Linear(8, 3), LIF(3, decay=0.8))
    x = spikes(20, 2, 6, 0.4)
    y_full, _ = net(x)
    y1, st1 = net(x[:7])
    y2, _ = net(x[7:], st1)
    torch.testing.assert_close(torch.cat([y1, y2]), y_full)


def test_max_delay_zero_is_linear():
    layer = DelayedLinear(4, 3, 0, delays="learn")
    x = torch.randn(5, 2, 4)
    y, st = layer(x)
    torch.testing.assert_close(y, x @ layer.weight.detach().T, atol=1e-5, rtol=1e-5)
    assert st.buffer.shape == (0, 2, 4)


# ----------------------------------------------------------------------------- errors
def test_delay_above_max_is_an_error():
    with pytest.raises(ValueError, match="above max_delay=5"):
        DelayedLinear(2, 2, 5, delays=torch.tensor([[1, 6], [0, 0]]))
    layer = DelayedLinear(2, 2, 5)
    with pytest.raises(ValueError, match="above max_delay"):
        layer.set_delays(torch.tensor([[1, 2], [3, 9]]))


def test_negative_and_fractional_delays_are_errors():
    with pytest.raises(ValueError, match="negative"):
        DelayedLinear(2, 1, 5, delays=torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match="whole numbers"):
        DelayedLinear(2, 1, 5, delays=torch.tensor([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="expected"):
        DelayedLinear(2, 1, 5, delays=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="max_delay"):
        DelayedLinear(2, 1, -1)
    with pytest.raises(ValueError, match="'learn', 'random'"):
        DelayedLinear(2, 1, 3, delays="fixed")


def test_input_shape_errors_are_clear():
    layer = DelayedLinear(4, 2, 3)
    with pytest.raises(ValueError, match=r"expected \[T, B, 4\]"):
        layer(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match="floating point"):
        layer(torch.zeros(5, 2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="state=None"):
        layer(torch.zeros(5, 2, 4), DelayState(torch.zeros(3, 7, 4)))


# ----------------------------------------------------------------------------- helpers
def test_param_groups_split_positions_and_weights():
    net = Sequential(DelayedLinear(3, 4, 5), LIF(4), DelayedLinear(4, 2, 5, delays="random"))
    groups = delay_param_groups(net, lr_weights=1e-3, lr_positions=0.1, weight_decay=1e-5)
    assert [g["name"] for g in groups] == ["weights", "positions"]
    assert len(groups[1]["params"]) == 1 and groups[1]["params"][0] is net[0].position
    assert groups[1]["lr"] == 0.1 and groups[1]["weight_decay"] == 0.0
    assert {id(p) for p in groups[0]["params"]} == {id(net[0].weight), id(net[2].weight)}
    torch.optim.Adam(groups)  # valid optimiser groups


def test_clamp_and_sigma_helpers():
    layer = DelayedLinear(2, 2, 4)
    with torch.no_grad():
        layer.position.copy_(torch.tensor([[-1.0, 2.0], [7.0, 4.0]]))
    assert layer.integer_delays().tolist() == [[0, 2], [4, 4]]  # forward never sees out-of-range
    clamp_positions(layer)
    assert layer.position.tolist() == [[0.0, 2.0], [4.0, 4.0]]
    set_sigma(layer, 0.5)
    assert layer.sigma == 0.5
    with pytest.raises(ValueError):
        set_sigma(layer, 0.0)


def test_sigma_schedule_follows_the_paper():
    # sigma_0 = K // 2 = 12, reaches 0.23 at epoch epochs // 4 and stays
    epochs = 100
    s = [sigma_schedule(e, epochs, 12.0) for e in range(epochs)]
    assert s[0] == 12.0
    assert all(a > b for a, b in zip(s[:25], s[1:26]))
    assert s[24] > 0.23 and s[25] == pytest.approx(0.23) and s[-1] == pytest.approx(0.23)
    alpha = (0.23 / 12.0) ** (1 / 25)
    assert s[10] == pytest.approx(12.0 * alpha ** 10)


# ----------------------------------------------------------------------------- DCLS zoo model
from axonal.models.dcls_delays import DCLSDelaySNN, summed_softmax_loss, summed_softmax_predict  # noqa: E402
from axonal.synapses.motif import HeterogeneousDelayDetector, MotifState, motif_decision, motif_loss  # noqa: E402


def test_dcls_model_architecture_and_helpers():
    g = torch.Generator().manual_seed(0)
    model = DCLSDelaySNN(14, 5, hidden=(16, 16), max_delay=7, generator=g, dropout=0.4)
    delayed = [m for m in model.modules() if isinstance(m, DelayedLinear)]
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    assert len(delayed) == 3 and len(lifs) == 2
    assert all(m.bias is None and m.learn_delays for m in delayed)
    assert all(m._fixed.reset == "zero" and m._fixed.surrogate.name == "atan"
               and m._fixed.surrogate.width == pytest.approx(0.2) for m in lifs)
    x = spikes(20, 3, 14, 0.2)
    out = model(x)
    assert out.shape == (20 + 3 * 3, 3, 5)
    names = [gr["name"] for gr in model.param_groups(1e-3, 0.1, 1e-5)]
    assert names == ["weights", "batchnorm", "positions"]
    assert model.start_epoch(0, 8) == pytest.approx(3.0) and delayed[0].sigma == pytest.approx(3.0)
    assert model.start_epoch(2, 8) == pytest.approx(0.23)
    loss = model.loss(out, torch.tensor([0, 1, 4]))
    loss.backward()
    assert all(m.position.grad is not None for m in delayed)
    model.eval()
    assert all(m.use_integer() for m in delayed)
    assert not [m for m in DCLSDelaySNN(4, 2, hidden=(3,), delays="none").modules()
                if isinstance(m, DelayedLinear)]
    assert not any(m.learn_delays for m in DCLSDelaySNN(4, 2, hidden=(3,), delays="random").modules()
                   if isinstance(m, DelayedLinear))


def test_summed_softmax_loss_known_values():
    v = torch.tensor([[[2.0, 0.0]], [[0.0, 2.0]], [[1.0, 0.0]]])  # T=3, B=1, C=2
    s = torch.softmax(v, -1).sum(0)
    expected = -torch.log_softmax(s, -1)[0, 1]
    torch.testing.assert_close(summed_softmax_loss(v, torch.tensor([1])), expected)
    assert summed_softmax_predict(v).tolist() == [0]


# ----------------------------------------------------------------------------- motif detector
def test_motif_detector_matches_brute_force_1d():
    g = torch.Generator().manual_seed(0)
    det = HeterogeneousDelayDetector(4, 3, 5, generator=g)
    with torch.no_grad():
        det.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = spikes(12, 2, 4, 0.4)
    y, _ = det(x)
    ref = torch.zeros(12, 2, 3) + det.bias.detach()
    w = det.weight.detach()
    for t in range(12):
        for d in range(5):
            if t - d >= 0:
                ref[t] += x[t - d] @ w[:, :, d].T
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_motif_detector_2d_brute_force_and_streaming():
    g = torch.Generator().manual_seed(1)
    det = HeterogeneousDelayDetector(2, 2, 3, kernel_size=3, generator=g)
    x = (torch.rand(6, 1, 2, 4, 5, generator=g) < 0.3).float()
    y, _ = det(x)
    assert y.shape == (6, 1, 2, 4, 5)
    w = det.weight.detach()
    t, c, i, j = 4, 1, 2, 3
    ref = float(det.bias.detach()[c])
    for ch in range(2):
        for d in range(3):
            for di in range(3):
                for dj in range(3):
                    ii, jj = i + di - 1, j + dj - 1
                    if 0 <= ii < 4 and 0 <= jj < 5:
                        ref += float(w[c, ch, d, di, dj]) * float(x[t - d, 0, ch, ii, jj])
    assert float(y.detach()[t, 0, c, i, j]) == pytest.approx(ref, abs=1e-5)
    y1, st = det(x[:2])
    y2, _ = det(x[2:], st)
    torch.testing.assert_close(torch.cat([y1, y2]), y, atol=1e-5, rtol=1e-5)
    assert isinstance(st, MotifState)


def test_motif_sparsity_top_k_prune_and_sops():
    g = torch.Generator().manual_seed(2)
    det = HeterogeneousDelayDetector(3, 2, 6, top_k=2, generator=g)
    w = det.effective_weight()
    assert ((w != 0).sum(2) == 2).all()  # two delays per synapse
    det.top_k = None
    n = det.prune_by_magnitude(0.25)
    assert n == round(0.25 * 3 * 2 * 6)
    x = spikes(10, 2, 3, 0.5)
    nnz = (det.effective_weight() != 0).sum((0, 2))  # per input channel
    expected = int(sum(int((x[..., c] != 0).sum()) * int(nnz[c]) for c in range(3)))
    assert det.event_operations(x) == expected
    ops, dense = det.synaptic_operations((x,), None)
    assert ops == expected and dense == x.numel() * 2 * 6
    with pytest.raises(ValueError, match="fraction_kept"):
        det.prune_by_magnitude(0.0)


def test_motif_loss_per_time_is_bce_of_softmax():
    logits = torch.randn(4, 2, 3)
    target = torch.tensor([2, 0])
    p = torch.softmax(logits, 2)
    onehot = torch.nn.functional.one_hot(target, 3).float().expand(4, 2, 3)
    expected = -(onehot * p.log() + (1 - onehot) * (1 - p).log()).mean()
    torch.testing.assert_close(motif_loss(logits, target), expected, atol=1e-5, rtol=1e-5)
    assert motif_decision(logits, None).shape == (4, 2)


def test_motif_polarity_symmetry_and_errors():
    det = HeterogeneousDelayDetector(2, 3, 4, polarity_symmetric=True)
    x = spikes(8, 2, 2, 0.4)
    torch.testing.assert_close(det(x)[0], det(x.flip(2))[0])
    with pytest.raises(ValueError, match="expected time-major"):
        det(torch.zeros(8, 2, 3))
    with pytest.raises(ValueError, match="in_channels == 2"):
        HeterogeneousDelayDetector(3, 2, 4, polarity_symmetric=True)


def test_motif_detector_learns_a_timing_task():
    from axonal.data.timing_task import TimingTaskConfig, timing_task_splits

    torch.manual_seed(0)
    cfg = TimingTaskConfig(n_channels=8, n_classes=4, seq_len=40, max_offset=9, max_start=20,
                           noise_rate=0.01)
    xtr, ytr, xte, yte = timing_task_splits(100, 200, cfg, seed=0)
    det = HeterogeneousDelayDetector(8, 4, 10)
    opt = torch.optim.Adam(det.parameters(), lr=0.05)
    for _ in range(30):
        loss = motif_loss(det(xtr)[0], ytr, over_time="max")
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = float((motif_decision(det(xte)[0], "max") == yte).float().mean())
    assert acc > 0.9  # chance is 0.25


# ----------------------------------------------------------------------------- round trip, property
@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 6), n_out=st.integers(1, 5), max_delay=st.integers(1, 25),
       sigma=st.sampled_from([0.1, 0.23, 0.3]), seed=st.integers(0, 10_000))
def test_round_trip_gaussian_integer_within_stated_tolerance(n_in, n_out, max_delay, sigma, seed):
    """Integer delays -> positions -> Gaussian kernel -> integer delays, over random layers: the
    delays come back exactly and each synapse's Gaussian tap differs from its one-hot tap by
    at most ``|w| * 2 exp(-1 / (2 sigma^2))`` in total (the module docstring's tolerance)."""
    from axonal.synapses.delay import integer_delay_kernel

    g = torch.Generator().manual_seed(seed)
    layer = DelayedLinear(n_in, n_out, max_delay, delays="learn", generator=g)
    d = torch.randint(0, max_delay + 1, (n_out, n_in), generator=g)
    layer.set_delays(d)
    assert torch.equal(layer.integer_delays(), d)
    w = layer.weight.detach()
    k_train = gaussian_delay_kernel(w, layer.clamped_position().detach(), sigma, max_delay)
    k_eval = integer_delay_kernel(w, layer.integer_delays(), max_delay)
    # the one-hot tap loses what the tails carry; the tails carry the same amount in total
    dev = (k_train - k_eval).abs().sum(-1)
    bound = 2 * (2 * math.exp(-1 / (2 * sigma ** 2))) * w.abs() + 1e-6
    assert (dev <= bound).all()
    assert torch.equal(k_train.abs().argmax(-1), d)  # the peak sits on the integer delay
    layer.set_delays(layer.integer_delays())  # integer -> position -> integer is the identity
    assert torch.equal(layer.integer_delays(), d)


def test_delayed_layer_in_fused_lif_equals_reference_scan():
    """DelayedLinear feeding the fused numba LIF gives the reference scan's spikes and the same
    gradients for weights and delay positions (the fused kernel is a drop-in)."""
    pytest.importorskip("numba")
    from axonal.surrogate import ATan

    outs = {}
    for backend in ("numba", "scan"):
        g = torch.Generator().manual_seed(3)
        layer = DelayedLinear(10, 12, 6, delays="learn", sigma=1.5, generator=g).double()
        net = Sequential(layer, LIF(12, decay=0.3, reset="zero", surrogate=ATan(width=0.2), backend=backend))
        x = spikes(25, 3, 10, 0.3, 5).double()
        y, _ = net(x)
        (y * torch.linspace(0, 1, 12, dtype=torch.float64)).sum().backward()
        outs[backend] = (y.detach(), layer.weight.grad.clone(), layer.position.grad.clone())
    for a, b in zip(outs["numba"], outs["scan"]):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
    assert outs["numba"][0].sum() > 0 and outs["numba"][2].abs().sum() > 0


@pytest.mark.parametrize("delays", ["learn", 2])
def test_empty_time_axis_is_a_clear_error(delays):
    """Issue 24: T = 0 gave conv1d's 'Kernel size can't be greater than actual input size'."""
    layer = DelayedLinear(6, 4, max_delay=5, delays=delays)
    for grad in (True, False):
        with torch.set_grad_enabled(grad), pytest.raises(ValueError, match=r"zero time steps.*T >= 1"):
            layer(torch.zeros(0, 3, 6))
