"""Datasets as time-major batches: shipped real data, seeded synthetic tasks, file readers.

Typical use::

    from axonal.data import load_dataset, make_loader
    splits = load_dataset("basic_motions", seed=0, standardize=True)
    loader = make_loader(splits.train, batch_size=16, shuffle=True, seed=0)
    for x, y in loader:          # x [T, B, C] float32, y [B] int64
        ...

``available_datasets()`` lists the names. Readers of the standard neuromorphic formats live in
``axonal.data.neuromorphic``; spike-train generators in ``axonal.data.spike_trains``.
"""
from .core import (DatasetInfo, DatasetSplits, SequenceDataset, make_loader, pad_sequences,
                   stratified_split, time_major_collate)
from .registry import DATASETS, available_datasets, load_dataset

__all__ = ["load_dataset", "available_datasets", "make_loader", "DatasetSplits", "DatasetInfo",
           "SequenceDataset", "time_major_collate", "pad_sequences", "stratified_split", "DATASETS"]
