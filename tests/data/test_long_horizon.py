"""Procedural long-horizon tasks (digits adding with a gap, delayed recall) and the matched-size
LSTM helper."""
import pytest
import torch

from axonal.data.long_horizon import IGNORE_INDEX, DelayedRecall, DigitsAdding, time_major_collate
from axonal.models.long_memory import (LSTMClassifier, SpikingRNNClassifier, count_parameters,
                                       lstm_hidden_for_budget, lstm_parameter_count)


def test_digits_adding_layout_labels_and_seeding():
    ds = DigitsAdding(64, gap=20, seed=3, repeat=2)
    assert ds.x.shape == (64, 2 * 32 + 20, 16) and ds.steps == 84
    assert set(ds.x.unique().tolist()) <= {0.0, 1.0}
    assert ds.x[:, 32:52].sum() == 0                     # the gap is silent
    assert ds.x[:, :32].sum() > 0 and ds.x[:, 52:].sum() > 0
    assert int(ds.y.min()) >= 0 and int(ds.y.max()) <= 18 and ds.n_classes == 19
    again = DigitsAdding(64, gap=20, seed=3, repeat=2)
    assert torch.equal(ds.x, again.x) and torch.equal(ds.y, again.y)
    other = DigitsAdding(64, gap=20, seed=4, repeat=2)
    assert not torch.equal(ds.x, other.x)
    first = DigitsAdding(64, gap=20, seed=3, repeat=2, label="first")
    second = DigitsAdding(64, gap=20, seed=3, repeat=2, label="second")
    assert torch.equal(first.y + second.y, ds.y)          # label = sum of the two digits
    small = DigitsAdding(32, gap=0, n_classes=5, repeat=1)
    assert small.n_classes == 9 and int(small.y.max()) <= 8 and small.steps == 32


def test_digits_adding_train_and_test_use_disjoint_images():
    tr = DigitsAdding(400, gap=0, split="train", seed=0, repeat=1, label="first")
    te = DigitsAdding(400, gap=0, split="test", seed=0, repeat=1, label="first")
    # spike trains are random draws, so compare the digit images' pools via rate maps is
    # indirect; instead check the pools the generator uses are disjoint
    from axonal.data.long_horizon import _digit_images
    imgs, _ = _digit_images(10)
    perm = torch.randperm(len(imgs), generator=torch.Generator().manual_seed(0))
    cut = int(round(len(perm) * 0.7))
    assert set(perm[:cut].tolist()).isdisjoint(perm[cut:].tolist())
    assert tr.x.shape == te.x.shape


def test_digit_spike_rate_follows_pixel_intensity():
    ds = DigitsAdding(2000, gap=0, seed=0, repeat=1, label="first")
    # mean spike probability equals the mean pixel intensity of the upsampled images (±3 sd)
    from axonal.data.long_horizon import _digit_images
    imgs, _ = _digit_images(10)
    assert abs(float(ds.x[:, :16].mean()) - float(imgs.mean())) < 0.01


def test_delayed_recall_layout():
    ds = DelayedRecall(10, delay=7, length=5, n_symbols=8, seed=1)
    assert ds.x.shape == (10, 17, 9) and ds.steps == 17
    assert torch.equal(ds.x[:, :5, :8].argmax(-1), ds.symbols)
    assert ds.x[:, 5:12].sum() == 0                      # blank delay
    assert ds.x[:, 12:, 8].eq(1).all() and ds.x[:, 12:, :8].sum() == 0  # recall cue only
    assert (ds.y[:, :12] == IGNORE_INDEX).all()
    assert torch.equal(ds.y[:, 12:], ds.symbols)
    assert ds.recall_mask.sum() == 5
    xb, yb = time_major_collate([ds[i] for i in range(4)])
    assert xb.shape == (17, 4, 9) and yb.shape == (17, 4)
    assert torch.equal(DelayedRecall(10, 7, seed=1).x, ds.x)
    with pytest.raises(ValueError, match="delay"):
        DelayedRecall(10, delay=-1)


@pytest.mark.parametrize("n_in,n_out,budget", [(6, 4, 9340), (16, 19, 5000), (9, 8, 300)])
def test_lstm_matched_parameter_count(n_in, n_out, budget):
    h = lstm_hidden_for_budget(n_in, n_out, budget)
    model = LSTMClassifier(n_in, n_out, h)
    assert count_parameters(model) == lstm_parameter_count(n_in, n_out, h)
    for other in (h - 1, h + 1):
        if other >= 1:
            assert abs(lstm_parameter_count(n_in, n_out, h) - budget) <= abs(
                lstm_parameter_count(n_in, n_out, other) - budget)


def test_spiking_rnn_classifier_variants_run():
    x = torch.rand(20, 3, 9)
    for neuron in ("lif", "adaptive_lif", "astrocyte_lif"):
        m = SpikingRNNClassifier(9, 8, 16, neuron=neuron)
        out, _ = m(x)
        assert out.shape == (20, 3, 8) and m.reduce(out).shape == (3, 8)
    with pytest.raises(ValueError, match="neuron"):
        SpikingRNNClassifier(9, 8, 16, neuron="izh")
    with pytest.raises(ValueError, match="'alif' is now called 'adaptive_lif'"):
        SpikingRNNClassifier(9, 8, 16, neuron="alif")
