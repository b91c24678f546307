"""Readers for the standard neuromorphic datasets, and binning of events to ``[T, B, C]``.

Formats, as published:

- **SHD / SSC** (Cramer, Stradmann, Schemmel & Zenke, "The Heidelberg Spiking Data Sets for the
  Systematic Evaluation of Spiking Neural Networks", IEEE TNNLS 2020): one HDF5 file per split
  (``shd_train.h5``, ``shd_test.h5``, ``ssc_train.h5``, ``ssc_valid.h5``, ``ssc_test.h5``) with
  ``spikes/times`` (variable-length float arrays, seconds), ``spikes/units`` (variable-length
  uint16 arrays, channel 0..699), ``labels`` (one integer per sample) and optionally
  ``extra/...`` (speaker, keys, meta information). SHD has 20 classes, SSC 35.
- **N-MNIST** (Orchard, Jayawant, Cohen & Thakor, Front. Neurosci. 2015): one binary file per
  sample under ``Train/<digit>/`` and ``Test/<digit>/``; every event is 40 bits, big-endian:
  bits 39-32 x, bits 31-24 y, bit 23 polarity (1 = ON), bits 22-0 timestamp in microseconds.
  The sensor is 34 x 34 pixels.
- **Tonic-compatible** events: numpy structured arrays with fields ``('x', 'y', 't', 'p')`` for
  vision or ``('t', 'x', 'p')`` for audio, ``t`` in microseconds, and a sensor size
  ``(width, height, polarities)`` (``(700, 1, 1)`` for SHD). Stored one sample per ``.npy``
  file in ``<root>/<label>/`` folders (:func:`read_event_folder`) or passed in memory.

Agreement with Tonic 1.7 (tests/data/test_tonic_agreement.py runs Tonic on the same files):
SHD/SSC events carry Tonic's polarity ``p = 1`` and its timestamps ``int(t * 1e6)`` (truncated,
in file order), class names come from ``extra/keys``; N-MNIST overflow records (``y == 240``)
add 2**13 us to every later timestamp and are dropped, as Tonic does; DVS Gesture's
``user<NN>_<lighting>/<label>.npy`` files and Tonic's ``DiskCachedDataset`` HDF5 caches are
read; single-polarity sensors accept any one polarity value (Tonic's SHD ``p = 1``) and Tonic's
dtypes (int64 fields, bool polarity); :func:`bin_events` reproduces ``tonic.transforms.ToFrame``
(``time_window``) with ``start="first"`` and ``last_bin="complete"`` or ``"partial"``. axonal's
own event arrays keep compact dtypes (int16 addresses, int8 polarity): the values equal Tonic's.

Every reader returns an :class:`EventDataset` (events as Tonic-style structured arrays, integer
labels, sensor size) and :meth:`EventDataset.to_tensor` / :func:`bin_events` turn events into
the library's time-major ``[T, B, C]`` tensors, with ``C`` the flattened ``(p, y, x)`` address
(so N-MNIST has ``C = 2 * 34 * 34``). Malformed files and out-of-range addresses raise errors
that name the file, sample and event, and say what layout was expected.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from .core import SequenceDataset

__all__ = [
    "AUDIO_DTYPE", "VISION_DTYPE", "EventDataset", "SHD_CHANNELS", "NMNIST_SENSOR",
    "read_shd", "read_ssc", "read_heidelberg", "write_heidelberg",
    "read_nmnist_file", "write_nmnist_file", "read_nmnist",
    "check_events", "read_event_folder", "write_event_folder",
    "bin_events", "pool_channels", "EventFileError", "read_dvsgesture", "read_tonic_cache",
    "DVSGESTURE_SENSOR", "DVSGESTURE_CLASSES", "MAX_AUTO_STEPS",
]

#: Tonic's dtypes: audio events (t, x, p) and vision events (x, y, t, p); t in microseconds.
AUDIO_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("p", "<i1")])
VISION_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
SHD_CHANNELS = 700
SHD_CLASSES = 20
SSC_CLASSES = 35
NMNIST_SENSOR = (34, 34, 2)
DVSGESTURE_SENSOR = (128, 128, 2)
#: Tonic's DVSGesture class names, label order
DVSGESTURE_CLASSES = ("Hand clapping", "Right hand wave", "Left hand wave", "Right arm cw",
                      "Right arm ccw", "Left arm cw", "Left arm ccw", "Arm roll", "Air drums",
                      "Air guitar", "Other gestures")
#: without ``n_steps``, a batch needing more steps than this is refused (one stray spike at one
#: hour makes 360,001 steps of 10 ms: a 1 GB tensor for one SHD sample); pass ``n_steps``
MAX_AUTO_STEPS = 100_000
#: timestamps in microseconds must fit int64 (a time of 1e15 s would wrap to INT64_MIN)
_MAX_T_US = float(2 ** 62)


class EventFileError(ValueError):
    """An event file or array that cannot be read as the format it claims (the message names the
    file, sample and field, and the expected layout)."""

_HEIDELBERG_LAYOUT = (
    "expected the Heidelberg (SHD/SSC) layout: 'spikes/times' (variable-length float arrays, "
    "seconds), 'spikes/units' (variable-length uint16 arrays, channels 0..699) and 'labels' "
    "(one integer per sample), optionally 'extra/...'"
)


# ----------------------------------------------------------------------------- container
@dataclass
class EventDataset:
    """Labelled event streams: ``events[i]`` is a structured array, ``labels[i]`` an int.

    ``sensor_size`` is ``(width, height, polarities)`` as in Tonic; the flattened address of an
    event is ``(p * height + y) * width + x``. ``extra`` holds optional per-sample metadata
    (e.g. SHD speaker ids).
    """

    events: list[np.ndarray]
    labels: np.ndarray
    sensor_size: tuple[int, int, int]
    n_classes: int | None = None
    extra: dict = field(default_factory=dict)
    source: str = ""
    #: class names in label order (SHD/SSC: the file's ``extra/keys``), when the file has them
    class_names: tuple[str, ...] | None = None
    #: file-level metadata that is not per sample (SHD/SSC: ``extra/meta_info``)
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.events) != len(self.labels):
            raise ValueError(f"{self.source or 'EventDataset'}: {len(self.events)} event streams but "
                             f"{len(self.labels)} labels; each sample needs exactly one label")
        if self.n_classes is None:
            self.n_classes = int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def n_channels(self) -> int:
        w, h, p = self.sensor_size
        return w * h * p

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i):
        return self.events[i], int(self.labels[i])

    def subset(self, indices: Sequence[int]) -> "EventDataset":
        idx = list(indices)
        return EventDataset([self.events[i] for i in idx], self.labels[idx], self.sensor_size,
                            self.n_classes, {k: np.asarray(v)[idx] for k, v in self.extra.items()},
                            self.source, self.class_names, self.info)

    def to_tensor(self, dt: float, n_steps: int | None = None, mode: str = "count",
                  indices: Sequence[int] | None = None, dtype=torch.float32, **binning):
        """``(x [T, N, C], y [N])``: events binned in ``dt`` microseconds (see :func:`bin_events`;
        ``binning``: its ``start``, ``last_bin``, ``t_start``)."""
        idx = range(len(self)) if indices is None else indices
        ev = [self.events[i] for i in idx]
        x = bin_events(ev, self.sensor_size, dt=dt, n_steps=n_steps, mode=mode, dtype=dtype, **binning)
        return x, torch.as_tensor(self.labels[list(idx)], dtype=torch.long)


# ----------------------------------------------------------------------------- validation
def check_events(events: np.ndarray, sensor_size: tuple[int, int, int], where: str = "events") -> np.ndarray:
    """Check a Tonic-style structured array against ``sensor_size``; return it unchanged.

    Raises a ValueError naming the first offending event index, field and value.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise TypeError(f"{where}: expected a numpy structured array with fields ('x', 'y', 't', 'p') "
                        f"or ('t', 'x', 'p'), got {type(events).__name__}"
                        f"{'' if not isinstance(events, np.ndarray) else ' without named fields'}")
    names = set(events.dtype.names)
    w, h, n_pol = (int(s) for s in sensor_size)
    needed = {"t", "x"} | ({"y"} if h > 1 else set())
    missing = needed - names
    if missing:
        raise EventFileError(f"{where}: missing field(s) {sorted(missing)}; expected fields ('x', 'y', 't', 'p') "
                         f"for vision or ('t', 'x', 'p') for audio (sensor_size={tuple(sensor_size)})")
    bounds = {"x": w, "y": h} | ({"p": n_pol} if n_pol > 1 else {})
    if n_pol == 1 and "p" in names and events.size and np.unique(events["p"]).size > 1:
        raise EventFileError(f"{where}: the sensor has one polarity (sensor_size={tuple(sensor_size)}) but the "
                             f"events hold polarities {np.unique(events['p'])[:4].tolist()}; pass "
                             "sensor_size with 2 polarities")
    for name, size in bounds.items():
        if name not in names:
            continue
        v = events[name]
        bad = np.nonzero((v < 0) | (v >= size))[0]
        if bad.size:
            k = int(bad[0])
            raise EventFileError(f"{where}: event {k} has {name}={int(v[k])}, outside 0..{size - 1} "
                                 f"(sensor_size={tuple(sensor_size)}); {bad.size} event(s) out of range — "
                                 "check the sensor size or drop those events")
    t = events["t"]
    if t.size and (not np.all(np.isfinite(t)) or (t < 0).any()):
        k = int(np.nonzero(~np.isfinite(t) | (t < 0))[0][0])
        raise EventFileError(f"{where}: event {k} has timestamp {t[k]}; timestamps must be finite and >= 0")
    return events


