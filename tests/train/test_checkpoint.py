"""A checkpoint JSON is untrusted: the weights file it names must be one of this folder's own
(``axonal.train.checkpoint._weights_file``); nothing outside is ever read or deleted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from axonal.train import CheckpointError, load_checkpoint, save_checkpoint


@pytest.mark.parametrize("crafted", ["../victim.txt", "ABSOLUTE", "sub/last-e00001-0123abcd.safetensors",
                                     "last-e00001-0123abcd.safetensors/../../victim.txt", 7, None])
def test_crafted_weights_name_neither_deletes_nor_reads_outside(tmp_path, crafted):
    victim = tmp_path / "victim.txt"
    victim.write_text("user data")
    run = tmp_path / "run" / "checkpoints"
    model = torch.nn.Linear(3, 2)
    json_path = save_checkpoint(run, "last", model=model, epoch=1)
    record = json.loads(json_path.read_text())
    record["weights"] = str(victim) if crafted == "ABSOLUTE" else crafted
    json_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not a weights file of this checkpoint folder"):
        load_checkpoint(json_path)
    save_checkpoint(run, "last", model=model, epoch=2)   # replaces last.json: must delete nothing outside
    assert victim.read_text() == "user data"
    assert load_checkpoint(json_path)["epoch"] == 2


def test_previous_weights_of_our_own_are_still_replaced(tmp_path):
    model = torch.nn.Linear(3, 2)
    first = json.loads(save_checkpoint(tmp_path, "last", model=model, epoch=1).read_text())["weights"]
    second = json.loads(save_checkpoint(tmp_path, "last", model=model, epoch=2).read_text())["weights"]
    assert first != second
    assert not (tmp_path / first).exists() and (tmp_path / second).is_file()


def _flip_one_tensor_byte(weights, tensor="model.weight"):
    """Flip one bit in the middle of ``tensor``'s data (located through the safetensors header):
    the file keeps its length and its header, so only the hash can tell."""
    data = bytearray(weights.read_bytes())
    size = int.from_bytes(data[:8], "little")
    begin, end = json.loads(data[8:8 + size])[tensor]["data_offsets"]
    data[8 + size + (begin + end) // 2] ^= 0x01
    weights.write_bytes(bytes(data))


def test_a_same_length_corruption_of_the_tensor_data_fails_the_hash_check(tmp_path):
    from safetensors.torch import load_file

    model = torch.nn.Linear(16, 16)
    path = save_checkpoint(tmp_path, "last", model=model, epoch=1)
    weights = tmp_path / json.loads(path.read_text())["weights"]
    size = weights.stat().st_size
    _flip_one_tensor_byte(weights)
    assert weights.stat().st_size == size
    silently = load_file(str(weights))             # safetensors itself reads the damaged file happily
    assert not torch.equal(silently["model.weight"], model.weight.detach())
    with pytest.raises(CheckpointError, match="SHA-256 does not match"):
        load_checkpoint(path)


def _valid(tmp_path, name="last", epoch=1):
    path = save_checkpoint(tmp_path, name, model=torch.nn.Linear(3, 2), epoch=epoch)
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("field,value,needle", [
    ("epoch", "7", "epoch must be a whole number"), ("epoch", -1, "epoch must be a whole number"),
    ("epoch", True, "epoch must be a whole number"), ("epoch", 1.5, "epoch must be a whole number"),
    ("epoch", None, "epoch must be a whole number"), ("sha256", 12, "sha256 must be 64 hex digits"),
    ("rng", None, "rng must be"), ("rng", {"numpy": [], "python": []}, "rng.numpy"),
    ("name", ["last"], "name must be text"), ("format", "other", "not an axonal checkpoint"),
])
def test_a_damaged_checkpoint_json_is_a_clear_error(tmp_path, field, value, needle):
    path, record = _valid(tmp_path)
    record[field] = value
    path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=needle) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_bad_rng_state_is_refused_before_the_global_rngs_are_touched(tmp_path):
    import random

    import numpy as np

    path, record = _valid(tmp_path)
    record["rng"]["numpy"][1][5] = -3                      # a word outside uint32
    path.write_text(json.dumps(record))
    before = np.random.get_state()[1].copy(), random.getstate()
    with pytest.raises(CheckpointError, match="rng.numpy"):
        load_checkpoint(path)
    record["rng"]["numpy"][1][5] = 3
    record["rng"]["python"][1] = record["rng"]["python"][1][:-1]
    path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="rng.python"):
        load_checkpoint(path)
    assert np.array_equal(before[0], np.random.get_state()[1]) and before[1] == random.getstate()


def test_the_fix_in_a_corrupt_checkpoint_error_fits_the_case(tmp_path):
    last, _ = _valid(tmp_path, "last")
    best, _ = _valid(tmp_path, "best")
    good_last, good_best = last.read_text(), best.read_text()
    best.write_text("{not json")
    msg = str(pytest.raises(CheckpointError, load_checkpoint, best).value)
    assert "best.json is corrupt" in msg and f"point to {last} instead" in msg and "point to " + str(best) not in msg
    best.write_text(good_best)
    last.write_text("{not json")
    msg = str(pytest.raises(CheckpointError, load_checkpoint, last).value)
    assert f"point to {best} instead" in msg
    msg = str(pytest.raises(CheckpointError, load_checkpoint, last, resume=True).value)
    assert "resumes only from checkpoints/last.json" in msg and "--overwrite" in msg and f"axonal eval {best}" in msg
    best.unlink()                                         # no other checkpoint: none is suggested
    msg = str(pytest.raises(CheckpointError, load_checkpoint, last).value)
    assert "best.json" not in msg and "delete the run folder" in msg
    last.write_text(good_last)
    assert load_checkpoint(last)["epoch"] == 1


def test_orphans_of_a_killed_run_are_removed_on_the_next_save_and_on_resume(tmp_path):
    from axonal.train.checkpoint import remove_orphans

    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path, "last", model=model, epoch=1)
    save_checkpoint(tmp_path, "best", model=model, epoch=1)
    orphans = ["last-e00002-0123abcd.safetensors", ".last-e00003-89abcdef.safetensors.k2j_x9.tmp",
               ".last.json.a1b2c3.tmp", "best-e00007-00000000.safetensors", ".best.json.zz.tmp"]
    keep = ["notes.txt", "last-e00002-0123abcd.safetensors.bak", "other-e00001-0123abcd.safetensors",
            ".last.json.tmp", "lastx-e00001-0123abcd.safetensors", ".hidden.tmp"]
    for name in orphans + keep:
        (tmp_path / name).write_bytes(b"x")
    link = tmp_path / "last-e00009-feedbeef.safetensors"   # a link is left alone (never followed)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    outside.write_bytes(b"outside")
    link.symlink_to(outside)
    removed = remove_orphans(tmp_path)
    assert sorted(removed) == sorted(orphans)
    names = {p.name for p in tmp_path.iterdir()}
    assert set(keep) <= names and link.is_symlink() and outside.read_bytes() == b"outside"
    assert load_checkpoint(tmp_path / "last.json")["epoch"] == 1 and load_checkpoint(tmp_path / "best.json")
    (tmp_path / orphans[0]).write_bytes(b"x")                # the next save cleans as well
    (tmp_path / orphans[1]).write_bytes(b"x")
    save_checkpoint(tmp_path, "last", model=model, epoch=2)
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & set(orphans[:2]) and set(keep) <= names
    assert len([n for n in names if n.startswith("last-e") and n.endswith(".safetensors")]) == 2  # new + link
    (tmp_path / "best.json").write_text("{broken")           # a JSON that cannot be read keeps its files
    (tmp_path / orphans[3]).write_bytes(b"x")
    remove_orphans(tmp_path)
    assert (tmp_path / orphans[3]).exists()


# ----------------------------------------------------------------------------- fuzz: hostile run folders
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DELETE = object()
PATHS = ["../victim/data.txt", "{VICTIM}/data.txt", "../victim/last-e00001-0123abcd.safetensors",
         "{VICTIM}/last-e00001-0123abcd.safetensors", "last-e00009-0123abcd.safetensors",   # a link to the victim
         "last-e00001-0123abcd.safetensors/../../../victim/data.txt", "..", "/", "", "checkpoints/../../victim"]
LEAVES = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=12)
          | st.sampled_from(PATHS))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=3), max_leaves=8)
# (config keys that size the work, such as model.hidden or training.epochs, are left out: a valid
# huge value would only make the example slow; the recipe tests check those values)
KEYS = [("format",), ("name",), ("epoch",), ("weights",), ("sha256",), ("rng",), ("rng", "numpy"),
        ("rng", "numpy", 1), ("rng", "numpy", 1, 3), ("rng", "numpy", 2), ("rng", "python", 1), ("rng", "python", 2),
        ("config",), ("config", "model"), ("config", "model", "neuron"), ("config", "training", "seed"),
        ("config", "imports"), ("config", "data", "name"), ("config", "output", "dir"), ("history",),
        ("history", 0), ("history", 0, "epoch"), ("history", 0, "train_loss"), ("trainer_state",),
        ("trainer_state", "best_value"), ("trainer_state", "best_epoch"), ("trainer_state", "bad_epochs"),
        ("trainer_state", "stopped_early"), ("environment",), ("surprise",)]
EDITS = st.lists(st.tuples(st.sampled_from(KEYS), VALUES | st.sampled_from(PATHS) | st.just(DELETE)),
                 min_size=1, max_size=3)
WHOLE = st.none() | VALUES.map(lambda v: ("json", v)) | st.binary(max_size=64).map(lambda b: ("bytes", b))


def _edit(record, key, value):
    node = record
    for part in key[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if value is DELETE:
            del node[key[-1]]
        else:
            node[key[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass


def _snapshot(folder):
    import hashlib

    return {str(p.relative_to(folder)): (p.is_symlink(), hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() and not p.is_symlink() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    from axonal.recipes import load_config
    from axonal.train import Trainer

    run = tmp_path_factory.mktemp("fuzz") / "run"
    cfg = {"name": "fuzz", "data": {"name": "temporal_pattern", "options": {"n_train": 24, "n_test": 8, "n_steps": 60},
                                    "batch_size": 8},
           "model": {"hidden": [6], "recurrent": False}, "training": {"epochs": 2, "seed": 0},
           "output": {"raster": False, "curves": False}}
    Trainer(load_config(cfg), run_dir=run, quiet=True).fit()
    return run


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(which=st.sampled_from(["last", "best"]), edits=EDITS, whole=WHOLE)
def test_a_hostile_checkpoint_json_only_ever_gives_checkpoint_errors_and_touches_nothing_outside(
        base_run, which, edits, whole):
    """Random values, types and paths ('..', absolute, a link out) in last.json / best.json:
    resuming, loading, evaluating and saving raise nothing but CheckpointError, and a sibling
    folder is neither written nor deleted."""
    import shutil
    import tempfile

    from axonal.train import Trainer, evaluate_checkpoint, load_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run, victim = root / "run", root / "victim"
        shutil.copytree(base_run, run)
        victim.mkdir()
        (victim / "data.txt").write_text("user data")
        (victim / "last-e00001-0123abcd.safetensors").write_bytes((run / "checkpoints" / json.loads(
            (run / "checkpoints" / "last.json").read_text())["weights"]).read_bytes())
        (run / "checkpoints" / "last-e00009-0123abcd.safetensors").symlink_to(victim / "data.txt")
        path = run / "checkpoints" / f"{which}.json"
        record = json.loads(path.read_text())
        for key, value in edits:
            if isinstance(value, str):
                value = value.replace("{VICTIM}", str(victim))
            _edit(record, key, value)
        if whole is None:
            path.write_text(json.dumps(record))
        elif whole[0] == "json":
            path.write_text(json.dumps(whole[1]))
        else:
            path.write_bytes(whole[1])
        before = _snapshot(victim)

        def attempt(fn):
            try:
                return fn()
            except CheckpointError:
                return None

        attempt(lambda: load_checkpoint(path))
        attempt(lambda: load_model(run, which=which))
        attempt(lambda: evaluate_checkpoint(run))
        attempt(lambda: Trainer.resume(run, quiet=True).fit())
        save_checkpoint(run / "checkpoints", which, model=torch.nn.Linear(2, 2), epoch=3)
        assert _snapshot(victim) == before
        assert sorted(p.name for p in root.iterdir()) == ["run", "victim"]
        assert (victim / "data.txt").read_text() == "user data"
