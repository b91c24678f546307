"""``axonal report RUN``: the report card of a trained run and its ANN baseline."""
import json

import pytest
from typer.testing import CliRunner

from axonal.cli import app

runner = CliRunner()
FAST = ["--set", "training.epochs=1", "--set", "data.options.n_train=32", "--set", "data.options.n_test=16",
        "--set", "output.raster=false", "--set", "output.curves=false",
        "--set", "baselines=[{architecture: lstm, parameter_budget: match, readout: mean}]"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    result = runner.invoke(app, ["train", "smoke", *FAST, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_report_writes_the_card_of_the_model_and_of_its_baseline(run_dir, tmp_path):
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "card")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "card" / "report.md").read_text()
    assert "## spiking model" in page and "## baseline: lstm" in page
    for folder in ("model", "baseline_0_lstm"):
        for png in ("firing_rate.png", "energy_breakdown.png", "accuracy_vs_steps.png", "accuracy_vs_energy.png"):
            assert (tmp_path / "card" / folder / png).stat().st_size > 0
            assert f"]({folder}/{png})" in page
    card = json.loads((tmp_path / "card" / "model" / "report.json").read_text())
    results = json.loads((run_dir / "results.json").read_text())
    assert card["accuracy"] == pytest.approx(results["test"]["accuracy"])
    assert card["activity"]["totals"]["synops"] == pytest.approx(results["test"]["synops"])
    assert set(card["energy"]) == {"horowitz_45nm", "jouppi_7nm"}
    lstm = json.loads((tmp_path / "card" / "baseline_0_lstm" / "report.json").read_text())
    assert lstm["energy"]["horowitz_45nm"]["totals"]["macs"] > 0


def test_report_of_a_missing_folder_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no run folder" in result.output


def test_a_recipe_with_a_rate_regulariser_trains_its_lstm_baseline(tmp_path):
    """The shipped basic_motions recipe regularises its spiking layer's firing rate; the LSTM
    baseline has no spiking layer, so it must train without that regulariser instead of failing."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "smoke", *FAST, "--set",
                                 "training.rate_regulariser={lower: 0.01, upper: 0.3}",
                                 "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "baselines" / "0_lstm" / "results.json").is_file()
