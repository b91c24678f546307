"""Recipes of issue 6: the long-memory architectures and their baselines build from validated
sections, the procedural datasets load by name (per-step targets for the copy task), the
trainer counts per-step accuracy, baselines train on the same splits with a matched LSTM,
and the LSTM's SynOps follow the gate arithmetic."""
import math

import numpy as np
import pytest
import torch

from axonal.recipes import ConfigError, load_config
from axonal.data import load_dataset, make_loader
from axonal.data.long_horizon import IGNORE_INDEX
from axonal.metrics import SpikeMonitor
from axonal.models import build_model
from axonal.models.long_memory import LSTMClassifier, count_parameters, lstm_parameter_count
from axonal.models.long_memory_recipes import SequenceScores
from axonal.train import Trainer
from axonal.train.trainer import _correct

RECIPES = ["basicmotions_l2mu", "japanese_vowels_l2mu", "daphnet_l2mu", "digits_adding_elm", "delayed_recall_amsu"]
SMALL = {"digits_adding_elm": ["data.options.n_train=40", "data.options.n_test=20"],
         "delayed_recall_amsu": ["data.options.n_train=40", "data.options.n_test=20"]}


@pytest.mark.parametrize("name", RECIPES)
def test_builtin_recipes_build_main_model_and_baselines(name):
    cfg = load_config(name, SMALL.get(name, []))
    splits = load_dataset(cfg.data.name, seed=0, val_fraction=cfg.data.val_fraction, **cfg.data.options)
    x, y = next(iter(make_loader(splits.test, batch_size=3)))
    for section in [cfg.model] + [b for b in cfg.baselines if b.architecture != "minirocket"]:
        if getattr(section, "parameter_budget", None) == "match":
            section = section.model_copy(update={"parameter_budget": 5000})
        model = build_model(section, splits.info, None)
        scores = model(x[:12])
        k = splits.info.n_classes
        assert scores.shape == ((3, k, 12) if splits.info.per_step else (3, k)), section.architecture
        assert torch.isfinite(scores).all()
    assert cfg.baselines, "every long-memory recipe lists the baselines a user would pick instead"


def test_delayed_recall_dataset_has_per_step_targets():
    splits = load_dataset("delayed_recall", delay=7, n_train=20, n_test=10, val_fraction=0.25)
    assert splits.info.per_step and splits.info.n_classes == 8 and splits.info.n_steps == 17
    assert (len(splits.train), len(splits.val), len(splits.test)) == (15, 5, 10)
    x, y = next(iter(make_loader(splits.train, batch_size=4)))
    assert x.shape == (17, 4, 9) and y.shape == (4, 17)
    assert (y[:, :12] == IGNORE_INDEX).all() and (y[:, 12:] >= 0).all()
    # the test set is generated apart from the training set, and the seed of training does not change it
    again = load_dataset("delayed_recall", seed=5, delay=7, n_train=20, n_test=10, val_fraction=0.25)
    assert torch.equal(again.test.x, splits.test.x) and not torch.equal(splits.test.x[:5], splits.train.x[:5])


def test_digits_adding_dataset_by_name():
    splits = load_dataset("digits_adding", gap=10, n_train=50, n_test=20, n_classes=5, val_fraction=0.2)
    assert not splits.info.per_step and splits.info.n_classes == 9
    assert splits.train.x.shape == (40, 42, 16) and len(splits.val) == 10
    assert splits.train.x[:, 16:26].sum() == 0
    with pytest.raises(TypeError, match="gap"):
        load_dataset("digits_adding", gapp=3)


