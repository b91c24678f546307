"""SDR match probability and dendritic segments (axonal.models.sdr)."""
from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import hypergeom

from axonal.models.sdr import (DendriticSegmentLayer, log10_match_probability, match_probability, overlap,
                               random_sdr, union)


def test_known_values_and_reference():
    assert match_probability(10, 3, 4, 0) == 1.0
    # enumeration by hand: n=4, a=2, s=2, theta=2 -> only the one pair of the segment's cells
    assert match_probability(4, 2, 2, 2) == pytest.approx(1 / math.comb(4, 2))
    # the hypergeometric tail (scipy as the reference)
    for n, a, s, theta in [(200, 20, 16, 4), (1024, 40, 24, 6), (64, 10, 10, 1)]:
        want = hypergeom(n, s, a).sf(theta - 1)
        assert match_probability(n, a, s, theta) == pytest.approx(want, rel=1e-9)
    # Ahmad & Hawkins' regime: astronomically small, still exact in log10
    lp = log10_match_probability(2048, 40, 24, 12)
    assert lp < -9 and math.isfinite(lp)
    with pytest.raises(ValueError, match="a <= n"):
        match_probability(10, 11, 2, 1)


@pytest.mark.parametrize("n,a,s,theta", [(100, 15, 12, 3), (60, 12, 10, 4)])
def test_analytic_match_probability_inside_monte_carlo_band(n, a, s, theta):
    g = torch.Generator().manual_seed(0)
    layer = DendriticSegmentLayer(n, 1, 1, s, theta)
    stored = random_sdr(n, max(a, s), generator=g)[0]
    layer.store(0, 0, stored, generator=g)
    trials = 20000
    hits = float(layer(random_sdr(n, a, trials, generator=g).float()).sum())
    p = match_probability(n, a, s, theta)
    band = 4 * math.sqrt(p * (1 - p) / trials)
    assert abs(hits / trials - p) < band + 1e-4


def test_sdr_helpers_and_layer_gating():
    g = torch.Generator().manual_seed(1)
    x = random_sdr(50, 5, 3, generator=g)
    assert x.sum(1).tolist() == [5, 5, 5]
    assert int(overlap(x[0], x[0])) == 5
    u = union(x)
    assert int(u.sum()) <= 15 and bool((u | x[1] == u).all())
    layer = DendriticSegmentLayer(50, 2, 3, 4, 3)
    layer.store(1, 2, x[0], generator=g)
    out = layer(x[:1].float())
    assert out.tolist() == [[0.0, 1.0]]          # neuron 1's segment recognises its pattern
    noisy = x[0].clone()
    drop = layer.connections[1, 2].nonzero().flatten()[0]
    noisy[drop] = False                           # one synapse's cell missing: 3 of 4 >= theta
    assert layer(noisy[None].float()).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="never fires"):
        DendriticSegmentLayer(10, 1, 1, 2, 3)
