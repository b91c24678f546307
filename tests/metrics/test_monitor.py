"""axonal.metrics: readouts, accuracy, SpikeMonitor activity, SynOps and energy (known values)."""
import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import axonal
from axonal.metrics import (
    ENERGY_TABLES,
    EnergyTable,
    SpikeMonitor,
    SynapticCount,
    accuracy,
    conv_synops,
    energy,
    linear_synops,
    readout,
    summarize,
    synaptic_operations,
)
from axonal.encoding import DirectEncoder, LatencyEncoder, RateEncoder
from axonal.network import Temporal


def all_hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Fixed(Temporal):
    """A temporal layer that emits a given tensor, whatever its input (for hand counts)."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, x, state=None):
        return self.out, None


# ----------------------------------------------------------------------------- readout, accuracy
def test_readouts_known_values():
    out = torch.tensor([[[1.0, 0.0]], [[0.0, 2.0]], [[3.0, 1.0]]])  # [T=3, B=1, K=2]
    assert torch.equal(readout(out, "sum"), torch.tensor([[4.0, 3.0]]))
    assert torch.allclose(readout(out, "mean"), torch.tensor([[4 / 3, 1.0]]))
    assert torch.equal(readout(out, "max"), torch.tensor([[3.0, 2.0]]))
    assert torch.equal(readout(out, "last"), torch.tensor([[3.0, 1.0]]))
    with pytest.raises(ValueError, match="choose one of"):
        readout(out, "median")


def test_accuracy_indices_onehot_and_errors():
    scores = torch.tensor([[0.1, 0.9], [2.0, 1.0], [0.0, 5.0], [3.0, 3.0]])
    y = torch.tensor([1, 0, 0, 0])
    assert accuracy(scores, y) == pytest.approx(0.75)
    assert accuracy(scores, nn.functional.one_hot(y, 2).float()) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="readout"):
        accuracy(scores.expand(5, 4, 2), y)  # a [T, B, K] sequence: says how to reduce it
    with pytest.raises(ValueError, match="targets"):
        accuracy(scores, torch.tensor([1, 0]))


# ----------------------------------------------------------------------------- Linear SynOps
def test_linear_five_ones_give_fifteen_synops():
    x = torch.zeros(3, 2, 4)
    for t, b, i in [(0, 0, 1), (0, 1, 3), (1, 0, 0), (2, 1, 2), (2, 1, 3)]:
        x[t, b, i] = 1.0
    net = axonal.Sequential(nn.Linear(4, 3), axonal.LIF(3))
    with SpikeMonitor(net) as mon:
        net(x)
    rep = mon.report(samples=1)  # totals over the whole batch
    (lin,) = rep.synapses
    assert lin.synops == 15 and lin.acs == 15 and lin.macs == 0
    assert lin.dense_macs == 3 * 2 * 4 * 3
    # per sample: the monitor infers B=2 from the time-major input
    assert mon.report().synapses[0].synops == 7.5
    assert linear_synops(nn.Linear(4, 3), x).ops == 15


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 7), st.integers(1, 6),
       st.floats(0.0, 1.0), st.booleans(), st.integers(0, 2**31 - 1))
def test_linear_synops_is_nonzeros_times_out_features(t, b, fin, fout, density, binary, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(t, b, fin, generator=g) < density
    values = torch.ones(t, b, fin) if binary else torch.randn(t, b, fin, generator=g) + 3.0
    x = mask * values
    layer = nn.Linear(fin, fout)
    with SpikeMonitor(layer) as mon:
        layer(x)
    s = mon.report(samples=1).synapses[0]
    nnz = int(mask.sum())
    assert s.synops == nnz * fout
    assert (s.acs, s.macs) == ((nnz * fout, 0) if binary or nnz == 0 else (0, nnz * fout))
    assert s.dense_macs == t * b * fin * fout


def test_ac_versus_mac_from_the_actual_tensor():
    torch.manual_seed(0)
    net = axonal.Sequential(nn.Linear(5, 16), axonal.LIF(16, threshold=0.2), nn.Linear(16, 3), axonal.LIF(3))
    x = torch.randn(6, 4, 5)  # real-valued current into the first layer
    with SpikeMonitor(net) as mon:
        out, _ = net(x)
    first, second = mon.report(samples=1).synapses
    assert first.macs == torch.count_nonzero(x).item() * 16 and first.acs == 0
    assert second.macs == 0 and second.acs > 0  # fed by the LIF's binary spikes
    # the same layer fed binary input counts accumulates
    with SpikeMonitor(net) as mon:
        net((x > 0).float())
    assert mon.report(samples=1).synapses[0].acs == (x > 0).sum().item() * 16


# ----------------------------------------------------------------------------- Conv SynOps
def brute_force_conv_synops(x, conv):
    """Loop over every output position, output channel and kernel tap; count nonzero inputs."""
    x = x.numpy()
    n, c = x.shape[:2]
    d = len(conv.kernel_size)
    pad = [p for p in conv.padding]
    mode = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge"}[conv.padding_mode]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad], mode=mode)
    out_shape = [(xp.shape[2 + i] - conv.dilation[i] * (conv.kernel_size[i] - 1) - 1) // conv.stride[i] + 1
                 for i in range(d)]
    g = conv.groups
    cin_g, cout_g = c // g, conv.out_channels // g
    total = 0
    for bi in range(n):
        for oc in range(conv.out_channels):
            grp = oc // cout_g
            for pos in itertools.product(*[range(o) for o in out_shape]):
                for tap in itertools.product(*[range(k) for k in conv.kernel_size]):
                    idx = tuple(pos[i] * conv.stride[i] + tap[i] * conv.dilation[i] for i in range(d))
                    for ic in range(grp * cin_g, (grp + 1) * cin_g):
                        total += xp[(bi, ic) + idx] != 0
    return total


@pytest.mark.parametrize("make", [
    lambda: nn.Conv2d(2, 3, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    lambda: nn.Conv2d(2, 4, kernel_size=3, stride=2, padding=1, dilation=2, groups=2),
    lambda: nn.Conv2d(1, 2, kernel_size=3, stride=2, padding=1, padding_mode="circular"),
    lambda: nn.Conv1d(3, 2, kernel_size=4, stride=3, padding=2),
], ids=["stride-pad", "groups-dilation", "circular", "conv1d"])
def test_conv_synops_against_brute_force(make):
    torch.manual_seed(1)
    conv = make()
    shape = (2, conv.in_channels) + (7,) * len(conv.kernel_size)
    x = (torch.rand(shape) < 0.3).float()
    count = conv_synops(conv, x)
    assert float(count.ops) == brute_force_conv_synops(x, conv)
    assert bool(count.binary)
    y = conv(x)
    k = int(np.prod(conv.kernel_size))
    assert float(count.dense_macs) == y.numel() * (conv.in_channels // conv.groups) * k


def test_conv_in_time_folded_sequential_matches_direct_count():
    torch.manual_seed(2)
    net = axonal.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), axonal.LIF((4, 4, 4)))
    x = (torch.rand(5, 3, 1, 8, 8) < 0.2).float()
    with SpikeMonitor(net) as mon:
        net(x)
    rep = mon.report()
    assert rep.samples == 3 and rep.steps == 5
    expected = brute_force_conv_synops(x.reshape(15, 1, 8, 8), net[0]) / 3
    assert rep.synapses[0].synops == pytest.approx(expected)
    assert rep.layers[0].neurons == 64


# ----------------------------------------------------------------------------- Recurrent SynOps
@pytest.mark.parametrize("zero_diagonal", [False, True])
def test_recurrent_synops_is_previous_spikes_times_fan_out(zero_diagonal):
    torch.manual_seed(3)
    rec = axonal.Recurrent(axonal.LIF(6, threshold=0.5), zero_diagonal=zero_diagonal)
    x = torch.rand(8, 2, 6)
    fan_out = 5 if zero_diagonal else 6
    with SpikeMonitor(rec) as mon:
        s, state = rec(x)
        s2, _ = rec(x, state)  # streaming: the first step sees the previous call's last spikes
    rep = mon.report(samples=1)
    expected = (s[:-1].sum() + s2[:-1].sum() + state.spikes.sum()).item() * fan_out
    assert s.sum() > 0
    (syn,) = rep.synapses
    assert syn.synops == expected and syn.acs == expected
    assert syn.dense_macs == 2 * 8 * 2 * 6 * fan_out
    # the state passed in continues the same samples: 2 samples over 16 steps
    assert mon.report().samples == 2 and mon.report().steps == 16


# ----------------------------------------------------------------------------- activity
def test_firing_rates_against_hand_count():
    out1 = torch.zeros(4, 2, 5)
    out1[0, 0, 0] = out1[1, 1, 4] = out1[3, 0, 2] = 1.0  # 3 spikes
    out2 = torch.zeros(2, 3, 3, 2)
    out2[1, 2, 0, 1] = 1.0  # 1 spike, 6 neurons
    net = axonal.Sequential(Fixed(out1), Fixed(out2))
    x = torch.zeros(4, 2, 1)
    with SpikeMonitor(net) as mon:
        net(x)
        net(x)
    rep = mon.report()
    a, b = rep.layers
    assert rep.samples == 4 and rep.steps == 4
    assert a.neurons == 5 and a.firing_rate == pytest.approx(3 / (5 * 4 * 2))
    assert a.spikes == pytest.approx(6 / 4) and a.calls == 2
    assert b.neurons == 6 and b.firing_rate == pytest.approx(1 / (6 * 2 * 3))
    assert rep.total_neurons == 11 and rep.total_spikes == pytest.approx(8 / 4)
    assert rep.firing_rate == pytest.approx((6 + 2) / (2 * 40 + 2 * 36))


def test_non_binary_output_is_flagged_and_left_out_of_totals():
    net = axonal.Sequential(Fixed(torch.full((2, 1, 3), 1.0)), Fixed(torch.full((2, 1, 3), 0.5)))
    with SpikeMonitor(net) as mon:
        net(torch.zeros(2, 1, 3))
    rep = mon.report()
    assert [l.binary for l in rep.layers] == [True, False]
    assert rep.layers[1].spikes == pytest.approx(3.0)
    assert rep.total_spikes == 6.0 and rep.total_neurons == 3


def test_hooks_removed_on_exit_and_on_exception():
    net = axonal.Sequential(nn.Linear(3, 4), axonal.LIF(4), axonal.RecurrentLIF(4), nn.Linear(4, 2))
    before = all_hooks(net)
    with SpikeMonitor(net) as mon:
        assert all_hooks(net) > before and mon.attached
        net(torch.rand(2, 1, 3))
    assert all_hooks(net) == before and not mon.attached
    with pytest.raises(RuntimeError, match="boom"):
        with SpikeMonitor(net):
            raise RuntimeError("boom")
    assert all_hooks(net) == before
    # an exception raised inside a layer's forward: hooks gone, later counts unaffected
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        with SpikeMonitor(net):
            net(torch.rand(2, 1, 5))
    assert all_hooks(net) == before


def test_exception_inside_forward_does_not_mark_later_calls_nested():
    net = axonal.Sequential(nn.Linear(3, 4), axonal.LIF(4))
    with SpikeMonitor(net) as mon:
        with pytest.raises(ValueError):
            net[1](torch.rand(2, 1, 7))  # LIF rejects the shape after its pre-hook ran
        net(torch.rand(2, 1, 3))
    assert not any(l.nested for l in mon.report().layers)


def test_plain_nn_sequential_in_a_user_loop_matches_axonal_sequential():
    torch.manual_seed(4)
    layers = [nn.Linear(6, 8), axonal.LIF(8, threshold=0.3), nn.Linear(8, 3), axonal.LIF(3, threshold=0.3)]
    plain = nn.Sequential(*layers)
    ours = axonal.Sequential(*layers)
    x = (torch.rand(7, 4, 6) < 0.4).float()
    with SpikeMonitor(plain) as mon_plain:
        h = x
        for layer in plain:  # the user's own loop; nn.Linear takes [T, B, F] directly
            h = layer(h)
            h = h[0] if isinstance(h, tuple) else h
    with SpikeMonitor(ours) as mon_ours:
        y, _ = ours(x)
    assert torch.equal(h, y)
    a, b = mon_plain.report().to_dict(), mon_ours.report().to_dict()
    assert a["samples"] == b["samples"] == 4 and a["steps"] == b["steps"] == 7
    assert a["totals"] == b["totals"]
    assert a["totals"]["synops"] > 0 and a["totals"]["spikes"] > 0


def test_samples_inferred_from_first_temporal_layer_when_model_is_not_time_major():
    class Static(nn.Module):  # takes [B, F] and repeats it over 10 steps inside
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 5)
            self.lif = axonal.LIF(5)

        def forward(self, img):
            return self.lif(self.fc(img).unsqueeze(0).expand(10, -1, -1))[0]

    model = Static()
    with SpikeMonitor(model) as mon:
        model(torch.rand(6, 3))
    rep = mon.report()
    assert rep.samples == 6 and rep.steps == 10
    assert rep.synapses[0].macs == pytest.approx(5 * 3)  # one dense real-valued pass per sample


def test_keep_stores_spikes_only_when_asked():
    torch.manual_seed(5)
    net = axonal.Sequential(nn.Linear(3, 4), axonal.LIF(4, threshold=0.1))
    x = torch.rand(5, 2, 3)
    with SpikeMonitor(net) as mon:
        net(x)
    assert not mon.recorded
    with pytest.raises(RuntimeError, match="keep=True"):
        mon.spikes("layers.1")
    with SpikeMonitor(net, keep=True) as mon:
        y, _ = net(x)
    (stored,) = mon.spikes("layers.1")
    assert torch.equal(stored, y) and not stored.requires_grad


def test_nested_temporal_layers_are_reported_but_not_double_counted():
    class Wrapper(Temporal):
        def __init__(self):
            super().__init__()
            self.inner = axonal.LIF(4, threshold=0.1)

        def forward(self, x, state=None):
            return self.inner(x, state)

    net = axonal.Sequential(Wrapper())
    with SpikeMonitor(net) as mon:
        net(torch.rand(3, 2, 4))
    rep = mon.report()
    names = {l.name: l for l in rep.layers}
    assert names["layers.0.inner"].nested and not names["layers.0"].nested
    assert rep.total_neurons == 4 and rep.total_spikes == names["layers.0"].spikes


def test_record_named_module_and_unknown_name():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with SpikeMonitor(net, record=["1"]) as mon:
        net(torch.tensor([[[1.0, -1.0]]]))
    assert [l.name for l in mon.report(samples=1).layers] == ["1"]
    with pytest.raises(KeyError, match="not a submodule"):
        SpikeMonitor(net, record=["nope"]).attach()
    assert all_hooks(net) == 0


def test_custom_layer_hooks_and_uncounted_layers():
    class FanOut(nn.Module):
        fan_out = 7

        def forward(self, x):
            return x

    class Custom(nn.Module):
        def synaptic_operations(self, inputs, output):
            return 11.0, 20.0

        def forward(self, x):
            return x

    class OwnWeight(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2, 2))

        def forward(self, x):
            return nn.functional.linear(x, self.w)

    net = nn.Sequential(FanOut(), Custom(), OwnWeight())
    x = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])  # [T=2, B=1, 2], 3 ones
    with SpikeMonitor(net) as mon:
        net(x)
    rep = mon.report()
    syn = {s.name: s for s in rep.synapses}
    assert syn["0"].acs == 21 and syn["0"].dense_macs == 28
    assert syn["1"].acs == 11 and syn["1"].dense_macs == 20
    assert rep.uncounted == ["2"]
    assert "not counted" in rep.table()


def test_synaptic_operations_helper_and_report_json():
    torch.manual_seed(6)
    net = axonal.Sequential(nn.Linear(4, 8), axonal.LIF(8, threshold=0.3), nn.Linear(8, 2))
    x = (torch.rand(5, 3, 4) < 0.5).float()
    rep = synaptic_operations(net, x)
    with SpikeMonitor(net) as mon:
        net(x)
    assert rep.to_dict() == mon.report().to_dict()
    d = json.loads(json.dumps(summarize(rep, accuracy=0.5).to_dict()))
    assert d["accuracy"] == 0.5 and d["totals"]["synops"] == rep.synops
    assert d["energy"]["snn"] == pytest.approx(0.9e-12 * rep.acs + 4.6e-12 * rep.macs)
    text = summarize(rep).table()
    assert "layers.0" in text and "energy per sample" in text


# ----------------------------------------------------------------------------- energy
def test_energy_known_values_and_tables():
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    x = torch.tensor([[[1.0, 0.0, 0.0, 1.0]], [[0.0, 0.0, 0.0, 1.0]]])  # 3 ones, T=2, B=1
    with SpikeMonitor(net) as mon:
        net(x)
    rep = mon.report()
    assert rep.acs == 9  # 3 ones x 3 outputs; the second layer sees real values
    assert rep.macs == torch.count_nonzero(net[0](x)).item() * 2
    e = energy(rep)
    assert e.snn == pytest.approx(0.9e-12 * rep.acs + 4.6e-12 * rep.macs)
    assert e.ann == pytest.approx(4.6e-12 * (2 * 12 + 2 * 6))
    assert e.ann_single_step == pytest.approx(e.ann / 2)
    e8 = energy(rep, "int8_45nm")
    assert e8.snn == pytest.approx(0.03e-12 * rep.acs + 0.23e-12 * rep.macs)
    custom = energy(rep, EnergyTable(ac=1.0, mac=10.0, name="unit"))
    assert custom.snn == rep.acs + 10 * rep.macs and custom.table == "unit"
    assert set(ENERGY_TABLES) >= {"fp32_45nm", "int8_45nm"}
    with pytest.raises(ValueError, match="choose one of"):
        energy(rep, "tpu")
    with pytest.raises(ValueError):
        EnergyTable(ac=-1.0)


def test_protocol_may_return_full_count():
    class Exact(nn.Module):
        def synaptic_operations(self, inputs, output):
            return SynapticCount(ops=torch.tensor(4.0, dtype=torch.float64), dense_macs=8.0, binary=False)

        def forward(self, x):
            return x

    m = Exact()
    with SpikeMonitor(m) as mon:
        m(torch.ones(1, 1, 2))
    s = mon.report().synapses[0]
    assert (s.acs, s.macs, s.dense_macs) == (0.0, 4.0, 8.0)


@pytest.mark.parametrize("encoder", [
    lambda: RateEncoder(num_steps=25, seed=0),
    lambda: LatencyEncoder(num_steps=25),
    lambda: DirectEncoder(num_steps=25)], ids=["rate", "latency", "direct"])
def test_an_encoder_that_creates_the_time_axis_gives_samples_and_steps(encoder):
    # static [B=450, 64] input: the first Temporal layer (the encoder) makes [25, 450, 64];
    # samples and steps come from that time-major tensor, not from the static input
    model = axonal.Sequential(encoder(), nn.Linear(64, 8), axonal.LIF(8))
    x = torch.rand(450, 64)
    with SpikeMonitor(model) as mon:
        model(x)
    rep = mon.report()
    assert (rep.samples, rep.steps) == (450, 25)
    assert rep.synapses[0].dense_macs == 25 * 64 * 8       # per sample: T x in x out


def test_recurrent_input_weights_are_counted_as_their_own_linear_layer():
    """RecurrentLIF(hidden, in_features=...) owns an input projection: its SynOps are the input's
    nonzeros x hidden (ACs for spikes), beside the recurrent part, and batch_first changes nothing."""
    torch.manual_seed(4)
    x = (torch.rand(7, 3, 5) < 0.4).float()
    for batch_first in (False, True):
        rec = axonal.RecurrentLIF(6, in_features=5, threshold=0.3, batch_first=batch_first)
        with SpikeMonitor(rec) as mon:
            s, _ = rec(x.transpose(0, 1) if batch_first else x)
        s = s.transpose(0, 1) if batch_first else s
        rep = mon.report(samples=1)
        by_kind = {type(syn).__name__: syn for syn in rep.synapses}
        assert len(rep.synapses) == 2, rep.synapses
        counts = sorted(syn.synops for syn in rep.synapses)
        expected = sorted([x.sum().item() * 6, s[:-1].sum().item() * 6])
        assert counts == pytest.approx(expected), by_kind
