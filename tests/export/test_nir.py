"""axonal -> NIR file -> axonal round trips for every supported layer, and the errors of bad
graphs and files (axonal/export/nir.py)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

nir = pytest.importorskip("nir")

from axonal.export import Delay, NIRExportError, NIRImportError, Scale, SumPool2d, Threshold, from_nir, to_nir  # noqa: E402
from axonal.network import Sequential  # noqa: E402
from axonal.neurons import IF, LIF, AdaptiveLIF, CurrentBasedLIF, LeakyIntegrator, Recurrent  # noqa: E402
from axonal.synapses.delay import DelayedLinear  # noqa: E402

FAST = settings(max_examples=8, deadline=None)


def round_trip(net, tmp_path, x, dt=1e-3, **kw):
    path = tmp_path / "net.nir"
    to_nir(net, dt=dt, path=path, **kw)
    back = from_nir(path)
    with torch.no_grad():
        a, b = net(x)[0], back(x)[0]
    return a, b, back


def spikes(t, b, n, p=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, n, generator=g) < p).float()


@FAST
@given(n_in=st.integers(1, 6), n_hid=st.integers(1, 6), tau=st.floats(1.5, 30.0),
       thr=st.floats(0.2, 2.0), reset=st.sampled_from(["zero", "subtract"]),
       bias=st.booleans(), disc=st.sampled_from(["exp", "euler"]))
def test_lif_linear_round_trip(tmp_path_factory, n_in, n_hid, tau, thr, reset, bias, disc):
    torch.manual_seed(n_in * 7 + n_hid)
    net = Sequential(nn.Linear(n_in, n_hid, bias=bias), LIF(n_hid, tau_mem=tau, threshold=thr, reset=reset))
    a, b, back = round_trip(net, tmp_path_factory.mktemp("n"), spikes(40, 3, n_in) * 2, discretisation=disc)
    assert torch.equal(a, b)
    assert back[1].params().reset == reset          # the reset travels in the node metadata


@FAST
@given(n=st.integers(1, 5), tau_mem=st.floats(1.5, 20.0), tau_syn=st.floats(1.2, 10.0),
       thr=st.floats(0.2, 2.0), dt_ax=st.sampled_from([1.0, 0.5]))
def test_cuba_if_li_round_trip(tmp_path_factory, n, tau_mem, tau_syn, thr, dt_ax):
    torch.manual_seed(n)
    net = Sequential(nn.Linear(3, n), CurrentBasedLIF(n, tau_mem=tau_mem, tau_syn=tau_syn, threshold=thr, dt=dt_ax),
                     nn.Linear(n, n), IF(n, threshold=thr), nn.Linear(n, 2),
                     LeakyIntegrator(2, tau=tau_mem, dt=dt_ax))
    a, b, _ = round_trip(net, tmp_path_factory.mktemp("n"), spikes(30, 2, 3) * 3)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)   # LI output is a membrane (float)


@FAST
@given(c_in=st.integers(1, 3), c_out=st.integers(1, 3), k=st.integers(1, 3), size=st.integers(6, 9),
       stride=st.integers(1, 2), pad=st.integers(0, 1))
def test_conv_pool_flatten_round_trip(tmp_path_factory, c_in, c_out, k, size, stride, pad):
    torch.manual_seed(c_in + 3 * c_out)
    net = Sequential(nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad), LIF(threshold=0.3),
                     SumPool2d(2), nn.AvgPool2d(1), nn.Flatten())
    x = (torch.rand(6, 2, c_in, size, size) < 0.5).float()
    a, b, _ = round_trip(net, tmp_path_factory.mktemp("n"), x, input_shape=(c_in, size, size))
    assert torch.equal(a, b)
    net1 = Sequential(nn.Conv1d(c_in, c_out, k, stride=stride, padding=pad), IF(threshold=0.5))
    x1 = (torch.rand(6, 2, c_in, size) < 0.5).float()
    a, b, _ = round_trip(net1, tmp_path_factory.mktemp("n"), x1, input_shape=(c_in, size))
    assert torch.equal(a, b)


@FAST
@given(n=st.integers(1, 5), d=st.integers(0, 4), uniform=st.booleans())
def test_delays_scale_threshold_round_trip(tmp_path_factory, n, d, uniform):
    torch.manual_seed(n + d)
    dl = DelayedLinear(n, 3, max_delay=4, delays="random", mode="integer")
    if uniform:
        dl.set_delays(torch.full((3, n), float(d)))
    net = Sequential(Scale(torch.linspace(0.5, 2.0, n)), Delay(torch.arange(n) % (d + 1)), dl,
                     LIF(3, threshold=0.4), Threshold(torch.full((3,), 0.5)))
    a, b, _ = round_trip(net, tmp_path_factory.mktemp("n"), spikes(20, 2, n))
    assert torch.equal(a, b)


@FAST
@given(n=st.integers(2, 6), tau=st.floats(2.0, 20.0), cuba=st.booleans())
def test_recurrent_round_trip(tmp_path_factory, n, tau, cuba):
    torch.manual_seed(n)
    neuron = CurrentBasedLIF(n, tau_mem=tau) if cuba else LIF(n, tau_mem=tau, threshold=0.5)
    net = Sequential(nn.Linear(3, n), Recurrent(neuron, weight_scale=2.0))
    a, b, back = round_trip(net, tmp_path_factory.mktemp("n"), spikes(30, 2, 3) * 2)
    assert torch.equal(a, b) and isinstance(back[1], Recurrent)
    graph = to_nir(net, dt=1e-3)
    assert ("1_" + ("cubalif" if cuba else "lif") + ".rec", "1_" + ("cubalif" if cuba else "lif")) in graph.edges


def test_metadata_states_the_discretisation_and_dt(tmp_path):
    net = Sequential(nn.Linear(2, 2), LIF(2, tau_mem=10.0))
    g = to_nir(net, dt=2e-3, discretisation="euler")
    meta = g.nodes["1_lif"].metadata
    assert meta["dt"] == 2e-3 and meta["discretisation"] == "euler" and meta["reset"] == "subtract"
    beta = np.exp(-1 / 10.0)
    np.testing.assert_allclose(g.nodes["1_lif"].tau, 2e-3 / (1 - beta))   # Euler: tau = dt/(1-beta)
    g = to_nir(net, dt=2e-3, discretisation="exp")
    np.testing.assert_allclose(g.nodes["1_lif"].tau, 10.0 * 2e-3)          # exp: the time constant itself


def test_strict_threshold_option_reproduces_greater_than():
    # the membrane lands exactly on the threshold: NIR/peers (>) stay silent, axonal (>=) fires
    g = nir.NIRGraph.from_list(nir.Linear(weight=np.eye(1)),
                               nir.IF(r=np.array([1e3]), v_threshold=np.array([1.0])))
    x = torch.tensor([[[0.5]], [[0.5]], [[0.25]]])
    strict = from_nir(g, dt=1e-3)(x)[0]
    loose = from_nir(g, dt=1e-3, fire=">=")(x)[0]
    assert strict.flatten().tolist() == [0, 0, 1] and loose.flatten().tolist() == [0, 1, 0]


def test_export_errors_name_the_layer():
    with pytest.raises(NIRExportError, match="layer 1 .AdaptiveLIF.*no node"):
        to_nir(Sequential(nn.Linear(2, 2), AdaptiveLIF(2)), dt=1e-3)
    with pytest.raises(NIRExportError, match="cannot express LSTM"):
        to_nir(nn.Sequential(nn.Linear(2, 2), nn.LSTM(2, 2)), dt=1e-3)   # axonal.Sequential refuses it itself
    with pytest.raises(NIRExportError, match="input_shape"):
        to_nir(Sequential(nn.Conv2d(1, 1, 3), LIF()), dt=1e-3)
    with pytest.raises(NIRExportError, match="dt"):
        to_nir(Sequential(nn.Linear(2, 2)), dt=0)


def _graph(*nodes, edges=None):
    return nir.NIRGraph(nodes=dict(nodes), edges=edges, type_check=False)


def test_bad_graphs_give_clear_errors(tmp_path):
    lin = nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))
    lif = nir.LIF(tau=np.ones(2) * 1e-2, r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    inp, out = nir.Input(input_type=np.array([3])), nir.Output(output_type=np.array([2]))
    with pytest.raises(NIRImportError, match="names node 'ghost'"):
        from_nir(_graph(("input", inp), ("a", lin), ("output", out),
                        edges=[("input", "a"), ("a", "ghost"), ("a", "output")]), dt=1e-3)
    wrong = nir.Affine(weight=np.ones((2, 4)), bias=np.zeros(2))       # expects 4 inputs, gets 3
    with pytest.raises(NIRImportError, match="does not fit its input of shape .3,."):
        from_nir(_graph(("input", inp), ("a", wrong), ("output", out),
                        edges=[("input", "a"), ("a", "output")]), dt=1e-3)
    loop = nir.Linear(weight=np.eye(2))
    with pytest.raises(NIRImportError, match="cycle without a neuron"):
        from_nir(_graph(("input", inp), ("a", lin), ("b", loop), ("c", nir.Linear(weight=np.eye(2))),
                        ("output", out),
                        edges=[("input", "a"), ("a", "b"), ("b", "c"), ("c", "b"), ("b", "output")]),
                 dt=1e-3)
    with pytest.raises(NIRImportError, match="pass dt="):
        from_nir(_graph(("input", inp), ("a", lin), ("l", lif), ("output", out),
                        edges=[("input", "a"), ("a", "l"), ("l", "output")]))
    with pytest.raises(NIRImportError, match="v_reset"):
        bad = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                      v_reset=np.ones(2))
        from_nir(_graph(("input", inp), ("a", lin), ("l", bad), ("output", out),
                        edges=[("input", "a"), ("a", "l"), ("l", "output")]), dt=1e-3)
    # files: unknown node type, garbage, missing
    path = tmp_path / "g.nir"
    nir.write(str(path), _graph(("input", inp), ("a", lin), ("output", out),
                                edges=[("input", "a"), ("a", "output")]))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/a/type"]
        f["node/nodes/a/type"] = np.bytes_("Mystery")
    with pytest.raises(NIRImportError, match="unknown NIR node type.*Mystery"):
        from_nir(path, dt=1e-3)
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"\x89HDF\r\n garbage")
    with pytest.raises(NIRImportError, match="junk.nir"):
        from_nir(junk, dt=1e-3)
    with pytest.raises(NIRImportError, match="no such NIR file"):
        from_nir(tmp_path / "absent.nir")


def test_euler_instability_and_nested_subgraph():
    lif = nir.LIF(tau=np.full(2, 1e-4), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    g = nir.NIRGraph.from_list(nir.Linear(weight=np.eye(2)), lif)
    with pytest.raises(NIRImportError, match="unstable"):
        from_nir(g, dt=1e-3)
    inner = nir.NIRGraph.from_list(nir.Linear(weight=2 * np.eye(2)))
    outer = _graph(("input", nir.Input(input_type=np.array([2]))), ("sub", inner),
                   ("output", nir.Output(output_type=np.array([2]))),
                   edges=[("input", "sub"), ("sub", "output")])
    y = from_nir(outer, dt=1e-3)(torch.ones(1, 1, 2))[0]
    assert torch.equal(y, torch.full((1, 1, 2), 2.0))


def test_cuba_li_and_li_import_follow_forward_euler():
    dt, tau_syn, tau_mem, w_in, r = 1e-3, 4e-3, 8e-3, 2.0, 3.0
    g = nir.NIRGraph.from_list(nir.Linear(weight=np.eye(2)),
                               nir.CubaLI(tau_syn=np.full(2, tau_syn), tau_mem=np.full(2, tau_mem),
                                          r=np.full(2, r), v_leak=np.zeros(2), w_in=np.full(2, w_in)))
    x = torch.randn(15, 3, 2)
    got = from_nir(g, dt=dt)(x)[0]
    i = v = torch.zeros(3, 2)
    ref = []
    for x_t in x:        # tau_syn dI/dt = -I + w_in x; tau_mem dv/dt = -v + r I, forward Euler
        i = i + dt / tau_syn * (-i + w_in * x_t)
        v = v + dt / tau_mem * (-v + r * i)
        ref.append(v)
    torch.testing.assert_close(got, torch.stack(ref), rtol=1e-5, atol=1e-6)
    li = nir.NIRGraph.from_list(nir.LI(tau=np.full(2, tau_mem), r=np.full(2, r), v_leak=np.full(2, 0.5)))
    got = from_nir(li, dt=dt)(x)[0]
    v, ref = torch.zeros(3, 2), []
    for x_t in x:
        v = v + dt / tau_mem * (0.5 - v + r * x_t)
        ref.append(v)
    torch.testing.assert_close(got, torch.stack(ref), rtol=1e-5, atol=1e-6)


def test_threshold_node_stays_strict_through_an_axonal_file(tmp_path):
    net = Sequential(Threshold(torch.full((2,), 0.5)))
    x = torch.tensor([[[0.5, 0.75]]])
    to_nir(net, dt=1e-3, path=tmp_path / "t.nir")
    assert from_nir(tmp_path / "t.nir")(x)[0].flatten().tolist() == [0.0, 1.0]
    assert from_nir(tmp_path / "t.nir", fire=">=")(x)[0].flatten().tolist() == [1.0, 1.0]


def test_recurrent_with_input_weights_and_decay_input_round_trip(tmp_path):
    """RecurrentLIF(n, in_features=) exports its input weights as a Linear node, and LIF's
    decay_input=True (input scaled by 1 - beta) as r = 1 (issue 22)."""
    from axonal.neurons import RecurrentLIF

    torch.manual_seed(4)
    net = Sequential(RecurrentLIF(5, in_features=3, weight_scale=2.0, tau_mem=4.0, threshold=0.3),
                     nn.Linear(5, 2), LIF(2, decay=0.7, decay_input=True, threshold=0.2))
    x = spikes(30, 2, 3) * 2
    a, b, _ = round_trip(net, tmp_path, x)
    assert torch.equal(a, b) and 0 < a.sum() < a.numel()
    graph = to_nir(net, dt=1e-3)
    assert ("input", "0_input_linear") in graph.edges and ("0_input_linear", "0_lif") in graph.edges
