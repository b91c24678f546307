"""WKV: the fused numba kernel equals the torch reference (values and every gradient), and the
stable recurrence equals the defining formula."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.kernels.wkv import initial_state, wkv, wkv_direct, wkv_reference

pytest.importorskip("numba")


def _inputs(T, B, C, seed, scale=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)
    return (r(C) * 0.5 - 0.5, r(C) * 0.5, r(T, B, C) * scale, r(T, B, C))


@given(T=st.integers(1, 12), B=st.integers(1, 3), C=st.integers(1, 5), seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_stable_recurrence_equals_defining_formula(T, B, C, seed):
    td, tf, k, v = _inputs(T, B, C, seed)
    y, _ = wkv_reference(td, tf, k, v)
    torch.testing.assert_close(y, wkv_direct(td, tf, k, v), rtol=1e-10, atol=1e-10)


@given(T=st.integers(1, 10), B=st.integers(1, 3), C=st.integers(1, 4), seed=st.integers(0, 10_000),
       scale=st.sampled_from([1.0, 5.0, 40.0]), with_state=st.booleans())
@settings(max_examples=30, deadline=None)
def test_numba_kernel_equals_reference_values_and_gradients(T, B, C, seed, scale, with_state):
    td, tf, k, v = _inputs(T, B, C, seed, scale)
    state = None
    if with_state:
        _, state = wkv_reference(*_inputs(3, B, C, seed + 1))
    grads = []
    outs = []
    for backend in ("torch", "numba"):
        leaves = [t.clone().requires_grad_(True) for t in (td, tf, k, v)]
        y, st_ = wkv(*leaves, state=state, backend=backend)
        gy = torch.cos(torch.arange(y.numel(), dtype=y.dtype)).view_as(y)
        (y * gy).sum().backward()
        outs.append((y.detach(), st_))
        grads.append([torch.zeros_like(t) if t.grad is None else t.grad for t in leaves])
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-9, atol=1e-10)
    for a, b in zip(outs[0][1], outs[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_gradcheck_numba():
    td, tf, k, v = (t.requires_grad_(True) for t in _inputs(5, 2, 3, 0))
    assert torch.autograd.gradcheck(lambda *a: wkv(*a, backend="numba")[0], (td, tf, k, v))


def test_streaming_equals_one_pass():
    td, tf, k, v = _inputs(9, 2, 3, 1, dtype=torch.float32)
    whole, s_whole = wkv(td, tf, k, v)
    a, s = wkv(td, tf, k[:4], v[:4])
    b, s2 = wkv(td, tf, k[4:], v[4:], state=s)
    torch.testing.assert_close(torch.cat([a, b]), whole)
    torch.testing.assert_close(s2.pp, s_whole.pp)


def test_large_keys_do_not_overflow_float32():
    td, tf, k, v = _inputs(6, 1, 2, 3, dtype=torch.float32)
    y, _ = wkv(td, tf, k * 0 + 200.0, v)
    assert torch.isfinite(y).all()


def test_bad_shapes_are_clear_errors():
    td, tf, k, v = _inputs(4, 2, 3, 0)
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        wkv(td, tf, k[0], v[0])
    with pytest.raises(ValueError, match="time_decay"):
        wkv(td[:2], tf, k, v)
    with pytest.raises(ValueError, match="backend"):
        wkv(td, tf, k, v, backend="cuda")
    assert initial_state(2, 3).pp.shape == (2, 3)