def test_per_step_accuracy_ignores_unasked_steps():
    scores = torch.zeros(2, 3, 4)                 # [B, K, T]
    scores[:, 1] = 1.0                             # always predicts class 1
    y = torch.tensor([[IGNORE_INDEX, 1, 1, 0], [IGNORE_INDEX, IGNORE_INDEX, 2, 1]])
    assert _correct(scores, y) == (3, 5)
    assert _correct(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == (1, 2)


def test_sequence_scores_layout():
    net = LSTMClassifier(3, 4, 5)
    x = torch.randn(7, 2, 3)
    out, _ = net(x)
    torch.testing.assert_close(SequenceScores(net)(x), out[-1])
    torch.testing.assert_close(SequenceScores(net, per_step=True)(x), out.permute(1, 2, 0))


def test_copy_recipe_trains_with_matched_lstm_baseline(tmp_path):
    cfg = load_config("delayed_recall_amsu", ["data.options.n_train=24", "data.options.n_test=12",
                                              "data.options.delay=3", "training.epochs=1", "model.hidden_size=8",
                                              "output.raster=false", "output.curves=false"])
    cfg = cfg.model_copy(update={"baselines": [b for b in cfg.baselines if b.architecture == "lstm"]})
    res = Trainer(cfg, run_dir=tmp_path, quiet=True).fit()
    rows = res["baselines"]
    assert [r["architecture"] for r in rows] == ["spiking_rnn/astrocyte_lif", "lstm"]
    main, lstm = rows
    # the matched LSTM is the hidden size whose parameter count is closest to the main model's
    h = next(k for k in range(1, 50) if lstm_parameter_count(9, 8, k) == lstm["trainable_parameters"])
    for other in (h - 1, h + 1):
        assert abs(lstm_parameter_count(9, 8, other) - main["trainable_parameters"]) >= \
            abs(lstm["trainable_parameters"] - main["trainable_parameters"])
    assert 0 <= main["test_accuracy"] <= 1 and res["test"]["samples"] == 12 * 5   # 5 recall steps each
    assert (tmp_path / "baselines" / "0_lstm" / "results.json").is_file()


def test_baseline_and_lstm_section_errors():
    with pytest.raises(ConfigError, match="unknown key 'hiden_size'"):
        load_config({"model": {"architecture": "l2mu"}, "baselines": [{"architecture": "lstm", "hiden_size": 3}]})
    with pytest.raises(ConfigError, match="exactly one of hidden_size or parameter_budget"):
        load_config({"model": {"architecture": "lstm", "hidden_size": 4, "parameter_budget": 100}})
    with pytest.raises(ConfigError, match="architecture"):
        load_config({"baselines": [{"hidden_size": 3}]})
    cfg = load_config({"data": {"name": "digits_adding", "options": {"n_train": 20, "n_test": 10}},
                       "model": {"architecture": "lstm", "parameter_budget": "match"}})
    splits = load_dataset("digits_adding", n_train=20, n_test=10)
    with pytest.raises(ValueError, match="only works in a recipe's baselines"):
        build_model(cfg.model, splits.info)
    with pytest.raises(ConfigError, match="readout"):
        load_config({"model": {"architecture": "elm", "readout": "max"}})


def test_lstm_synops_rule_counts_gate_macs():
    torch.manual_seed(0)
    model = LSTMClassifier(6, 4, 10)
    x = torch.randn(20, 3, 6)
    with SpikeMonitor(model) as mon:
        model(x)
    rep = mon.report()
    per_sample_step = 4 * 10 * (6 + 10) + 10 * 4     # gates + readout head
    assert math.isclose(rep.macs, 20 * per_sample_step) and rep.acs == 0
    assert count_parameters(model) == lstm_parameter_count(6, 4, 10)


@pytest.mark.slow
def test_minirocket_baseline_fits_same_splits():
    """MiniRocket (aeon) on a two-class toy set (sine vs square wave): perfect, and refuses
    per-step targets. Slow: aeon compiles its numba transform on first use."""
    from axonal.models.minirocket import MiniRocketBaseline

    t = torch.linspace(0, 6 * math.pi, 60)
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(40):
        phase = float(rng.uniform(0, 2 * math.pi))
        wave = torch.sin(t + phase)
        xs.append((wave if i % 2 else torch.sign(wave))[:, None] + 0.1 * torch.randn(60, 1))
        ys.append(i % 2)
    x, y = torch.stack(xs), torch.tensor(ys)
    mr = MiniRocketBaseline(2, n_kernels=840).fit_arrays(x[:30], y[:30])
    scores = mr(x[30:].transpose(0, 1))
    assert scores.shape == (10, 2) and (scores.argmax(1) == y[30:]).all()
    with pytest.raises(ValueError, match="per-step"):
        mr.fit_arrays(x[:4], torch.zeros(4, 60, dtype=torch.long))


def test_l2mu_recipe_neuron_names_pick_the_population_class():
    """``neuron: cuba_lif`` (the catalog's name) builds current-based populations, ``lif`` plain ones;
    the old name ``cuba`` is an error naming the new one."""
    from axonal.neurons import CurrentBasedLIF, LIF

    class Info:
        n_channels, n_classes, n_steps, per_step = 3, 2, 10, False

    for name, cls in (("lif", LIF), ("cuba_lif", CurrentBasedLIF)):
        cfg = load_config({"model": {"architecture": "l2mu", "neuron": name, "hidden_size": 6, "memory_size": 4}})
        model = build_model(cfg.model, Info(), None)
        pops = [m for m in model.modules() if isinstance(m, (LIF, CurrentBasedLIF))]
        assert pops and all(type(m) is cls for m in pops), name
        assert model(torch.randn(10, 2, 3)).shape == (2, 2)
    with pytest.raises(ConfigError, match="'cuba' is now called 'cuba_lif'"):
        load_config({"model": {"architecture": "l2mu", "neuron": "cuba"}})
