"""The `axonal` command through typer's CliRunner: train, eval, resume, listings, error exits."""
import json

import pytest
from typer.testing import CliRunner

from axonal.cli import app

runner = CliRunner()
FAST = ["--set", "training.epochs=2", "--set", "data.options.n_train=32", "--set", "data.options.n_test=16",
        "--set", "output.raster=false"]


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = _run("train", "smoke", *FAST, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and "SynOps/sample" in result.output and "energy/sample" in result.output
    return out


def test_train_writes_a_run_folder(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epochs_run"] == 2 and results["config"]["data"]["options"]["n_train"] == 32
    assert (run_dir / "checkpoints" / "best.json").is_file() and (run_dir / "metrics.csv").is_file()


def test_eval_reloads_and_reproduces_the_test_accuracy(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    result = _run("eval", run_dir)
    assert result.exit_code == 0, result.output
    assert f"test accuracy {results['test']['accuracy']:.4f}" in result.output
    assert f"{results['test']['synops']:,.0f}" in result.output


def test_resume_continues_to_more_epochs(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    result = _run("train", "--resume", copy, "--set", "training.epochs=3", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "results.json").read_text())["epochs_run"] == 3


def test_datasets_and_recipes_are_listed():
    result = _run("datasets")
    assert result.exit_code == 0 and "basic_motions" in result.output and "japanese_vowels" in result.output
    result = _run("recipes")
    assert result.exit_code == 0 and "basic_motions" in result.output and "smoke" in result.output


@pytest.mark.parametrize("args,needle", [
    (["train", "no_such_recipe"], "neither a recipe file nor a built-in recipe"),
    (["train", "smoke", "--set", "model.hiden=[3]"], "unknown key 'hiden' in section 'model'"),
    (["train", "smoke", "--set", "model.neuron=izh"], "allowed values"),
    (["train"], "give a recipe file"),
    (["eval", "/nonexistent/run"], "does not exist"),
])
def test_errors_are_one_line_with_exit_code_2(args, needle):
    result = _run(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in result.output


def test_corrupt_checkpoint_is_a_clear_error(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "checkpoints" / "best.json").write_text("{not json")
    result = _run("eval", copy)
    assert result.exit_code == 2 and "best.json is corrupt or truncated" in result.output


def _one_error_line(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    return lines[0]


def test_help_is_plain_text_without_rst_markup():
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"train", "eval", "datasets", "recipes"} <= set(commands)
    for args in ([], *([c] for c in commands)):
        result = _run(*args, "--help")
        assert result.exit_code == 0, result.output
        assert "`" not in result.output and ":func:" not in result.output, result.output
    assert "--overwrite" in _run("train", "--help").output and "--import" in _run("train", "--help").output


def test_interrupt_message_names_the_real_run_folder(run_dir, tmp_path, monkeypatch):
    import shutil

    from axonal.train import Trainer

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted)
    result = _run("train", "--resume", copy, "--set", "training.epochs=3", "--quiet")
    assert result.exit_code == 130
    assert f"axonal train --resume {copy}" in result.output and "<run folder>" not in result.output
    result = _run("train", "smoke", *FAST, "--out", tmp_path / "fresh", "--quiet")
    assert result.exit_code == 130 and "before the first checkpoint" in result.output


def test_another_recipe_into_an_existing_run_folder_needs_overwrite(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = (copy / "results.json").read_text()
    _one_error_line(_run("train", "smoke", *FAST, "--set", "training.seed=9", "--out", copy, "--quiet"),
                    "--overwrite")
    assert (copy / "results.json").read_text() == before
    result = _run("train", "smoke", *FAST, "--set", "training.seed=9", "--out", copy, "--quiet", "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "results.json").read_text())["seed"] == 9


def test_bad_out_folders_and_bad_recipes_are_one_line_errors(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _one_error_line(_run("train", "smoke", *FAST, "--out", afile, "--quiet"), "is a file, not a folder")
    _one_error_line(_run("train", "smoke", *FAST, "--out", afile / "run", "--quiet"), "choose a writable place")
    noise = tmp_path / "noise.yaml"
    noise.write_bytes(bytes(range(256)) * 4)
    _one_error_line(_run("train", noise), str(noise))
    for value in (".inf", ".nan", "-0.1"):
        _one_error_line(_run("train", "smoke", "--set", f"optimiser.lr={value}"), "optimiser.lr")


def test_resume_with_fewer_epochs_is_refused(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    line = _one_error_line(_run("train", "--resume", copy, "--set", "training.epochs=1", "--quiet"),
                           "already run 2 epochs")
    assert "training.epochs=1 would train nothing" in line


def test_a_users_own_model_trains_and_evaluates_through_the_cli(tmp_path, monkeypatch):
    import sys

    from axonal.models import MODELS

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))      # --import adds the current folder
    (tmp_path / "tc_cli_models.py").write_text(
        "from typing import Literal\n"
        "import torch\n"
        "from torch import nn\n"
        "from axonal.config import Section\n"
        "from axonal.models import register_model\n"
        "class MeanNetConfig(Section):\n"
        "    architecture: Literal['tc_mean_net'] = 'tc_mean_net'\n"
        "class MeanNet(nn.Module):\n"
        "    def __init__(self, c, k):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(c, k)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x.mean(0))\n"
        "register_model('tc_mean_net', MeanNetConfig,\n"
        "               lambda s, info, enc: MeanNet(info.n_channels, info.n_classes))\n")
    args = ["smoke", *FAST, "--set", "model={architecture: tc_mean_net}", "--out", tmp_path / "run", "--quiet"]
    try:
        _one_error_line(_run("train", *args), "unknown architecture 'tc_mean_net'")
        result = _run("train", *args, "--import", "tc_cli_models")
        assert result.exit_code == 0, result.output
        sys.modules.pop("tc_cli_models")
        MODELS.pop("tc_mean_net")
        line = _one_error_line(_run("eval", tmp_path / "run"), "never imports code named by a run folder")
        assert "--import tc_cli_models" in line and "tc_cli_models" not in sys.modules
        result = _run("eval", tmp_path / "run", "--import", "tc_cli_models")
        assert result.exit_code == 0 and "test accuracy" in result.output, result.output
    finally:
        MODELS.pop("tc_mean_net", None)
        sys.modules.pop("tc_cli_models", None)
