"""Training: checkpoints (no pickle, atomic, corruption errors), exact resume, early stopping,
run-folder contents, the classifier's readout, and that the main BasicMotions recipe learns."""
import csv
import json
import math
from pathlib import Path

import pytest
import torch

from axonal.recipes import load_config
from axonal.models import LeakyIntegrator, SpikingClassifier, build_model
from axonal.neurons.readout import LeakyIntegratorState
from axonal.train import CheckpointError, Trainer, evaluate_checkpoint, load_checkpoint, load_model, save_checkpoint
from axonal.train import checkpoint as ckpt

TINY = {
    "name": "tiny",
    "data": {"name": "temporal_pattern", "options": {"n_train": 40, "n_test": 16, "n_steps": 60}, "batch_size": 8},
    "model": {"hidden": [12], "recurrent": True, "dropout": 0.2},
    "optimiser": {"lr": 0.01, "scheduler": {"name": "cosine"}},
    "training": {"epochs": 3, "seed": 3},
    "output": {"raster": False, "curves": False},
}


def _tiny(**training):
    data = json.loads(json.dumps(TINY))
    data["training"].update(training)
    return load_config(data)


def _no_time(history):
    return [{k: v for k, v in row.items() if k != "time_s"} for row in history]


# ----------------------------------------------------------------------------- checkpoint files
def _model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    return model, opt


def test_optimizer_state_round_trips_through_tensors_and_json():
    model, opt = _model_and_optimizer()
    tensors, meta = ckpt.optimizer_state_to_tensors(opt)
    json.dumps(meta)  # all metadata is JSON
    model2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    ckpt.optimizer_state_from_tensors(opt2, tensors, meta)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]           # betas come back as a tuple
    for idx in a["state"]:
        for key, value in a["state"][idx].items():
            assert torch.equal(value, b["state"][idx][key])


def test_save_and_load_checkpoint_without_pickle(tmp_path):
    model, opt = _model_and_optimizer()
    path = save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=4, meta={"history": [1, 2]})
    record = load_checkpoint(path)
    assert record["epoch"] == 4 and record["history"] == [1, 2]
    model2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ckpt.restore(record, model2, rng=False)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == "last-e00004-" + files[0].split("-")[2] and files[1] == "last.json" and len(files) == 2


def test_rng_states_are_restored(tmp_path):
    import random

    import numpy as np

    model, opt = _model_and_optimizer()
    path = save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=1)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.restore(load_checkpoint(path), model)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_failed_weights_write_keeps_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    model, opt = _model_and_optimizer()
    path = save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=1)
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken_save(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")  # the temp file exists and holds garbage
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", broken_save)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == before     # no temp file, old files intact
    assert load_checkpoint(path)["epoch"] == 1


def test_failed_json_write_keeps_old_checkpoint(tmp_path, monkeypatch):
    model, opt = _model_and_optimizer()
    path = save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=1)
    before = sorted(p.name for p in tmp_path.iterdir())
    real_atomic = ckpt.atomic_write

    def failing(target, write):
        if str(target).endswith(".json"):
            def half(tmp):
                tmp.write_text('{"format": "axonal-chec')
                raise KeyboardInterrupt  # interrupted mid-write
            return real_atomic(target, half)
        return real_atomic(target, write)

    monkeypatch.setattr(ckpt, "atomic_write", failing)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert load_checkpoint(path)["epoch"] == 1


