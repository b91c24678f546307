"""Delay models in the zoo and their recipes: DCLS-Delays and the heterogeneous-delay motif
detector built from recipes, the Trainer hooks they use (separate position learning rate, sigma
schedule, clamping), SynOps of delay layers, and the datasets they train on (timing task, SHD /
SSC / N-MNIST folders given by path)."""
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from axonal.recipes import ConfigError, available_recipes, load_config
from axonal.data import load_dataset
from axonal.data.neuromorphic import VISION_DTYPE, write_heidelberg, write_nmnist_file
from axonal.metrics import SpikeMonitor
from axonal.models import build_model
from axonal.models.dcls_delays import DCLSDelayClassifier, summed_softmax_loss
from axonal.models.heterogeneous_delays import MotifClassifier
from axonal.synapses.delay import DelayedLinear, delayed_layers
from axonal.synapses.motif import motif_loss

TINY_TASK = ["data.options={n_train: 40, n_test: 20, seq_len: 30, max_offset: 9, max_start: 10, "
             "n_classes: 4, n_channels: 4}"]


def test_recipes_are_listed_and_hold_the_papers_defaults():
    assert {"dcls_delays", "heterogeneous_delays"} <= set(available_recipes())
    r = load_config("dcls_delays")
    m = r.model
    assert (m.architecture, m.hidden, m.max_delay, m.tau, m.dropout, m.surrogate_alpha) == \
        ("dcls_delays", [256, 256], 25, 1.005, 0.4, 5.0)
    assert m.delays == "learn" and m.batch_norm and m.positions_lr_factor == 100.0
    assert (r.optimiser.lr, r.optimiser.weight_decay, r.training.epochs, r.data.batch_size) == \
        (1e-3, 1e-5, 150, 256)
    assert r.data.name == "timing_task"
    with pytest.raises(ConfigError, match="known keys"):
        load_config("dcls_delays", ["model.max_dealy=3"])
    with pytest.raises(ConfigError, match="delays"):
        load_config("dcls_delays", ["model.delays=fixed"])
    h = load_config("heterogeneous_delays").model
    assert (h.architecture, h.n_delays, h.decision) == ("heterogeneous_delays", 25, "max")


def test_dcls_classifier_scores_give_the_papers_loss():
    splits = load_dataset("timing_task", n_train=10, n_test=4, seq_len=30, max_offset=9, max_start=10)
    r = load_config("dcls_delays", ["model.hidden=[6]", "model.max_delay=5"])
    model = build_model(r.model, splits.info, None)
    assert isinstance(model, DCLSDelayClassifier)
    x = splits.train.x[:3].transpose(0, 1)
    y = splits.train.y[:3]
    model.eval()
    scores = model(x)
    membrane = model.membrane(x)
    assert scores.shape == (3, 10)
    torch.testing.assert_close(F.cross_entropy(scores, y), summed_softmax_loss(membrane, y))
    groups = {g["name"]: g for g in model.optimizer_groups(lr=2e-3, weight_decay=1e-5)}
    assert groups["positions"]["lr"] == pytest.approx(0.2) and groups["positions"]["weight_decay"] == 0
    assert groups["batchnorm"]["weight_decay"] == 0 and groups["weights"]["weight_decay"] == 1e-5
    n_params = sum(p.numel() for g in groups.values() for p in g["params"])
    assert n_params == sum(p.numel() for p in model.parameters())