# ----------------------------------------------------------------------------- SHD / SSC
def _integers(values: np.ndarray, what: str, where: str) -> np.ndarray:
    """``values`` as int64 when every value is a whole number, else an EventFileError naming the
    first offender (a float label 2.7 must not silently become 2)."""
    a = np.asarray(values)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind != "f":
        raise EventFileError(f"{where}: {what} must be integers, got dtype {a.dtype}")
    bad = np.nonzero(~np.isfinite(a) | (a != np.round(a)) | (np.abs(a) > 2 ** 62))[0]
    if bad.size:
        k = int(bad[0])
        raise EventFileError(f"{where}: {what} must be whole numbers; entry {k} is {a.reshape(-1)[k].item()!r}")
    return a.astype(np.int64)


def _heidelberg_missing(path: Path) -> str:
    gz, zp = path.with_name(path.name + ".gz"), path.with_name(path.name + ".zip")
    if gz.is_file():
        return f"; found {gz.name}: decompress it with `gunzip {gz}`"
    if zp.is_file():
        return f"; found Tonic's archive {zp.name}: extract it with `unzip {zp}`"
    return (f"; download SHD/SSC from https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/ "
            f"(or point to Tonic's folder <save_to>/SHD, which holds {path.name} next to {zp.name}) "
            "and pass the path of the .h5 file")


