"""A checkpoint JSON is untrusted: the weights file it names must be one of this folder's own
(``axonal.train.checkpoint._weights_file``); nothing outside is ever read or deleted."""
from __future__ import annotations

import json

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