def test_dcls_recipe_trains_with_the_papers_schedule(tmp_path):
    from axonal.train import Trainer

    over = TINY_TASK + ["model.hidden=[8]", "model.max_delay=9", "training.epochs=4",
                        "data.batch_size=20", "output.raster=false", "output.curves=false"]
    trainer = Trainer("dcls_delays", overrides=over, run_dir=tmp_path / "run", quiet=True).build()
    model = trainer.model
    lrs = {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs["positions"] == pytest.approx(100 * lrs["weights"])
    sigmas = []
    trainer.callbacks.append(lambda t, row: sigmas.append(delayed_layers(t.model)[0].sigma))
    results = trainer.fit()
    # sigma_0 = max_delay // 2 = 4, shrinking to 0.23 at epoch epochs // 4 = 1
    assert sigmas == [pytest.approx(4.0), pytest.approx(0.23), pytest.approx(0.23), pytest.approx(0.23)]
    for layer in delayed_layers(model):
        assert layer.learn_delays
        p = layer.position.detach()
        assert float(p.min()) >= 0 and float(p.max()) <= layer.max_delay
    assert 0 <= results["test"]["accuracy"] <= 1 and results["test"]["synops"] > 0
    # the evaluation form is integer delays
    model.eval()
    assert all(m.use_integer() for m in delayed_layers(model))


def test_heterogeneous_delay_recipe_learns_the_timing_task(tmp_path):
    from axonal.train import Trainer

    over = ["data.options={n_train: 200, n_test: 100, seq_len: 40, max_offset: 9, max_start: 20, "
            "n_classes: 4, noise_rate: 0.01}", "model.n_delays=10", "training.epochs=8",
            "optimiser.lr=0.05", "output.raster=false", "output.curves=false"]
    results = Trainer("heterogeneous_delays", overrides=over, run_dir=tmp_path / "run", quiet=True).fit()
    assert results["test"]["accuracy"] > 0.8  # chance 0.25


def test_motif_classifier_scores_are_the_max_logit_loss():
    det_model = build_model(load_config("heterogeneous_delays", ["model.n_delays=4"]).model,
                            load_dataset("timing_task", n_train=10, n_test=4).info, None)
    assert isinstance(det_model, MotifClassifier)
    x = (torch.rand(20, 3, 8) < 0.2).float()
    y = torch.tensor([0, 3, 9])
    torch.testing.assert_close(F.cross_entropy(det_model(x), y),
                               motif_loss(det_model.logits(x), y, over_time="max"))
    det_model.decision = "prob"
    p = torch.softmax(det_model.logits(x), -1).mean(0)
    torch.testing.assert_close(det_model(x).exp(), p)


def test_synops_of_delay_layers_count_events_times_fan_out():
    layer = DelayedLinear(6, 4, 3, delays="random")
    x = (torch.rand(10, 2, 6) < 0.3).float()
    with SpikeMonitor(layer) as mon:
        layer(x)
    rep = mon.report()  # per sample: B = 2
    assert rep.synops == pytest.approx(float((x != 0).sum()) * 4 / 2)
    assert rep.dense_macs == pytest.approx(x.numel() * 4 / 2)
    assert not rep.uncounted


# ----------------------------------------------------------------------------- datasets by path
def _heidelberg_files(root, kind, n=6, n_classes=20):
    rng = np.random.default_rng(0)
    names = ("train", "valid", "test") if kind == "ssc" else ("train", "test")
    for name in names:
        times = [np.sort(rng.uniform(0, 0.25, 20)).astype(np.float32) for _ in range(n)]
        units = [rng.integers(0, 700, 20).astype(np.uint16) for _ in range(n)]
        write_heidelberg(root / f"{kind}_{name}.h5", times, units, [i % n_classes for i in range(n)])


def test_shd_and_ssc_load_from_a_folder(tmp_path):
    _heidelberg_files(tmp_path, "shd")
    splits = load_dataset("shd", path=str(tmp_path), val_fraction=0.0)
    assert splits.train.x.shape[1:] == (splits.info.n_steps, 140) and splits.info.n_classes == 20
    assert splits.info.n_steps <= 26  # events before 0.25 s in 10 ms bins
    assert float(splits.train.x.sum()) == 6 * 20  # every spike binned, channels summed by 5
    full = load_dataset("shd", path=str(tmp_path), channel_pool=1, n_steps=50, val_fraction=0.0)
    assert full.train.x.shape[1:] == (50, 700)
    _heidelberg_files(tmp_path, "ssc", n_classes=35)
    ssc = load_dataset("ssc", path=str(tmp_path))
    assert len(ssc.val) == 6 and ssc.info.n_classes == 35  # the published validation file


def test_shd_path_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="path="):
        load_dataset("shd")
    with pytest.raises(FileNotFoundError, match="shd_train.h5"):
        load_dataset("shd", path=str(tmp_path))
    (tmp_path / "shd_train.h5.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="gunzip"):
        load_dataset("shd", path=str(tmp_path))
    (tmp_path / "shd_train.h5").write_bytes(b"not an hdf5 file")
    (tmp_path / "shd_test.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_dataset("shd", path=str(tmp_path))
    with pytest.raises(ValueError, match="dt_ms"):
        load_dataset("shd", path=str(tmp_path), dt_ms=0)


def test_nmnist_loads_from_a_folder_with_balanced_limit(tmp_path):
    for split in ("Train", "Test"):
        for digit in range(10):
            d = tmp_path / split / str(digit)
            d.mkdir(parents=True)
            for k in range(2):
                ev = np.zeros(3, dtype=VISION_DTYPE)
                ev["x"], ev["y"], ev["p"], ev["t"] = [1, 2, 33], [0, 5, 33], [0, 1, 1], [0, 15000, 29000]
                write_nmnist_file(d / f"{k:05d}.bin", ev)
    splits = load_dataset("nmnist", path=str(tmp_path), limit=10, val_fraction=0.0)
    assert splits.train.x.shape == (10, 31, 2 * 34 * 34)
    assert sorted(splits.train.y.tolist()) == list(range(10))  # one per digit
    assert float(splits.train.x.sum()) == 30


def test_tonic_event_folders_load_by_path(tmp_path):
    from axonal.data.neuromorphic import AUDIO_DTYPE, EventDataset, write_event_folder

    for split, n in (("train", 4), ("test", 2)):
        events = []
        for i in range(n):
            ev = np.zeros(2, dtype=AUDIO_DTYPE)
            ev["t"], ev["x"] = [0, 4500 + i], [i, 9]
            events.append(ev)
        write_event_folder(tmp_path / split, EventDataset(events, [i % 2 for i in range(n)], (10, 1, 1)),
                           ["down", "up"])
    splits = load_dataset("events", path=str(tmp_path), sensor_size=[10, 1, 1], val_fraction=0.0)
    assert splits.train.x.shape == (4, 5, 10) and splits.info.class_names == ("down", "up")
    assert float(splits.train.x[:, 4, 9].sum()) == 4 and float(splits.test.x.sum()) == 4
    with pytest.raises(ValueError, match="sensor_size"):
        load_dataset("events", path=str(tmp_path))
    bad = np.zeros(1, dtype=AUDIO_DTYPE)
    bad["x"] = 12  # outside the 10-channel sensor
    np.save(tmp_path / "train" / "up" / "bad.npy", bad)
    with pytest.raises(ValueError, match="outside 0..9"):
        load_dataset("events", path=str(tmp_path), sensor_size=[10, 1, 1])
