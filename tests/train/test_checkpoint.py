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