def test_truncated_corrupt_and_missing_checkpoints_give_clear_errors(tmp_path):
    model, opt = _model_and_optimizer()
    path = save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=1)
    weights = tmp_path / json.loads(path.read_text())["weights"]
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated") as info:
        load_checkpoint(path)
    assert weights.name in str(info.value) and "delete the run folder" in str(info.value)
    weights.write_bytes(data)
    load_checkpoint(path)  # intact again
    path.write_text(path.read_text()[:40])
    with pytest.raises(CheckpointError, match=r"last\.json is corrupt or truncated"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere.json")
    save_checkpoint(tmp_path, "last", model=model, optimizer=opt, epoch=2)
    for f in tmp_path.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(CheckpointError, match="are missing"):
        load_checkpoint(tmp_path / "last.json")


# ----------------------------------------------------------------------------- resume
def test_resume_reaches_the_same_weights_and_metrics(tmp_path):
    straight = Trainer(_tiny(), run_dir=tmp_path / "a", quiet=True)
    res_a = straight.fit()

    def interrupt(trainer, row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(_tiny(), run_dir=tmp_path / "b", quiet=True, callbacks=[interrupt]).fit()
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.json")["epoch"] == 1
    resumed = Trainer.resume(tmp_path / "b", quiet=True)
    res_b = resumed.fit()
    sa, sb = straight.model.state_dict(), resumed.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert _no_time(res_a["history"]) == _no_time(res_b["history"])
    assert res_a["test"]["accuracy"] == res_b["test"]["accuracy"]
    assert res_a["test"]["synops"] == res_b["test"]["synops"]
    with open(tmp_path / "b" / "metrics.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]  # no duplicated rows


def test_resume_may_extend_epochs_but_not_change_the_recipe(tmp_path):
    Trainer(_tiny(epochs=1), run_dir=tmp_path, quiet=True).fit()
    with pytest.raises(ValueError, match="model.hidden"):
        data = json.loads(json.dumps(TINY))
        data["model"]["hidden"] = [5]
        Trainer.resume(tmp_path, config=load_config(data))
    res = Trainer.resume(tmp_path, config=_tiny(epochs=2), quiet=True).fit()
    assert res["epochs_run"] == 2


# ----------------------------------------------------------------------------- loop behaviour
def test_early_stopping_after_patience_epochs(tmp_path):
    data = json.loads(json.dumps(TINY))
    data["training"].update(epochs=10, early_stopping={"patience": 2, "min_delta": 100.0})
    res = Trainer(load_config(data), run_dir=tmp_path, quiet=True).fit()
    # epoch 1 sets the best; two epochs without an improvement of 100 stop the run
    assert res["epochs_run"] == 3 and res["stopped_early"] and res["best_epoch"] == 1
    assert load_checkpoint(tmp_path / "checkpoints" / "best.json")["epoch"] == 1


def test_run_folder_contents_and_eval_reproduces_test(tmp_path):
    data = json.loads(json.dumps(TINY))
    data["output"] = {"raster": True, "curves": True}
    res = Trainer(load_config(data), run_dir=tmp_path, quiet=True).fit()
    for name in ("config.json", "metrics.csv", "metrics.json", "results.json", "raster.png", "training_curves.png"):
        assert (tmp_path / name).is_file(), name
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seed"] == 3 and results["config"]["name"] == "tiny"
    assert set(results["environment"]) >= {"python", "torch", "numpy", "axonal", "git_commit"}
    test = results["test"]
    assert 0 <= test["accuracy"] <= 1 and test["synops"] > 0 and test["energy_j"] > 0
    assert math.isclose(test["energy_j"], test["acs"] * 0.9e-12 + test["macs"] * 4.6e-12, rel_tol=1e-9)
    rows = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in rows] == [1, 2, 3] and all(0 <= r["val_firing_rate"] <= 1 for r in rows)
    again = evaluate_checkpoint(tmp_path)
    assert again["accuracy"] == res["test"]["accuracy"] and again["synops"] == res["test"]["synops"]


# ----------------------------------------------------------------------------- model
def test_leaky_integrator_matmul_equals_the_step_loop():
    torch.manual_seed(0)
    x = torch.randn(30, 3, 5, dtype=torch.float64)
    v0 = torch.randn(3, 5, dtype=torch.float64)
    li = LeakyIntegrator(5, tau=7.0)
    fast, last = li(x, LeakyIntegratorState(v0))
    ref, v = [], v0
    for x_t in x.unbind(0):
        v = math.exp(-1 / 7.0) * v + x_t
        ref.append(v)
    assert torch.allclose(fast, torch.stack(ref), atol=1e-12) and torch.allclose(last.v, v, atol=1e-12)
    slow, _ = LeakyIntegrator(5, tau=7.0, backend="reference")(x, LeakyIntegratorState(v0))
    assert torch.allclose(slow, fast, atol=1e-12)


@pytest.mark.parametrize("neuron,extra", [("lif", {}), ("cuba_lif", {"tau_syn": 4.0}),
                                          ("adaptive_lif", {"tau_adapt": 50.0})])
@pytest.mark.parametrize("readout", ["membrane_mean", "last_membrane", "membrane_max", "spike_count"])
def test_classifier_builds_every_neuron_and_readout(neuron, extra, readout):
    from axonal.data import load_dataset

    info = load_dataset("temporal_pattern", n_train=8, n_test=4, n_steps=60).info
    cfg = load_config({"model": {"neuron": neuron, "hidden": [6, 5], "readout": readout, **extra}})
    model = build_model(cfg.model, info)
    assert isinstance(model, SpikingClassifier)
    x = torch.randn(60, 2, info.n_channels)
    scores = model(x)
    assert scores.shape == (2, info.n_classes)
    scores.sum().backward()
    assert model.net.layers[0].weight.grad is not None
    out = model.forward_sequence(x)
    reduce = {"membrane_mean": out.mean(0), "last_membrane": out[-1], "membrane_max": out.amax(0),
              "spike_count": out.sum(0)}[readout]
    assert torch.allclose(model(x), reduce)


# ----------------------------------------------------------------------------- main recipe
def test_main_recipe_learns_basicmotions(tmp_path):
    res = Trainer("basic_motions", run_dir=tmp_path, quiet=True,
                  overrides=["output.raster=false", "output.curves=false"]).fit()
    assert res["test"]["accuracy"] >= 0.9
    assert res["test"]["synops"] > 0 and res["test"]["energy_j"] < res["test"]["energy_dense_j"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_main_recipe_learns_basicmotions_other_seeds(tmp_path, seed):
    res = Trainer("basic_motions", run_dir=tmp_path, quiet=True, overrides=[f"training.seed={seed}"]).fit()
    assert res["test"]["accuracy"] >= 0.9


# ----------------------------------------------------------------------------- per-sample metrics
ENCODED = [  # (data, encoder, steps the network sees)
    ({"name": "digits"}, {"name": "rate", "options": {"num_steps": 7, "seed": 0}}, 7),
    ({"name": "digits"}, {"name": "latency", "options": {"num_steps": 7, "normalize": True}}, 7),
    ({"name": "digits"}, {"name": "direct", "options": {"num_steps": 7}}, 7),
    ({"name": "temporal_pattern", "options": {"n_train": 24, "n_test": 20, "n_steps": 60}}, {"name": "direct"}, 60),
    ({"name": "temporal_pattern", "options": {"n_train": 24, "n_test": 20, "n_steps": 60}},
     {"name": "rate", "options": {"seed": 0}}, 60),
    ({"name": "temporal_pattern", "options": {"n_train": 24, "n_test": 20, "n_steps": 60}},
     {"name": "delta", "options": {"threshold": 0.1}}, 60),
]


@pytest.mark.parametrize("data,encoder,steps", ENCODED, ids=lambda v: v.get("name") if isinstance(v, dict) else str(v))
def test_results_record_the_steps_and_samples_of_every_encoder(tmp_path, data, encoder, steps):
    # issue 22: an encoder that creates the time axis made SpikeMonitor read the static batch
    # [B, C] as [T, B] ("steps": 56.25, SynOps per sample off by B/C); per-sample numbers must
    # also not depend on how the test split is batched
    cfg = {"name": "enc", "data": {**data, "batch_size": 16}, "encoder": encoder,
           "model": {"hidden": [8], "recurrent": False}, "training": {"epochs": 1, "seed": 1},
           "output": {"raster": False, "curves": False}}
    trainer = Trainer(load_config(cfg), run_dir=tmp_path, quiet=True)
    trainer.fit()
    test = json.loads((tmp_path / "results.json").read_text())["test"]
    weight = ckpt.model_state(load_checkpoint(tmp_path / "checkpoints" / "best.json"))["net.layers.0.weight"]
    assert test["samples"] > 16 and test["steps"] == steps and test["energy"]["steps"] == steps
    first = test["synapses"][0]
    assert first["name"] == "net.layers.0" and first["dense_macs"] == steps * weight.numel()  # per sample
    trainer.config.data.batch_size = 450                  # the same model, the split in one batch
    again = trainer.evaluate("test", monitor=True)
    assert again["samples"] == test["samples"] and again["steps"] == steps
    assert again["dense_macs"] == pytest.approx(test["dense_macs"], rel=1e-9)
    if encoder["name"] != "rate":   # deterministic encoders: the same counts however the split is batched
        assert again["synops"] == pytest.approx(test["synops"], rel=1e-6)


# ----------------------------------------------------------------------------- getting a run back
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("tiny") / "run"
    trainer = Trainer(_tiny(epochs=2), run_dir=run, quiet=True)
    trainer.fit()
    return run, {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _copy(run, tmp_path):
    import shutil

    shutil.copytree(run, tmp_path / "copy")
    return tmp_path / "copy"


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_load_model_gives_the_trained_weights_without_prefix_stripping(tiny_run):
    import numpy as np

    run, _ = tiny_run
    best = ckpt.model_state(load_checkpoint(run / "checkpoints" / "best.json"))
    last = ckpt.model_state(load_checkpoint(run / "checkpoints" / "last.json"))
    state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    model = load_model(run)
    assert torch.equal(state[0], torch.random.get_rng_state()) and np.array_equal(state[1], np.random.get_state()[1])
    assert isinstance(model, SpikingClassifier) and not model.training
    assert _same(model.state_dict(), best)
    assert _same(load_model(run, which="last").state_dict(), last)
    assert _same(load_model(run / "checkpoints" / "last.json").state_dict(), last)
    results = json.loads((run / "results.json").read_text())
    from axonal.data import load_dataset, make_loader

    splits = load_dataset("temporal_pattern", seed=3, val_fraction=0.2, n_train=40, n_test=16, n_steps=60)
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in make_loader(splits.test, batch_size=8))
    assert correct / len(splits.test) == results["test"]["accuracy"]
    with pytest.raises(ValueError, match="'best' or 'last'"):
        load_model(run, which="final")


def test_a_resumed_trainer_has_the_checkpoints_weights_after_build(tiny_run, tmp_path):
    run = _copy(tiny_run[0], tmp_path)
    last = ckpt.model_state(load_checkpoint(run / "checkpoints" / "last.json"))
    orphans = [run / "checkpoints" / ".last.json.x7_k2.tmp", run / "checkpoints" / "last-e00001-00c0ffee.safetensors"]
    for orphan in orphans:                    # what a run killed between writing and cleaning leaves
        orphan.write_bytes(b"x")
    trainer = Trainer.resume(run, quiet=True).build()
    assert _same(trainer.model.state_dict(), last)
    assert [r["epoch"] for r in trainer.history] == [1, 2]
    assert not any(orphan.exists() for orphan in orphans)


def test_resuming_with_fewer_epochs_than_already_run_is_refused(tiny_run, tmp_path):
    run = _copy(tiny_run[0], tmp_path)
    with pytest.raises(ValueError, match=r"already run 2 epochs, so training.epochs=1 would train nothing"):
        Trainer.resume(run, config=_tiny(epochs=1))
    assert json.loads((run / "results.json").read_text())["config"]["training"]["epochs"] == 2


@pytest.mark.parametrize("damage,needle", [
    (lambda r: r.pop("config"), "holds no recipe"),
    (lambda r: r.update(config={"model": {"hidden": "many"}}), "model.hidden"),
    (lambda r: r.update(config={**r["config"], "imports": ["tc_not_imported_module"]}), "--import tc_not_imported"),
    (lambda r: r.update(history=r["history"][:1]), "history rows do not number epochs 1..2"),
    (lambda r: r.update(history="rows"), "history must be a list"),
    (lambda r: r["trainer_state"].update(best_value="low"), "trainer_state must hold"),
    (lambda r: r.pop("trainer_state"), "trainer_state must hold"),
])
def test_a_damaged_run_record_is_a_checkpoint_error_naming_the_file(tiny_run, tmp_path, damage, needle):
    run = _copy(tiny_run[0], tmp_path)
    path = run / "checkpoints" / "last.json"
    record = json.loads(path.read_text())
    damage(record)
    path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=needle) as info:
        Trainer.resume(run)
    assert str(path) in str(info.value)


def test_a_run_folder_of_another_recipe_is_not_overwritten_without_overwrite(tiny_run, tmp_path):
    run = _copy(tiny_run[0], tmp_path)
    before = (run / "results.json").read_text()
    with pytest.raises(FileExistsError, match="already holds a run of recipe 'tiny' with other settings.*--overwrite"):
        Trainer(_tiny(epochs=1, seed=4), run_dir=run, quiet=True).fit()
    assert (run / "results.json").read_text() == before
    (run / "notes.txt").write_text("mine")
    (run / "checkpoints" / ".last.json.abc123.tmp").write_text("orphan")
    res = Trainer(_tiny(epochs=1, seed=4), run_dir=run, quiet=True, overwrite=True).fit()
    assert res["epochs_run"] == 1 and (run / "notes.txt").read_text() == "mine"
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len(names) == 4 and names[:2] == ["best-e00001-" + names[0][12:], "best.json"]   # no old epoch-2 files
    # the same recipe again: trains over it (nothing of another recipe is lost)
    assert Trainer(_tiny(epochs=1, seed=4), run_dir=run, quiet=True).fit()["epochs_run"] == 1


def test_a_run_folder_that_is_a_file_or_unwritable_is_reported_before_training(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    built = []
    monkeypatch.setattr(Trainer, "build", lambda self: built.append(1))
    with pytest.raises(ValueError, match=r"run folder .*afile \(--out.*is a file, not a folder"):
        Trainer(_tiny(), run_dir=afile, quiet=True).fit()
    with pytest.raises(ValueError, match=r"cannot write into run folder .*afile/run.*choose a writable place"):
        Trainer(_tiny(), run_dir=afile / "run", quiet=True).fit()
    assert not built and afile.read_text() == "x"
