"""Seeded generators of binary spike trains: Poisson (Bernoulli per bin) and bursty two-state Markov.

Both return time-major float32 tensors ``[T, B, C]`` of 0/1. They are the inputs of the
Poisson / Markov classification tasks of Rudnicka, Szczepański & Pręgowska (2025,
arXiv 2508.11674; the companion paper arXiv 2506.06750 adds the two-state Markov source):

- :func:`poisson_spike_trains`: each bin of width ``dt`` (seconds) holds a spike with
  probability ``rate * dt`` independently (the discrete-time Poisson process).
- :func:`markov_spike_trains`: the spike/no-spike sequence is a two-state Markov chain with
  P(spike | previous spike) = p11 and P(spike | previous silence) = p01, started from its
  stationary law. Parameterised by the stationary firing probability ``p = p01 / (1 - p11 + p01)``
  and the lag-1 correlation ``r = p11 - p01`` (0 = Bernoulli, towards 1 = long bursts), so two
  classes can share the mean rate and differ only in burstiness.
- :func:`poisson_task` / :func:`markov_task`: balanced two-class data sets of such trains.
- :func:`bernoulli_rate_code`: intensities in [0, 1] to spike trains (for digits).
"""
from __future__ import annotations

import torch

__all__ = [
    "poisson_spike_trains",
    "markov_spike_trains",
    "poisson_task",
    "markov_task",
    "bernoulli_rate_code",
]


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _check_counts(steps, batch, channels):
    for name, v in (("steps", steps), ("batch", batch), ("channels", channels)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def poisson_spike_trains(steps: int, batch: int, channels: int, rate: float | torch.Tensor,
                         dt: float = 1e-3, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Discrete Poisson trains ``[steps, batch, channels]``: P(spike in a bin) = rate * dt.

    ``rate`` in Hz (a float, or a tensor broadcastable to ``[batch, channels]``).
    """
    _check_counts(steps, batch, channels)
    p = torch.as_tensor(rate, dtype=torch.float32) * dt
    if (p < 0).any() or (p > 1).any():
        raise ValueError(f"rate * dt must lie in [0, 1] (a probability per bin); got rate={rate}, dt={dt}")
    p = p.expand(batch, channels)
    u = torch.rand(steps, batch, channels, generator=_generator(seed))
    return (u < p).float()


def markov_spike_trains(steps: int, batch: int, channels: int, p_spike: float, correlation: float,
                        seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Bursty two-state Markov trains ``[steps, batch, channels]``.

    ``p_spike`` is the stationary spike probability per bin, ``correlation`` in [0, 1) the
    lag-1 autocorrelation: p11 = p + r (1 - p), p01 = p (1 - r). The mean burst length is
    ``1 / (1 - p11)`` bins.
    """
    _check_counts(steps, batch, channels)
    if not 0 < p_spike < 1:
        raise ValueError(f"p_spike must lie in (0, 1), got {p_spike}")
    if not 0 <= correlation < 1:
        raise ValueError(f"correlation must lie in [0, 1), got {correlation}")
    p11 = p_spike + correlation * (1 - p_spike)
    p01 = p_spike * (1 - correlation)
    g = _generator(seed)
    u = torch.rand(steps, batch, channels, generator=g)
    out = torch.empty(steps, batch, channels)
    s = (u[0] < p_spike).float()
    out[0] = s
    for t in range(1, steps):
        s = (u[t] < p01 + (p11 - p01) * s).float()
        out[t] = s
    return out


def _balanced(n: int, gen_a, gen_b, seed):
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even number >= 2 (balanced two classes), got {n}")
    g = _generator(seed)
    a, b = gen_a(n // 2, g), gen_b(n // 2, g)
    x = torch.cat([a, b], dim=1)
    y = torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]).long()
    perm = torch.randperm(n, generator=g)
    return x[:, perm].contiguous(), y[perm]


def poisson_task(n: int, channels: int = 50, steps: int = 200, rates=(10.0, 14.0), dt: float = 1e-3,
                 seed: int = 0):
    """Two classes of Poisson trains differing only in rate (default 10 vs 14 Hz, 1 ms bins).

    Returns ``(x [steps, n, channels], y [n])`` with balanced, shuffled labels.
    """
    return _balanced(
        n,
        lambda m, g: poisson_spike_trains(steps, m, channels, rates[0], dt, g),
        lambda m, g: poisson_spike_trains(steps, m, channels, rates[1], dt, g),
        seed,
    )


def markov_task(n: int, channels: int = 50, steps: int = 200, p_spike: float = 0.05,
                correlations=(0.0, 0.6), seed: int = 0):
    """Two classes with the same mean rate but different burstiness (lag-1 correlation).

    Rate alone cannot separate them; temporal structure (or LZ complexity) can.
    Returns ``(x [steps, n, channels], y [n])``.
    """
    return _balanced(
        n,
        lambda m, g: markov_spike_trains(steps, m, channels, p_spike, correlations[0], g),
        lambda m, g: markov_spike_trains(steps, m, channels, p_spike, correlations[1], g),
        seed,
    )


def bernoulli_rate_code(values: torch.Tensor, steps: int, max_prob: float = 1.0,
                        seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Intensities ``[B, ...]`` in [0, 1] to spikes ``[steps, B, ...]``: P(spike) = max_prob * value."""
    values = torch.as_tensor(values, dtype=torch.float32)
    if values.numel() and (values.min() < 0 or values.max() > 1):
        raise ValueError("bernoulli_rate_code expects values in [0, 1]; divide by the maximum first")
    if not 0 < max_prob <= 1:
        raise ValueError(f"max_prob must lie in (0, 1], got {max_prob}")
    u = torch.rand((steps, *values.shape), generator=_generator(seed))
    return (u < values * max_prob).float()
