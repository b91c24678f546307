"""Datasets: shapes, labels, splits, seeds, Daphnet block split, collate, standardisation, errors."""
import numpy as np
import pytest
import torch

from axonal.data import (SequenceDataset, available_datasets, load_dataset, make_loader, stratified_split,
                         time_major_collate)
from axonal.data import shipped
from axonal.data.synthetic import poisson_rates, temporal_pattern, temporal_pattern_orders
from axonal.encoding import channel_statistics


def _class_counts(y, n):
    return torch.bincount(y, minlength=n).tolist()


# ----------------------------------------------------------------------------- real data
def test_basic_motions_shapes_labels_and_stratified_val():
    s = load_dataset("basic_motions")
    assert s.info.n_channels == 6 and s.info.n_steps == 100 and s.info.n_classes == 4
    assert s.info.class_names == ("badminton", "running", "standing", "walking")
    assert (len(s.train), len(s.val), len(s.test)) == (32, 8, 40)
    assert s.train.x.shape == (32, 100, 6) and s.train.x.dtype == torch.float32
    assert s.train.y.dtype == torch.int64
    assert _class_counts(s.val.y, 4) == [2, 2, 2, 2]                  # stratified 20 %
    assert _class_counts(s.train.y, 4) == [8, 8, 8, 8]
    assert _class_counts(s.test.y, 4) == [10, 10, 10, 10]
    raw = torch.cat([s.train.x, s.val.x]).flatten(1)
    assert torch.unique(raw, dim=0).shape[0] == 40                     # train and val are disjoint
    x, y = s.train[0]
    assert x.shape == (100, 6) and y.ndim == 0


def test_basic_motions_matches_aeon_values():
    from aeon.datasets import load_classification
    X, y = load_classification("BasicMotions", split="test")
    s = load_dataset("BasicMotions", val_fraction=0.0)
    assert len(s.val) == 0
    assert np.allclose(s.test.x.numpy(), X.transpose(0, 2, 1).astype(np.float32))
    names = np.array(s.info.class_names)[s.test.y.numpy()]
    assert (names == y).all()


def test_japanese_vowels_padded_with_lengths():
    s = load_dataset("japanese_vowels", val_fraction=0.1)
    assert s.info.variable_length and s.info.n_steps == 29 and s.info.n_channels == 12
    assert s.info.n_classes == 9 and s.info.class_names == tuple(str(i) for i in range(1, 10))
    assert len(s.train) + len(s.val) == 270 and len(s.test) == 370
    lengths = torch.cat([s.train.lengths, s.val.lengths, s.test.lengths])
    assert lengths.min() == 7 and lengths.max() == 29
    mask = s.test.valid_mask()
    assert (s.test.x[~mask] == 0).all()                               # padding is zeros
    assert (s.test.x[mask].abs().sum(-1) > 0).all()                  # real steps carry data
    x, y, n = next(iter(make_loader(s.test, 5, with_lengths=True)))
    assert x.shape == (29, 5, 12) and n.tolist() == s.test.lengths[:5].tolist()
    z = load_dataset("japanese_vowels", standardize=True)
    assert (z.test.x[~z.test.valid_mask()] == 0).all()               # padding stays zero


def test_gunpoint_and_digits():
    g = load_dataset("gunpoint")
    assert g.train.x.shape[1:] == (150, 1) and g.info.n_classes == 2 and len(g.test) == 150
    d = load_dataset("digits")
    assert d.info.n_steps is None and d.train.x.shape[1:] == (64,)
    assert 0 <= d.train.x.min() and d.train.x.max() <= 1
    assert len(d.train) + len(d.val) + len(d.test) == 1797 and d.info.n_classes == 10
    x, y = next(iter(make_loader(d.train, 16)))
    assert x.shape == (16, 64)
    q = load_dataset("digits", sequence=True)
    assert q.train.x.shape[1:] == (8, 8) and q.info.n_steps == 8
    assert torch.equal(q.test.x.flatten(1), d.test.x)               # same fixed test split
    assert torch.equal(load_dataset("digits", seed=5).test.y, d.test.y)


def test_seed_reproducibility_and_difference():
    a, b, c = (load_dataset("basic_motions", seed=s) for s in (1, 1, 2))
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.val.x, c.val.x)
    assert torch.equal(a.test.x, c.test.x)                            # test never depends on seed


