"""The fused event-driven Linear + LIF-family kernel against the dense reference.

``Sequential(EventLinear, neuron)`` runs one kernel that gathers each step's current from the
weight rows of the active inputs (``axonal.kernels.event.event_lif_scan``), for every neuron
whose Params registered a LIF-family form (found through the registry, not by name). It must give the
spikes and states of ``Sequential(nn.Linear, neuron(backend="scan"))`` and the same gradients
for the weight, bias, input, initial state and learnable constants (float64, so rounding of a
different summation order cannot flip a spike), and reproduce ``EventLinear(mode="sparse")``
followed by the neuron kernel bit for bit in float32.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from axonal.network import Sequential
from axonal.neurons import IF, LIF, AdaptiveLIF, CurrentBasedLIF, ParametricLIF
from axonal.synapses import EventLinear
from tests.kernels.ties import STRICT, TIE_KW

pytest.importorskip("numba")
from axonal.kernels.event import scan as kernel_lif  # noqa: E402

CLASSES = {"lif": LIF, "cuba_lif": CurrentBasedLIF, "adaptive_lif": AdaptiveLIF, "if": IF}


def _spike_input(t, b, fin, density, binary, gen, dtype=torch.float64):
    mask = torch.rand(t, b, fin, generator=gen, dtype=dtype) < density
    vals = torch.ones(t, b, fin, dtype=dtype) if binary else torch.randn(t, b, fin, generator=gen, dtype=dtype)
    return mask * vals


def _nets(kind, fin, fout, bias, seed, learn=(), per_neuron=False, **kw):
    torch.manual_seed(seed)
    cls = CLASSES[kind]
    lin = EventLinear(fin, fout, bias=bias, mode="sparse")
    ref_lin = nn.Linear(fin, fout, bias=bias)
    with torch.no_grad():
        lin.weight.mul_(3.0)
        if bias:
            lin.bias.uniform_(-0.3, 0.6)
    ref_lin.load_state_dict(lin.state_dict())
    fused = Sequential(lin, cls(fout, learn=learn, per_neuron=per_neuron, **kw))
    ref = Sequential(ref_lin, cls(fout, learn=learn, per_neuron=per_neuron, backend="scan", **kw))
    with torch.no_grad():
        for p in ref[1].parameters():
            p.add_(torch.randn_like(p) * 0.1)
    fused[1].load_state_dict(ref[1].state_dict())
    return fused.double(), ref.double()


def _random_state(neuron, b, n, gen):
    st_ = neuron.State(*(torch.rand(b, n, generator=gen, dtype=torch.float64) * 0.7
                         for _ in neuron.State._fields))
    for t in st_:
        t.requires_grad_()
    return st_


def _count_fused(monkeypatch):
    calls = []
    orig = kernel_lif.event_lif_scan
    monkeypatch.setattr(kernel_lif, "event_lif_scan", lambda *a, **k: calls.append(1) or orig(*a, **k))
    return calls


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(CLASSES)), reset=st.sampled_from(["subtract", "zero", "none"]),
    detach=st.booleans(), surrogate=st.sampled_from(["fast_sigmoid", "atan", "triangle", "gaussian"]),
    bias=st.booleans(), binary=st.booleans(), density=st.floats(0.0, 0.6),
    t=st.integers(1, 7), b=st.integers(1, 3), fin=st.integers(1, 30), fout=st.integers(1, 40),
    learn=st.booleans(), given_state=st.booleans(), seed=st.integers(0, 10_000),
)
def test_fused_equals_dense_reference(kind, reset, detach, surrogate, bias, binary, density, t, b,
                                      fin, fout, learn, given_state, seed):
    learnable = {"lif": ("tau_mem", "threshold"), "cuba_lif": ("tau_mem", "tau_syn", "threshold"),
                 "adaptive_lif": ("tau_mem", "tau_adapt", "adaptation", "threshold"),
                 "if": ("threshold",)}[kind]
    fused, ref = _nets(kind, fin, fout, bias, seed, learn=learnable if learn else (),
                       per_neuron=learn and seed % 2 == 0, reset=reset, detach_reset=detach,
                       surrogate=surrogate)
    gen = torch.Generator().manual_seed(seed)
    x = _spike_input(t, b, fin, density, binary, gen)
    states_f = states_r = None
    leaves_f = leaves_r = []
    if given_state:
        g1, g2 = (torch.Generator().manual_seed(seed + 1) for _ in range(2))
        sf, sr = _random_state(fused[1], b, fout, g1), _random_state(ref[1], b, fout, g2)
        states_f, states_r, leaves_f, leaves_r = (None, sf), (None, sr), list(sf), list(sr)
    xf, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_f, (_, new_f) = fused(xf, states_f)
    s_r, (_, new_r) = ref(xr, states_r)
    assert torch.equal(s_f, s_r), "spikes differ"
    for a, c in zip(new_f, new_r):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-10)
    wl = torch.randn(s_f.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    loss_f = (wl * s_f).sum() + sum((v * (k + 1)).sum() for k, v in enumerate(new_f))
    loss_r = (wl * s_r).sum() + sum((v * (k + 1)).sum() for k, v in enumerate(new_r))
    in_f = [xf, *leaves_f, *fused.parameters()]
    in_r = [xr, *leaves_r, *ref.parameters()]
    g_f = torch.autograd.grad(loss_f, in_f, allow_unused=True)
    g_r = torch.autograd.grad(loss_r, in_r, allow_unused=True)
    for a, c in zip(g_f, g_r):
        if c is None:
            assert a is None or torch.all(a == 0)
            continue
        torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_float32_bit_identical_to_event_linear_then_kernel(kind, monkeypatch):
    torch.manual_seed(0)
    lin = EventLinear(300, 200, bias=True, mode="sparse")
    neuron = CLASSES[kind](200)
    x = (torch.rand(30, 4, 300) < 0.05).float()
    calls = _count_fused(monkeypatch)
    s_f, (_, st_f) = Sequential(lin, neuron)(x)
    assert calls == [1]
    s_u, st_u = neuron(lin(x))  # unfused: gather kernel, then the neuron kernel
    assert torch.equal(s_f, s_u)
    for a, c in zip(st_f, st_u):
        assert torch.equal(a, c)
    assert 0 < s_f.mean() < 0.5
    with torch.no_grad():  # inference kernel (no spike lists), twice
        for _ in range(2):
            s_i, (_, st_i) = Sequential(lin, neuron)(x, (None, st_u))
            s_r, st_r = neuron(lin(x), st_u)
            assert torch.equal(s_i, s_r)
            for a, c in zip(st_i, st_r):
                assert torch.equal(a, c)
    with torch.no_grad():  # an in-place weight update is followed
        lin.weight.mul_(0.5)
        assert torch.equal(Sequential(lin, neuron)(x)[0], neuron(lin(x))[0])


def test_inference_follows_weight_edits_through_data():
    """Issue 24: under no_grad the fused layer kept a transposed weight keyed on the version
    counter, which an edit through ``.data`` bypasses, so it ran on the old weights."""
    torch.manual_seed(3)
    lin = EventLinear(40, 30, bias=False, mode="sparse")
    neuron = LIF(30)
    x = (torch.rand(12, 2, 40) < 0.2).float() * 3
    with torch.no_grad():
        before = Sequential(lin, neuron)(x)[0]
        for edit in (lambda w: w.data.mul_(-1.0), lambda w: w.data.copy_(torch.randn_like(w)),
                     lambda w: w.data.zero_()):
            edit(lin.weight)
            fused = Sequential(lin, neuron)(x)[0]
            assert torch.equal(fused, neuron(lin(x))[0])
        assert fused.sum() == 0 < before.sum()  # zero weights, no bias spikes: no spike at all


def test_auto_fuses_only_sparse_input_and_streams(monkeypatch):
    torch.manual_seed(1)
    net = Sequential(EventLinear(100, 64, bias=False), LIF(64))
    ref = Sequential(nn.Linear(100, 64, bias=False), LIF(64, backend="scan")).double()
    ref[0].load_state_dict(net[0].state_dict())
    net = net.double()
    calls = _count_fused(monkeypatch)
    sparse_x = (torch.rand(20, 3, 100, dtype=torch.float64) < 0.03).double() * 4.0
    net(sparse_x)
    assert len(calls) == 1
    net((torch.rand(20, 3, 100, dtype=torch.float64) < 0.6).double())
    assert len(calls) == 1  # dense input: matmul, then the LIF kernel
    # streaming: two halves with the state passed on equal the whole sequence
    whole, _ = net(sparse_x)
    first, states = net(sparse_x[:9])
    second, _ = net(sparse_x[9:], states)
    assert torch.equal(torch.cat([first, second]), whole)
    assert torch.equal(whole, ref(sparse_x)[0])


def test_time_broadcast_gradient_equals_materialised():
    """The loss on spike counts sends a gradient broadcast over time (stride 0), which the
    backward reads as one row; the result equals that of a materialised gradient."""
    torch.manual_seed(2)
    net = Sequential(EventLinear(50, 30, bias=False, mode="sparse"), LIF(30)).double()
    x = (torch.rand(25, 2, 50, dtype=torch.float64) < 0.1).double() * 2.0
    target = torch.rand(2, 30, dtype=torch.float64) * 3
    s, _ = net(x)
    ((s.sum(0) - target) ** 2).mean().backward()
    g_broadcast = net[0].weight.grad.clone()
    net.zero_grad()
    s, _ = net(x)
    g_counts = (2 * (s.sum(0) - target) / target.numel()).detach()
    (s * g_counts.expand_as(s).contiguous()).sum().backward()
    torch.testing.assert_close(net[0].weight.grad, g_broadcast, rtol=1e-12, atol=1e-12)


def test_spike_lists_are_compressed_rows():
    x = torch.tensor([[0.0, 2.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 3.0]])
    ptr, idx, val, binary = kernel_lif.spike_lists(x)
    assert not binary and kernel_lif.spike_lists((x != 0).float())[3]
    assert ptr.tolist() == [0, 2, 2, 4]
    assert idx.tolist() == [1, 3, 0, 3]
    assert val.tolist() == [2.0, 1.0, -1.0, 3.0]


def test_bad_input_is_reported():
    net = Sequential(EventLinear(10, 5, mode="sparse"), LIF(5))
    x = torch.zeros(4, 2, 10)
    x[1, 0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        net(x)
    with torch.no_grad(), pytest.raises(ValueError, match="NaN or inf"):
        net(x)
    with pytest.raises(ValueError, match="expects 10"):
        net(torch.zeros(4, 2, 9))


def test_parametric_lif_runs_unfused_with_the_same_result(monkeypatch):
    """PLIF scales its input by 1/tau (torch ops before its kernel): the fused Linear kernel
    declines it and the pair runs as EventLinear then the neuron's kernel, equal to the
    dense reference."""
    calls = _count_fused(monkeypatch)
    torch.manual_seed(6)
    lin = EventLinear(40, 16, mode="sparse")
    ref_lin = nn.Linear(40, 16)
    ref_lin.load_state_dict(lin.state_dict())
    neuron, ref_neuron = ParametricLIF(16, threshold=0.3), ParametricLIF(16, threshold=0.3, backend="scan")
    ref_neuron.load_state_dict(neuron.state_dict())
    x = (torch.rand(12, 3, 40, dtype=torch.float64) < 0.1).double()
    s, _ = Sequential(lin, neuron).double()(x)
    s_r, _ = Sequential(ref_lin, ref_neuron).double()(x)
    assert torch.equal(s, s_r) and s.sum() > 0
    assert len(calls) == 1  # asked, and declined (KernelUnavailable), not fused
    assert kernel_lif.event_lif_form(neuron.params()).input_gain is not None


def test_scan_backend_and_custom_sizes_are_not_fused(monkeypatch):
    calls = _count_fused(monkeypatch)
    x = (torch.rand(5, 2, 12) < 0.1).float()
    Sequential(EventLinear(12, 6, mode="sparse"), LIF(6, backend="scan"))(x)
    Sequential(EventLinear(12, 6, mode="dense"), LIF(6))(x)
    assert calls == []


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_block_split_does_not_change_results(kind, monkeypatch):
    """Neuron blocks split the work between tasks (the backward's weight-gradient slices), and
    the backward walks time in chunks, reading dL/du from a per-task chunk or, when the input
    needs a gradient, from the full buffer; ragged small blocks and several ragged chunks (8,
    8, 4 or 3 x 6, 2 of 20 steps) give the same values and gradients as one block and one
    chunk."""
    torch.manual_seed(4)
    neuron = CLASSES[kind](45).double()
    params = neuron.params()
    x0 = (torch.rand(20, 3, 20, dtype=torch.float64) < 0.2).double()
    outs, x_grads = [], []
    for block, chunk, x_grad in ((None, 32, False), (7, 32, False), (None, 8, False),
                                 (7, 3, False), (None, 32, True), (7, 3, True)):
        monkeypatch.setattr(kernel_lif, "BACKWARD_TIME_CHUNK", chunk)
        assert kernel_lif._backward_chunk(20, 3 * 45, 8) == min(20, chunk)
        x = x0.clone().requires_grad_(x_grad)
        w = (torch.randn(45, 20, dtype=torch.float64) * 2).requires_grad_()
        with torch.no_grad():
            w.copy_(torch.randn(45, 20, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2)
        state = neuron.State(*(torch.zeros(3, 45, dtype=torch.float64) for _ in neuron.State._fields))
        s, new = kernel_lif.event_lif_scan(kernel_lif.event_lif_form(params), x, w, None, state,
                                           block=block)
        (s.sum() + new.v.square().sum()).backward()
        outs.append((s, new.v, w.grad))
        if x_grad:
            x_grads.append(x.grad)
    base = outs[0]
    for other in outs[1:]:
        for a, c in zip(base, other):
            torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x_grads[0], x_grads[1], rtol=1e-12, atol=1e-12)
    assert base[0].sum() > 0 and base[2].abs().sum() > 0 and x_grads[0].abs().sum() > 0


def test_monitor_sees_both_layers_of_a_fusable_pair(monkeypatch):
    """Under SpikeMonitor the pair runs unfused, so its hooks count the same spikes and SynOps as
    for ``nn.Linear`` + LIF; without hooks it fuses again."""
    from axonal.metrics import SpikeMonitor

    torch.manual_seed(2)
    net = Sequential(EventLinear(100, 64, bias=False), LIF(64))
    ref = Sequential(nn.Linear(100, 64, bias=False), LIF(64))
    ref[0].load_state_dict(net[0].state_dict())
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        ref[0].weight.mul_(4.0)
    x = (torch.rand(30, 4, 100) < 0.05).float()
    calls = _count_fused(monkeypatch)
    reports = []
    for model in (net, ref):
        with SpikeMonitor(model) as mon:
            out, _ = model(x)
        reports.append(mon.report().to_dict())
    assert not calls
    assert out.sum() > 0
    got, want = reports
    assert got["totals"]["synops"] == want["totals"]["synops"] > 0
    assert got["totals"]["spikes"] == want["totals"]["spikes"] > 0
    assert [s["kind"] for s in got["synapses"]] == ["EventLinear"]
    net(x)
    assert len(calls) == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_fused_fires_on_an_exact_tie_like_the_reference(kind, dtype, monkeypatch):
    """Issue 24: the fused Linear+LIF kernels (training and inference) fire on
    ``v >= threshold`` as the reference step. Binary spikes times weights in quarters, decays
    of 1/2: every current and membrane is exact, membranes land on the threshold, and the
    strict rule (threshold one float32 ulp higher) gives other spikes."""
    gen = torch.Generator().manual_seed(4)
    x = (torch.rand(16, 3, 20, generator=gen) < 0.3).to(dtype)
    w = (torch.randint(-2, 4, (8, 20), generator=gen) / 4).to(dtype)
    spikes = {}
    for theta in (1.0, STRICT):
        ref = nn.Linear(20, 8, bias=False).to(dtype)
        lin = EventLinear(20, 8, bias=False, mode="sparse").to(dtype)
        with torch.no_grad():
            ref.weight.copy_(w)
            lin.weight.copy_(w)
        neuron = CLASSES[kind](8, threshold=theta, **TIE_KW[kind]).to(dtype)
        scan = CLASSES[kind](8, threshold=theta, backend="scan", **TIE_KW[kind]).to(dtype)
        calls = _count_fused(monkeypatch)
        s_ref, st_ref = scan(ref(x))
        for grad in (True, False):  # the training kernel, then the inference kernel
            with torch.set_grad_enabled(grad):
                s_f, (_, st_f) = Sequential(lin, neuron)(x)
            assert torch.equal(s_f, s_ref), f"spikes differ at an exact tie (grad={grad})"
            assert all(torch.equal(a, c) for a, c in zip(st_f, st_ref))
        assert len(calls) == 2
        spikes[theta] = s_ref
    assert not torch.equal(spikes[1.0], spikes[STRICT]), "no exact tie reached"
