"""NIR against the real peers: a network built in snnTorch or Norse, exported by the peer and
imported into axonal, gives the peer's spikes on the same input; an axonal network exported
and imported by the peer gives axonal's spikes (with the settings docs/interop.md states)."""
from __future__ import annotations

import warnings

import pytest
import torch

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
nt = pytest.importorskip("norse.torch")

from axonal.export import from_nir, to_nir  # noqa: E402
from axonal.network import Sequential  # noqa: E402
from axonal.neurons import LIF, CurrentBasedLIF, Recurrent  # noqa: E402

T, B = 50, 4


def inputs(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, generator=g) < 0.4).float()


def snntorch_net(reset="zero"):
    torch.manual_seed(1)
    lin1, lin2 = torch.nn.Linear(5, 6), torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin1.weight.mul_(2)
        lin2.weight.mul_(2)
    kw = dict(init_hidden=True, reset_mechanism=reset, reset_delay=False)
    return torch.nn.Sequential(
        lin1, snn.Leaky(beta=torch.full((6,), 0.8), threshold=torch.ones(6), **kw),
        lin2, snn.Synaptic(alpha=torch.full((3,), 0.6), beta=torch.full((3,), 0.85),
                           threshold=torch.ones(3), output=True, **kw))


def run_snntorch(net, x):
    for m in net.modules():
        for name in ("mem", "syn"):
            if hasattr(m, name):
                setattr(m, name, torch.zeros(1))
    with torch.no_grad():
        outs = [net(x_t) for x_t in x]
    return torch.stack([o[0] if isinstance(o, tuple) else o for o in outs])


def test_snntorch_export_imports_with_the_same_spikes():
    from snntorch.export_nir import export_to_nir

    net = snntorch_net()
    x = inputs(5)
    ref = run_snntorch(net, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, torch.randn(5))
    with torch.no_grad():
        ours = from_nir(graph, source="snntorch")(x)[0]
    assert ref.sum() > 20
    assert torch.equal(ours, ref)


def test_snntorch_recurrent_leaky_imports_with_the_same_spikes():
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(2)
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.mul_(2)
    rl = snn.RLeaky(beta=torch.full((3,), 0.7), linear_features=3, init_hidden=True, output=True,
                    reset_mechanism="zero", reset_delay=False)
    net = torch.nn.Sequential(lin, rl)
    x = inputs(4, seed=3)
    rl.mem, rl.spk = torch.zeros(1), torch.zeros(1)
    with torch.no_grad():
        ref = torch.stack([net(x_t)[0] for x_t in x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, torch.randn(4))
    model = from_nir(graph, source="snntorch")
    assert isinstance(model[-1], Recurrent)
    with torch.no_grad():
        ours = model(x)[0]
    assert ref.sum() > 10
    assert torch.equal(ours, ref)


def test_norse_export_imports_with_the_same_spikes():
    from norse.torch.utils.export_nir import to_nir as norse_to_nir

    torch.manual_seed(0)
    lin1, lin2 = torch.nn.Linear(5, 6), torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin1.weight.mul_(40)
        lin2.weight.mul_(40)
    box = nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.full((6,), 100.0), v_th=torch.ones(6),
                                            v_leak=torch.zeros(6)))
    cuba = nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.full((3,), 100.0),
                                       tau_syn_inv=torch.full((3,), 200.0), v_th=torch.full((3,), 0.3),
                                       v_leak=torch.zeros(3), v_reset=torch.zeros(3)))
    net = nt.SequentialState(lin1, box, lin2, cuba)
    x = inputs(5, seed=1)
    with torch.no_grad():
        state, outs = None, []
        for x_t in x:
            o, state = net(x_t, state)
            outs.append(o)
    ref = torch.stack(outs)
    graph = norse_to_nir(net, torch.randn(1, 5))
    # Norse's convention, measured: tau written as dt/tau_mem_inv = 1e-3 * 10 ms
    lif_node = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    assert float(lif_node.tau[0]) == pytest.approx(1e-5)
    with torch.no_grad():
        ours = from_nir(graph, source="norse", dt=1e-3)(x)[0]
    assert ref.sum() > 20
    assert torch.equal(ours, ref)


def axonal_net():
    torch.manual_seed(0)
    net = Sequential(torch.nn.Linear(5, 6), LIF(6, tau_mem=8.0, reset="zero"), torch.nn.Linear(6, 3),
                     CurrentBasedLIF(3, tau_mem=6.0, tau_syn=3.0, threshold=0.5, reset="zero"))
    with torch.no_grad():
        net[0].weight.mul_(2)
        net[2].weight.mul_(2)
    return net


def test_axonal_export_runs_in_snntorch_with_the_same_spikes():
    from snntorch.import_nir import import_from_nir

    net, x = axonal_net(), inputs(5, seed=4)
    with torch.no_grad():
        ref = net(x)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = import_from_nir(to_nir(net, dt=1e-4, discretisation="euler"))
    with torch.no_grad():
        outs = [peer(x_t) for x_t in x]
    theirs = torch.stack([o[0] if isinstance(o, tuple) else o for o in outs])
    assert ref.sum() > 20
    assert torch.equal(theirs, ref)


def test_axonal_export_runs_in_norse_with_the_same_spikes():
    from norse.torch.utils.import_nir import from_nir as norse_from_nir

    net, x = axonal_net(), inputs(5, seed=5)
    with torch.no_grad():
        ref = net(x)[0]
    peer = norse_from_nir(to_nir(net, dt=1e-3, discretisation="euler", fold_gains=True), dt=1e-3)
    with torch.no_grad():
        state, outs = None, []
        for x_t in x:
            o, state = peer(x_t, state)
            outs.append(o)
    assert ref.sum() > 20
    assert torch.equal(torch.stack(outs), ref)
