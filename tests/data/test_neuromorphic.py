"""Readers for SHD/SSC (HDF5), N-MNIST (40-bit binary) and Tonic-style event folders: files are
written here in the exact published formats and read back; binning to [T, B, C]; clear errors."""
import h5py
import numpy as np
import pytest
import torch

from axonal.data.neuromorphic import (
    AUDIO_DTYPE,
    NMNIST_SENSOR,
    VISION_DTYPE,
    EventDataset,
    bin_events,
    check_events,
    pool_channels,
    read_event_folder,
    read_nmnist,
    read_nmnist_file,
    read_shd,
    read_ssc,
    write_event_folder,
    write_heidelberg,
    write_nmnist_file,
)


def _shd_samples(n=4, seed=0, n_classes=20):
    rng = np.random.default_rng(seed)
    times, units, labels = [], [], []
    for i in range(n):
        k = int(rng.integers(0, 30))
        times.append(np.sort(rng.uniform(0, 1.0, k)).astype(np.float32))
        units.append(rng.integers(0, 700, k).astype(np.uint16))
        labels.append(i % n_classes)
    return times, units, labels


def _write_raw_shd(path, times, units, labels, skip=()):
    """Write with h5py directly (independent of write_heidelberg), optionally omitting keys."""
    with h5py.File(path, "w") as f:
        if "spikes/times" not in skip:
            d = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
            for i, t in enumerate(times):
                d[i] = t
        if "spikes/units" not in skip:
            d = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
            for i, u in enumerate(units):
                d[i] = u
        if "labels" not in skip:
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        f.create_dataset("extra/speaker", data=np.arange(len(labels), dtype=np.uint16))


