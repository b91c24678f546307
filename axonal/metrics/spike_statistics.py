"""Statistics of spike trains given as compact (time, neuron) lists: rates and ISI irregularity.

The coefficient of variation of the inter-spike intervals, ``CV = std(ISI) / mean(ISI)``, is 1
for a Poisson process and 0 for a clock; asynchronous irregular network states (Brunel 2000;
the COBA benchmark of Brette et al. 2007) have CVs near or above 1.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["isi_cv", "firing_rates"]


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def isi_cv(spike_times, spike_neurons, n_neurons: int, min_spikes: int = 3) -> np.ndarray:
    """CV of the ISIs of every neuron with at least ``min_spikes`` spikes (NaN for the others).

    ``spike_times`` (any unit; steps are fine) and ``spike_neurons`` are equal-length 1-D arrays.
    Returns ``[n_neurons]`` float64 (population CV: ``np.nanmean`` of it).
    """
    t = _np(spike_times).astype(np.float64).ravel()
    i = _np(spike_neurons).astype(np.int64).ravel()
    if t.shape != i.shape:
        raise ValueError(f"spike_times and spike_neurons must have the same length, got {t.shape} and {i.shape}")
    if min_spikes < 3:
        raise ValueError("min_spikes must be >= 3 (two intervals are needed for a standard deviation)")
    if i.size and (i.min() < 0 or i.max() >= n_neurons):
        raise ValueError(f"spike_neurons must lie in [0, n_neurons={n_neurons})")
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cv = np.full(n_neurons, np.nan)
    same = i[1:] == i[:-1]
    isi = np.diff(t)[same]
    who = i[1:][same]
    cnt = np.bincount(who, minlength=n_neurons)
    s1 = np.bincount(who, isi, minlength=n_neurons)
    s2 = np.bincount(who, isi * isi, minlength=n_neurons)
    ok = cnt >= min_spikes - 1
    mean = s1[ok] / cnt[ok]
    var = np.maximum(s2[ok] / cnt[ok] - mean ** 2, 0.0)
    cv[ok] = np.sqrt(var) / mean
    return cv


def firing_rates(spike_neurons, n_neurons: int, duration_s: float) -> np.ndarray:
    """Spikes per second of every neuron over ``duration_s`` seconds."""
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    return np.bincount(_np(spike_neurons).astype(np.int64).ravel(), minlength=n_neurons) / duration_s
