"""NeuroBench 2.3 run on axonal models through the adapter: its numbers equal axonal's own
(footprint, connection sparsity, activation sparsity, membrane updates, SynOps under the
"neurobench" convention), and the two SynOps conventions differ exactly where documented."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

neurobench = pytest.importorskip("neurobench")
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations  # noqa: E402
from neurobench.models import TorchModel  # noqa: E402

from axonal.metrics.neurobench import (  # noqa: E402
    NeuroBenchAdapter,
    activation_sparsity,
    connection_sparsity,
    footprint,
    membrane_updates,
    synaptic_operations,
)
from axonal.network import Sequential  # noqa: E402
from axonal.neurons import LIF, CurrentBasedLIF  # noqa: E402

T, B = 12, 6


def model_and_data(ternary: bool):
    torch.manual_seed(0)
    net = Sequential(torch.nn.Linear(5, 8), LIF(8, tau_mem=4.0, threshold=0.4), torch.nn.Linear(8, 4),
                     CurrentBasedLIF(4, threshold=0.3))
    with torch.no_grad():
        net[0].weight[:, 0] = 0          # an input with no synapse at all
        net[0].weight[2, 1:3] = 0
        net[2].weight[::2, 5] = 0
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(T, B, 5, generator=g) < 0.5).float()
    if ternary:
        x = x * torch.where(torch.rand(T, B, 5, generator=g) < 0.5, -1.0, 1.0)
    return net, x


def run_neurobench(model, x):
    loader = DataLoader(TensorDataset(x.transpose(0, 1), torch.zeros(B, dtype=torch.long)), batch_size=4)
    bench = Benchmark(model, loader, [], [], [[Footprint, ConnectionSparsity],
                                              [ActivationSparsity, MembraneUpdates, SynapticOperations]])
    return bench.run(quiet=True)


@pytest.mark.parametrize("ternary", [False, True])
def test_neurobench_on_an_axonal_model_equals_axonal_metrics(ternary):
    net, x = model_and_data(ternary)
    theirs = run_neurobench(NeuroBenchAdapter(net), x)
    assert theirs["Footprint"] == footprint(net)
    assert theirs["ConnectionSparsity"] == connection_sparsity(net) > 0
    assert theirs["ActivationSparsity"] == pytest.approx(activation_sparsity(net, x), abs=1e-12)
    assert 0 < theirs["ActivationSparsity"] < 1
    assert theirs["MembraneUpdates"] == pytest.approx(membrane_updates(net, x))
    ours = synaptic_operations(net, x, convention="neurobench")
    for key in ("Effective_ACs", "Effective_MACs", "Dense"):
        assert theirs["SynapticOperations"][key] == pytest.approx(ours[key]), key
    axonal_rule = synaptic_operations(net, x, convention="axonal")
    # axonal counts every fan-out (zero weights too): more than NeuroBench's effective count;
    # ternary input spikes are ACs for NeuroBench and MACs for axonal
    assert axonal_rule["Dense"] == ours["Dense"]
    assert axonal_rule["Effective_ACs"] + axonal_rule["Effective_MACs"] > ours["Effective_ACs"] + ours["Effective_MACs"]
    if ternary:
        assert axonal_rule["Effective_MACs"] > 0 and ours["Effective_MACs"] == 0


def test_plain_neurobench_misses_axonal_neurons_the_adapter_finds_them():
    net, x = model_and_data(False)
    plain = run_neurobench(TorchModel(net), x)
    assert plain["ActivationSparsity"] == 0.0          # NeuroBench's silent value: no layer found
    adapted = run_neurobench(NeuroBenchAdapter(net), x)
    assert adapted["ActivationSparsity"] > 0.0
    assert adapted["ActivationSparsity"] == pytest.approx(activation_sparsity(net, x), abs=1e-12)


def test_conv_synops_convention_matches_neurobench():
    torch.manual_seed(3)
    net = Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), LIF(threshold=0.3), torch.nn.Flatten(),
                     torch.nn.Linear(3 * 5 * 5, 4), LIF(4))
    with torch.no_grad():
        net[0].weight[0, 0] = 0
    x = (torch.rand(T, B, 2, 5, 5) < 0.3).float()
    loader = DataLoader(TensorDataset(x.transpose(0, 1), torch.zeros(B, dtype=torch.long)), batch_size=B)
    theirs = Benchmark(NeuroBenchAdapter(net), loader, [], [], [[], [SynapticOperations]]).run(quiet=True)
    ours = synaptic_operations(net, x, convention="neurobench")
    for key in ("Effective_ACs", "Effective_MACs", "Dense"):
        assert theirs["SynapticOperations"][key] == pytest.approx(ours[key]), key
