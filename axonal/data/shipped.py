"""Real datasets that ship inside installed packages and load offline (nothing is downloaded).

- UEA/UCR time-series classification sets bundled with ``aeon`` (``aeon.datasets.load_classification``
  reads them from the package's ``datasets/data`` folder): BasicMotions, JapaneseVowels, GunPoint.
- Daphnet freezing of gait: ``aeon`` ships one recording (``Daphnet_S06R02E0/S06R02E0.csv``, 64 Hz,
  9 accelerometer channels, ``is_anomaly`` = freezing) for anomaly detection; :func:`daphnet`
  cuts it into labelled windows. It also reads the original UCI recordings (``SxxRyy.txt``).
- scikit-learn's handwritten digits (``load_digits``, 8x8 images, values 0..16).

Raw arrays are cached in-process (``functools.lru_cache``) so repeated loads are free.
"""
from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

import numpy as np
import torch

from .core import SequenceDataset, pad_sequences, stratified_split

__all__ = ["AEON_DATASETS", "aeon_classification", "daphnet", "read_daphnet", "daphnet_windows",
           "digits", "DAPHNET_CHANNELS"]

UEA = ("Bagnall et al., 'The UEA multivariate time series classification archive, 2018', "
       "arXiv:1811.00075; shipped with the aeon package")
AEON_DATASETS = {
    "BasicMotions": dict(
        description="smartwatch accelerometer + gyroscope (6 ch, T=100) of 4 activities: "
                    "standing, walking, running, badminton; 40 train / 40 test",
        source=UEA),
    "JapaneseVowels": dict(
        description="12 LPC cepstrum coefficients of the vowel /ae/ by 9 male speakers (speaker "
                    "identification), variable length 7..29 padded to 29; 270 train / 370 test",
        source="Kudo, Toyama & Shimbo, 'Multidimensional curve classification using passing-through "
               "regions', Pattern Recognition Letters 20 (1999); " + UEA),
    "GunPoint": dict(
        description="x-coordinate of an actor's hand (1 ch, T=150): drawing a gun vs pointing; "
                    "50 train / 150 test",
        source="Ratanamahatana & Keogh, 'Three myths about dynamic time warping', SDM 2005; UCR archive "
               "(Dau et al., IEEE/CAA JAS 2019); shipped with the aeon package"),
}


def _import_aeon():
    """aeon, imported on first use: it takes seconds to import and only the real datasets need it."""
    try:
        import aeon.datasets  # noqa: F401
    except ImportError as err:
        raise ImportError("the real time-series datasets are read from the 'aeon' package, which is "
                          "not installed; install it with `pip install aeon`") from err
    return aeon


def _aeon_data_dir() -> Path:
    _import_aeon()
    return Path(str(importlib.resources.files("aeon.datasets") / "data"))


def _sort_labels(labels) -> list[str]:
    names = sorted({str(v) for v in labels})
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


@functools.lru_cache(maxsize=None)
def _aeon_raw(name: str, split: str):
    """``(list of [T_i, C] float32 arrays, labels as str)`` of one split, cached in-process."""
    _import_aeon()
    from aeon.datasets import load_classification  # lazy, see _import_aeon

    expected = _aeon_data_dir() / name / f"{name}_{split.upper()}.ts"
    if not expected.exists():
        raise FileNotFoundError(f"{name}: expected the file {expected} from the aeon package; "
                                "reinstall it with `pip install --force-reinstall aeon`")
    X, y = load_classification(name, split=split)
    seqs = [np.ascontiguousarray(np.asarray(s, dtype=np.float32).T) for s in X]  # [C, T] -> [T, C]
    return tuple(seqs), tuple(str(v) for v in y)


def aeon_classification(name: str):
    """``(train, test, class_names, n_steps)`` of an aeon-shipped UEA/UCR dataset.

    Variable-length sets are zero-padded to the longest sequence of train and test together.
    """
    if name not in AEON_DATASETS:
        raise ValueError(f"unknown aeon dataset {name!r}; known: {sorted(AEON_DATASETS)}")
    (xs_tr, y_tr), (xs_te, y_te) = _aeon_raw(name, "train"), _aeon_raw(name, "test")
    classes = _sort_labels(y_tr + y_te)
    code = {c: i for i, c in enumerate(classes)}
    t_max = max(s.shape[0] for s in xs_tr + xs_te)
    variable = len({s.shape[0] for s in xs_tr + xs_te}) > 1

    def build(xs, ys):
        x, lengths = pad_sequences([torch.from_numpy(s) for s in xs], t_max)
        return SequenceDataset(x, torch.tensor([code[v] for v in ys]), lengths if variable else None)

    return build(xs_tr, y_tr), build(xs_te, y_te), tuple(classes), t_max


