"""Spike agreement of NIR exchanges between axonal, snnTorch and Norse on one shared network.

The network: Linear(5, 6) -> LIF(6) -> Linear(6, 3) -> CuBa-LIF(3), random weights (scaled so
that both layers fire), Bernoulli(0.4) input spikes, T = 60, B = 8 (seed 0). Each row builds the
network in the source library, exports it to NIR with the stated setting, imports it into the
target, runs both on the same input and reports the share of equal output spikes (and the spike
counts). The table in docs/interop.md is this script's output:

    python -m experiments.nir_peer_agreement
"""
from __future__ import annotations

import json
import warnings

import torch

T, B = 60, 8


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, 5, generator=g) < 0.4).float()


def _snntorch_net(reset, delay):
    import snntorch as snn

    torch.manual_seed(1)
    lin1, lin2 = torch.nn.Linear(5, 6), torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin1.weight.mul_(2)
        lin2.weight.mul_(2)
    kw = dict(init_hidden=True, reset_mechanism=reset, reset_delay=delay)
    return torch.nn.Sequential(
        lin1, snn.Leaky(beta=torch.full((6,), 0.8), threshold=torch.ones(6), **kw),
        lin2, snn.Synaptic(alpha=torch.full((3,), 0.6), beta=torch.full((3,), 0.85),
                           threshold=torch.ones(3), output=True, **kw))


def _run_stepwise(net, x, stateful):
    if stateful:  # snnTorch: hidden state inside the modules
        for m in net.modules():
            for name in ("mem", "syn"):
                if hasattr(m, name):
                    setattr(m, name, torch.zeros(1))
        with torch.no_grad():
            outs = [net(x_t) for x_t in x]
        return torch.stack([o[0] if isinstance(o, tuple) else o for o in outs])
    state, outs = None, []
    with torch.no_grad():
        for x_t in x:
            o, state = net(x_t, state)
            outs.append(o)
    return torch.stack(outs)


def _norse_net():
    import norse.torch as nt

    torch.manual_seed(0)
    lin1, lin2 = torch.nn.Linear(5, 6), torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin1.weight.mul_(40)
        lin2.weight.mul_(40)
    return nt.SequentialState(
        lin1, nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.full((6,), 100.0), v_th=torch.ones(6),
                                                v_leak=torch.zeros(6))),
        lin2, nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.full((3,), 100.0), tau_syn_inv=torch.full((3,), 200.0),
                                          v_th=torch.full((3,), 0.3), v_leak=torch.zeros(3), v_reset=torch.zeros(3))))


def _axonal_net(reset):
    from axonal.network import Sequential
    from axonal.neurons import LIF, CurrentBasedLIF

    torch.manual_seed(0)
    net = Sequential(torch.nn.Linear(5, 6), LIF(6, tau_mem=8.0, reset=reset), torch.nn.Linear(6, 3),
                     CurrentBasedLIF(3, tau_mem=6.0, tau_syn=3.0, threshold=0.5, reset=reset))
    with torch.no_grad():
        net[0].weight.mul_(2)
        net[2].weight.mul_(2)
    return net


def _row(name, setting, ref, got):
    return {"exchange": name, "setting": setting, "agreement": float((ref == got).float().mean()),
            "source_spikes": int(ref.sum()), "target_spikes": int(got.sum())}


def measure() -> list[dict]:
    from norse.torch.utils.export_nir import to_nir as norse_to_nir
    from norse.torch.utils.import_nir import from_nir as norse_from_nir
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    from axonal.export import from_nir, to_nir

    x = _inputs()
    rows = []
    for reset in ("zero", "subtract"):
        for delay in (False, True):
            net = _snntorch_net(reset, delay)
            ref = _run_stepwise(net, x, True)
            graph = export_to_nir(net, torch.randn(5))
            with torch.no_grad():
                got = from_nir(graph, source="snntorch", reset=reset)(x)[0]
            rows.append(_row("snnTorch -> axonal", f"reset_mechanism={reset!r}, reset_delay={delay}; "
                             f"from_nir(source='snntorch', reset={reset!r})", ref, got))
    net = _snntorch_net("zero", False)
    ref = _run_stepwise(net, x, True)
    graph = export_to_nir(net, torch.randn(5))
    rows.append(_row("snnTorch -> Norse", "Norse's from_nir(dt=1e-4) on snnTorch's graph (no fix)", ref,
                     _run_stepwise(norse_from_nir(graph, dt=1e-4), x, False)))
    net = _norse_net()
    ref = _run_stepwise(net, x, False)
    graph = norse_to_nir(net, torch.randn(1, 5))
    with torch.no_grad():
        rows.append(_row("Norse -> axonal", "from_nir(source='norse', dt=1e-3)", ref,
                         from_nir(graph, source="norse", dt=1e-3)(x)[0]))
    try:
        from_nir(graph, source="nir", dt=1e-3)
        rows.append({"exchange": "Norse -> axonal", "setting": "source='nir'", "agreement": None})
    except ValueError as e:   # Norse wrote tau = dt * tau_mem: read as specified, Euler is unstable
        rows.append({"exchange": "Norse -> axonal", "setting": "from_nir(source='nir', dt=1e-3)",
                     "agreement": None, "error": str(e)[:120]})
    for reset in ("zero", "subtract"):
        net = _axonal_net(reset)
        with torch.no_grad():
            ref = net(x)[0]
        peer = import_from_nir(to_nir(net, dt=1e-4, discretisation="euler"))
        rows.append(_row("axonal -> snnTorch", f"reset={reset!r}; to_nir(dt=1e-4, discretisation='euler')",
                         ref, _run_stepwise(peer, x, True)))
        for fold in (True, False):
            peer = norse_from_nir(to_nir(net, dt=1e-3, discretisation="euler", fold_gains=fold), dt=1e-3)
            rows.append(_row("axonal -> Norse", f"reset={reset!r}; to_nir(dt=1e-3, discretisation='euler', "
                             f"fold_gains={fold})", ref, _run_stepwise(peer, x, False)))
        for disc in ("exp", "euler"):
            with torch.no_grad():
                back = from_nir(to_nir(net, dt=1e-3, discretisation=disc))(x)[0]
            rows.append(_row("axonal -> axonal", f"reset={reset!r}; to_nir(dt=1e-3, discretisation={disc!r})",
                             ref, back))
    return rows


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    import logging
    logging.disable(logging.WARNING)
    for r in measure():
        print(json.dumps(r))
