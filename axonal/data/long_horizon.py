"""Procedural long-horizon tasks: spike-coded digit adding with a gap, and delayed recall (copy).

Both are generated offline from a seed, so results are reproducible and nothing is downloaded.

``DigitsAdding`` (core.md §5, after the ELM paper's SHD-Adding): two handwritten digits from
scikit-learn's ``load_digits`` (8x8, 0..16) are upsampled to 16x16; the 16 rows become time bins
and the 16 columns channels; each row is repeated ``repeat`` times and every pixel spikes with
probability ``pixel / 16`` (Bernoulli). The two digits are separated by ``gap`` silent steps;
the label is their sum (19 classes with 10 digit classes). The images are split once (by
``split_seed``) into disjoint train and test pools so that test pairs use unseen images.

``DelayedRecall`` (core.md §6, copy task): ``length`` symbols drawn from ``n_symbols`` are shown
one per step (one-hot), then ``delay`` blank steps, then a recall cue on an extra channel for
``length`` steps, during which the network must output the symbols in order. Targets are
``-100`` (ignored by ``cross_entropy``) outside the recall window.

Items are ``(x [T, C] float32, y)``; batch with :func:`time_major_collate` to get ``x [T, B, C]``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from .core import SequenceDataset

__all__ = ["DigitsAdding", "DelayedRecall", "digit_spike_trains", "time_major_collate", "IGNORE_INDEX",
           "digits_adding_splits", "delayed_recall_splits"]

IGNORE_INDEX = -100


def _check_int(name, v, minimum):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}")


def time_major_collate(batch):
    """Stack ``(x [T, C], y)`` items into ``x [T, B, C]`` and ``y [B]`` (or ``[T, B]``)."""
    xs, ys = zip(*batch)
    x = torch.stack(xs, dim=1)
    y = torch.stack([torch.as_tensor(v) for v in ys])
    if y.ndim == 2:
        y = y.t().contiguous()
    return x, y


def _digit_images(n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # lazy: importing scikit-learn costs about a second

    d = load_digits()
    keep = d.target < n_classes
    img = torch.tensor(d.images[keep], dtype=torch.float32) / 16.0  # [N, 8, 8] in [0, 1]
    img = F.interpolate(img[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    return img.clamp(0, 1), torch.tensor(d.target[keep], dtype=torch.long)


def digit_spike_trains(images: torch.Tensor, repeat: int, generator: torch.Generator) -> torch.Tensor:
    """Rows as time, columns as channels: ``[N, 16, 16]`` probabilities -> ``[N, 16*repeat, 16]`` spikes."""
    p = images.repeat_interleave(repeat, dim=1)
    return (torch.rand(p.shape, generator=generator) < p).float()


class DigitsAdding(Dataset):
    """Two spike-coded digits separated by ``gap`` silent steps; label = their sum.

    ``DigitsAdding(n_samples, gap, split="train", seed=0, repeat=2, n_classes=10,
    test_fraction=0.3, split_seed=0, label="sum")``. ``T = 2 * 16 * repeat + gap``; 16 channels.
    ``label="first"`` asks for the first digit only (a pure memory probe), ``"second"`` for the
    second (no memory needed). The samples are drawn once at construction (fixed dataset).
    """

    channels = 16

    def __init__(self, n_samples: int, gap: int, split: str = "train", seed: int = 0, repeat: int = 2,
                 n_classes: int = 10, test_fraction: float = 0.3, split_seed: int = 0, label: str = "sum"):
        _check_int("n_samples", n_samples, 1)
        _check_int("gap", gap, 0)
        _check_int("repeat", repeat, 1)
        _check_int("n_classes", n_classes, 2)
        if n_classes > 10:
            raise ValueError(f"n_classes must be <= 10 (digits 0..n_classes-1), got {n_classes}")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if label not in ("sum", "first", "second"):
            raise ValueError(f"label must be 'sum', 'first' or 'second', got {label!r}")
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        images, targets = _digit_images(n_classes)
        perm = torch.randperm(len(targets), generator=torch.Generator().manual_seed(split_seed))
        cut = int(round(len(perm) * (1 - test_fraction)))
        pool = perm[:cut] if split == "train" else perm[cut:]
        images, targets = images[pool], targets[pool]
        g = torch.Generator().manual_seed(seed * 2 + (0 if split == "train" else 1) + 7919 * gap)
        i1 = torch.randint(len(pool), (n_samples,), generator=g)
        i2 = torch.randint(len(pool), (n_samples,), generator=g)
        d1 = digit_spike_trains(images[i1], repeat, g)
        d2 = digit_spike_trains(images[i2], repeat, g)
        silence = torch.zeros(n_samples, gap, self.channels)
        self.x = torch.cat([d1, silence, d2], dim=1).contiguous()  # [N, T, 16]
        a, b = targets[i1], targets[i2]
        self.y = {"sum": a + b, "first": a, "second": b}[label]
        self.n_classes = 2 * n_classes - 1 if label == "sum" else n_classes
        self.gap, self.repeat, self.digit_steps = gap, repeat, 16 * repeat
        self.steps = self.x.shape[1]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class DelayedRecall(Dataset):
    """Copy task: ``length`` one-hot symbols, ``delay`` blank steps, then recall them in order.

    ``DelayedRecall(n_samples, delay, length=5, n_symbols=8, seed=0)``. Channels: ``n_symbols``
    symbol lines + 1 recall-cue line. ``T = 2 * length + delay``. ``y [T]`` holds the symbol to
    output at each recall step and ``IGNORE_INDEX`` elsewhere. ``recall_mask`` marks the
    recall steps.
    """

    def __init__(self, n_samples: int, delay: int, length: int = 5, n_symbols: int = 8, seed: int = 0):
        _check_int("n_samples", n_samples, 1)
        _check_int("delay", delay, 0)
        _check_int("length", length, 1)
        _check_int("n_symbols", n_symbols, 2)
        g = torch.Generator().manual_seed(seed)
        sym = torch.randint(n_symbols, (n_samples, length), generator=g)
        t = 2 * length + delay
        x = torch.zeros(n_samples, t, n_symbols + 1)
        x[:, :length, :n_symbols] = F.one_hot(sym, n_symbols).float()
        x[:, length + delay:, n_symbols] = 1.0
        y = torch.full((n_samples, t), IGNORE_INDEX, dtype=torch.long)
        y[:, length + delay:] = sym
        self.x, self.y, self.symbols = x, y, sym
        self.delay, self.length, self.n_symbols, self.steps = delay, length, n_symbols, t
        self.channels = n_symbols + 1
        self.recall_mask = torch.zeros(t, dtype=torch.bool)
        self.recall_mask[length + delay:] = True

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _as_sequence_dataset(x, y):
    return SequenceDataset(x, y)


def digits_adding_splits(*, gap: int, n_train: int, n_test: int, repeat: int = 1, n_classes: int = 5,
                         label: str = "sum", data_seed: int = 0, val_fraction: float = 0.2):
    """``(train, val, test, n_labels)`` :class:`~axonal.data.core.SequenceDataset` splits of
    :class:`DigitsAdding` for ``load_dataset("digits_adding")``.

    ``n_train`` pairs are drawn from the training image pool and the last ``val_fraction`` of
    them held out for validation; the ``n_test`` test pairs use unseen images. Everything
    depends on ``data_seed`` only (never on the training seed), so every model of a comparison
    sees the same data.
    """
    _check_int("n_test", n_test, 1)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction!r}")
    kw = dict(gap=gap, repeat=repeat, n_classes=n_classes, label=label, seed=data_seed)
    full = DigitsAdding(n_train, split="train", **kw)
    test = DigitsAdding(n_test, split="test", **kw)
    n_val = int(round(n_train * val_fraction))
    cut = n_train - n_val
    return (_as_sequence_dataset(full.x[:cut], full.y[:cut]), _as_sequence_dataset(full.x[cut:], full.y[cut:]),
            _as_sequence_dataset(test.x, test.y), full.n_classes)


def delayed_recall_splits(*, delay: int, n_train: int, n_test: int, length: int = 5, n_symbols: int = 8,
                          data_seed: int = 0, val_fraction: float = 0.2):
    """``(train, val, test)`` splits of :class:`DelayedRecall` for ``load_dataset("delayed_recall")``.

    Targets are per step (``y [N, T]``, :data:`IGNORE_INDEX` outside the recall window); the test
    sequences come from a separate generator seed (``data_seed + 10_000``).
    """
    _check_int("n_test", n_test, 1)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction!r}")
    full = DelayedRecall(n_train, delay, length=length, n_symbols=n_symbols, seed=data_seed)
    test = DelayedRecall(n_test, delay, length=length, n_symbols=n_symbols, seed=data_seed + 10_000)
    cut = n_train - int(round(n_train * val_fraction))
    return (_as_sequence_dataset(full.x[:cut], full.y[:cut]), _as_sequence_dataset(full.x[cut:], full.y[cut:]),
            _as_sequence_dataset(test.x, test.y))
