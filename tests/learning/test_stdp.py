"""learning.STDP for E/I networks: per-presynaptic bounds, the mirrored rule, which amplitude a
modulator scales, the trace increment, and clipping only the touched weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.learning import STDP
from axonal.learning.stdp import pair_stdp

f64 = torch.float64


def _rasters(seed, T=40, B=2, n_in=5, n_out=4):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(T, B, n_in, generator=g) < 0.2).to(f64),
            (torch.rand(T, B, n_out, generator=g) < 0.2).to(f64))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_mirrored_presynapses_get_the_pair_rule_with_swapped_signed_amplitudes(seed):
    """Over a sequence (weights held), a mirrored presynaptic column sums
    -A- e^{-dt/tau+} for pre-before-post and +A+ e^{dt/tau-} for post-before-pre: pair_stdp
    with a_plus -> -a_minus and a_minus -> -a_plus. Normal columns keep the usual window."""
    pre, post = _rasters(seed)
    mirror = torch.tensor([True, False, True, False, False])
    kw = dict(a_plus=0.02, a_minus=0.03, tau_plus=7.0, tau_minus=11.0)
    rule = STDP(**kw, mirror=mirror, w_min=-10.0, w_max=10.0, reduce="sum")
    dw, _ = rule.sequence(pre, post, torch.zeros(4, 5, dtype=f64))
    normal = pair_stdp(pre, post, reduce="sum", **kw)
    mirrored = pair_stdp(pre, post, a_plus=-0.03, a_minus=-0.02, tau_plus=7.0, tau_minus=11.0,
                         reduce="sum")
    torch.testing.assert_close(dw[:, ~mirror], normal[:, ~mirror], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dw[:, mirror], mirrored[:, mirror], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("modulates", ["both", "depression", "potentiation", "none"])
def test_modulates_scales_the_named_amplitude(modulates):
    pre, post = _rasters(3)
    m = 0.37
    scaled = {"both": (0.01 * m, 0.012 * m), "depression": (0.01, 0.012 * m),
              "potentiation": (0.01 * m, 0.012), "none": (0.01, 0.012)}[modulates]
    got, _ = STDP(modulates=modulates).sequence(pre, post, torch.zeros(4, 5, dtype=f64), modulator=m)
    want, _ = STDP(a_plus=scaled[0], a_minus=scaled[1]).sequence(pre, post, torch.zeros(4, 5, dtype=f64))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    assert got.abs().sum() > 0


def test_trace_increment_scales_the_change_linearly():
    pre, post = _rasters(5)
    one, _ = STDP().sequence(pre, post, torch.zeros(4, 5, dtype=f64))
    half, _ = STDP(trace_increment=0.5).sequence(pre, post, torch.zeros(4, 5, dtype=f64))
    torch.testing.assert_close(half, 0.5 * one, rtol=1e-12, atol=1e-15)


def test_per_presynaptic_bounds_and_clipping_only_where_touched():
    lo = np.array([0.0, -3.0, 0.0])
    hi = np.array([3.0, 0.0, 3.0])
    rule = STDP(w_min=lo, w_max=hi)
    w = torch.tensor([[5.0, 1.0, -1.0], [2.0, -5.0, 1.0]], dtype=f64)
    rule.apply(w, torch.zeros_like(w))
    assert w.tolist() == [[3.0, 0.0, 0.0], [2.0, -3.0, 1.0]]
    w = torch.tensor([[5.0, 1.0, -1.0], [2.0, -5.0, 1.0]], dtype=f64)
    where = torch.tensor([[True, False, False], [False, True, False]])
    rule.apply(w, torch.zeros_like(w), where=where)
    assert w.tolist() == [[3.0, 1.0, -1.0], [2.0, -3.0, 1.0]]
    # the multiplicative form reads per-presynaptic bounds too (soft bound at w_max - w)
    mult = STDP(w_min=lo, w_max=hi, form="multiplicative", a_minus=0.0)
    dw, _ = mult.step(torch.ones(1, 3, dtype=f64), torch.zeros(1, 2, dtype=f64), None, w)
    dw, _ = mult.step(torch.zeros(1, 3, dtype=f64), torch.ones(1, 2, dtype=f64), _, w)
    # potentiation scales with hi[pre] - w: 0 at (or above) the column's bound, 3 for w = -3
    # under hi = 0 (a scalar bound would give another value)
    e = 0.01 * np.exp(-1 / 20)
    assert dw[0, 0] == 0.0 and dw[0, 1] == 0.0
    assert dw[1, 1].item() == pytest.approx(3 * e) and dw[1, 2].item() == pytest.approx(2 * e)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="modulates"):
        STDP(modulates="sometimes")
    with pytest.raises(ValueError, match="w_min < w_max"):
        STDP(w_min=np.array([0.0, 1.0]), w_max=np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="one per presynaptic"):
        STDP(w_min=np.zeros(2), w_max=np.ones(3))
    with pytest.raises(ValueError, match="additive"):
        STDP(mirror=[True], form="multiplicative")
    with pytest.raises(ValueError, match="trace_increment"):
        STDP(trace_increment=-1.0)
    with pytest.raises(ValueError, match="2 bounds"):
        STDP(w_min=np.zeros(2), w_max=np.ones(2)).apply(torch.zeros(2, 3), torch.zeros(2, 3))
    assert STDP(w_min=torch.tensor(-1.0)).w_min == -1.0
    with pytest.raises(ValueError, match="presynaptic neurons"):
        STDP(mirror=[True, False]).step(torch.zeros(1, 3), torch.zeros(1, 2), None, torch.zeros(2, 3))