def read_heidelberg(path: str | os.PathLike, n_channels: int = SHD_CHANNELS, n_classes: int | None = None,
                    limit: int | None = None) -> EventDataset:
    """Read an SHD or SSC HDF5 file into audio events as Tonic does: ``t = int(time * 1e6)``
    microseconds (truncated), ``x`` = channel, ``p = 1``, in file order.

    Labels and units must be whole numbers (float files are accepted only when integral), times
    finite, >= 0 and below 2**62 us; the file's ``extra/keys`` become ``class_names`` and its
    ``extra/meta_info`` group ``info``. Every failure, including damaged HDF5 internals, raises
    :class:`EventFileError` naming the file.
    """
    import h5py  # lazy: only the SHD/SSC files need it, and its import loads the HDF5 library

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file{_heidelberg_missing(path)}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise EventFileError(f"{path}: not a readable HDF5 file ({e}); {_HEIDELBERG_LAYOUT}") from None
    try:
        with f:
            return _read_heidelberg_open(f, path, n_channels, n_classes, limit)
    except EventFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
        # h5py reports damaged internals (bad object headers, heaps, filters) as these
        raise EventFileError(f"{path}: damaged or unexpected HDF5 content ({type(e).__name__}: {e}); "
                             f"{_HEIDELBERG_LAYOUT}") from None


def _read_heidelberg_open(f, path: Path, n_channels: int, n_classes: int | None, limit) -> EventDataset:
    import h5py

    for key in ("spikes/times", "spikes/units", "labels"):
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise EventFileError(f"{path}: missing dataset '{key}'; {_HEIDELBERG_LAYOUT}")
    times, units, labels = f["spikes/times"], f["spikes/units"], f["labels"]
    for key, ds in (("spikes/times", times), ("spikes/units", units), ("labels", labels)):
        if ds.ndim != 1:
            raise EventFileError(f"{path}: '{key}' has shape {ds.shape}; expected one entry per sample. "
                                 f"{_HEIDELBERG_LAYOUT}")
    n = len(labels)
    if len(times) != n or len(units) != n:
        raise EventFileError(f"{path}: 'spikes/times' has {len(times)} samples, 'spikes/units' "
                             f"{len(units)} and 'labels' {n}; they must have the same length")
    n_read = n if limit is None else min(n, int(limit))
    labels_np = _integers(labels[:n_read], "labels", str(path))
    events = []
    for i in range(n_read):
        where = f"{path}: sample {i}"
        try:
            t = np.asarray(times[i], dtype=np.float64)
        except (TypeError, ValueError):
            raise EventFileError(f"{where}: spike times are not numbers; {_HEIDELBERG_LAYOUT}") from None
        u = _integers(units[i], "units", where)
        if t.shape != u.shape or t.ndim != 1:
            raise EventFileError(f"{where} has {t.size} spike times but {u.size} units; "
                                 "each spike needs one time and one unit")
        if u.size and (np.any(u < 0) or np.any(u >= n_channels)):
            k = int(np.nonzero((u < 0) | (u >= n_channels))[0][0])
            raise EventFileError(f"{where}, spike {k} has unit {int(u[k])}, outside 0..{n_channels - 1}")
        t_us = t * 1e6
        bad = ~np.isfinite(t_us) | (t_us < 0) | (t_us >= _MAX_T_US)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            raise EventFileError(f"{where}, spike {k} has time {t[k]:.6g} s; times must be finite, >= 0 and "
                                 f"below {_MAX_T_US / 1e6:.3g} s (microseconds must fit int64)")
        ev = np.empty(t.size, dtype=AUDIO_DTYPE)
        ev["t"] = t_us.astype(np.int64)          # truncation, as Tonic's int cast
        ev["x"] = u.astype(np.int16)
        ev["p"] = 1                               # Tonic's polarity for SHD/SSC
        events.append(ev)
    extra, info, class_names = {}, {}, None
    if "extra" in f and isinstance(f["extra"], h5py.Group):
        for key, ds in f["extra"].items():
            if key == "keys" and isinstance(ds, h5py.Dataset):
                class_names = tuple(k.decode() if isinstance(k, bytes) else str(k) for k in ds[()].reshape(-1))
            elif isinstance(ds, h5py.Dataset) and ds.shape[:1] == (n,):
                extra[key] = np.asarray(ds[:n_read])
            elif isinstance(ds, h5py.Group):
                info[key] = {k: np.asarray(v[()]) for k, v in ds.items() if isinstance(v, h5py.Dataset)}
    if n_classes is not None and labels_np.size and (labels_np.min() < 0 or labels_np.max() >= n_classes):
        k = int(np.nonzero((labels_np < 0) | (labels_np >= n_classes))[0][0])
        raise EventFileError(f"{path}: label {int(labels_np[k])} of sample {k} is outside 0..{n_classes - 1}")
    if class_names is not None and n_classes is not None and len(class_names) != n_classes:
        class_names = None    # a partial keys table names nothing reliably
    return EventDataset(events, labels_np, (n_channels, 1, 1), n_classes, extra, str(path),
                        class_names, info)


