"""axonal.viz: PNG files are written and readable, the raster draws exactly the events, bad input errors."""
import csv
import json

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

import axonal
from axonal import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_side=100):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side
    assert img[..., :3].std() > 0  # something was drawn


def raster_offsets(fig):
    (coll,) = fig.axes[0].collections
    return np.asarray(coll.get_offsets())


def test_raster_draws_exactly_the_nonzero_events(tmp_path):
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(40, 3, 25, generator=g) < 0.1).float()
    fig = viz.raster(spikes, tmp_path / "r.png", sample=2, dt=0.5)
    t, n = torch.nonzero(spikes[:, 2], as_tuple=True)
    expected = sorted(zip((t * 0.5).tolist(), n.tolist()))
    got = sorted(map(tuple, raster_offsets(fig).tolist()))
    assert got == expected and len(got) > 0
    check_png(tmp_path / "r.png")


def test_raster_2d_numpy_and_empty():
    a = np.zeros((5, 4))
    a[1, 3] = a[4, 0] = 1
    assert sorted(map(tuple, raster_offsets(viz.raster(a)).tolist())) == [(1.0, 3.0), (4.0, 0.0)]
    assert len(raster_offsets(viz.raster(np.zeros((3, 2))))) == 0


def test_raster_thousands_of_neurons(tmp_path):
    spikes = torch.rand(300, 4000) < 0.01
    fig = viz.raster(spikes, tmp_path / "big.png")
    assert len(raster_offsets(fig)) == int(spikes.sum())
    check_png(tmp_path / "big.png")


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_raster_wrong_rank_errors(shape):
    with pytest.raises(ValueError, match=r"\[T, N\] or \[T, B, N\]"):
        viz.raster(torch.zeros(shape))


def test_raster_bad_sample_and_type():
    with pytest.raises(IndexError, match="sample"):
        viz.raster(torch.zeros(3, 2, 4), sample=5)
    with pytest.raises(TypeError):
        viz.raster("spikes")


def test_membrane_trace_from_module_trace(tmp_path):
    torch.manual_seed(0)
    lif = axonal.LIF(6)
    spikes, states = lif.trace(torch.rand(30, 2, 6))
    fig = viz.membrane_trace(states, spikes, threshold=1.0, neurons=[0, 3], sample=1,
                             path=tmp_path / "v.png")
    assert len(fig.axes) == 2
    line = fig.axes[1].lines[0]
    assert np.allclose(line.get_ydata(), states.v[:, 1, 3].numpy())
    marks = fig.axes[1].lines[-1]  # spike ticks of neuron 3 at the threshold level
    assert np.array_equal(marks.get_xdata(), torch.nonzero(spikes[:, 1, 3]).flatten().numpy())
    assert np.all(marks.get_ydata() == 1.0)
    check_png(tmp_path / "v.png")


def test_membrane_trace_errors():
    v = torch.zeros(10, 4)
    with pytest.raises(ValueError, match="time-major"):
        viz.membrane_trace(torch.zeros(10))
    with pytest.raises(ValueError, match="spikes have shape"):
        viz.membrane_trace(v, spikes=torch.zeros(10, 3))
    with pytest.raises(IndexError):
        viz.membrane_trace(v, neurons=[7])
    with pytest.raises(ValueError, match="threshold"):
        viz.membrane_trace(v, threshold=[1.0, 2.0])


def history():
    return [{"epoch": i, "train_loss": 1 / (i + 1), "val_loss": 1.5 / (i + 1),
             "train_accuracy": 0.1 * i, "val_accuracy": 0.08 * i, "lr": 0.1} for i in range(6)]


def test_training_curves_from_list_and_files(tmp_path):
    fig = viz.training_curves(history(), path=tmp_path / "c.png")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    labels = [l.get_label() for l in fig.axes[0].lines]
    assert labels == ["train_loss", "val_loss"]
    assert np.allclose(fig.axes[0].lines[1].get_ydata(), [1.5 / (i + 1) for i in range(6)])
    check_png(tmp_path / "c.png")

    with open(tmp_path / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history()[0]))
        w.writeheader()
        w.writerows(history())
    (tmp_path / "metrics.json").write_text(json.dumps({"history": history()}))
    for src in (tmp_path / "metrics.csv", tmp_path / "metrics.json", tmp_path):
        fig = viz.training_curves(src, metrics=("accuracy",))
        assert np.allclose(fig.axes[0].lines[0].get_xdata(), range(6))
        assert np.allclose(fig.axes[0].lines[0].get_ydata(), [0.1 * i for i in range(6)])


def test_training_curves_unknown_metric_lists_columns():
    with pytest.raises(ValueError, match="columns are"):
        viz.training_curves(history(), metrics=("f1",))
    with pytest.raises(ValueError, match="empty"):
        viz.training_curves([])


def test_save_rejects_other_formats(tmp_path):
    with pytest.raises(ValueError, match=".png"):
        viz.raster(np.zeros((2, 2)), tmp_path / "r.pdf")
