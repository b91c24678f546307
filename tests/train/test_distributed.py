"""Data-parallel training (axonal.train.distributed): sharding reproduces one process's global
batches; 2 gloo processes on the loopback interface follow the one-process loss trajectory to the
same weights; a rank killed mid-run under ``torchrun --max-restarts`` resumes to the same result."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from axonal.data import load_dataset, make_loader
from axonal.recipes import load_config
from axonal.train import Trainer, load_checkpoint
from axonal.train import checkpoint as ckpt
from axonal.train.distributed import Distributed, launch_command

ROOT = Path(__file__).resolve().parents[2]

# 40 training samples in global batches of 12: the last batch (4) is short, and with 3 ranks
# one rank's share of it would be empty
RECIPE = {
    "name": "ddp_tiny",
    "data": {"name": "temporal_pattern", "options": {"n_train": 48, "n_test": 16, "n_steps": 60}, "batch_size": 12},
    "model": {"hidden": [16], "recurrent": False},
    "optimiser": {"lr": 0.02, "scheduler": {"name": "cosine"}},
    "training": {"epochs": 3, "seed": 5, "grad_clip": 1.0},
    "output": {"raster": False, "curves": False},
}


def _recipe(tmp_path: Path, epochs: int) -> Path:
    data = json.loads(json.dumps(RECIPE))
    data["training"]["epochs"] = epochs
    path = tmp_path / f"ddp_{epochs}.json"
    path.write_text(json.dumps(data))
    return path


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", AXONAL_DIST_TIMEOUT="60")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT"):
        env.pop(var, None)
    return env


def _one_process(recipe: Path, run_dir: Path):
    Trainer(load_config(recipe), run_dir=run_dir, quiet=True).fit()
    return _outcome(run_dir)


def _outcome(run_dir: Path):
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    weights = ckpt.model_state(load_checkpoint(run_dir / "checkpoints" / "last.json"))
    return history, weights


def _assert_same_run(a, b):
    (ha, wa), (hb, wb) = a, b
    assert [r["epoch"] for r in ha] == [r["epoch"] for r in hb]
    for ra, rb in zip(ha, hb):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-6), (ra["epoch"], key)
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=1e-5, msg=name)


# ----------------------------------------------------------------------------- sharding
@pytest.mark.parametrize("world", [2, 3])
def test_shards_are_the_one_process_batches_split_by_rank(world):
    splits = load_dataset("temporal_pattern", seed=0, val_fraction=0.0, n_train=38, n_test=8, n_steps=60)
    single = list(make_loader(splits.train, batch_size=12, shuffle=True, seed=77))
    parts = [list(Distributed(rank=r, world_size=world).shard(make_loader(splits.train, batch_size=12,
                                                                        shuffle=True, seed=77)))
             for r in range(world)]
    assert all(len(p) == len(single) for p in parts)
    for b, (x, y) in enumerate(single):
        for r in range(world):
            if parts[r][b] is None:   # a short last batch leaves this rank nothing
                assert len(y[r::world]) == 0
                continue
            xr, yr = parts[r][b]
            torch.testing.assert_close(xr, x[:, r::world], rtol=0, atol=0)
            torch.testing.assert_close(yr, y[r::world], rtol=0, atol=0)
    assert any(parts[r][-1] is None for r in range(world)) == (world == 3)


def test_one_process_context_is_transparent():
    d = Distributed()
    loader = make_loader(load_dataset("temporal_pattern", seed=0, n_train=8, n_test=4, n_steps=60).train, 4)
    assert not d.active and d.writer and d.sum([1.0, 2.0]) == [1.0, 2.0]
    assert [y.tolist() for _, y in d.shard(loader)] == [y.tolist() for _, y in loader]


def test_launch_command_is_loopback_torchrun():
    cmd = launch_command(2, ["train", "smoke"], max_restarts=1, port=29999)
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert any(c.startswith("--rdzv-endpoint=127.0.0.1:") for c in cmd) and "--nproc-per-node=2" in cmd and "--max-restarts=1" in cmd
    assert cmd[-4:] == ["-m", "axonal", "train", "smoke"]
    with pytest.raises(ValueError, match="--nproc"):
        launch_command(0, [])


# ----------------------------------------------------------------------------- processes
def test_two_gloo_processes_follow_one_process(tmp_path):
    recipe = _recipe(tmp_path, epochs=3)
    reference = _one_process(recipe, tmp_path / "one")
    proc = subprocess.run([sys.executable, "-m", "axonal", "train", str(recipe), "--nproc", "2", "-q",
                           "--out", str(tmp_path / "two")], env=_env(), cwd=tmp_path, timeout=240,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_run(reference, _outcome(tmp_path / "two"))
    results = json.loads((tmp_path / "two" / "results.json").read_text())
    assert results["distributed"]["world_size"] == 2 and results["distributed"]["backend"] == "gloo"
    assert "comm_s" in results["history"][0]
    # rank 0 alone wrote: no temporary files left, one set of checkpoint files
    assert not list((tmp_path / "two").rglob("*.tmp"))


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow   # two rounds of process start-up: about a minute on the loaded 2-core machine
def test_killed_rank_restarts_and_resumes_to_the_same_result(tmp_path):
    epochs = 8
    recipe = _recipe(tmp_path, epochs=epochs)
    reference = _one_process(recipe, tmp_path / "one")
    run_dir = tmp_path / "two"
    cmd = launch_command(2, ["train", str(recipe), "--out", str(run_dir)], max_restarts=1)
    launcher = subprocess.Popen(cmd, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    killed = None
    try:
        deadline = time.monotonic() + 180
        last = run_dir / "checkpoints" / "last.json"
        while time.monotonic() < deadline and launcher.poll() is None:
            if last.is_file():
                epoch = json.loads(last.read_text())["epoch"]
                if 1 <= epoch < epochs - 1:
                    workers = sorted(_children(launcher.pid))
                    if len(workers) == 2:
                        killed = workers[1]
                        os.kill(killed, signal.SIGKILL)   # one rank dies mid-run
                        break
            time.sleep(0.02)
        output, _ = launcher.communicate(timeout=240)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert killed is not None, "the run ended before a rank could be killed mid-run"
    assert launcher.returncode == 0, output[-3000:]
    assert "resuming" in output   # the restarted workers continued from the last checkpoint
    _assert_same_run(reference, _outcome(run_dir))