# ----------------------------------------------------------------------------- SHD / SSC
def test_shd_round_trip_and_binning(tmp_path):
    times, units, labels = _shd_samples(5)
    path = tmp_path / "shd_train.h5"
    _write_raw_shd(path, times, units, labels)
    ds = read_shd(path)
    assert len(ds) == 5 and ds.sensor_size == (700, 1, 1) and ds.n_classes == 20
    assert ds.labels.tolist() == labels
    assert ds.extra["speaker"].tolist() == [0, 1, 2, 3, 4]
    for ev, t, u in zip(ds.events, times, units):
        assert ev.dtype == AUDIO_DTYPE
        np.testing.assert_array_equal(ev["x"], u)
        np.testing.assert_array_equal(ev["t"], (t.astype(np.float64) * 1e6).astype(np.int64))  # truncated, as Tonic
    # 10 ms bins over 1 s -> 100 steps; every spike counted once at (floor(t / 10 ms), unit)
    x, y = ds.to_tensor(dt=10_000, n_steps=100)
    assert x.shape == (100, 5, 700) and y.tolist() == labels
    for b, (t, u) in enumerate(zip(times, units)):
        expected = torch.zeros(100, 700)
        for ti, ui in zip((t.astype(np.float64) * 1e6).astype(np.int64), u):
            expected[int(ti // 10_000), int(ui)] += 1
        torch.testing.assert_close(x[:, b], expected)
    assert float(x.sum()) == sum(len(t) for t in times)


def test_write_heidelberg_matches_reader_and_ssc(tmp_path):
    times, units, labels = _shd_samples(6, seed=1, n_classes=35)
    labels = [30, 34, 0, 1, 2, 3]
    write_heidelberg(tmp_path / "ssc.h5", times, units, labels, extra={"speaker": np.arange(6)})
    ds = read_ssc(tmp_path / "ssc.h5")
    assert ds.n_classes == 35 and ds.labels.tolist() == labels
    with pytest.raises(ValueError, match="label 30 of sample 0 is outside 0..19"):
        read_shd(tmp_path / "ssc.h5")
    assert len(read_ssc(tmp_path / "ssc.h5", limit=2)) == 2


@pytest.mark.parametrize("missing", ["spikes/times", "spikes/units", "labels"])
def test_malformed_hdf5_names_the_missing_key(tmp_path, missing):
    times, units, labels = _shd_samples(3)
    path = tmp_path / "bad.h5"
    _write_raw_shd(path, times, units, labels, skip=(missing,))
    with pytest.raises(ValueError, match=f"missing dataset '{missing}'.*expected the Heidelberg"):
        read_shd(path)


def test_hdf5_length_mismatch_and_garbage(tmp_path):
    times, units, labels = _shd_samples(3)
    path = tmp_path / "bad.h5"
    _write_raw_shd(path, times, units, labels[:2])
    with pytest.raises(ValueError, match="'labels' 2; they must have the same length"):
        read_shd(path)
    units_bad = list(units)
    units_bad[1] = units_bad[1][:-1] if len(units_bad[1]) else np.array([1], np.uint16)
    _write_raw_shd(path, times, units_bad, labels)
    with pytest.raises(ValueError, match="sample 1 has"):
        read_shd(path)
    (tmp_path / "junk.h5").write_bytes(b"this is not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        read_shd(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError):
        read_shd(tmp_path / "absent.h5")


def test_hdf5_unit_out_of_range(tmp_path):
    times = [np.array([0.1, 0.2, 0.3], np.float32)]
    units = [np.array([3, 700, 5], np.uint16)]
    _write_raw_shd(tmp_path / "u.h5", times, units, [0])
    with pytest.raises(ValueError, match="sample 0, spike 1 has unit 700, outside 0..699"):
        read_shd(tmp_path / "u.h5")


# ----------------------------------------------------------------------------- N-MNIST
def test_nmnist_bit_layout_known_bytes(tmp_path):
    # x=5, y=33, ON, t=0x12345 (74565 us); x=0, y=0, OFF, t=2^23-1
    raw = bytes([5, 33, 0x80 | 0x01, 0x23, 0x45, 0, 0, 0x7F, 0xFF, 0xFF])
    (tmp_path / "a.bin").write_bytes(raw)
    ev = read_nmnist_file(tmp_path / "a.bin")
    assert ev.dtype == VISION_DTYPE
    assert ev["x"].tolist() == [5, 0] and ev["y"].tolist() == [33, 0]
    assert ev["p"].tolist() == [1, 0] and ev["t"].tolist() == [0x12345, (1 << 23) - 1]
    write_nmnist_file(tmp_path / "b.bin", ev)
    assert (tmp_path / "b.bin").read_bytes() == raw


def test_nmnist_tree_round_trip_and_binning(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for split in ("Train", "Test"):
        for digit in (0, 3, 7):
            d = tmp_path / split / str(digit)
            d.mkdir(parents=True)
            for k in range(2):
                n = int(rng.integers(1, 50))
                ev = np.zeros(n, VISION_DTYPE)
                ev["x"] = rng.integers(0, 34, n)
                ev["y"] = rng.integers(0, 34, n)
                ev["p"] = rng.integers(0, 2, n)
                ev["t"] = np.sort(rng.integers(0, 300_000, n))
                write_nmnist_file(d / f"{k:05d}.bin", ev)
                written[(split, digit, k)] = ev
    ds = read_nmnist(tmp_path, "train")
    assert len(ds) == 6 and ds.labels.tolist() == [0, 0, 3, 3, 7, 7] and ds.n_channels == 2 * 34 * 34
    np.testing.assert_array_equal(ds.events[2], written[("Train", 3, 0)])
    x, y = ds.to_tensor(dt=1000, n_steps=300, mode="binary")
    assert x.shape == (300, 6, 2312) and x.max() <= 1
    ev = written[("Train", 3, 0)]
    # channel = (p * 34 + y) * 34 + x
    for e in ev:
        assert x[int(e["t"]) // 1000, 2, (int(e["p"]) * 34 + int(e["y"])) * 34 + int(e["x"])] == 1
    assert len(read_nmnist(tmp_path, "test")) == 6


def test_nmnist_errors(tmp_path):
    (tmp_path / "odd.bin").write_bytes(bytes(7))
    with pytest.raises(ValueError, match="not a multiple of 5"):
        read_nmnist_file(tmp_path / "odd.bin")
    (tmp_path / "far.bin").write_bytes(bytes([1, 2, 0, 0, 1, 40, 2, 0, 0, 2]))
    with pytest.raises(ValueError, match="event 1 has x=40, outside 0..33"):
        read_nmnist_file(tmp_path / "far.bin")
    with pytest.raises(FileNotFoundError, match="Train"):
        read_nmnist(tmp_path / "nowhere")


# ----------------------------------------------------------------------------- Tonic layout
def test_tonic_folder_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    events = []
    for _ in range(4):
        n = int(rng.integers(0, 20))
        ev = np.zeros(n, VISION_DTYPE)
        ev["x"], ev["y"] = rng.integers(0, 8, n), rng.integers(0, 6, n)
        ev["p"], ev["t"] = rng.integers(0, 2, n), np.sort(rng.integers(0, 5000, n))
        events.append(ev)
    ds = EventDataset(events, [0, 1, 1, 0], (8, 6, 2))
    write_event_folder(tmp_path, ds, ["left", "right"])
    back = read_event_folder(tmp_path, (8, 6, 2), classes=["left", "right"])
    assert sorted(back.labels.tolist()) == [0, 0, 1, 1]
    xa, _ = ds.to_tensor(dt=500, n_steps=10)
    xb, _ = back.to_tensor(dt=500, n_steps=10)
    assert xa.sum() == xb.sum() == sum(len(e) for e in events)


def test_audio_events_bin_to_channels():
    ev = np.zeros(4, AUDIO_DTYPE)
    ev["t"] = [0, 999, 1000, 2500]
    ev["x"] = [3, 3, 0, 9]
    x = bin_events([ev, ev[:1]], (10, 1, 1), dt=1000)
    assert x.shape == (3, 2, 10)
    assert x[0, 0, 3] == 2 and x[1, 0, 0] == 1 and x[2, 0, 9] == 1 and x[:, 1].sum() == 1
    xb = bin_events(ev, (10, 1, 1), dt=1000, mode="binary", n_steps=2)
    assert xb.shape == (2, 1, 10) and xb[0, 0, 3] == 1 and xb.sum() == 2  # t=2500 dropped


def test_out_of_range_and_missing_fields_are_errors():
    ev = np.zeros(3, VISION_DTYPE)
    ev["x"] = [1, 2, 3]
    ev["y"] = [0, 9, 0]
    with pytest.raises(ValueError, match="event 1 has y=9, outside 0..5"):
        check_events(ev, (8, 6, 2))
    with pytest.raises(ValueError, match="event 1 has y=9"):
        bin_events([ev], (8, 6, 2), dt=10)
    no_t = np.zeros(2, dtype=[("x", "<i2"), ("y", "<i2"), ("p", "<i1")])
    with pytest.raises(ValueError, match=r"missing field\(s\) \['t'\]"):
        check_events(no_t, (8, 6, 2))
    with pytest.raises(TypeError, match="structured array"):
        check_events(np.zeros((3, 4)), (8, 6, 2))
    neg = np.zeros(1, AUDIO_DTYPE)
    neg["t"] = -5
    with pytest.raises(ValueError, match="timestamps must be finite and >= 0"):
        check_events(neg, (700, 1, 1))


def test_pool_channels_sums_groups():
    x = torch.arange(2 * 1 * 12, dtype=torch.float32).reshape(2, 1, 12)
    y = pool_channels(x, 5)
    assert y.shape == (2, 1, 3)
    torch.testing.assert_close(y[0, 0], torch.tensor([10.0, 35.0, 21.0]))
    assert pool_channels(torch.ones(3, 2, 700), 5).shape == (3, 2, 140)