# ----------------------------------------------------------------------------- Daphnet
DAPHNET_CHANNELS = ("ankle_horiz_fwd", "ankle_vert", "ankle_horiz_lateral",
                    "leg_horiz_fwd", "leg_vert", "leg_horiz_lateral",
                    "trunk_horiz_fwd", "trunk_vert", "trunk_horiz_lateral")
DAPHNET_SOURCE = ("Bächlin et al., 'Wearable assistant for Parkinson's disease patients with the freezing "
                  "of gait symptom', IEEE Trans. Inf. Technol. Biomed. 14(2), 2010; UCI 'Daphnet Freezing "
                  "of Gait' (Roggen, Plotnik & Hausdorff, 2013); recording S06R02E0 shipped with aeon")


def _default_daphnet_path() -> Path:
    return _aeon_data_dir() / "Daphnet_S06R02E0" / "S06R02E0.csv"


@functools.lru_cache(maxsize=8)
def _read_daphnet_cached(path: str):
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Daphnet recording not found at {p}; the default is the aeon package's "
                                "datasets/data/Daphnet_S06R02E0/S06R02E0.csv (`pip install aeon`), or pass "
                                "path= to a UCI Daphnet file SxxRyy.txt")
    with open(p) as f:
        head = f.readline()
    if "is_anomaly" in head:  # aeon CSV: timestamp, 9 channels, is_anomaly (freezing = 1)
        data = np.loadtxt(p, delimiter=",", skiprows=1, usecols=range(1, 11), dtype=np.float64)
        signal, ann = data[:, :9], data[:, 9]
        valid, freeze = np.ones(len(ann), bool), ann > 0
    else:  # UCI: time [ms], 9 channels, annotation 0 = outside the experiment, 1 = no freeze, 2 = freeze
        data = np.loadtxt(p, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != 11:
            raise ValueError(f"{p}: expected 11 whitespace-separated columns (time, 9 accelerometer "
                             f"channels, annotation) per line, got shape {data.shape}")
        signal, ann = data[:, 1:10], data[:, 10]
        valid, freeze = ann > 0, ann == 2
    signal = signal.astype(np.float32)
    for a in (signal, valid, freeze):
        a.setflags(write=False)
    return signal, valid, freeze


def read_daphnet(path: str | Path | None = None):
    """``(signal [N, 9] float32 in mg, valid [N] bool, freeze [N] bool)`` of one recording."""
    return _read_daphnet_cached(str(path if path is not None else _default_daphnet_path()))


def daphnet_windows(valid: np.ndarray, start: int, stop: int, window: int, stride: int) -> np.ndarray:
    """Start indices of windows ``[s, s + window)`` inside ``[start, stop)`` covering only valid samples."""
    starts = np.arange(start, stop - window + 1, stride)
    if len(starts) == 0:
        return starts
    bad = np.concatenate([[0], np.cumsum(~valid)])
    return starts[bad[starts + window] - bad[starts] == 0]


def daphnet(*, window: int = 128, stride: int = 64, task: str = "freeze", label: str = "any",
            test_fraction: float = 0.25, val_fraction: float = 0.2, path: str | None = None):
    """Daphnet freezing of gait as windowed classification, split into contiguous time blocks.

    The recording is cut at two times: the first ``1 - test_fraction`` of it is the training
    span (its last ``val_fraction`` is validation) and the rest is test. Windows of ``window``
    samples every ``stride`` samples are taken *inside* each block only. Why blocks and not a
    random split of windows: consecutive windows overlap (``stride < window``) and neighbouring
    samples are strongly correlated, so a random split puts nearly identical data in train and
    test and the test score measures memorisation (leakage); blocks make test data unseen.

    ``task="freeze"``: 9 channels, classes ``no_freeze`` / ``freeze``; ``label="any"`` marks a
    window as freeze when any of its samples is annotated freezing (an alarm should fire as
    soon as freezing starts), ``label="majority"`` when more than half are.
    ``task="sensor"``: which body location (ankle, leg, trunk) a 3-channel window comes from,
    3 classes; every window gives one sample per sensor.

    The recording aeon ships (S06R02E0, 110 s) contains no freezing episode, so the freeze task
    needs a UCI recording with freezes (``path=...``); on the shipped file use ``task="sensor"``.
    Returns ``(train, val, test, class_names, n_channels)``.
    """
    for name, v in (("window", window), ("stride", stride)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"daphnet: {name} must be a positive int, got {v!r}")
    if task not in ("freeze", "sensor"):
        raise ValueError(f"daphnet: unknown task {task!r}; choose 'freeze' or 'sensor'")
    if label not in ("any", "majority"):
        raise ValueError(f"daphnet: unknown label rule {label!r}; choose 'any' or 'majority'")
    if not 0 < test_fraction < 1:
        raise ValueError(f"daphnet: test_fraction must lie in (0, 1), got {test_fraction!r}")
    signal, valid, freeze = read_daphnet(path)
    n = len(signal)
    cut_test = int(round(n * (1 - test_fraction)))
    cut_val = int(round(cut_test * (1 - val_fraction)))
    blocks = {"train": (0, cut_val), "val": (cut_val, cut_test), "test": (cut_test, n)}
    x_all = torch.from_numpy(np.array(signal))
    frz = np.asarray(freeze, dtype=np.float64)
    out = {}
    for split, (a, b) in blocks.items():
        starts = daphnet_windows(valid, a, b, window, stride)
        idx = torch.as_tensor(starts[:, None] + np.arange(window)[None, :], dtype=torch.int64)
        xw = x_all[idx] if len(starts) else torch.zeros(0, window, 9)
        if task == "freeze":
            share = frz[idx.numpy()].mean(axis=1) if len(starts) else np.zeros(0)
            y = torch.as_tensor(share > 0 if label == "any" else share > 0.5, dtype=torch.int64)
            ds = SequenceDataset(xw, y)
        else:
            xs = xw.reshape(len(starts), window, 3, 3).permute(0, 2, 1, 3).reshape(-1, window, 3)
            ds = SequenceDataset(xs, torch.arange(3).repeat(len(starts)))
        ds.starts = torch.as_tensor(starts, dtype=torch.int64)  # window start samples (for audits)
        out[split] = ds
    if len(out["train"]) == 0 or len(out["test"]) == 0:
        raise ValueError(f"daphnet: the recording ({n} samples) is too short for window={window} with "
                         f"test_fraction={test_fraction}; use a smaller window")
    if task == "freeze" and len(torch.unique(out["train"].y)) < 2:
        raise ValueError("daphnet: the training span has no freezing windows, so freeze/no-freeze cannot "
                         "be learned from it (the recording aeon ships, S06R02E0, has no freezing episode "
                         "at all); pass path= to a UCI Daphnet recording with freezes, or use task='sensor'")
    names = ("no_freeze", "freeze") if task == "freeze" else ("ankle", "leg", "trunk")
    return out["train"], out["val"], out["test"], names, 9 if task == "freeze" else 3


# ----------------------------------------------------------------------------- digits
DIGITS_SOURCE = ("UCI 'Optical Recognition of Handwritten Digits' (Alpaydin & Kaynak, 1998), 8x8 version "
                 "shipped with scikit-learn (sklearn.datasets.load_digits)")


@functools.lru_cache(maxsize=1)
def _digits_raw():
    from sklearn.datasets import load_digits  # lazy: importing scikit-learn costs about a second

    d = load_digits()
    return d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)


def digits(*, sequence: bool = False, test_fraction: float = 0.25, split_seed: int = 0):
    """Handwritten digits scaled to ``[0, 1]``: static ``x [64]`` or rows as time ``x [8, 8]``.

    scikit-learn gives no test split; a stratified one is carved with ``split_seed`` (fixed
    across training seeds so the test set never changes). Returns ``(train, test)``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"digits: test_fraction must lie in (0, 1), got {test_fraction!r}")
    images, target = _digits_raw()
    x = torch.from_numpy(images.copy())
    if not sequence:
        x = x.reshape(len(x), 64)
    tr, te = stratified_split(target, test_fraction, split_seed)
    y = torch.from_numpy(target)
    return SequenceDataset(x[tr], y[tr]), SequenceDataset(x[te], y[te])
