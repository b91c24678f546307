"""Sparse distributed representations (SDRs) and active-dendrite segments.

Ahmad & Hawkins, "How do neurons operate on sparse distributed representations? A
mathematical theory of sparsity, neurons and active dendrites" (arXiv 1601.00720, 2016).

An SDR is a binary vector of ``n`` cells with ``a`` active. A dendritic segment with ``s``
synapses onto cells of a stored pattern fires when at least ``theta`` of them are active. The
probability that a *random* SDR (``a`` of ``n`` cells, uniformly) makes the segment fire is
the hypergeometric tail

    P(match) = sum_{b = theta}^{min(s, a)} C(s, b) C(n - s, a - b) / C(n, a).

It is computed exactly here with integer binomials (Python's big integers), so values far
below float precision are still right in :func:`log10_match_probability`. Sparse,
high-dimensional codes with ``theta`` well below ``s`` give vanishing false-match rates while
tolerating noise in the stored pattern (a segment still fires with ``s - theta`` of its
synapses' cells missing).

:class:`DendriticSegmentLayer` holds neurons with several segments; a neuron's segment is
*active* when its overlap with the input reaches ``theta``, and the neuron's dendritic output
is the max over its segments (the gating of active-dendrite models).
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch import nn

__all__ = ["match_probability", "log10_match_probability", "random_sdr", "overlap", "union",
           "DendriticSegmentLayer"]


def _check(n: int, a: int, s: int, theta: int) -> None:
    for name, v in (("n", n), ("a", a), ("s", s), ("theta", theta)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    if a > n or s > n:
        raise ValueError(f"need a <= n and s <= n (got n={n}, a={a}, s={s})")


def _match_fraction(n: int, a: int, s: int, theta: int) -> Fraction:
    _check(n, a, s, theta)
    num = sum(math.comb(s, b) * math.comb(n - s, a - b) for b in range(theta, min(s, a) + 1))
    return Fraction(num, math.comb(n, a))


def match_probability(n: int, a: int, s: int, theta: int) -> float:
    """Probability that a random SDR with ``a`` of ``n`` cells active overlaps a segment of
    ``s`` synapses in at least ``theta`` cells (exact; may underflow to 0.0 below ~1e-308)."""
    return float(_match_fraction(n, a, s, theta))


def log10_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """``log10`` of :func:`match_probability`, exact for astronomically small values (``-inf`` for 0)."""
    f = _match_fraction(n, a, s, theta)
    if f == 0:
        return float("-inf")
    return math.log10(f.numerator) - math.log10(f.denominator)


def random_sdr(n: int, a: int, batch: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """``batch`` random SDRs ``[batch, n]`` (bool), each with exactly ``a`` active cells."""
    _check(n, a, 0, 0)
    idx = torch.rand(batch, n, generator=generator).argsort(1)[:, :a]
    out = torch.zeros(batch, n, dtype=torch.bool)
    out.scatter_(1, idx, True)
    return out


def overlap(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of cells active in both (broadcasting over leading dims)."""
    return (x.bool() & y.bool()).sum(-1)


def union(sdrs: torch.Tensor) -> torch.Tensor:
    """OR of SDRs ``[M, n] -> [n]`` (a union of patterns; its density sets its false-match rate)."""
    return sdrs.bool().any(0)


class DendriticSegmentLayer(nn.Module):
    """``n_neurons`` neurons with ``n_segments`` segments of up to ``synapses`` synapses each.

    ``forward(x [B, n_in] binary) -> [B, n_neurons]``: 1 where any segment of the neuron has an
    overlap ``>= theta`` with ``x``. ``store(neuron, segment, pattern)`` connects a segment to
    ``synapses`` cells drawn from the pattern's active cells (subsampling, as in the paper).
    """

    def __init__(self, n_in: int, n_neurons: int, n_segments: int, synapses: int, theta: int):
        super().__init__()
        for name, v in (("n_in", n_in), ("n_neurons", n_neurons), ("n_segments", n_segments),
                        ("synapses", synapses), ("theta", theta)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"DendriticSegmentLayer: {name} must be a positive int, got {v!r}")
        if theta > synapses:
            raise ValueError(f"DendriticSegmentLayer: theta ({theta}) > synapses ({synapses}) never fires")
        self.theta, self.synapses = theta, synapses
        self.register_buffer("connections", torch.zeros(n_neurons, n_segments, n_in, dtype=torch.bool))

    def store(self, neuron: int, segment: int, pattern: torch.Tensor, generator: torch.Generator | None = None) -> None:
        active = pattern.bool().nonzero().flatten()
        if len(active) < self.synapses:
            raise ValueError(f"pattern has {len(active)} active cells, fewer than synapses={self.synapses}")
        pick = active[torch.randperm(len(active), generator=generator)[:self.synapses]]
        self.connections[neuron, segment] = False
        self.connections[neuron, segment, pick] = True

    def segment_overlaps(self, x: torch.Tensor) -> torch.Tensor:
        """Overlap of every segment with ``x``: ``[B, n_neurons, n_segments]``."""
        return torch.einsum("bi,nsi->bns", x.float(), self.connections.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.segment_overlaps(x) >= self.theta).any(-1).float()
