"""``axonal.metrics.energy_model``: compute + memory access, checked against hand-worked examples."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.metrics.energy_model import energy_breakdown
from axonal.network import Sequential
from axonal.neurons import LIF

PJ = 1e-12


def _toy():
    """Linear(2 -> 3) on binary spikes, then a LIF population (one state variable)."""
    torch.manual_seed(0)
    net = Sequential(nn.Linear(2, 3), LIF(3, threshold=100.0))
    x = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])   # T=2, B=1: 3 input spikes
    return net, x


# By hand: 3 input spikes x fan-out 3 = 9 ACs; 9 weight reads x 32 bits = 288 bits; the Linear
# reads 4 binary inputs (4 bits) and writes 2 x 3 fp32 currents (192 bits); the LIF reads and
# writes 1 x 3 membranes per step for 2 steps (2 x 6 x 32 = 384 bits) and does 6 updates of one
# MAC (decay and add) plus one compare each. Bits moved: 288 + 196 + 384 = 868.
@pytest.mark.parametrize("table, add, mac, sram64", [
    ("horowitz_45nm", 0.9, 4.6, 20.0),     # Horowitz ISSCC 2014, fp32, 32 KB SRAM 64-bit read
    ("jouppi_7nm", 0.38, 1.69, 8.5),       # Jouppi et al. ISCA 2021, fp32, 32 KB SRAM
])
def test_worked_example_by_hand(table, add, mac, sram64):
    net, x = _toy()
    b = energy_breakdown(net, x, table=table)
    compute = 9 * add + 6 * (mac + add)
    memory = 868 * sram64 / 64
    assert b.compute_j == pytest.approx(compute * PJ)
    assert b.memory_j == pytest.approx(memory * PJ)
    assert b.total_j == pytest.approx((compute + memory) * PJ)
    assert b.memory_share == pytest.approx(memory / (compute + memory))
    lin, lif = b.layers
    assert (lin.acs, lin.macs, lin.dense_macs, lin.weights) == (9, 0, 12, 6)
    assert lin.weight_bits_read == 288 and lin.activation_bits_moved == 196
    assert lif.state_bits_moved == 384 and lif.neuron_updates == 6
    assert b.to_dict()["estimated"] is True


def test_per_step_weight_reuse_reads_every_weight_once_per_step():
    net, x = _toy()
    b = energy_breakdown(net, x, weight_reuse="per_step")
    assert b.layers[0].weight_bits_read == 6 * 2 * 32          # 6 weights x 2 steps x 32 bits


def test_int8_precision_shrinks_bits_and_uses_int8_costs():
    net, x = _toy()
    b = energy_breakdown(net, x, precision="int8")
    lin, lif = b.layers
    assert lin.weight_bits_read == 9 * 8 and lif.state_bits_moved == 2 * 6 * 8
    assert lin.compute_j == pytest.approx(9 * 0.03 * PJ)


def test_ann_on_the_same_terms_real_inputs_are_macs():
    ann = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        ann[0].weight.fill_(1.0)
        ann[0].bias.fill_(0.0)
    x = torch.tensor([[0.5, 0.0]])                   # one sample, one nonzero input
    b = energy_breakdown(ann, x, static=True)
    l0, l1 = b.layers
    assert (l0.acs, l0.macs, l1.macs) == (0, 3, 3)   # relu(0.5 * 1) = 0.5 in all 3 hidden units
    assert l0.activation_bits_moved == 2 * 32 + 3 * 32
    assert b.state_memory_j == 0
    assert b.samples == 1


def test_lstm_is_counted_densely_with_its_state():
    lstm = nn.LSTM(3, 4)
    x = torch.ones(5, 2, 3)
    b = energy_breakdown(lstm, x)
    (layer,) = b.layers
    assert layer.macs == 5 * 4 * 4 * (3 + 4)          # per sample: T x gates x H x (I + H)
    assert layer.state_bits_moved == 2 * 5 * 2 * 4 * 32  # h and c, read + write, every step
    assert layer.weights == 4 * 4 * (3 + 4)


def test_bad_arguments_fail_clearly():
    net, x = _toy()
    with pytest.raises(ValueError, match="weight_reuse"):
        energy_breakdown(net, x, weight_reuse="always")
    with pytest.raises(ValueError, match="precision"):
        energy_breakdown(net, x, precision="double")
    with pytest.raises(ValueError, match="SRAM size"):
        energy_breakdown(net, x, sram="2MB")
    with pytest.raises(ValueError, match="static=True"):
        energy_breakdown(nn.Linear(3, 2), torch.rand(4, 3))      # [B, C] without static=True