def read_shd(path: str | os.PathLike, limit: int | None = None) -> EventDataset:
    """Spiking Heidelberg Digits (20 classes, 700 channels): ``read_shd('shd_train.h5')``."""
    return read_heidelberg(path, SHD_CHANNELS, SHD_CLASSES, limit)


def read_ssc(path: str | os.PathLike, limit: int | None = None) -> EventDataset:
    """Spiking Speech Commands (35 classes, 700 channels): ``read_ssc('ssc_train.h5')``."""
    return read_heidelberg(path, SHD_CHANNELS, SSC_CLASSES, limit)


def write_heidelberg(path: str | os.PathLike, times: Sequence[np.ndarray], units: Sequence[np.ndarray],
                     labels: Sequence[int], extra: dict | None = None) -> None:
    """Write spikes in the published SHD/SSC HDF5 layout (times in seconds, units uint16)."""
    import h5py  # lazy: only the SHD/SSC files need it, and its import loads the HDF5 library

    if not (len(times) == len(units) == len(labels)):
        raise ValueError("write_heidelberg: times, units and labels must have the same length")
    with h5py.File(path, "w") as f:
        ft = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        fu = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(times, units)):
            ft[i] = np.asarray(t, dtype=np.float32)
            fu[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        for key, value in (extra or {}).items():
            f.create_dataset(f"extra/{key}", data=np.asarray(value))


# ----------------------------------------------------------------------------- N-MNIST
def read_nmnist_file(path: str | os.PathLike, sensor_size=NMNIST_SENSOR) -> np.ndarray:
    """Decode one N-MNIST / N-Caltech101 ``.bin`` file (40-bit big-endian events)."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise EventFileError(f"{path}: {raw.size} bytes is not a multiple of 5; N-MNIST files hold "
                         "40-bit events (x: 8 bits, y: 8 bits, polarity: 1 bit, timestamp: 23 bits)")
    b = raw.reshape(-1, 5).astype(np.int64)
    t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    # timestamp overflow records (y == 240): each adds 2**13 us to itself and every later
    # event, and is dropped (Tonic 1.7's read_mnist_file)
    overflow = b[:, 1] == 240
    if overflow.any():
        t = t + np.cumsum(overflow) * (1 << 13)
    keep = ~overflow
    ev = np.empty(int(keep.sum()), dtype=VISION_DTYPE)
    ev["x"] = b[keep, 0]
    ev["y"] = b[keep, 1]
    ev["p"] = b[keep, 2] >> 7
    ev["t"] = t[keep]
    return check_events(ev, sensor_size, str(path))


def write_nmnist_file(path: str | os.PathLike, events: np.ndarray) -> None:
    """Encode events (fields x, y, t, p) in the N-MNIST 40-bit binary format."""
    for name, top in (("x", 255), ("y", 255), ("p", 1), ("t", (1 << 23) - 1)):
        v = np.asarray(events[name])
        if v.size and (v.min() < 0 or v.max() > top):
            raise ValueError(f"write_nmnist_file: field {name} must lie in 0..{top} to fit the format")
    t = np.asarray(events["t"], dtype=np.int64)
    out = np.empty((len(events), 5), dtype=np.uint8)
    out[:, 0] = events["x"]
    out[:, 1] = events["y"]
    out[:, 2] = (np.asarray(events["p"], dtype=np.int64) << 7) | (t >> 16)
    out[:, 3] = (t >> 8) & 0xFF
    out[:, 4] = t & 0xFF
    out.tofile(path)


def read_nmnist(root: str | os.PathLike, split: str = "train", limit: int | None = None) -> EventDataset:
    """Read the published N-MNIST tree: ``<root>/Train/<digit>/*.bin`` (or ``Test``).

    ``limit`` keeps at most that many samples, taken in turn from the digit folders (so the
    classes stay balanced); samples come out ordered by digit, then file name.
    """
    root = Path(root)
    folder = {"train": "Train", "test": "Test"}.get(split.lower())
    if folder is None:
        raise ValueError(f"read_nmnist: split must be 'train' or 'test', got {split!r}")
    base = root / folder
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: not a directory; expected the N-MNIST layout "
                                f"<root>/{folder}/<digit 0-9>/<id>.bin")
    per_digit = [sorted((base / str(label)).glob("*.bin")) if (base / str(label)).is_dir() else []
                 for label in range(10)]
    # round-robin over the digits, so that ``limit`` keeps the classes balanced
    order = [(label, files[k]) for k in range(max(map(len, per_digit)))
             for label, files in enumerate(per_digit) if k < len(files)]
    if limit is not None:
        order = order[:int(limit)]
    order.sort(key=lambda item: (item[0], item[1].name))  # digit folders in turn, files sorted
    events = [read_nmnist_file(p) for _, p in order]
    labels = [label for label, _ in order]
    if not events:
        raise ValueError(f"{base}: no .bin files found in digit folders 0..9")
    return EventDataset(events, np.asarray(labels), NMNIST_SENSOR, 10, source=str(base))


# ----------------------------------------------------------------------------- DVS Gesture
def read_dvsgesture(root: str | os.PathLike, split: str = "train") -> EventDataset:
    """DVS Gesture as Tonic 1.7 stores it: ``<root>/ibmGestureTrain|ibmGestureTest/user<NN>_<lighting>/
    <label>.npy``, each an ``[N, 4]`` array of ``x, y, p, t`` with ``t`` in milliseconds.

    Events as Tonic gives them (``t`` in microseconds, ``int(t_ms * 1000)``); samples ordered by
    folder, then label; ``extra`` holds ``user`` and ``lighting``; sensor 128 x 128 x 2, 11 classes
    (``class_names``: Tonic's). Also accepts ``root`` pointing at Tonic's ``DVSGesture`` folder.
    """
    root = Path(root)
    folder = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}.get(str(split).lower())
    if folder is None:
        raise ValueError(f"read_dvsgesture: split must be 'train' or 'test', got {split!r}")
    base = root / folder
    if not base.is_dir() and (root / "DVSGesture" / folder).is_dir():
        base = root / "DVSGesture" / folder
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: not a directory; expected Tonic's DVSGesture layout "
                                f"<root>/{folder}/user<NN>_<lighting>/<label>.npy (extract "
                                f"{folder}.tar.gz there)")
    events, labels, users, lighting = [], [], [], []
    for sub in sorted(p for p in base.iterdir() if p.is_dir()):
        user, _, light = sub.name.partition("_")
        if not (user.startswith("user") and user[4:].isdigit() and light):
            raise EventFileError(f"{sub}: folder name must be user<NN>_<lighting>, e.g. user01_fluorescent")
        files = sorted((p for p in sub.glob("*.npy")), key=lambda p: (len(p.stem), p.stem))
        for p in files:
            if not p.stem.isdigit() or int(p.stem) >= len(DVSGESTURE_CLASSES):
                raise EventFileError(f"{p}: file name must be the label 0..{len(DVSGESTURE_CLASSES) - 1}")
            try:
                raw = np.load(p, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise EventFileError(f"{p}: not a readable .npy array ({e})") from None
            if raw.ndim != 2 or raw.shape[1] != 4 or raw.dtype.kind not in "iuf":
                raise EventFileError(f"{p}: expected an [N, 4] numeric array of x, y, p, t (ms), got "
                                     f"shape {raw.shape} dtype {raw.dtype}")
            t_us = raw[:, 3].astype(np.float64) * 1000
            if raw.size and (not np.all(np.isfinite(t_us)) or t_us.min() < 0 or t_us.max() >= _MAX_T_US):
                raise EventFileError(f"{p}: times must be finite, >= 0 ms and fit int64 microseconds")
            ev = np.empty(len(raw), dtype=VISION_DTYPE)
            for name, col in (("x", 0), ("y", 1), ("p", 2)):
                v = _integers(raw[:, col], name, str(p))
                ev[name] = np.clip(v, -1, 1 << 14)      # out-of-range values stay out of range
            ev["t"] = (raw[:, 3] * 1000).astype(np.int64)   # Tonic: t *= 1000, cast to int64
            events.append(check_events(ev, DVSGESTURE_SENSOR, str(p)))
            labels.append(int(p.stem))
            users.append(int(user[4:]))
            lighting.append(light)
    if not events:
        raise EventFileError(f"{base}: no user<NN>_<lighting>/<label>.npy files found")
    return EventDataset(events, np.asarray(labels), DVSGESTURE_SENSOR, len(DVSGESTURE_CLASSES),
                        {"user": np.asarray(users), "lighting": np.asarray(lighting)}, str(base),
                        DVSGESTURE_CLASSES)


# ----------------------------------------------------------------------------- Tonic's disk cache
def read_tonic_cache(folder: str | os.PathLike, sensor_size: tuple[int, int, int],
                     n_classes: int | None = None) -> EventDataset:
    """Events from Tonic's ``DiskCachedDataset`` cache folder: ``<index>_<copy>.hdf5`` files
    holding ``data/0`` (a structured event array) and ``target/0``; copy 0 of each index is
    read, in index order. (Caches of frames, after ``ToFrame``, are arrays, not events: bin
    with axonal instead, or feed the Tonic dataset through ``axonal.data.tonic_adapter``.)
    """
    import h5py

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory; pass DiskCachedDataset's cache_path")
    files = {}
    for p in folder.glob("*_0.hdf5"):
        stem = p.stem[:-2]
        if stem.isdigit():
            files[int(stem)] = p
    if not files:
        raise EventFileError(f"{folder}: no <index>_0.hdf5 files of Tonic's DiskCachedDataset")
    events, labels = [], []
    for i in sorted(files):
        p = files[i]
        try:
            with h5py.File(p, "r") as f:
                if "data/0" not in f or "target/0" not in f or not isinstance(f["data/0"], h5py.Dataset):
                    raise EventFileError(f"{p}: expected datasets data/0 (events) and target/0, as "
                                         "tonic.DiskCachedDataset writes them")
                ev, target = f["data/0"][()], f["target/0"][()]
        except EventFileError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise EventFileError(f"{p}: damaged HDF5 cache file ({type(e).__name__}: {e})") from None
        if not isinstance(ev, np.ndarray) or ev.dtype.names is None:
            raise EventFileError(f"{p}: data/0 holds {getattr(ev, 'shape', '?')} {getattr(ev, 'dtype', '')}, "
                                 "not events (a cache of frames?): cache the events, or use the Tonic "
                                 "dataset through axonal.data.tonic_adapter")
        events.append(check_events(ev, sensor_size, str(p)))
        labels.append(int(_integers(np.asarray(target).reshape(-1)[:1], "target", str(p))[0]))
    return EventDataset(events, np.asarray(labels), tuple(sensor_size), n_classes, source=str(folder))


# ----------------------------------------------------------------------------- Tonic folders
def read_event_folder(root: str | os.PathLike, sensor_size: tuple[int, int, int],
                      classes: Sequence[str] | None = None) -> EventDataset:
    """Read ``<root>/<class>/*.npy`` structured arrays (Tonic event layout), one per sample.

    ``classes`` fixes the label order (default: sorted folder names).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory; expected <root>/<class>/<sample>.npy")
    names = list(classes) if classes is not None else sorted(p.name for p in root.iterdir() if p.is_dir())
    events, labels = [], []
    for label, name in enumerate(names):
        for p in sorted((root / name).glob("*.npy")):
            ev = np.load(p, allow_pickle=False)
            events.append(check_events(ev, sensor_size, str(p)))
            labels.append(label)
    if not events:
        raise ValueError(f"{root}: no .npy event files found in class folders")
    return EventDataset(events, np.asarray(labels), tuple(sensor_size), len(names),
                        extra={}, source=str(root))


def write_event_folder(root: str | os.PathLike, dataset: EventDataset,
                       class_names: Sequence[str] | None = None) -> None:
    """Write a dataset as ``<root>/<class>/<index>.npy`` structured arrays."""
    root = Path(root)
    names = list(class_names) if class_names is not None else [str(c) for c in range(dataset.n_classes)]
    for i, (ev, y) in enumerate(zip(dataset.events, dataset.labels)):
        d = root / names[int(y)]
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / f"{i:06d}.npy", ev)


# ----------------------------------------------------------------------------- binning
BIN_STARTS = ("zero", "first")
LAST_BINS = ("cover", "complete", "partial")


def _n_bins(t: np.ndarray, s0: float, dt: float, last_bin: str) -> int:
    """How many bins a sample gets: ``cover`` holds every event; ``complete`` and ``partial``
    count as ``tonic.transforms.ToFrame(time_window=dt)`` with ``include_incomplete`` False/True."""
    if not t.size:
        return 0 if last_bin == "cover" else 1
    duration = float(t.max()) - s0
    if last_bin == "cover":
        return int(np.floor(duration / dt)) + 1
    if last_bin == "complete":
        return max(int(np.floor((duration - dt) / dt + 1)), 1)
    return max(int(np.ceil((duration - dt) / dt) + 1), 1)


def bin_events(events: Sequence[np.ndarray] | np.ndarray, sensor_size: tuple[int, int, int], *,
               dt: float, n_steps: int | None = None, mode: str = "count", t_start: float = 0.0,
               start: str = "zero", last_bin: str = "cover", dtype=torch.float32) -> torch.Tensor:
    """Bin event streams into a time-major tensor ``[T, B, C]``, ``C = P * H * W``.

    Event ``e`` of a sample lands in step ``k`` when ``s0 + k dt <= t < s0 + (k + 1) dt``, at
    channel ``(p * H + y) * W + x`` (``p`` ignored for a one-polarity sensor). ``start`` sets
    ``s0``: ``"zero"`` (``t_start``, default 0) or ``"first"`` (each sample's first event, as
    ``tonic.transforms.ToFrame`` with ``start_time=None``). ``last_bin``: ``"cover"`` (default:
    as many bins as hold the last event), ``"complete"`` (only whole bins: ToFrame's
    ``include_incomplete=False``) or ``"partial"`` (ToFrame's ``include_incomplete=True``);
    events past a sample's bins are dropped, and shorter samples are zero-padded. With those
    options a sample's frames equal ToFrame's ``(T, P, H, W)`` frames reshaped to ``[T, C]``.
    ``n_steps`` fixes ``T`` (later events dropped); without it ``T`` is the longest sample's,
    refused above ``MAX_AUTO_STEPS``. ``mode="count"`` counts events per bin, ``"binary"``
    clips to 1.
    """
    if isinstance(events, np.ndarray):
        events = [events]
    if not dt > 0:
        raise ValueError(f"bin_events: dt must be > 0 (same unit as t, microseconds for Tonic), got {dt}")
    if mode not in ("count", "binary"):
        raise ValueError(f"bin_events: mode must be 'count' or 'binary', got {mode!r}")
    if start not in BIN_STARTS:
        raise ValueError(f"bin_events: start must be one of {list(BIN_STARTS)}, got {start!r}")
    if last_bin not in LAST_BINS:
        raise ValueError(f"bin_events: last_bin must be one of {list(LAST_BINS)}, got {last_bin!r}")
    w, h, n_pol = (int(s) for s in sensor_size)
    n_ch = w * h * n_pol
    steps, chans, batch = [], [], []
    latest, longest = 0, -1
    for b, ev in enumerate(events):
        check_events(ev, sensor_size, f"sample {b}")
        names = ev.dtype.names
        t = ev["t"].astype(np.float64)
        s0 = float(t.min()) if (start == "first" and t.size) else float(t_start)
        n_b = _n_bins(t[t >= s0], s0, dt, last_bin)
        if last_bin == "cover":
            s = np.floor((t - s0) / dt).astype(np.int64)
            keep = s >= 0
        else:   # bin edges as ToFrame computes them: k dt + s0 <= t < k dt + s0 + dt
            edges = np.arange(n_b) * dt + s0
            s = np.searchsorted(edges, t, side="right").astype(np.int64) - 1
            keep = (s >= 0) & (t < edges[np.clip(s, 0, n_b - 1)] + dt)
        c = ev["x"].astype(np.int64)
        if "y" in names:
            c = c + w * ev["y"].astype(np.int64)
        if "p" in names and n_pol > 1:
            c = c + w * h * ev["p"].astype(np.int64)
        steps.append(s[keep])
        chans.append(c[keep])
        batch.append(np.full(int(keep.sum()), b, dtype=np.int64))
        if n_b > latest:
            latest, longest = n_b, b
    t_len = latest if n_steps is None else int(n_steps)
    if t_len <= 0:
        raise ValueError("bin_events: n_steps must be > 0 (or the events must not all be empty)")
    if n_steps is None and t_len > MAX_AUTO_STEPS:
        raise EventFileError(
            f"bin_events: sample {longest} spans {t_len} steps of dt={dt} (more than {MAX_AUTO_STEPS}); "
            "a stray late event would make a huge tensor: pass n_steps= to cut the samples")
    s, c, bi = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (steps, chans, batch))
    keep = s < t_len
    flat = (s[keep] * len(events) + bi[keep]) * n_ch + c[keep]
    counts = np.bincount(flat, minlength=t_len * len(events) * n_ch)
    x = torch.from_numpy(counts.reshape(t_len, len(events), n_ch)).to(dtype)
    return x.clamp_(max=1) if mode == "binary" else x


def pool_channels(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Sum groups of ``factor`` neighbouring channels: ``[T, B, C] -> [T, B, ceil(C / factor)]``.

    Hammouamri et al. (2024) sum SHD's 700 channels in groups of 5 (140 inputs).
    """
    if factor < 1:
        raise ValueError(f"pool_channels: factor must be >= 1, got {factor}")
    t, b, c = x.shape
    pad = (-c) % factor
    if pad:
        x = torch.cat([x, x.new_zeros(t, b, pad)], -1)
    return x.reshape(t, b, -1, factor).sum(-1)


# ----------------------------------------------------------------------------- datasets for recipes
def _binned(ds: EventDataset, dt: float, n_steps: int, channel_pool: int, chunk: int = 256):
    """``(x [N, T, C'] float32, y [N])``, binned in chunks so only the pooled tensor is held."""
    xs = []
    for start in range(0, len(ds), chunk):
        idx = range(start, min(start + chunk, len(ds)))
        x, _ = ds.to_tensor(dt, n_steps=n_steps, indices=idx)
        if channel_pool > 1:
            x = pool_channels(x, channel_pool)
        xs.append(x.transpose(0, 1).contiguous())
    return torch.cat(xs), torch.as_tensor(ds.labels, dtype=torch.long)


def _check_binning(dt_ms, n_steps, channel_pool, limit, who):
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float)) or not dt_ms > 0:
        raise ValueError(f"{who}: dt_ms must be a positive number of milliseconds per step, got {dt_ms!r}")
    if n_steps is not None and (isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps <= 0):
        raise ValueError(f"{who}: n_steps must be a positive int or None (cover the longest sample), got {n_steps!r}")
    if isinstance(channel_pool, bool) or not isinstance(channel_pool, int) or channel_pool < 1:
        raise ValueError(f"{who}: channel_pool must be an int >= 1, got {channel_pool!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"{who}: limit must be a positive int or None, got {limit!r}")


def _latest_step(datasets: Iterable[EventDataset], dt: float) -> int:
    last, where = 0, ""
    for ds in datasets:
        for i, ev in enumerate(ds.events):
            if ev.size:
                k = int(ev["t"].max() // dt) + 1
                if k > last:
                    last, where = k, f"{ds.source}: sample {i}"
    if last == 0:
        raise ValueError("the event files hold no events; pass n_steps explicitly")
    if last > MAX_AUTO_STEPS:
        raise EventFileError(f"{where} lasts {last} steps of {dt / 1000:g} ms (more than {MAX_AUTO_STEPS}; "
                             "a stray late spike?): pass n_steps= to cut the samples (SHD's last about 1 s)")
    return last


def heidelberg_splits(path: str | os.PathLike | None, kind: str = "shd", *, dt_ms: float = 10.0,
                      n_steps: int | None = None, channel_pool: int = 5, limit: int | None = None) -> dict:
    """SHD or SSC from the folder that holds the published files, binned for training.

    ``path``: folder with ``shd_train.h5`` and ``shd_test.h5`` (SSC: ``ssc_train.h5``,
    ``ssc_valid.h5``, ``ssc_test.h5``), uncompressed. Events are binned in ``dt_ms`` ms steps
    (counts per bin) and neighbouring channels summed in groups of ``channel_pool``; the
    defaults, 10 ms and 5 (700 -> 140 inputs), are those of Hammouamri et al. (ICLR 2024).
    ``n_steps=None`` covers the longest sample of all splits; ``limit`` reads only the first
    samples of each file (quick runs). Returns ``dict(train, test, [val], class_names, n_steps)``
    of :class:`axonal.data.core.SequenceDataset` for ``axonal.data.load_dataset``.
    """
    who = kind
    if path is None:
        raise ValueError(f"{who}: pass the folder with the {kind}_*.h5 files as the dataset option path=...; "
                         "the files cannot be downloaded here (https://zenkelab.org/resources/"
                         "spiking-heidelberg-datasets-shd/, gunzip them first)")
    _check_binning(dt_ms, n_steps, channel_pool, limit, who)
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{who}: path={str(root)!r} is not a folder; pass the folder that holds "
                         f"{kind}_train.h5 and {kind}_test.h5")
    names = ("train", "valid", "test") if kind == "ssc" else ("train", "test")
    files = {n: root / f"{kind}_{n}.h5" for n in names}
    for n, f in files.items():
        if not f.is_file():
            raise FileNotFoundError(f"{who}: {f} not found{_heidelberg_missing(f)}; expected the published "
                                    f"files {', '.join(p.name for p in files.values())} in {root}")
    reader = read_ssc if kind == "ssc" else read_shd
    raw = {n: reader(f, limit=limit) for n, f in files.items()}
    dt = float(dt_ms) * 1000.0
    t_len = n_steps if n_steps is not None else _latest_step(raw.values(), dt)
    out = {}
    for n, ds in raw.items():
        x, y = _binned(ds, dt, t_len, channel_pool)
        out["val" if n == "valid" else n] = SequenceDataset(x, y)
    n_classes = SSC_CLASSES if kind == "ssc" else SHD_CLASSES
    names = raw["train"].class_names or tuple(str(c) for c in range(n_classes))
    out.update(class_names=names, n_steps=t_len)
    return out


def nmnist_splits(path: str | os.PathLike | None, *, dt_ms: float = 10.0, n_steps: int | None = 31,
                  limit: int | None = None) -> dict:
    """N-MNIST from the published tree ``<path>/Train|Test/<digit>/*.bin``, binned for training.

    ``[T, B, 2 * 34 * 34]`` counts in ``dt_ms`` ms steps (default 31 steps of 10 ms: the 300 ms
    saccades); ``limit`` reads at most that many samples per split (the full training set is
    60000 x T x 2312 floats: mind the memory).
    """
    if path is None:
        raise ValueError("nmnist: pass the N-MNIST root folder (holding Train/ and Test/) as the "
                         "dataset option path=...; it cannot be downloaded here")
    _check_binning(dt_ms, n_steps, 1, limit, "nmnist")
    raw = {n: read_nmnist(path, n, limit=limit) for n in ("train", "test")}
    dt = float(dt_ms) * 1000.0
    t_len = n_steps if n_steps is not None else _latest_step(raw.values(), dt)
    out = {n: SequenceDataset(*_binned(ds, dt, t_len, 1)) for n, ds in raw.items()}
    out.update(class_names=tuple(str(c) for c in range(10)), n_steps=t_len)
    return out


__all__ += ["heidelberg_splits", "nmnist_splits"]


def event_folder_splits(path: str | os.PathLike | None, sensor_size: Sequence[int] | None, *,
                        dt_ms: float = 1.0, n_steps: int | None = None) -> dict:
    """Tonic-layout events ``<path>/train|test/<class>/*.npy`` (:func:`read_event_folder`), binned.

    ``sensor_size`` is Tonic's ``(width, height, polarities)``, e.g. ``[700, 1, 1]`` for audio;
    timestamps are microseconds, binned in ``dt_ms`` ms steps (``n_steps=None``: the longest
    sample). Class names are the training folder's sub-folders, sorted, used for both splits.
    """
    if path is None or sensor_size is None:
        raise ValueError("events: pass path=FOLDER (holding train/<class>/*.npy and test/<class>/*.npy) and "
                         "sensor_size=[width, height, polarities]")
    if len(sensor_size) != 3 or any(int(s) <= 0 for s in sensor_size):
        raise ValueError(f"events: sensor_size must be [width, height, polarities] of positive ints, "
                         f"got {sensor_size!r}")
    _check_binning(dt_ms, n_steps, 1, None, "events")
    root = Path(path)
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise FileNotFoundError(f"events: {root} needs train/ and test/ folders with <class>/*.npy inside")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    size = tuple(int(s) for s in sensor_size)
    raw = {n: read_event_folder(root / n, size, classes) for n in ("train", "test")}
    dt = float(dt_ms) * 1000.0
    t_len = n_steps if n_steps is not None else _latest_step(raw.values(), dt)
    out = {n: SequenceDataset(*_binned(ds, dt, t_len, 1)) for n, ds in raw.items()}
    out.update(class_names=tuple(classes), n_steps=t_len)
    return out


__all__ += ["event_folder_splits"]
