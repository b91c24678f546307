"""Lempel-Ziv (LZ76) complexity of spike trains, and a classifier that reads out from it.

LZ76 (Lempel & Ziv, 1976, "On the complexity of finite sequences") parses a sequence from left
to right into components; each new component is the shortest substring, starting where the
last one ended, that cannot be copied from the text before it (the copy may overlap the
component itself, except its last symbol). The complexity ``c(n)`` is the number of
components, the last one counted even if incomplete. For a binary sequence of length ``n``,
``c(n) <= n / log2(n)`` asymptotically, so ``c(n) * log2(n) / n`` is the normalised complexity:
about 1 for a fair coin, near 0 for a periodic train. The counting loop is the one of Kaspar &
Schuster (1987, Phys. Rev. A 36, 842), O(n^2) in the worst case and near linear in practice.

Rudnicka, Szczepański & Pręgowska (2025, arXiv 2508.11674) classify SNN output spike trains by
their LZC ("SNN-LZC"); :class:`LZCClassifier` is that readout: the normalised LZC of each output
neuron's train is a feature vector, classified by its nearest class centroid.

Functions: :func:`lz76_complexity` (scalar reference, any sequence of hashable symbols),
:func:`lz76_batch` (numba, parallel over rows of a 2-D integer array) and
:func:`spike_train_complexity` (time-major tensors ``[T, B, ...] -> [B, ...]``, normalised).
"""
from __future__ import annotations

import math
from typing import Sequence

import numba
import numpy as np
import torch

__all__ = [
    "lz76_complexity",
    "lz76_batch",
    "lz76_normalised",
    "spike_train_complexity",
    "LZCClassifier",
]


def lz76_complexity(sequence: Sequence) -> int:
    """LZ76 complexity ``c(n)`` (number of components) of one sequence; the reference.

    ``lz76_complexity("0001101001000101") == 6`` (components 0.001.10.100.1000.101, the example
    of Kaspar & Schuster 1987). An empty sequence has complexity 0, a constant one 2 (n > 1).
    """
    s = list(sequence)
    n = len(s)
    if n == 0:
        return 0
    if n == 1:
        return 1
    c, l, i, k, k_max = 1, 1, 0, 1, 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:  # the last component runs to the end (incomplete): count it
                c += 1
                break
        else:
            k_max = max(k_max, k)
            i += 1
            if i == l:  # no earlier start copies further: a new component ends here
                c += 1
                l += k_max
                if l + 1 > n:
                    break
                i, k, k_max = 0, 1, 1
            else:
                k = 1
    return c


@numba.njit(cache=True, nogil=True)
def _lz76_row(s, n):
    if n == 0:
        return 0
    if n == 1:
        return 1
    c = 1
    l = 1
    i = 0
    k = 1
    k_max = 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                c += 1
                break
        else:
            if k > k_max:
                k_max = k
            i += 1
            if i == l:
                c += 1
                l += k_max
                if l + 1 > n:
                    break
                i = 0
                k = 1
                k_max = 1
            else:
                k = 1
    return c


@numba.njit(cache=True, parallel=True)
def _lz76_rows(data):
    rows, n = data.shape
    out = np.empty(rows, dtype=np.int64)
    for r in numba.prange(rows):
        out[r] = _lz76_row(data[r], n)
    return out


def lz76_batch(sequences) -> np.ndarray:
    """LZ76 complexity of each row of a 2-D integer array ``[rows, n]`` (numba, parallel)."""
    a = np.asarray(sequences)
    if a.ndim != 2:
        raise ValueError(f"lz76_batch expects a 2-D array [rows, n], got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(a == np.round(a)):
            raise ValueError("lz76_batch needs integer symbols; binarise spikes first (x > 0)")
    elif a.dtype.kind not in "iub":
        raise TypeError(f"lz76_batch needs an integer or boolean array, got dtype {a.dtype}")
    return _lz76_rows(np.ascontiguousarray(a.astype(np.int64)))


def lz76_normalised(c, n: int):
    """Normalise a complexity count by the random-sequence bound: ``c * log2(n) / n``."""
    if n < 2:
        raise ValueError(f"normalisation needs a sequence length n >= 2, got {n}")
    return c * math.log2(n) / n


def spike_train_complexity(spikes: torch.Tensor, normalise: bool = True) -> torch.Tensor:
    """LZ76 complexity of every spike train in a time-major tensor ``[T, B, ...]`` -> ``[B, ...]``.

    Each train is binarised (``spikes > 0``). Normalised by ``log2(T) / T`` unless
    ``normalise=False``. Runs on CPU through numba; the result follows the input's device.
    Not differentiable (a count of substrings has no gradient).
    """
    if not isinstance(spikes, torch.Tensor) or spikes.ndim < 2:
        raise ValueError("spike_train_complexity expects a time-major tensor [T, B, ...] of spikes")
    t = spikes.shape[0]
    rest = spikes.shape[1:]
    rows = (spikes.detach() > 0).reshape(t, -1).T.contiguous().cpu().numpy().astype(np.uint8)
    c = lz76_batch(rows).astype(np.float64)
    if normalise:
        c = lz76_normalised(c, t)
    out = torch.from_numpy(c).to(torch.float32).reshape(rest)
    return out.to(spikes.device)


class LZCClassifier:
    """Nearest-centroid classifier on features of output spike trains (the SNN-LZC readout).

    ``feature="lzc"`` uses the normalised LZ76 complexity of each neuron's train, ``"rate"``
    its mean firing rate (the rate readout it is compared with), ``"both"`` the two
    concatenated. Features are standardised with the training set's mean and spread, then each
    sample goes to the class with the nearest centroid (Euclidean).

        clf = LZCClassifier().fit(spikes_train, y_train)   # spikes: [T, B, N]
        accuracy = (clf.predict(spikes_test) == y_test).float().mean()
    """

    FEATURES = ("lzc", "rate", "both")

    def __init__(self, feature: str = "lzc"):
        if feature not in self.FEATURES:
            raise ValueError(f"unknown feature {feature!r}; choose one of {list(self.FEATURES)}")
        self.feature = feature
        self.centroids: torch.Tensor | None = None

    def features(self, spikes: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...] -> [B, F]`` feature vectors."""
        b = spikes.shape[1]
        parts = []
        if self.feature in ("lzc", "both"):
            parts.append(spike_train_complexity(spikes).reshape(b, -1).cpu())
        if self.feature in ("rate", "both"):
            parts.append((spikes.detach() > 0).float().mean(0).reshape(b, -1).cpu())
        return torch.cat(parts, dim=1)

    def fit(self, spikes: torch.Tensor, labels: torch.Tensor) -> "LZCClassifier":
        f = self.features(spikes)
        labels = torch.as_tensor(labels).cpu().long()
        if labels.shape != (f.shape[0],):
            raise ValueError(f"labels must have shape [B] = [{f.shape[0]}], got {tuple(labels.shape)}")
        self.mean = f.mean(0)
        self.scale = f.std(0).clamp(min=1e-6)
        z = (f - self.mean) / self.scale
        self.classes = torch.unique(labels)
        self.centroids = torch.stack([z[labels == c].mean(0) for c in self.classes])
        return self

    def predict(self, spikes: torch.Tensor) -> torch.Tensor:
        if self.centroids is None:
            raise RuntimeError("LZCClassifier.predict called before fit(spikes, labels)")
        z = (self.features(spikes) - self.mean) / self.scale
        return self.classes[torch.cdist(z, self.centroids).argmin(1)]

    def score(self, spikes: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.predict(spikes) == torch.as_tensor(labels).cpu()).float().mean())