def test_stratified_split_properties():
    labels = np.repeat([0, 1, 2], [10, 20, 3])
    keep, held = stratified_split(labels, 0.2, seed=0)
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == 33
    assert np.bincount(labels[held]).tolist() == [2, 4, 1]
    assert np.array_equal(held, stratified_split(labels, 0.2, seed=0)[1])


# ----------------------------------------------------------------------------- standardisation
def test_standardisation_fitted_on_train_only():
    raw = load_dataset("basic_motions", seed=3)
    z = load_dataset("basic_motions", seed=3, standardize=True)
    mean, std = channel_statistics(raw.train.x)
    assert np.allclose(z.info.mean, mean.numpy(), atol=1e-5) and np.allclose(z.info.std, std.numpy(), atol=1e-5)
    flat = z.train.x.reshape(-1, 6)
    assert torch.allclose(flat.mean(0), torch.zeros(6), atol=1e-4)
    assert torch.allclose(flat.std(0, unbiased=False), torch.ones(6), atol=1e-4)
    assert torch.allclose(z.test.x, (raw.test.x - mean) / std, atol=1e-5)  # train statistics on test
    test_mean = z.test.x.reshape(-1, 6).mean(0)
    assert (test_mean.abs() > 1e-3).any()                             # not refitted on test


# ----------------------------------------------------------------------------- loader
def test_collate_time_major_and_seeded_shuffle():
    ds = SequenceDataset(torch.arange(10 * 7 * 3, dtype=torch.float32).view(10, 7, 3), torch.arange(10))
    x, y = next(iter(make_loader(ds, 4)))
    assert x.shape == (7, 4, 3) and y.tolist() == [0, 1, 2, 3]
    assert torch.equal(x[:, 2], ds.x[2])
    order = lambda seed: torch.cat([b[1] for b in make_loader(ds, 3, shuffle=True, seed=seed)]).tolist()
    assert order(0) == order(0) and order(0) != order(1) and sorted(order(0)) == list(range(10))
    ragged = [(torch.ones(3, 2), 0), (torch.ones(5, 2), 1)]
    x, y = time_major_collate(ragged)
    assert x.shape == (5, 2, 2) and x[3:, 0].sum() == 0 and x[:, 1].sum() == 10
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(ds, 0)


# ----------------------------------------------------------------------------- Daphnet
def test_daphnet_sensor_task_time_blocks_do_not_overlap():
    s = load_dataset("daphnet", task="sensor", window=128, stride=32)
    assert s.info.n_channels == 3 and s.info.class_names == ("ankle", "leg", "trunk")
    assert s.train.x.shape[1:] == (128, 3)
    n = len(shipped.read_daphnet()[0])
    spans = {k: set((getattr(s, k).starts[:, None] + torch.arange(128)).flatten().tolist())
             for k in ("train", "val", "test")}
    assert not spans["train"] & spans["test"] and not spans["train"] & spans["val"] and not spans["val"] & spans["test"]
    assert s.train.starts.max() + 128 <= s.val.starts.min() and s.val.starts.max() + 128 <= s.test.starts.min()
    assert max(spans["test"]) < n and min(spans["test"]) >= round(0.75 * n)
    signal = torch.from_numpy(np.array(shipped.read_daphnet()[0]))
    start = int(s.test.starts[0])                                  # sample 3k+j = window k, sensor j
    assert torch.equal(s.test.x[1], signal[start:start + 128, 3:6]) and s.test.y[:3].tolist() == [0, 1, 2]


def test_daphnet_shipped_recording_has_no_freeze_clear_error():
    signal, valid, freeze = shipped.read_daphnet()
    assert signal.shape == (7040, 9) and valid.all() and not freeze.any()
    with pytest.raises(ValueError, match="task='sensor'"):
        load_dataset("daphnet")


