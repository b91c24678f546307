"""axonal's event readers and binning against Tonic 1.7 run on the same files (written here in
the published formats; Tonic's download is disabled, nothing leaves the machine)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

tonic = pytest.importorskip("tonic")

from axonal.data import load_dataset, make_loader  # noqa: E402
from axonal.data.neuromorphic import (  # noqa: E402
    DVSGESTURE_CLASSES,
    NMNIST_SENSOR,
    bin_events,
    check_events,
    heidelberg_splits,
    read_dvsgesture,
    read_nmnist_file,
    read_shd,
    read_tonic_cache,
)
from axonal.data.tonic_adapter import TonicSequences, register_tonic_dataset  # noqa: E402


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    def refuse(self):
        raise AssertionError("a test tried to download a dataset")
    monkeypatch.setattr(tonic.dataset.Dataset, "download", refuse)


KEYS = [f"word{k}".encode() for k in range(20)]


def write_shd(folder, n=6, seed=0):
    """``<folder>/SHD/shd_train.h5`` (+ the .zip Tonic looks for) in the published layout."""
    rng = np.random.default_rng(seed)
    d = folder / "SHD"
    d.mkdir(parents=True, exist_ok=True)
    times, units = [], []
    with h5py.File(d / "shd_train.h5", "w") as f:
        ft = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        fu = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            k = int(rng.integers(1, 40))
            t = np.sort(rng.uniform(0, 0.9, k)).astype(np.float32)
            t[0] = np.float32(0.0000137)       # 13.7 us: Tonic truncates to 13, rounding gives 14
            t.sort()
            ft[i], fu[i] = t, rng.integers(0, 700, k).astype(np.uint16)
            times.append(t)
            units.append(fu[i])
        f.create_dataset("labels", data=np.arange(n, dtype=np.uint16) % 20)
        f.create_dataset("extra/speaker", data=np.arange(n, dtype=np.uint16) % 3)
        f.create_dataset("extra/keys", data=np.array(KEYS))
        f.create_dataset("extra/meta_info/gender", data=np.array([b"f", b"m", b"f"]))
        f.create_dataset("extra/meta_info/age", data=np.array([30, 41, 25]))
    (d / "shd_train.h5.zip").write_bytes(b"")
    return d / "shd_train.h5"


def test_shd_matches_tonic_field_by_field(tmp_path):
    path = write_shd(tmp_path)
    theirs = tonic.datasets.SHD(str(tmp_path), train=True)
    ours = read_shd(path)
    assert len(ours) == len(theirs)
    for i in range(len(ours)):
        ev, target = theirs[i]
        mine, label = ours[i]
        assert label == int(target)
        for name in ("t", "x", "p"):
            np.testing.assert_array_equal(mine[name], ev[name].astype(np.int64), err_msg=name)
        assert mine["p"].tolist() == [1] * len(mine)
    assert ours.class_names == tuple(k.decode() for k in theirs.classes)
    np.testing.assert_array_equal(ours.extra["speaker"], theirs.speaker)
    assert ours.info["meta_info"]["age"].tolist() == [30, 41, 25]
    # binned like Tonic's ToFrame on Tonic's own events (p = 1 on a one-polarity sensor)
    frame = tonic.transforms.ToFrame(sensor_size=theirs.sensor_size, time_window=10_000)
    ev, _ = theirs[2]
    x = bin_events(ours.events[2], ours.sensor_size, dt=10_000, start="first", last_bin="complete")
    np.testing.assert_array_equal(x[:, 0].numpy(), frame(ev).reshape(len(x), -1))
    x2 = bin_events(ev, theirs.sensor_size, dt=10_000, start="first", last_bin="complete")  # Tonic dtypes
    torch.testing.assert_close(x2, x)


def test_missing_shd_file_names_tonics_zip(tmp_path):
    folder = tmp_path / "SHD"
    folder.mkdir()
    (folder / "shd_train.h5.zip").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Tonic's archive shd_train.h5.zip.*unzip"):
        read_shd(folder / "shd_train.h5")
    with pytest.raises(FileNotFoundError, match=r"\.zip"):
        read_shd(tmp_path / "elsewhere.h5")
    with pytest.raises(FileNotFoundError, match="unzip"):
        heidelberg_splits(folder, "shd")


def _nmnist_bytes(records):
    out = bytearray()
    for x, y, p, t in records:
        out += bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def test_nmnist_overflow_records_as_tonic(tmp_path, monkeypatch):
    monkeypatch.setattr(tonic.datasets.NMNIST, "_check_exists", lambda self: True)
    records = [(3, 4, 1, 100), (5, 6, 0, 8000), (0, 240, 0, 0), (7, 8, 1, 50), (0, 240, 0, 0),
               (33, 33, 0, 20), (1, 2, 1, 8191)]
    folder = tmp_path / "NMNIST" / "Train" / "7"
    folder.mkdir(parents=True)
    (folder / "00001.bin").write_bytes(_nmnist_bytes(records))
    theirs = tonic.datasets.NMNIST(str(tmp_path), train=True)
    ev, target = theirs[0]
    mine = read_nmnist_file(folder / "00001.bin")
    assert target == 7 and len(mine) == len(ev) == 5
    for name in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(mine[name], ev[name], err_msg=name)
    assert mine["t"].tolist() == [100, 8000, 8192 + 50, 2 * 8192 + 20, 2 * 8192 + 8191]


def test_dvsgesture_matches_tonic(tmp_path, monkeypatch):
    monkeypatch.setattr(tonic.datasets.DVSGesture, "_check_exists", lambda self: True)
    rng = np.random.default_rng(0)
    base = tmp_path / "DVSGesture" / "ibmGestureTrain"
    for user, light, labels in (("user01", "fluorescent", [0, 3, 10]), ("user02", "led", [1])):
        d = base / f"{user}_{light}"
        d.mkdir(parents=True)
        for label in labels:
            n = 30
            arr = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                            np.sort(rng.uniform(0, 500, n))], 1)    # t in ms, fractional
            np.save(d / f"{label}.npy", arr)
    theirs = tonic.datasets.DVSGesture(str(tmp_path), train=True)
    ours = read_dvsgesture(tmp_path, "train")
    assert len(ours) == len(theirs) == 4 and ours.class_names == DVSGESTURE_CLASSES
    by_key = {(u, int(lbl)): i for i, (u, lbl) in enumerate(zip(theirs.users, theirs.targets))}
    for k in range(len(ours)):
        i = by_key[(int(ours.extra["user"][k]), int(ours.labels[k]))]
        ev, target = theirs[i]
        for name in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(ours.events[k][name], ev[name].astype(np.int64), err_msg=name)


def test_disk_cached_dataset_files_are_read(tmp_path):
    rng = np.random.default_rng(1)
    samples = []
    for label in (2, 0, 1):
        ev = np.zeros(20, dtype=np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", bool)]))
        ev["x"], ev["y"] = rng.integers(0, 34, 20), rng.integers(0, 34, 20)
        ev["t"], ev["p"] = np.sort(rng.integers(0, 10_000, 20)), rng.integers(0, 2, 20).astype(bool)
        samples.append((ev, label))
    cached = tonic.DiskCachedDataset(samples, cache_path=str(tmp_path / "cache"))
    for i in range(len(samples)):
        cached[i]                                   # writes <i>_0.hdf5
    ds = read_tonic_cache(tmp_path / "cache", NMNIST_SENSOR)
    assert ds.labels.tolist() == [2, 0, 1]
    for (ev, _), mine in zip(samples, ds.events):
        for name in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(mine[name], ev[name])


def test_tonic_dtypes_are_accepted():
    ev = np.zeros(3, dtype=np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", bool)]))
    ev["x"], ev["y"], ev["t"], ev["p"] = [1, 2, 3], [0, 1, 2], [0, 5, 12], [True, False, True]
    check_events(ev, (4, 4, 2))
    x = bin_events(ev, (4, 4, 2), dt=5)
    assert x.shape == (3, 1, 32) and x[0, 0, 16 + 1] == 1 and x[1, 0, 4 + 2] == 1 and x[2, 0, 16 + 8 + 3] == 1
    audio = np.zeros(2, dtype=np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)]))
    audio["x"], audio["p"] = [3, 4], 1                  # Tonic's SHD polarity
    check_events(audio, (700, 1, 1))
    mixed = audio.copy()
    mixed["p"] = [0, 1]
    with pytest.raises(ValueError, match="one polarity"):
        check_events(mixed, (700, 1, 1))


events_strategy = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, 1),
                                     st.integers(0, 3000)), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(rows=events_strategy, window=st.sampled_from([1, 7, 100, 250.5, 1000, 5000]),
       incomplete=st.booleans(), from_zero=st.booleans())
def test_binning_equals_tonic_to_frame(rows, window, incomplete, from_zero):
    ev = np.zeros(len(rows), dtype=np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)]))
    rows = sorted(rows, key=lambda r: r[3])
    for name, col in zip(("x", "y", "p", "t"), zip(*rows)):
        ev[name] = col
    sensor = (5, 3, 2)
    frames = tonic.transforms.ToFrame(sensor_size=sensor, time_window=window, include_incomplete=incomplete,
                                      start_time=0 if from_zero else None)(ev.copy())
    x = bin_events(ev, sensor, dt=window, start="zero" if from_zero else "first",
                   last_bin="partial" if incomplete else "complete")
    np.testing.assert_array_equal(x[:, 0].numpy(), frames.reshape(len(frames), -1))


def test_a_tonic_dataset_feeds_the_trainer(tmp_path, monkeypatch):
    from axonal.data import registry
    from axonal.recipes import load_config
    from axonal.train import Trainer

    # the entry must not outlive this test: monkeypatch deletes the keys it saw absent
    monkeypatch.setitem(registry.DATASETS, "tonic_shd_test", None)
    monkeypatch.setitem(registry._BY_KEY, registry._key("tonic_shd_test"), "tonic_shd_test")

    write_shd(tmp_path, n=12)
    shd = tonic.datasets.SHD(str(tmp_path), train=True)
    seqs = TonicSequences(shd, dt=50_000)
    x, y = next(iter(make_loader(seqs, batch_size=4)))
    assert x.shape[1:] == (4, 700) and y.tolist() == [0, 1, 2, 3]
    framed = TonicSequences(tonic.datasets.SHD(str(tmp_path), train=True, transform=tonic.transforms.ToFrame(
        sensor_size=shd.sensor_size, time_window=50_000)))
    expected = bin_events(shd[0][0], shd.sensor_size, dt=50_000, start="first", last_bin="complete")[:, 0]
    torch.testing.assert_close(framed[0][0], expected)              # ToFrame's frames, flattened
    register_tonic_dataset("tonic_shd_test", train=shd, test=shd, dt=100_000)
    splits = load_dataset("tonic_shd_test", val_fraction=0.0)
    assert splits.info.class_names == tuple(k.decode() for k in KEYS)
    cfg = load_config({"name": "tonic", "data": {"name": "tonic_shd_test", "batch_size": 4, "val_fraction": 0.25},
                       "model": {"hidden": [8]}, "training": {"epochs": 1, "seed": 0},
                       "output": {"raster": False, "curves": False}})
    result = Trainer(cfg, run_dir=tmp_path / "run", quiet=True).fit()
    assert result is not None
