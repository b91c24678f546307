"""Seeded synthetic classification tasks, generated on the fly (nothing is stored or downloaded).

- :func:`temporal_pattern`: raw float signals in which every channel carries exactly one bump in
  every class; the classes differ only in the *order* in which the channels bump. Each channel's
  time-average is the same for all classes, so a model must use timing (memory, delays or
  recurrence), not per-channel intensity.
- :func:`poisson_rates`: spike trains (0/1) whose classes differ only in firing rate; a rate
  (spike-count) code solves it, and the achievable accuracy is set by the Binomial noise of
  counting spikes over ``n_steps`` steps.

``pattern_seed`` fixes the class definitions; ``seed`` the samples (train and test are drawn from
independent streams of the same seed).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from ..encoding.rate import rate_encode
from .core import SequenceDataset

__all__ = ["temporal_pattern", "temporal_pattern_orders", "poisson_rates"]


def _check_int(who, name, v, minimum):
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {v!r}")


def _balanced_labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes)


def temporal_pattern_orders(n_classes: int, n_channels: int, pattern_seed: int = 0) -> np.ndarray:
    """``[n_classes, n_channels]``: the slot (0 = first) at which each channel bumps, per class.

    Distinct permutations of the slots, drawn with ``pattern_seed``.
    """
    if n_classes > math.factorial(n_channels):
        raise ValueError(f"temporal_pattern: {n_channels} channels allow only {math.factorial(n_channels)} "
                         f"distinct orders, fewer than n_classes={n_classes}; add channels")
    rng = np.random.default_rng(pattern_seed)
    if math.factorial(n_channels) <= 5040:
        perms = np.array(list(itertools.permutations(range(n_channels))))
        return perms[rng.choice(len(perms), size=n_classes, replace=False)]
    orders: list[tuple] = []
    while len(orders) < n_classes:
        p = tuple(rng.permutation(n_channels))
        if p not in orders:
            orders.append(p)
    return np.array(orders)


def _bumps(labels, orders, n_steps, width, jitter, max_shift, noise, rng):
    n, c = len(labels), orders.shape[1]
    margin = max_shift + jitter + 3 * width
    spacing = (n_steps - 2 * margin) / max(c - 1, 1)
    if spacing < 2 * width:
        raise ValueError(f"temporal_pattern: n_steps={n_steps} is too short for {c} channels with bump "
                         f"width {width}, jitter {jitter} and shift {max_shift}; raise n_steps")
    centres = margin + orders[labels] * spacing                       # [N, C]
    centres = centres + rng.integers(-max_shift, max_shift + 1, size=(n, 1))
    centres = centres + rng.integers(-jitter, jitter + 1, size=(n, c))
    amp = rng.uniform(0.8, 1.2, size=(n, c))
    t = np.arange(n_steps)[None, :, None]
    x = amp[:, None, :] * np.exp(-0.5 * ((t - centres[:, None, :]) / width) ** 2)
    x = x + noise * rng.standard_normal(x.shape)
    return torch.from_numpy(x.astype(np.float32))


def temporal_pattern(*, seed: int = 0, n_train: int = 400, n_test: int = 200, n_classes: int = 4,
                     n_channels: int = 4, n_steps: int = 100, width: float = 3.0, jitter: int = 2,
                     max_shift: int = 5, noise: float = 0.1, pattern_seed: int = 0):
    """Order-of-bumps classification: ``x [n_steps, n_channels]`` float signals, ``n_classes`` classes.

    Class ``k`` bumps its channels in the order ``temporal_pattern_orders(...)[k]`` on slots
    evenly spaced over the window; every sample gets a random global shift in
    ``-max_shift..max_shift``, a per-bump jitter in ``-jitter..jitter``, an amplitude in
    ``[0.8, 1.2]`` and Gaussian noise of std ``noise``. Returns ``(train, test)``.
    """
    who = "temporal_pattern"
    for name, v, lo in (("n_train", n_train, 1), ("n_test", n_test, 1), ("n_classes", n_classes, 2),
                        ("n_channels", n_channels, 2), ("n_steps", n_steps, 8), ("jitter", jitter, 0),
                        ("max_shift", max_shift, 0)):
        _check_int(who, name, v, lo)
    if not (width > 0 and noise >= 0):
        raise ValueError(f"{who}: width must be > 0 and noise >= 0, got width={width}, noise={noise}")
    orders = temporal_pattern_orders(n_classes, n_channels, pattern_seed)
    out = []
    for stream, n in ((0, n_train), (1, n_test)):
        rng = np.random.default_rng([seed, stream])
        y = _balanced_labels(n, n_classes, rng)
        out.append(SequenceDataset(_bumps(y, orders, n_steps, width, jitter, max_shift, noise, rng),
                                   torch.from_numpy(y)))
    return tuple(out)


def poisson_rates(*, seed: int = 0, n_train: int = 400, n_test: int = 200, n_classes: int = 3,
                  n_channels: int = 10, n_steps: int = 100, rates: tuple[float, ...] | None = None):
    """Spike trains ``x [n_steps, n_channels]`` (0/1) whose class sets the firing probability per step.

    Class ``k`` fires on every channel independently with probability ``rates[k]`` per step
    (default evenly spaced 0.05 .. 0.15, i.e. 50..150 Hz at 1 ms steps). Returns ``(train, test)``.
    """
    who = "poisson_rates"
    for name, v, lo in (("n_train", n_train, 1), ("n_test", n_test, 1), ("n_classes", n_classes, 2),
                        ("n_channels", n_channels, 1), ("n_steps", n_steps, 1)):
        _check_int(who, name, v, lo)
    rates = tuple(np.linspace(0.05, 0.15, n_classes)) if rates is None else tuple(float(r) for r in rates)
    if len(rates) != n_classes or not all(0 <= r <= 1 for r in rates):
        raise ValueError(f"{who}: rates must be {n_classes} probabilities per step in [0, 1], got {rates}")
    out = []
    for stream, n in ((0, n_train), (1, n_test)):
        rng = np.random.default_rng([seed, stream])
        y = _balanced_labels(n, n_classes, rng)
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        p = torch.tensor(rates, dtype=torch.float32)[torch.from_numpy(y)]
        spikes = rate_encode(p[:, None].expand(n, n_channels).contiguous(), n_steps, generator=g)
        out.append(SequenceDataset(spikes.transpose(0, 1), torch.from_numpy(y)))
    return tuple(out)