def test_daphnet_freeze_labels_from_uci_file(tmp_path):
    n = 1000
    rng = np.random.default_rng(0)
    ann = np.ones(n, int)
    ann[:50] = 0                                                   # outside the experiment
    ann[300:340] = 2                                               # a freeze in the train span
    ann[850:900] = 2                                               # and one in the test span
    rows = np.column_stack([np.arange(n) * 15.625, rng.integers(-500, 500, (n, 9)), ann])
    path = tmp_path / "S01R01.txt"
    np.savetxt(path, rows, fmt="%g")
    kw = dict(path=str(path), window=100, stride=50, test_fraction=0.3, val_fraction=0.0)
    anyf = load_dataset("daphnet", **kw)
    assert anyf.info.n_channels == 9 and anyf.info.class_names == ("no_freeze", "freeze")
    starts = anyf.train.starts.tolist()
    assert starts[0] == 50                                         # windows skip annotation 0
    expect = [int(np.any(ann[a:a + 100] == 2)) for a in starts]
    assert anyf.train.y.tolist() == expect and sum(expect) > 0
    maj = load_dataset("daphnet", label="majority", **{**kw, "window": 60, "stride": 10})
    expect = [int(np.mean(ann[a:a + 60] == 2) > 0.5) for a in maj.train.starts.tolist()]
    assert maj.train.y.tolist() == expect and 0 < sum(expect) < len(expect)
    assert set(anyf.test.y.tolist()) == {0, 1}


# ----------------------------------------------------------------------------- synthetic
def test_temporal_pattern_deterministic_and_timing_only():
    a_tr, a_te = temporal_pattern(seed=0, n_train=200, n_test=40)
    b_tr, _ = temporal_pattern(seed=0, n_train=200, n_test=40)
    c_tr, _ = temporal_pattern(seed=1, n_train=200, n_test=40)
    assert torch.equal(a_tr.x, b_tr.x) and not torch.equal(a_tr.x, c_tr.x)
    assert not torch.equal(a_tr.x[:40], a_te.x)                    # train/test independent streams
    assert a_tr.x.shape == (200, 100, 4) and _class_counts(a_tr.y, 4) == [50] * 4
    orders = temporal_pattern_orders(4, 4, 0)
    assert len({tuple(o) for o in orders}) == 4
    means = torch.stack([a_tr.x[a_tr.y == k].mean(0) for k in range(4)])        # [K, T, C]
    assert (means[:, None] - means[None]).abs().amax(dim=(2, 3)).fill_diagonal_(1).min() > 0.3
    per_channel = means.mean(1)                                    # time-averaged: same for all classes
    assert (per_channel.max(0).values - per_channel.min(0).values).max() < 0.02
    peak = means.argmax(1)                                          # [K, C] bump time follows the order
    for k in range(4):
        assert torch.equal(torch.argsort(peak[k]), torch.argsort(torch.as_tensor(orders[k])))


def test_poisson_rates_task():
    tr, te = poisson_rates(seed=0, n_train=300, rates=(0.05, 0.1, 0.2))
    assert set(tr.x.unique().tolist()) == {0.0, 1.0} and tr.x.shape == (300, 100, 10)
    for k, r in enumerate((0.05, 0.1, 0.2)):
        xk = tr.x[tr.y == k]
        assert abs(xk.mean().item() - r) < 5 * np.sqrt(r * (1 - r) / xk.numel())
    assert torch.equal(poisson_rates(seed=0, n_train=300, rates=(0.05, 0.1, 0.2))[0].x, tr.x)
    assert not torch.equal(poisson_rates(seed=1, n_train=300, rates=(0.05, 0.1, 0.2))[0].x, tr.x)
    s = load_dataset("poisson_rates", n_train=60, n_test=30, seed=2)
    assert len(s.train) + len(s.val) == 60 and s.info.class_names == ("rate0", "rate1", "rate2")


# ----------------------------------------------------------------------------- registry + errors
def test_available_datasets_and_errors(monkeypatch):
    names = available_datasets()
    assert {"basic_motions", "japanese_vowels", "gunpoint", "daphnet", "digits", "temporal_pattern",
            "poisson_rates"} <= set(names) and all(isinstance(v, str) and v for v in names.values())
    with pytest.raises(ValueError, match="known datasets: .*basic_motions"):
        load_dataset("mnist")
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ValueError, match="val_fraction"):
            load_dataset("temporal_pattern", val_fraction=bad)
    with pytest.raises(TypeError, match="n_train"):
        load_dataset("temporal_pattern", n_samples=10)
    with pytest.raises(ValueError, match="n_classes"):
        temporal_pattern(n_classes=30, n_channels=3)
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        shipped.read_daphnet("/nowhere.txt")
    monkeypatch.setitem(__import__("sys").modules, "aeon.datasets", None)
    with pytest.raises(ImportError, match="pip install aeon"):
        shipped._import_aeon()
