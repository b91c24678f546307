"""Recipes: validation messages (unknown keys, bad values), dotted overrides, files and built-ins."""
import json

import pytest

from axonal.config import (ConfigError, Recipe, SpikingClassifierConfig, apply_overrides, available_recipes,
                           load_config)


def _error(data, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(data, overrides)
    return str(info.value)


# ----------------------------------------------------------------------------- unknown keys
def test_unknown_top_level_key_lists_sections():
    msg = _error({"trainer": {}})
    assert "unknown key 'trainer'" in msg and "top level" in msg
    for key in ("data", "encoder", "model", "optimiser", "training", "output"):
        assert key in msg
    assert "did you mean 'training'" in msg


def test_unknown_model_key_names_location_and_known_keys():
    msg = _error({"model": {"hiden": [32]}})
    assert "unknown key 'hiden' in section 'model'" in msg
    assert "did you mean 'hidden'" in msg
    for key in SpikingClassifierConfig.model_fields:
        assert key in msg


def test_unknown_nested_key_in_early_stopping():
    msg = _error({"training": {"early_stopping": {"patiense": 3}}})
    assert "section 'training.early_stopping'" in msg
    assert "metric, patience, min_delta" in msg


# ----------------------------------------------------------------------------- bad values
def test_unknown_neuron_lists_allowed_values():
    msg = _error({"model": {"neuron": "izhikevich"}})
    assert "model.neuron" in msg and "'izhikevich'" in msg
    assert "'lif'" in msg and "'cuba_lif'" in msg and "'adaptive_lif'" in msg


def test_negative_learning_rate_is_rejected_with_location():
    msg = _error({"optimiser": {"lr": -0.1}})
    assert "optimiser.lr" in msg and "greater than 0" in msg and "-0.1" in msg


def test_unknown_dataset_lists_datasets():
    msg = _error({"data": {"name": "mnist"}})
    assert "data.name" in msg and "unknown dataset 'mnist'" in msg
    assert "basic_motions" in msg and "japanese_vowels" in msg


def test_dataset_name_is_normalised():
    assert load_config({"data": {"name": "BasicMotions"}}).data.name == "basic_motions"


def test_unknown_dataset_and_encoder_options_list_the_accepted_ones():
    msg = _error({"data": {"name": "temporal_pattern", "options": {"n_trian": 3}}})
    assert "n_trian" in msg and "n_train" in msg and "n_steps" in msg
    msg = _error({"encoder": {"name": "delta", "options": {"thresh": 0.1}}})
    assert "thresh" in msg and "threshold" in msg and "off_spikes" in msg


def test_neuron_specific_constants_must_fit_the_neuron():
    msg = _error({"model": {"neuron": "lif", "tau_syn": 5.0}})
    assert "tau_syn applies to neuron cuba_lif only" in msg
    msg = _error({"model": {"neuron": "lif", "learn": ["tau_adapt"]}})
    assert "cannot learn" in msg and "tau_mem, threshold" in msg
    ok = load_config({"model": {"neuron": "adaptive_lif", "tau_adapt": 100, "learn": ["adaptation"]}})
    assert ok.model.tau_adapt == 100.0 and ok.model.learn == ["adaptation"]


def test_unknown_architecture_lists_registered_ones():
    msg = _error({"model": {"architecture": "transformer"}})
    assert "unknown architecture 'transformer'" in msg and "spiking_classifier" in msg


def test_several_errors_are_all_reported():
    msg = _error({"optimiser": {"lr": 0}, "training": {"epochs": -1}})
    assert "optimiser.lr" in msg and "training.epochs" in msg


# ----------------------------------------------------------------------------- overrides
def test_overrides_are_coerced_through_the_schema():
    cfg = load_config("smoke", ["optimiser.lr=1e-3", "model.hidden=[32, 16]", "training.early_stopping.patience=4",
                                "model.recurrent=true", "output.dir=123", "data.options.n_train=20",
                                "training.grad_clip=null"])
    assert cfg.optimiser.lr == pytest.approx(1e-3) and isinstance(cfg.optimiser.lr, float)
    assert cfg.model.hidden == [32, 16]
    assert cfg.training.early_stopping.patience == 4
    assert cfg.model.recurrent is True
    assert cfg.output.dir == "123"              # a string field keeps the text as written
    assert cfg.data.options["n_train"] == 20 and cfg.data.options["n_test"] == 32
    assert cfg.training.grad_clip is None


def test_override_of_unknown_key_lists_known_keys():
    msg = _error("smoke", ["optimiser.learning_rate=0.1"])
    assert "unknown key 'learning_rate' in section 'optimiser'" in msg and "lr" in msg


def test_override_with_bad_type_and_malformed_override():
    assert "training.epochs" in _error("smoke", ["training.epochs=many"])
    assert "section.key=value" in _error("smoke", ["optimiser.lr"])
    assert "is a value, not a section" in _error("smoke", ["optimiser.lr.x=1"])


def test_apply_overrides_does_not_mutate_its_input():
    data = {"model": {"hidden": [8]}}
    out = apply_overrides(data, ["model.hidden=[4]"])
    assert data == {"model": {"hidden": [8]}} and out["model"]["hidden"] == [4]


# ----------------------------------------------------------------------------- sources
def test_yaml_json_dict_and_recipe_sources_agree(tmp_path):
    import yaml

    data = {"name": "t", "model": {"hidden": [12], "neuron": "cuba_lif", "tau_syn": 3.0},
            "optimiser": {"name": "sgd", "lr": 0.1}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "r.json").write_text(json.dumps(data))
    a, b, c = (load_config(tmp_path / "r.yaml"), load_config(str(tmp_path / "r.json")), load_config(data))
    assert a == b == c
    assert load_config(a) == a and load_config(a.to_dict()) == a
    assert json.loads(json.dumps(a.to_dict())) == a.to_dict()


def test_every_builtin_recipe_validates():
    names = available_recipes()
    assert {"basicmotions", "smoke"} <= set(names)
    for name in names:
        assert isinstance(load_config(name), Recipe)
        assert names[name]  # has a description


def test_unknown_recipe_name_and_broken_files(tmp_path):
    msg = _error("basicmotion")
    assert "neither a recipe file nor a built-in recipe" in msg and "did you mean 'basicmotions'" in msg
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    msg = _error(bad)
    assert "cannot parse" in msg and "bad.yaml" in msg
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    assert "must hold a mapping" in _error(lst)
    txt = tmp_path / "r.txt"
    txt.write_text("{}")
    assert ".yaml, .yml or .json" in _error(txt)
