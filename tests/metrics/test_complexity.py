"""LZ76 complexity: known counts, an independent definition, the batch kernel, the readout."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.data.spike_trains import markov_spike_trains, markov_task, poisson_spike_trains
from axonal.metrics.complexity import (
    LZCClassifier,
    lz76_batch,
    lz76_complexity,
    lz76_normalised,
    spike_train_complexity,
)


def lz76_by_definition(s):
    """Direct LZ76 parsing: each component is the shortest word at i that is not a substring of
    s[:j-1] (the text before its last symbol, overlap allowed). Independent of Kaspar-Schuster."""
    s = "".join(map(str, s))
    n, i, c = len(s), 0, 0
    while i < n:
        j = i + 1
        while j <= n and s[i:j] in s[: j - 1]:
            j += 1
        c += 1
        i = j
    return c


@pytest.mark.parametrize("seq, c", [
    ("0001101001000101", 6),   # Kaspar & Schuster 1987: 0.001.10.100.1000.101
    ("1001111011000010", 6),   # 1.0.01.1110.1100.0010
    ("0" * 20, 2),             # 0.000...
    ("01" * 10, 3),            # 0.1.0101...
    ("011" * 8, 4),            # 0.1.10.11011011...
    ("0", 1),
    ("", 0),
])
def test_known_counts(seq, c):
    assert lz76_complexity(seq) == c
    assert lz76_by_definition(seq) == c


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=0, max_size=60))
def test_kaspar_schuster_equals_definition(bits):
    assert lz76_complexity(bits) == lz76_by_definition(bits)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 80), st.integers(0, 2**31 - 1))
def test_batch_equals_scalar(rows, n, seed):
    a = np.random.default_rng(seed).integers(0, 2, size=(rows, n))
    assert lz76_batch(a).tolist() == [lz76_complexity(r) for r in a.tolist()]


def test_normalisation_and_ordering():
    assert lz76_normalised(6, 16) == pytest.approx(6 * 4 / 16)
    rnd = poisson_spike_trains(2000, 4, 1, rate=500.0, seed=1)           # fair coin per bin
    c_rand = spike_train_complexity(rnd)
    assert c_rand.shape == (4, 1)
    assert ((c_rand > 0.85) & (c_rand < 1.15)).all()                     # near 1 for a fair coin
    periodic = torch.tensor([0.0, 1.0]).repeat(1000)[:, None, None]
    assert spike_train_complexity(periodic).item() == pytest.approx(3 * math.log2(2000) / 2000)
    bursty = markov_spike_trains(2000, 4, 1, 0.5, 0.8, seed=1)
    assert (spike_train_complexity(bursty) < c_rand).all()              # bursts are more compressible


def test_bad_inputs():
    with pytest.raises(ValueError, match="2-D"):
        lz76_batch(np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="integer"):
        lz76_batch(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="n >= 2"):
        lz76_normalised(1, 1)
    with pytest.raises(RuntimeError, match="before fit"):
        LZCClassifier().predict(torch.zeros(4, 2, 3))


def test_lzc_readout_beats_rate_on_markov_inputs():
    x, y = markov_task(200, channels=10, steps=200, p_spike=0.1, correlations=(0.0, 0.6), seed=3)
    xt, yt = markov_task(200, channels=10, steps=200, p_spike=0.1, correlations=(0.0, 0.6), seed=4)
    lzc = LZCClassifier("lzc").fit(x, y).score(xt, yt)
    rate = LZCClassifier("rate").fit(x, y).score(xt, yt)
    assert lzc > 0.9
    assert rate < 0.75


def test_generators_are_seeded_and_have_their_statistics():
    a = markov_spike_trains(4000, 2, 50, 0.1, 0.5, seed=7)
    assert torch.equal(a, markov_spike_trains(4000, 2, 50, 0.1, 0.5, seed=7))
    assert a.mean().item() == pytest.approx(0.1, abs=0.01)
    x0, x1 = a[:-1].flatten(), a[1:].flatten()
    corr = torch.corrcoef(torch.stack([x0, x1]))[0, 1].item()
    assert corr == pytest.approx(0.5, abs=0.03)
    p = poisson_spike_trains(1000, 4, 50, rate=20.0, dt=1e-3, seed=0)
    assert p.mean().item() == pytest.approx(0.02, abs=0.003)
    with pytest.raises(ValueError, match="probability"):
        poisson_spike_trains(10, 1, 1, rate=2000.0)
