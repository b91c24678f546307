"""The issue-19 experiment scripts run end to end on tiny budgets and render their tables."""
import json

from experiments import ctm_tasks, language_models


def test_language_table_runs_and_renders(tmp_path):
    out = tmp_path / "lm.json"
    language_models.main(["--models", "gru", "egru", "--train-chars", "3000", "--eval-chars", "1500",
                          "--out", str(out)])
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["table"]] == ["egru", "gru"]
    table = language_models.render_table(data)
    assert "| EGRU | 1 |" in table and "| GRU | 1 |" in table
    assert "**EGRU**" in language_models.render_samples(data)
    # a second call skips the runs that are already there
    again = language_models.main(["--models", "gru", "--train-chars", "3000", "--eval-chars", "1500", "--out", str(out)])
    assert len(again["runs"]) == 2


def test_ctm_tasks_run(tmp_path):
    out = tmp_path / "ctm.json"
    res = ctm_tasks.main(["--lengths", "4", "--steps", "2", "--maze-steps", "2", "--ticks", "2", "--batch", "4",
                          "--out", str(out)])
    assert res["parity"][0]["lstm"]["position_accuracy"] >= 0 and "success_rate" in res["maze"][0]
    assert json.loads(out.read_text())["maze"]
