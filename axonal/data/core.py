"""Containers, splits, standardisation and the time-major loader shared by every dataset.

Samples are stored sample-major (``x [N, T, C]``, or ``[N, C]`` for static data such as
images to be rate/latency coded by the model) because that is how datasets are indexed;
:func:`make_loader` turns batches time-major, ``x [T, B, C]`` and ``y [B]``, the layout of
the whole library.

Variable-length sequences (JapaneseVowels) are zero-padded at the end to one common length
per dataset and keep their true ``lengths``. Batches are ``(x, y)`` by default, so every
dataset trains with the same loop; ``make_loader(..., with_lengths=True)`` yields
``(x, y, lengths)`` for models that must stop at each sequence's end. Zero input after the
end is silence for a spiking network (no input current, no spikes), so readouts that sum over
time are unaffected by the padding apart from membrane decay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..encoding.direct import channel_statistics

__all__ = ["SequenceDataset", "DatasetInfo", "DatasetSplits", "stratified_split", "pad_sequences",
           "time_major_collate", "make_loader"]


class SequenceDataset(Dataset):
    """In-memory dataset of ``(x [T, C] float32, y int64)`` items (``x [C]`` for static data).

    ``x``: ``[N, T, C]`` (or ``[N, C]``), ``y``: ``[N]`` (or ``[N, T]`` per-step targets, e.g. the
    copy task, with ``-100`` where nothing is asked; batches then carry ``y [B, T]``), ``lengths``: ``[N]`` true lengths of
    zero-padded sequences, or ``None`` when all have length ``T``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None):
        x = torch.as_tensor(x, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.int64)
        if x.ndim not in (2, 3) or y.ndim not in (1, 2) or x.shape[0] != y.shape[0]:
            raise ValueError(f"SequenceDataset needs x [N, T, C] or [N, C] and y [N] (or per-step y [N, T]); "
                             f"got x {tuple(x.shape)} and y {tuple(y.shape)}")
        if y.ndim == 2 and (x.ndim != 3 or y.shape[1] != x.shape[1]):
            raise ValueError(f"SequenceDataset: per-step targets y [N, T] need x [N, T, C] with the same T; got x "
                             f"{tuple(x.shape)} and y {tuple(y.shape)}")
        if lengths is not None:
            lengths = torch.as_tensor(lengths, dtype=torch.int64)
            if x.ndim != 3 or tuple(lengths.shape) != (x.shape[0],) or (lengths < 1).any() or (lengths > x.shape[1]).any():
                raise ValueError("SequenceDataset: lengths must be [N] ints in 1..T for x [N, T, C]")
        self.x, self.y, self.lengths = x, y, lengths

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    @property
    def static(self) -> bool:
        return self.x.ndim == 2

    def length(self, i: int) -> int:
        """True length of sample ``i`` (``T`` when not padded, 1 for static data)."""
        if self.lengths is not None:
            return int(self.lengths[i])
        return 1 if self.static else int(self.x.shape[1])

    def valid_mask(self) -> torch.Tensor:
        """``[N, T]`` (or ``[N]``) True where ``x`` holds data rather than padding."""
        if self.static or self.lengths is None:
            return torch.ones(self.x.shape[:-1], dtype=torch.bool)
        return torch.arange(self.x.shape[1]).unsqueeze(0) < self.lengths.unsqueeze(1)

    def subset(self, index) -> "SequenceDataset":
        index = torch.as_tensor(index, dtype=torch.int64)
        return SequenceDataset(self.x[index], self.y[index],
                               None if self.lengths is None else self.lengths[index])

    def standardized(self, mean: torch.Tensor, std: torch.Tensor) -> "SequenceDataset":
        """Per-channel ``(x - mean) / std`` on the valid entries; padding stays zero."""
        mask = self.valid_mask().unsqueeze(-1)
        x = torch.where(mask, (self.x - mean) / std, torch.zeros(()))
        return SequenceDataset(x, self.y, self.lengths)

    def __repr__(self) -> str:
        return f"SequenceDataset(n={len(self)}, x={tuple(self.x.shape)}, variable_length={self.lengths is not None})"


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset, and where it comes from."""

    name: str
    n_channels: int
    n_steps: int | None          # padded length; None for static data (the encoder picks T)
    n_classes: int
    class_names: tuple[str, ...]
    description: str
    source: str                  # citation / origin of the data
    variable_length: bool = False
    options: dict = field(default_factory=dict)   # the options the splits were built with
    mean: tuple[float, ...] | None = None          # standardisation fitted on train, if applied
    std: tuple[float, ...] | None = None
    per_step: bool = False        # targets y [T] per sample (copy task) instead of one label


@dataclass(frozen=True)
class DatasetSplits:
    train: SequenceDataset
    val: SequenceDataset
    test: SequenceDataset
    info: DatasetInfo


def stratified_split(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of indices into ``(keep, held_out)``, both sorted.

    Each class contributes ``round(fraction * n_class)`` samples to the held-out part, at least
    one when ``fraction > 0`` and the class has two or more samples, and always keeps one.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(idx)))
        if fraction > 0 and len(idx) >= 2:
            n = max(n, 1)
        n = min(n, len(idx) - 1)
        held.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def pad_sequences(seqs: Sequence[torch.Tensor], length: int | None = None):
    """Zero-pad ``[T_i, C]`` tensors at the end to ``[N, T, C]``; returns ``(x, lengths)``."""
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.int64)
    t = int(lengths.max()) if length is None else length
    if int(lengths.max()) > t:
        raise ValueError(f"pad_sequences: a sequence has length {int(lengths.max())} > {t}")
    out = torch.zeros(len(seqs), t, *seqs[0].shape[1:], dtype=torch.float32)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = torch.as_tensor(s, dtype=torch.float32)
    return out, lengths


def time_major_collate(batch):
    """``[(x [T, C], y) ...]`` -> ``(x [T, B, C], y [B])``; static ``x [C]`` -> ``x [B, C]``.

    Items of different lengths are zero-padded to the longest. Items ``(x, y, length)`` give
    ``(x, y, lengths [B])``.
    """
    items = list(zip(*batch))
    xs, ys = items[0], items[1]
    y = torch.stack([torch.as_tensor(v, dtype=torch.int64) for v in ys])
    if xs[0].ndim == 1:
        x = torch.stack(xs)
    elif len({t.shape for t in xs}) == 1:
        x = torch.stack(xs, dim=1)
    else:
        x = pad_sequences(xs)[0].transpose(0, 1)
    x = x.contiguous()
    if len(items) == 3:
        return x, y, torch.as_tensor(items[2], dtype=torch.int64)
    return x, y


class _WithLengths(Dataset):
    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i][:2]
        n = self.dataset.length(i) if hasattr(self.dataset, "length") else (x.shape[0] if x.ndim > 1 else 1)
        return x, y, n


def make_loader(dataset: Dataset, batch_size: int = 32, shuffle: bool = False, seed: int = 0, *,
                drop_last: bool = False, with_lengths: bool = False, num_workers: int = 0) -> DataLoader:
    """A ``DataLoader`` whose batches are time-major: ``x [T, B, C]``, ``y [B]``.

    ``shuffle`` uses a generator seeded with ``seed`` (same seed, same batch order).
    ``with_lengths=True`` adds ``lengths [B]`` (true lengths of zero-padded sequences).
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    g = torch.Generator()
    g.manual_seed(int(seed))
    return DataLoader(_WithLengths(dataset) if with_lengths else dataset, batch_size=batch_size,
                      shuffle=shuffle, generator=g, drop_last=drop_last, num_workers=num_workers,
                      collate_fn=time_major_collate)


def fit_standardization(train: SequenceDataset):
    """Per-channel ``(mean, std)`` over the valid entries of the training split only."""
    return channel_statistics(train.x, train.valid_mask())
