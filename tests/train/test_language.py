"""Language-model loop: trains below the uniform rate, saves, reloads, and `axonal generate` samples."""
import math

import pytest
import torch
from typer.testing import CliRunner

from axonal.cli import app
from axonal.data import text
from axonal.train.language import LanguageRunConfig, evaluate_bpc, generate, load_language_run, train_language_model


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    cfg = LanguageRunConfig(model="gru", model_options=dict(d_embed=8, hidden=16), train_chars=6000,
                            eval_chars=1500, batch_size=4, bptt=32, sample_tokens=20)
    return d, train_language_model(cfg, d)


def test_training_beats_the_uniform_model_and_records_results(run):
    d, r = run
    assert r["test_bpc"] < math.log2(len(text.VOCAB)) - 1.0
    assert r["train_tokens"] == 4 * ((6000) // 4) and r["train_tokens_per_s"] > 0
    assert r["cost_per_token"]["macs"] > 0 and r["corpus"]["vocab_size"] == 98
    assert r["sample"].startswith("def ") and len(r["sample"]) == 24


def test_reload_gives_the_same_model(run):
    d, r = run
    model, cfg = load_language_run(d)
    bpc = evaluate_bpc(model, text.load_corpus().test, cfg.eval_batch, cfg.bptt, cfg.eval_chars)
    assert bpc == pytest.approx(r["test_bpc"], rel=1e-5)
    assert generate(model, "def ", 20, seed=0) == r["sample"]


def test_cli_generate(run, tmp_path):
    d, _ = run
    res = CliRunner().invoke(app, ["generate", str(d), "--prompt", "import ", "--tokens", "15"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("import ") and len(res.output.rstrip("\n")) >= 22
    bad = CliRunner().invoke(app, ["generate", str(tmp_path)])
    assert bad.exit_code == 2 and "no config.json" in bad.output


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="bptt must be a positive int"):
        LanguageRunConfig(bptt=0)
    with pytest.raises(ValueError, match="non-empty prompt"):
        generate(torch.nn.Identity(), "", 3)
