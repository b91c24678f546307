"""ANN-to-SNN conversion, QCFS and the pretraining bridge (axonal.train.conversion)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.neurons import IF, LIF
from axonal.train.conversion import QCFS, activation_scales, convert_to_snn, run_converted, transfer_ann_to_snn


def test_qcfs_known_values_and_straight_through_gradient():
    act = QCFS(levels=4, lam=2.0)
    x = torch.tensor([-1.0, 0.2, 0.3, 0.9, 1.1, 5.0], requires_grad=True)
    # lam/L = 0.5: floor(x*2 + 0.5) clipped to [0, 4], times 0.5
    torch.testing.assert_close(act(x), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0, 2.0]))
    act(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="levels"):
        QCFS(levels=0)


def test_qcfs_conversion_is_exact_for_one_layer_at_T_equal_L():
    """With membranes at half threshold, an IF layer fed a constant current for T = L steps
    fires exactly L h(x) / lam spikes (Bu et al. 2022): converted output == quantised ANN."""
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(5, 7), QCFS(levels=6, lam=1.5), nn.Linear(7, 3))
    x = torch.randn(20, 5)
    snn = convert_to_snn(ann)
    torch.testing.assert_close(run_converted(snn, x, 6), ann(x), rtol=1e-5, atol=1e-5)


def test_relu_conversion_error_falls_with_T_and_thresholds_come_from_data():
    torch.manual_seed(1)
    ann = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    x = torch.randn(200, 6)
    scales = activation_scales(ann, x, percentile=100.0)
    with torch.no_grad():
        h = torch.relu(ann[0](x))
    assert scales[0] == pytest.approx(float(h.max()), rel=1e-5)
    snn = convert_to_snn(ann, x, percentile=100.0)
    assert sum(isinstance(m, IF) for m in snn.net) == 2
    with torch.no_grad():
        want = ann(x)
        errs = [float((run_converted(snn, x, t) - want).abs().mean()) for t in (4, 32, 256)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.05 * float(want.abs().mean())
    with pytest.raises(ValueError, match="calibration"):
        convert_to_snn(ann)
    with pytest.raises(TypeError, match="cannot map"):
        convert_to_snn(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)), x)


def test_transfer_copies_weights_and_swaps_activations():
    ann = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    snn = transfer_ann_to_snn(ann)
    assert isinstance(snn[1], LIF) and snn[1].size == (8,)
    torch.testing.assert_close(snn[0].weight, ann[0].weight)
    assert snn[0].weight is not ann[0].weight
    out, _ = snn(torch.randn(5, 2, 4))
    assert out.shape == (5, 2, 3)
