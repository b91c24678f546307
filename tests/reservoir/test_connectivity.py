"""Connectivity: CSR structure, seeded regeneration, connection statistics, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.reservoir import (Connectivity, distance_connectivity, excitatory_mask, grid_positions,
                              random_connectivity, random_positions)


@settings(max_examples=20, deadline=None)
@given(n_pre=st.integers(0, 30), n_post=st.integers(1, 30), density=st.floats(0, 1), seed=st.integers(0, 99))
def test_coo_dense_round_trip_and_transpose(n_pre, n_post, density, seed):
    rng = np.random.default_rng(seed)
    W = np.where(rng.random((n_pre, n_post)) < density, rng.normal(size=(n_pre, n_post)), 0.0)
    c = Connectivity.from_dense(W, delays=rng.integers(0, 4, W.shape))
    np.testing.assert_array_equal(c.to_dense(), W)
    assert c.nnz == np.count_nonzero(W)
    # CSR rows hold exactly the nonzeros of each presynaptic row, sorted by target
    for j in range(n_pre):
        row = c.indices[c.indptr[j]:c.indptr[j + 1]]
        np.testing.assert_array_equal(row, np.nonzero(W[j])[0])
    ptr, syn, pre = c.by_post()
    for i in range(n_post):
        ks = syn[ptr[i]:ptr[i + 1]]
        assert np.all(c.indices[ks] == i)
        np.testing.assert_array_equal(np.sort(pre[ptr[i]:ptr[i + 1]]), np.nonzero(W[:, i])[0])
    np.testing.assert_array_equal(c.fan_out(), (W != 0).sum(1))
    np.testing.assert_array_equal(c.fan_in(), (W != 0).sum(0))


def test_random_regenerates_identically_and_seed_matters():
    exc = excitatory_mask(300, 0.8)
    kw = dict(weight=lambda r, a, b: r.normal(1, 0.1, a.size), delay=lambda r, a, b: r.integers(0, 5, a.size),
              channel=np.where(exc, 0, 1), seed=7, autapses=False)
    a = random_connectivity(300, 300, 0.05, **kw)
    assert a.regenerate().equal(a)
    assert random_connectivity(300, 300, 0.05, **kw).equal(a)
    assert not random_connectivity(300, 300, 0.05, **{**kw, "seed": 8}).equal(a)
    assert not np.any(a.pre_indices == a.indices)          # no autapses
    np.testing.assert_array_equal(a.channels, np.where(exc[a.pre_indices], 0, 1))


def test_random_connection_count_is_binomial():
    n, p = 400, 0.02
    c = random_connectivity(n, n, p, seed=3)
    mean, sd = n * n * p, math.sqrt(n * n * p * (1 - p))
    assert abs(c.nnz - mean) < 5 * sd
    # fan-out is binomial(n, p) per row: its variance matches
    assert np.var(c.fan_out()) == pytest.approx(n * p * (1 - p), rel=0.25)
    assert random_connectivity(10, 10, 0.0, seed=0).nnz == 0
    assert random_connectivity(10, 10, 1.0, seed=0).nnz == 100


def test_distance_probability_follows_gaussian_profile():
    """Empirical connection frequency per distance and group pair matches C exp(-(d/lam)^2)."""
    pos = grid_positions((10, 10, 10))
    exc = excitatory_mask(1000, 0.8, seed=0)
    C = np.array([[0.2, 0.1], [0.3, 0.05]])
    lam = 3.0
    conn = distance_connectivity(pos, pos, lam, c=C, weight=np.where(exc, 1.0, -1.0), seed=1,
                                 pre_groups=exc, post_groups=exc)
    assert conn.regenerate().equal(conn)
    mask = conn.to_dense("mask")
    assert not mask.diagonal().any()
    d = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1))
    g = np.where(exc, 0, 1)
    for a in (0, 1):
        for b in (0, 1):
            sel = (g[:, None] == a) & (g[None, :] == b) & ~np.eye(1000, dtype=bool)
            for lo, hi in ((0.5, 1.5), (1.5, 2.5), (2.5, 3.5)):
                s = sel & (d > lo) & (d <= hi)
                expected = (C[a, b] * np.exp(-(d[s] / lam) ** 2)).mean()
                observed = mask[s].mean()
                se = math.sqrt(expected * (1 - expected) / s.sum())
                assert abs(observed - expected) < 5 * se + 1e-3, (a, b, lo)
    np.testing.assert_array_equal(conn.weights, np.where(exc[conn.pre_indices], 1.0, -1.0))


def test_positions_and_masks():
    p = grid_positions((2, 3, 4), spacing=2.0)
    assert p.shape == (24, 3) and p.max(0).tolist() == [2.0, 4.0, 6.0]
    r = random_positions(50, (1, 2, 3), seed=0)
    assert r.shape == (50, 3) and np.all(r < [1, 2, 3]) and np.array_equal(r, random_positions(50, (1, 2, 3), seed=0))
    m = excitatory_mask(10, 0.8)
    assert m.tolist() == [True] * 8 + [False] * 2
    assert excitatory_mask(1000, 0.8, seed=1).sum() == 800


def test_weights_read_and_write():
    c = random_connectivity(20, 20, 0.3, seed=0)
    w = c.get_weights()
    w += 1.0                                  # a copy: the connectivity is unchanged
    assert np.all(c.weights == 1.0)
    c.set_weights(np.arange(c.nnz, dtype=float))
    assert c.get_weights()[3].item() == 3.0
    c.set_weights(0.5)
    assert np.all(c.weights == 0.5)
    with pytest.raises(ValueError, match="one per synapse"):
        c.set_weights(np.zeros(c.nnz + 1))
    with pytest.raises(ValueError, match="NaN"):
        c.set_weights(np.full(c.nnz, np.nan))


def test_bad_arguments():
    for p in (-0.1, 1.5, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="probability p"):
            random_connectivity(5, 5, p, seed=0)
    with pytest.raises(ValueError, match="seed"):
        random_connectivity(5, 5, 0.1, seed=None)
    with pytest.raises(ValueError, match="square"):
        random_connectivity(5, 4, 0.1, seed=0, autapses=False)
    with pytest.raises(ValueError, match="presynaptic"):
        random_connectivity(5, 5, 0.5, weight=np.ones(4), seed=0)
    with pytest.raises(ValueError, match="whole numbers"):
        random_connectivity(5, 5, 0.5, delay=0.5, seed=0)
    with pytest.raises(ValueError, match="one value per synapse"):
        random_connectivity(5, 5, 0.5, weight=lambda r, a, b: np.ones(1), seed=0)
    with pytest.raises(ValueError, match="lam"):
        distance_connectivity(grid_positions((2, 2, 2)), grid_positions((2, 2, 2)), 0.0, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        distance_connectivity(grid_positions((2, 2, 2)), grid_positions((2, 2, 2)), 1.0, c=2.0, seed=0)
    with pytest.raises(ValueError, match="NaN"):
        Connectivity.from_coo([0], [1], [np.nan], 2, 2)
    with pytest.raises(ValueError, match="delays must be >= 0"):
        Connectivity.from_coo([0], [1], [1.0], 2, 2, delays=-1)
    with pytest.raises(ValueError, match="n_pre"):
        Connectivity.from_coo([3], [1], [1.0], 2, 2)
    with pytest.raises(ValueError, match="no generator recipe"):
        Connectivity.from_coo([0], [1], [1.0], 2, 2).regenerate()
