"""Tonic datasets (or anything yielding ``(events, target)``) as axonal sequences and Trainer data.

``TonicSequences(tonic.datasets.SHD(...), dt=10_000)`` is a ``torch.utils.data.Dataset`` of
``(x [T, C] float32, y int)`` items: structured event arrays (Tonic's dtypes: int64 fields,
bool polarity, any field order) are binned with :func:`axonal.data.neuromorphic.bin_events`
(its ``start`` / ``last_bin`` options reproduce ``tonic.transforms.ToFrame``), and frames that a
Tonic transform already made (``[T, P, H, W]`` or ``[T, P, W]`` arrays or tensors) are
flattened to ``[T, C]``. Batch it time-major with ``axonal.data.make_loader``.

``register_tonic_dataset("my_shd", train=..., test=..., dt=10_000)`` materialises the samples
once and adds them to ``axonal.data.load_dataset``, so a recipe naming ``data.name: my_shd``
trains on them with ``axonal.train.Trainer`` like on any built-in dataset.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .core import SequenceDataset, pad_sequences
from .neuromorphic import bin_events

__all__ = ["TonicSequences", "tonic_splits", "register_tonic_dataset"]


def _sensor_size(dataset, sensor_size):
    size = sensor_size if sensor_size is not None else getattr(dataset, "sensor_size", None)
    if size is None:
        return None
    size = tuple(int(s) for s in size)
    if len(size) != 3 or any(s <= 0 for s in size):
        raise ValueError(f"sensor_size must be (width, height, polarities) of positive ints, got {size}")
    return size


class TonicSequences(Dataset):
    """``(x [T, C], y)`` items from a dataset of ``(events, target)`` pairs.

    ``sensor_size`` defaults to the dataset's (Tonic datasets have one); ``dt`` (microseconds)
    and the binning options go to ``bin_events`` (events only; ``dt`` is not needed for frames).
    ``n_steps`` pads or cuts every sample to that length (default: each its own).
    """

    def __init__(self, dataset: Any, *, sensor_size: Sequence[int] | None = None, dt: float | None = None,
                 n_steps: int | None = None, start: str = "zero", last_bin: str = "cover",
                 mode: str = "count"):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"TonicSequences needs an indexable dataset of (events, target) pairs, got "
                            f"{type(dataset).__name__}; for an iterable use tonic_splits(list(it), ...)")
        self.dataset = dataset
        self.sensor_size = _sensor_size(dataset, sensor_size)
        self.dt, self.n_steps = dt, n_steps
        self.binning = dict(start=start, last_bin=last_bin, mode=mode)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"sample {i}: expected an (events, target) pair, got {type(item).__name__}")
        data, target = item[0], item[1]
        return self.to_sequence(data, f"sample {i}"), _label(target, i)

    def to_sequence(self, data, where: str = "sample") -> torch.Tensor:
        """One sample's events or frames as ``[T, C]`` float32."""
        if isinstance(data, np.ndarray) and data.dtype.names is not None:
            if self.sensor_size is None:
                raise ValueError(f"{where}: events need sensor_size=(width, height, polarities)")
            if self.dt is None:
                raise ValueError(f"{where}: events need dt= (bin width, in the events' time unit, "
                                 "microseconds for Tonic)")
            x = bin_events([data], self.sensor_size, dt=self.dt, n_steps=self.n_steps, **self.binning)
            return x[:, 0]
        x = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
        if x.ndim < 2:
            raise ValueError(f"{where}: expected structured events or frames [T, ...], got shape "
                             f"{tuple(x.shape)}")
        x = x.reshape(x.shape[0], -1).to(torch.float32)
        if self.n_steps is not None:
            x = pad_sequences([x[: self.n_steps]], self.n_steps)[0][0]
        return x


def _label(target, i) -> int:
    t = np.asarray(target)
    if t.size != 1 or t.dtype.kind not in "iub" and not (t.dtype.kind == "f" and float(t) == round(float(t))):
        raise ValueError(f"sample {i}: target {target!r} is not one integer class label")
    return int(t.reshape(-1)[0])


def tonic_splits(train: Iterable, test: Iterable, *, val: Iterable | None = None,
                 class_names: Sequence[str] | None = None, sensor_size: Sequence[int] | None = None,
                 dt: float | None = None, n_steps: int | None = None, start: str = "zero",
                 last_bin: str = "cover", mode: str = "count") -> dict:
    """``dict(train, test, [val], class_names, n_steps)`` of ``SequenceDataset`` s (the form of
    ``axonal.data`` builders) from Tonic datasets or lists of ``(events, target)`` pairs. All
    splits share ``T`` (``n_steps``, default the longest sample of all)."""
    splits = {"train": train, "test": test} | ({"val": val} if val is not None else {})
    seqs = {}
    for name, ds in splits.items():
        ds = ds if hasattr(ds, "__getitem__") and hasattr(ds, "__len__") else list(ds)
        seqs[name] = TonicSequences(ds, sensor_size=sensor_size or _sensor_size(train, None), dt=dt,
                                    n_steps=n_steps, start=start, last_bin=last_bin, mode=mode)
    items = {name: [s[i] for i in range(len(s))] for name, s in seqs.items()}
    t_len = n_steps or max(x.shape[0] for its in items.values() for x, _ in its)
    out: dict[str, Any] = {}
    for name, its in items.items():
        x, lengths = pad_sequences([x for x, _ in its], t_len)
        y = torch.as_tensor([v for _, v in its], dtype=torch.long)
        out[name] = SequenceDataset(x, y, None if int(lengths.min()) == t_len else lengths)
    n_classes = int(max(int(out[k].y.max()) for k in out)) + 1
    names = class_names or getattr(train, "classes", None)
    if names is not None and len(names) >= n_classes:
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    else:
        names = tuple(str(c) for c in range(n_classes))
    out.update(class_names=names, n_steps=t_len)
    return out


def register_tonic_dataset(name: str, train: Iterable, test: Iterable, *, description: str = "",
                           **options) -> None:
    """Make ``axonal.data.load_dataset(name)`` (and so a recipe's ``data.name``) return these
    splits; ``options`` as :func:`tonic_splits`. The samples are binned once, here."""
    from .registry import _BY_KEY, DATASETS, _Entry, _key

    built = tonic_splits(train, test, **options)

    def build(seed):  # the splits are fixed data: the seed only shuffles batches
        return built

    DATASETS[name] = _Entry(build, description or f"Tonic-style dataset registered as {name!r}",
                            "axonal.data.tonic_adapter.register_tonic_dataset", ())
    _BY_KEY[_key(name)] = name
