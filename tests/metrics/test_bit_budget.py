"""Bit budget (Shen et al., CVPR 2024): b_w x b_s x T per operation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.metrics import synaptic_operations
from axonal.metrics.bit_budget import bit_budget
from axonal.network import Sequential
from axonal.neurons import LIF


def test_bit_budget_of_a_spiking_and_a_real_valued_layer():
    net = Sequential(nn.Linear(2, 3), LIF(3, threshold=0.01), nn.Linear(3, 2))
    with torch.no_grad():
        net.layers[0].weight.fill_(1.0)
        net.layers[0].bias.fill_(0.0)
    x = torch.tensor([[[0.5, 0.0]], [[0.5, 0.5]], [[0.0, 0.0]], [[1.0, 1.0]]])   # T=4, B=1, real-valued
    rep = synaptic_operations(net, x)
    bb = bit_budget(rep, weight_bits=8, activation_bits=4)
    first, second = bb.layers
    assert first.input_bits == 4 and second.input_bits == 1     # real input vs spikes
    assert first.per_op == 8 * 4 * 4 and second.per_op == 8 * 1 * 4
    assert first.dense_bit_ops == 4 * 2 * 3 * 8 * 4               # T x in x out x b_w x b_a
    assert first.event_bit_ops == rep.synapses[0].synops * 8 * 4
    assert bb.per_op == 8 * 1 * 4
    assert bb.dense_bit_ops == first.dense_bit_ops + second.dense_bit_ops
    assert bb.to_dict()["layers"][1]["input_bits"] == 1


def test_bit_budget_checks_its_arguments():
    rep = synaptic_operations(Sequential(nn.Linear(2, 2)), torch.ones(1, 1, 2))
    with pytest.raises(ValueError, match="weight_bits"):
        bit_budget(rep, weight_bits=0)
    with pytest.raises(TypeError, match="MonitorReport"):
        bit_budget({})
