"""Encoders: known values, statistical bounds, properties (hypothesis), streaming, errors."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.encoding import (DeltaEncoder, DirectEncoder, LatencyEncoder, RateEncoder, channel_statistics,
                             delta_decode, delta_encode, direct_encode, get_encoder, latency_encode,
                             latency_times, rate_encode)
from axonal.network import Sequential


# ----------------------------------------------------------------------------- delta
def test_ramp_gives_evenly_spaced_up_spikes():
    x = (0.125 * torch.arange(20.0)).view(20, 1, 1)  # slope half a threshold per step
    spikes, state = delta_encode(x, 0.25)
    assert spikes.shape == (20, 1, 2)
    assert torch.nonzero(spikes[:, 0, 0]).flatten().tolist() == list(range(2, 20, 2))
    assert spikes[:, 0, 1].sum() == 0
    assert state.reference.item() == pytest.approx(0.125 * 18)
    down, _ = delta_encode(-x, 0.25)
    assert torch.equal(down[:, :, 1], spikes[:, :, 0]) and down[:, :, 0].sum() == 0


def test_jump_binary_vs_count_mode():
    x = torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0]).view(5, 1, 1)
    binary, _ = delta_encode(x, 0.25)
    assert binary[:, 0, 0].tolist() == [0, 1, 1, 1, 1]        # slew-limited: one threshold per step
    counts, st_ = delta_encode(x, 0.25, binary=False)
    assert counts[:, 0, 0].tolist() == [0, 4, 0, 0, 0]        # four thresholds crossed at once
    assert st_.reference.item() == 1.0


def test_per_channel_thresholds_and_off_spikes():
    t = torch.arange(9.0)
    x = torch.stack([t, t, -t], dim=-1).unsqueeze(1)          # [T, 1, 3]
    spikes, _ = delta_encode(x, torch.tensor([1.0, 2.0, 4.0]), binary=False)
    assert spikes.shape == (9, 1, 6)
    assert spikes[:, 0, :3].sum(0).tolist() == [8, 4, 0]
    assert spikes[:, 0, 3:].sum(0).tolist() == [0, 0, 2]
    up_only, _ = delta_encode(x, 1.0, off_spikes=False)
    assert up_only.shape == (9, 1, 3) and up_only[:, 0, 2].sum() == 0


def _signal(values, n_ch=2):
    x = torch.tensor(values, dtype=torch.float64)
    return torch.stack([x, 0.5 * x.flip(0)], dim=-1)[:, None, :n_ch]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=60),
       st.floats(0.05, 5.0))
def test_count_mode_reconstruction_tracks_within_threshold(values, thr):
    x = _signal(values)
    spikes, state = delta_encode(x, thr, binary=False)
    rec = delta_decode(spikes, thr, initial=x[0])
    assert (rec - x).abs().max() < thr * (1 + 1e-5)
    assert torch.allclose(rec[-1], state.reference)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=2, max_size=60), st.floats(1.0, 3.0))
def test_binary_mode_tracks_slow_signals_within_threshold(steps, thr):
    x = _signal([0.0] + list(torch.tensor(steps).cumsum(0).tolist()))  # |increments| <= 1 <= thr
    spikes, _ = delta_encode(x, thr)
    assert spikes.max() <= 1
    rec = delta_decode(spikes, thr, initial=x[0])
    assert (rec - x).abs().max() < thr * (1 + 1e-5)


@pytest.mark.parametrize("binary", [True, False])
def test_delta_streaming_two_halves_equal_whole(binary):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, 4, generator=g).cumsum(0)
    thr = torch.tensor([0.3, 0.5, 1.0, 0.7])
    whole, st_whole = delta_encode(x, thr, binary=binary)
    a, st_a = delta_encode(x[:17], thr, binary=binary)
    b, st_b = delta_encode(x[17:], thr, binary=binary, state=st_a)
    assert torch.equal(torch.cat([a, b]), whole)
    assert torch.equal(st_b.reference, st_whole.reference)
    enc = DeltaEncoder(thr.tolist(), binary=binary)
    net = Sequential(enc, torch.nn.Linear(8, 2))
    y, states = net(x)
    y1, s1 = net(x[:17])
    y2, _ = net(x[17:], s1)
    assert torch.allclose(torch.cat([y1, y2]), y)
    assert torch.equal(states[0].reference, st_whole.reference)


def test_delta_bad_inputs_say_what_to_do():
    x = torch.zeros(5, 1, 2)
    with pytest.raises(ValueError, match="positive"):
        delta_encode(x, 0.0)
    with pytest.raises(ValueError, match="positive"):
        delta_encode(x, torch.tensor([0.1, -1.0]))
    with pytest.raises(ValueError, match="per channel"):
        delta_encode(x, torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="unsqueeze"):
        delta_encode(torch.zeros(5, 2), 0.1)
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        delta_encode(torch.zeros(5, 1, 2, dtype=torch.int64), 0.1)
    bad = x.clone()
    bad[2, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        delta_encode(bad, 0.1)
    with pytest.raises(ValueError, match="state=None"):
        delta_encode(x, 0.1, state=delta_encode(torch.zeros(5, 3, 2), 0.1)[1])
    with pytest.raises(ValueError, match="positive"):
        DeltaEncoder(-0.5)


# ----------------------------------------------------------------------------- rate
def test_poisson_mean_rate_within_statistical_bound():
    p = torch.tensor([0.0, 0.05, 0.3, 0.8, 1.0])
    g = torch.Generator().manual_seed(1)
    spikes = rate_encode(p.expand(400, 5).contiguous(), 100, generator=g)
    assert spikes.shape == (100, 400, 5)
    n = 100 * 400
    rate = spikes.mean(dim=(0, 1))
    bound = 5 * torch.sqrt(p * (1 - p) / n)
    assert ((rate - p).abs() <= bound + 1e-12).all(), (rate, p)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_rate_gain_clamps_and_temporal_input():
    x = torch.tensor([[0.6, -0.2]])
    s = rate_encode(x, 50, gain=2.0)                       # 1.2 -> always, negative -> never
    assert s[:, 0, 0].sum() == 50 and s[:, 0, 1].sum() == 0
    inten = torch.zeros(30, 2, 3)
    inten[10:20] = 1.0
    s = rate_encode(inten)
    assert s.shape == inten.shape and torch.equal(s, inten)


def test_rate_seeded_reproducibility():
    x = torch.rand(8, 5)
    a = rate_encode(x, 20, generator=torch.Generator().manual_seed(3))
    b = rate_encode(x, 20, generator=torch.Generator().manual_seed(3))
    c = rate_encode(x, 20, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    m1, m2 = RateEncoder(20, seed=7), RateEncoder(20, seed=7)
    first = m1(x)[0]
    assert torch.equal(first, m2(x)[0])
    assert not torch.equal(first, m1(x)[0])                # the generator advances between calls
    assert torch.equal(a, RateEncoder(20, seed=3)(x)[0])


def test_rate_bad_inputs():
    with pytest.raises(ValueError, match="num_steps"):
        rate_encode(torch.rand(3))                         # static input without num_steps
    with pytest.raises(ValueError, match="num_steps must be a positive int"):
        rate_encode(torch.rand(3, 2), 0)
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        rate_encode(torch.ones(3, 2, dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="NaN"):
        rate_encode(torch.tensor([[float("nan")]]), 4)
    with pytest.raises(ValueError, match="gain"):
        rate_encode(torch.rand(3, 2), 4, gain=0)


# ----------------------------------------------------------------------------- latency
def test_latency_linear_known_values():
    x = torch.tensor([[1.0, 0.5, 0.0, 0.2]])
    times = latency_times(x, 10, threshold=0.1)
    assert times.tolist() == [[0, 4, -1, 7]]              # floor((1 - x) * 9); 0 < 0.1 never spikes
    s = latency_encode(x, 10, threshold=0.1)
    assert s.shape == (10, 1, 4) and s.sum(0).tolist() == [[1, 1, 0, 1]]
    assert s[4, 0, 1] == 1


def test_latency_log_known_values():
    x = torch.tensor([[1.0, 0.6, 0.5, 0.51, 0.50001]])
    times = latency_times(x, 20, method="log", tau=2.0, threshold=0.5)
    expected = [math.floor(2.0 * math.log(v / (v - 0.5))) for v in (1.0, 0.6, 0.51)]
    assert expected == [1, 3, 7]
    # 0.5 never reaches the threshold; 0.50001 reaches it at t = 21.6 > 19: clipped to the last step
    assert times.tolist() == [[1, 3, -1, 7, 19]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=30),
       st.sampled_from(["linear", "log"]), st.integers(2, 50))
def test_latency_order_and_single_spike_property(values, method, steps):
    x = torch.tensor([values])
    thr = 0.1
    s = latency_encode(x, steps, method=method, tau=3.0, threshold=thr)
    counts = s.sum(0)[0]
    assert counts.max() <= 1
    assert torch.equal(counts.bool(), (x[0] > thr) if method == "log" else (x[0] >= thr))
    t = latency_times(x, steps, method=method, tau=3.0, threshold=thr)[0]
    fired = t >= 0
    xv, tv = x[0][fired], t[fired]
    larger = xv[:, None] > xv[None, :]
    assert (tv[:, None] <= tv[None, :])[larger].all()     # larger value -> not later


def test_latency_normalize_and_range_error():
    x = torch.tensor([[2.0, 4.0, 6.0]])
    with pytest.raises(ValueError, match="normalize=True"):
        latency_encode(x, 5)
    t = latency_times(x, 5, normalize=True, threshold=0.0)
    assert t.tolist() == [[4, 2, 0]]
    assert torch.equal(LatencyEncoder(5, normalize=True, threshold=0.0)(x)[0], latency_encode(x, 5, normalize=True, threshold=0.0))
    with pytest.raises(ValueError, match="unknown method"):
        latency_encode(x, 5, method="exp")


# ----------------------------------------------------------------------------- direct
def test_direct_affine_repeat_and_gradient():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = direct_encode(x, scale=2.0, bias=1.0, num_steps=6)
    assert y.shape == (6, 4, 3) and torch.allclose(y[5], 2 * x + 1)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 12.0))


def test_direct_standardisation_fitted_on_training_data():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(50, 8, 3, generator=g) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([3.0, -2.0, 7.0])
    enc = DirectEncoder(standardize=True)
    with pytest.raises(RuntimeError, match="fit"):
        enc(train)
    enc.fit(train)
    out, state = enc(train)
    assert state is None
    assert torch.allclose(out.mean(dim=(0, 1)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 1), unbiased=False), torch.ones(3), atol=1e-4)
    other = DirectEncoder(standardize=True)
    other.load_state_dict(enc.state_dict())
    assert torch.allclose(other(train + 1)[0], out + 1 / enc.std)   # same (train) statistics
    mean, std = channel_statistics(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]  # constant channel -> std 1


# ----------------------------------------------------------------------------- registry
def test_get_encoder_registry():
    assert isinstance(get_encoder("rate", num_steps=4), RateEncoder)
    assert isinstance(get_encoder("Latency", num_steps=4), LatencyEncoder)
    assert isinstance(get_encoder("delta", threshold=0.2), DeltaEncoder)
    assert isinstance(get_encoder("direct"), DirectEncoder)
    with pytest.raises(ValueError, match=r"known encoders: \['delta', 'direct', 'latency', 'rate'\]"):
        get_encoder("poisson2")
    with pytest.raises(TypeError, match="options are"):
        get_encoder("rate", steps=3)


def test_encoders_create_time_axis_in_sequential():
    net = Sequential(get_encoder("latency", num_steps=7), torch.nn.Linear(5, 2))
    y, states = net(torch.rand(3, 5))
    assert y.shape == (7, 3, 2) and states == (None, None)
