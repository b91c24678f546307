"""Language-model zoo: registry, streaming, causal transformer, AstroSNN twin, operation counts."""
import pytest
import torch

from axonal.models.sequence import LANGUAGE_MODELS, build_language_model, count_operations, detach_state

SMALL = {"spikegpt": dict(d_model=8, n_layers=1), "rwkv": dict(d_model=8, n_layers=1),
         "egru": dict(d_embed=4, hidden=8), "spiking_brain": dict(d_model=8, n_layers=1, heads=2),
         "astrosnn": dict(d_embed=4, hidden=8), "lif_snn": dict(d_embed=4, hidden=8),
         "lstm": dict(d_embed=4, hidden=8), "gru": dict(d_embed=4, hidden=8),
         "transformer": dict(d_model=8, n_layers=1, heads=2, max_len=16)}


@pytest.mark.parametrize("name", sorted(LANGUAGE_MODELS))
def test_every_model_streams_and_counts(name):
    torch.manual_seed(0)
    m = build_language_model(name, 16, **SMALL[name])
    x = torch.randint(0, 16, (8, 2))
    y, s = m(x)
    assert y.shape == (8, 2, 16)
    y.sum().backward()
    if name != "transformer":          # the transformer has window context only
        a, s1 = m(x[:5])
        b, _ = m(x[5:], detach_state(s1))
        torch.testing.assert_close(torch.cat([a, b]), y.detach(), rtol=1e-5, atol=1e-6)
    c = count_operations(m, x)
    assert c["synops"] > 0 and c["dense_macs"] >= c["synops"] * 0.99
    assert (c["activity_sparsity"] is not None) == m.spiking


def test_transformer_is_causal():
    m = build_language_model("transformer", 16, **SMALL["transformer"])
    x = torch.randint(0, 16, (8, 1))
    x2 = x.clone()
    x2[5:] = (x2[5:] + 1) % 16
    torch.testing.assert_close(m(x)[0][:5], m(x2)[0][:5])


def test_lstm_operation_count_is_the_textbook_formula():
    m = build_language_model("lstm", 16, d_embed=4, hidden=8)
    c = count_operations(m, torch.randint(0, 16, (5, 3)))
    assert c["macs"] == 4 * 8 * (4 + 8) + 8 * 16 and c["acs"] == 0


def test_lif_snn_is_astrosnn_with_astrocyte_off():
    m = build_language_model("lif_snn", 16, **SMALL["lif_snn"])
    p = m.populations[0].neuron.params()
    assert p.current_gain == 0 and p.threshold_gain == 0
    assert build_language_model("astrosnn", 16, **SMALL["astrosnn"]).populations[0].neuron.params().current_gain.ne(0).all()


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown language model 'gpt5'"):
        build_language_model("gpt5", 16)
    with pytest.raises(TypeError, match="language model 'lstm'"):
        build_language_model("lstm", 16, width=3)


def test_recipe_architecture_trains_with_the_generic_trainer(tmp_path):
    from axonal.train import Trainer

    recipe = {"name": "lm_smoke", "data": {"name": "python_stdlib_text", "options": {"seq_len": 16, "max_chars": 2000},
                                           "batch_size": 8},
              "model": {"architecture": "language_model", "name": "egru", "options": {"d_embed": 4, "hidden": 8}},
              "optimiser": {"name": "adam", "lr": 0.01}, "training": {"epochs": 1, "seed": 0},
              "output": {"dir": str(tmp_path / "run"), "raster": False, "curves": False}}
    res = Trainer(recipe).fit()
    assert 0 <= res["test"]["accuracy"] <= 1 and res["test"]["synops"] > 0


def test_recipe_rejects_unknown_language_model():
    from axonal.models.sequence.recipe import LanguageModelConfig

    with pytest.raises(ValueError, match="unknown language model"):
        LanguageModelConfig(name="gpt5")
