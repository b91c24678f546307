"""EventLinear: the event-driven path equals nn.Linear in values and gradients."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.synapses import EventLinear, event_linear
from axonal.synapses import sparse as sparse_mod

pytest.importorskip("numba")


def _dense_ref(layer: EventLinear) -> nn.Linear:
    ref = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    ref.load_state_dict(layer.state_dict())
    return ref.to(layer.weight.dtype)


@settings(max_examples=30, deadline=None)
@given(
    density=st.floats(0.0, 1.0),
    t=st.integers(1, 6), b=st.integers(1, 4), fin=st.integers(1, 40), fout=st.integers(1, 30),
    bias=st.booleans(), binary=st.booleans(), mode=st.sampled_from(["sparse", "auto", "dense"]),
    seed=st.integers(0, 1000),
)
def test_matches_dense_values_and_gradients(density, t, b, fin, fout, bias, binary, mode, seed):
    torch.manual_seed(seed)
    layer = EventLinear(fin, fout, bias=bias, mode=mode).double()
    ref = _dense_ref(layer)
    mask = torch.rand(t, b, fin, dtype=torch.float64) < density
    vals = torch.ones_like(mask, dtype=torch.float64) if binary else torch.randn(t, b, fin, dtype=torch.float64)
    x = (mask * vals).requires_grad_()
    xr = x.detach().clone().requires_grad_()
    y, yr = layer(x), ref(xr)
    torch.testing.assert_close(y, yr, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, *layer.parameters()], g)
    grads_r = torch.autograd.grad(yr, [xr, *ref.parameters()], g)
    for a, c in zip(grads, grads_r):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)


def test_auto_chooses_by_density(monkeypatch):
    calls = []
    orig = sparse_mod._EventLinear.apply
    monkeypatch.setattr(sparse_mod._EventLinear, "apply", lambda *a: calls.append(1) or orig(*a))
    layer = EventLinear(100, 8)
    sparse_x = (torch.rand(4, 3, 100) < 0.02).float()
    dense_x = (torch.rand(4, 3, 100) < 0.6).float()
    layer(sparse_x)
    assert len(calls) == 1
    layer(dense_x)
    assert len(calls) == 1  # dense input: plain matmul
    EventLinear(100, 8, density_threshold=0.9)(dense_x)
    assert len(calls) == 2  # threshold moved: event-driven again
    EventLinear(100, 8, mode="dense")(sparse_x)
    assert len(calls) == 2


def test_float32_close_and_2d_input():
    layer = EventLinear(50, 7, mode="sparse")
    x = (torch.rand(64, 50) < 0.1).float()
    torch.testing.assert_close(layer(x), _dense_ref(layer)(x), rtol=1e-5, atol=1e-5)


def test_in_sequential_with_lif():
    torch.manual_seed(0)
    net = Sequential(EventLinear(20, 16), LIF(16), EventLinear(16, 4), LIF(4))
    x = (torch.rand(30, 2, 20) < 0.1).float()
    y, states = net(x)
    assert y.shape == (30, 2, 4) and states[0] is None and states[1] is not None
    y.sum().backward()
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()


def test_errors_are_clear():
    with pytest.raises(ValueError, match="mode"):
        EventLinear(3, 2, mode="fast")
    with pytest.raises(ValueError, match="expects 3"):
        EventLinear(3, 2)(torch.zeros(2, 5))
    with pytest.raises(RuntimeError, match="float32/float64"):
        event_linear(torch.zeros(2, 3, dtype=torch.float16), torch.zeros(2, 3, dtype=torch.float16),
                     mode="sparse")
    # half precision in auto mode simply takes the dense path
    w = torch.randn(2, 3, dtype=torch.bfloat16)
    assert event_linear(torch.zeros(4, 3, dtype=torch.bfloat16), w).shape == (4, 2)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 37), density=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
       dtype=st.sampled_from(["float32", "float64"]))
def test_grouped_compaction_finds_the_same_entries(n, density, seed, dtype):
    """The grouped compaction (all-zero groups of four skipped by their bits) lists exactly
    the entries the per-element one does, in the same order: -0.0 counts as zero, NaN and
    inf as nonzero, whatever the length modulo 4 (even float32 lengths take the two-inputs-a-word
    form of ``bit_view``, odd ones the one-input-a-word form)."""
    import numpy as np
    from numba import njit

    from axonal.kernels.event import _numba as ks

    compact = njit(lambda xr, xb, g, buf, gbuf: ks._compact_row(xr, xb, g, buf, gbuf))
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n) < density, rng.standard_normal(n), 0.0).astype(dtype)
    specials = np.array([-0.0, np.nan, np.inf, -np.inf, 1.0], dtype=dtype)
    pick = rng.random(n) < 0.2
    x[pick] = rng.choice(specials, size=int(pick.sum()))
    expected = np.flatnonzero(x != 0)
    for grouped in (False, True):
        buf = np.full(n + 1, -1, dtype=np.int32)
        gbuf = np.empty(n // 4 + 1, dtype=np.int32)
        c = compact(x, ks.bit_view(x), grouped, buf, gbuf)
        np.testing.assert_array_equal(buf[:c], expected)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), n=st.integers(1, 30), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 10_000), values=st.sampled_from(["ones", "reals", "specials"]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_spike_lists_match_numpy_and_flag_values(rows, n, density, seed, values, dtype):
    """``spike_lists``: the compressed rows numpy finds, ``binary`` exactly when every nonzero is
    1, and a ValueError exactly when a nonzero is NaN or inf (both counted by the kernel)."""
    import numpy as np

    from axonal.kernels.event import spike_lists

    rng = np.random.default_rng(seed)
    x = (rng.random((rows, n)) < density).astype(dtype)
    if values != "ones":
        x *= rng.choice(np.array([1.0, -2.5, 0.25], dtype=dtype), size=x.shape)
    if values == "specials":
        pick = rng.random(x.shape) < 0.1
        x[pick] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dtype), size=int(pick.sum()))
    nz = x != 0
    xt = torch.from_numpy(x)
    if not np.isfinite(x[nz]).all():
        with pytest.raises(ValueError, match="NaN or inf"):
            spike_lists(xt)
        return
    ptr, idx, val, binary = spike_lists(xt)
    np.testing.assert_array_equal(ptr.numpy(), np.concatenate([[0], np.cumsum(nz.sum(1))]))
    np.testing.assert_array_equal(idx.numpy(), np.nonzero(nz)[1])
    np.testing.assert_array_equal(val.numpy(), x[nz])
    assert binary == bool((x[nz] == 1).all())
