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
