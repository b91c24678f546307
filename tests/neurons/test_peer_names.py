"""Peer keyword names (``axonal.neurons.peer_names``), SpikingJelly's ``decay_input`` form and the
repr of a decay, checked against snnTorch and SpikingJelly themselves where they are installed."""
import pytest
import torch

from axonal.neurons import LIF, CurrentBasedLIF, MetaNeuron, RefractoryLIF
from axonal.neurons.peer_names import PEER_NAMES
from axonal.surrogate import ATan, FastSigmoid, Sigmoid


def test_aliases_mean_the_same_as_the_axonal_names():
    a = LIF(4, beta=0.9, v_threshold=0.5, spike_grad="sigmoid", reset_mechanism="zero")
    b = LIF(4, decay=0.9, threshold=0.5, surrogate="sigmoid", reset="zero")
    assert a.params() == b.params() and repr(a) == repr(b)
    assert LIF(v_reset=None).params().reset == "subtract"      # SpikingJelly's soft reset
    assert LIF(v_reset=0.0).params().reset == "zero"           # SpikingJelly's hard reset to 0
    assert LIF(surrogate_function=ATan(width=0.5)).params().surrogate == ATan(width=0.5)
    assert LIF(v_th=2.0).params().threshold == 2.0             # Norse


def test_a_name_of_the_neuron_itself_is_never_translated():
    # MetaNeuron has its own ``beta``; RefractoryLIF its own ``v_reset`` (a potential in mV)
    assert MetaNeuron(beta=0.7).params().beta == 0.7
    assert RefractoryLIF(v_reset=-65.0).params().v_reset == -65.0


@pytest.mark.parametrize("name, value, match", [
    ("tau", 2.0, r"SpikingJelly's tau.*decay=1 - 1/tau"),
    ("tau_mem_inv", 100.0, r"decay=1 - dt \* tau_mem_inv"),
    ("learn_beta", True, r"learn=\('tau_mem',\)"),
    ("init_hidden", True, "no hidden state"),
    ("v_reset", -0.5, "RefractoryLIF"),
    ("spike_grad", lambda x: x, r"FastSigmoid\(width=1/25\)"),
    ("treshold", 1.0, r"did you mean 'threshold'"),
    ("tau_men", 1.0, r"did you mean 'tau_mem'"),
])
def test_other_peer_names_and_typos_say_what_to_write(name, value, match):
    with pytest.raises((TypeError, ValueError), match=match) as info:
        LIF(4, **{name: value})
    if isinstance(info.value, TypeError) and name not in ("spike_grad",):
        assert "Valid keywords:" in str(info.value) and "decay_input" in str(info.value)


def test_an_alias_and_its_target_together_are_refused():
    with pytest.raises(TypeError, match="threshold is given twice .as 'threshold' and as 'v_threshold'"):
        LIF(threshold=1.0, v_threshold=2.0)
    with pytest.raises(TypeError, match="decay is given twice .as 'beta' and as 'decay'"):
        CurrentBasedLIF(beta=0.9, decay=0.8)


def test_repr_shows_the_decay_it_was_built_with():
    text = repr(LIF(decay=0.95))
    assert "decay=0.95" in text and "tau_mem=19.4957" in text
    assert "decay=" not in repr(LIF(tau_mem=5.0))


def test_every_alias_target_is_a_keyword_of_lif():
    keywords = LIF.keyword_names()
    for name, peer in PEER_NAMES.items():
        assert name not in keywords, name            # an alias never shadows our own name
        assert peer.target is None or peer.target in keywords, name


# ----------------------------------------------------------------------------- decay_input
def test_decay_input_known_values():
    # decay 0.5: v = 0.5 v + 0.5 x; x = 1.6: 0.8, 1.2 (spike, subtract -> 0.2), 0.9
    m = LIF(decay=0.5, decay_input=True, backend="scan")
    s, st = m.trace(torch.full((3, 1, 1), 1.6))
    assert s.flatten().tolist() == [0, 1, 0]
    assert st.v.flatten().tolist() == pytest.approx([0.8, 0.2, 0.9])


@pytest.mark.parametrize("backend", ["scan", "auto"])
@pytest.mark.parametrize("v_reset", [None, 0.0])
def test_decay_input_equals_spikingjelly_lifnode(backend, v_reset):
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    torch.manual_seed(0)
    tau = 2.5
    x = torch.rand(30, 3, 5, dtype=torch.float64) * 2.4
    sj = neuron.LIFNode(tau=tau, decay_input=True, v_threshold=1.0, v_reset=v_reset, step_mode="m")
    sj_out = sj(x)
    ours = LIF(5, beta=1 - 1 / tau, decay_input=True, v_reset=v_reset, backend=backend)(x)[0]
    torch.testing.assert_close(ours, sj_out, rtol=0, atol=0)
    assert 0 < sj_out.sum() < sj_out.numel()


def test_decay_input_kernel_equals_reference_in_values_and_gradients():
    pytest.importorskip("numba")
    torch.manual_seed(3)
    x = (torch.rand(25, 2, 4, dtype=torch.float64) * 2.5).requires_grad_()
    results = []
    for backend in ("numba", "reference"):
        m = LIF(4, decay=0.8, decay_input=True, learn=("tau_mem", "threshold"), backend=backend).double()
        s, st = m(x)
        loss = (s * torch.linspace(1, 2, 25, dtype=x.dtype)[:, None, None]).sum() + st.v.sum()
        results.append((s, st.v, torch.autograd.grad(loss, [x, *m.parameters()])))
    (s1, v1, g1), (s2, v2, g2) = results
    torch.testing.assert_close(s1, s2, rtol=0, atol=0)
    torch.testing.assert_close(v1, v2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


def _snntorch_leaky(snn, x, **kwargs):
    leaky = snn.Leaky(**kwargs)
    mem, spikes, mems = leaky.init_leaky(), [], []
    for x_t in x:
        spk, mem = leaky(x_t, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def test_beta_with_zero_reset_equals_snntorch_leaky():
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(1)
    x = torch.rand(20, 3, 4) * 1.2
    spikes, _ = _snntorch_leaky(snn, x, beta=0.8, threshold=1.0, reset_mechanism="zero")
    ours = LIF(4, beta=0.8, reset_mechanism="zero", backend="scan")(x)[0]
    torch.testing.assert_close(ours, spikes, rtol=0, atol=0)
    assert 0 < spikes.sum() < spikes.numel()


def test_snntorch_subtract_reset_is_not_decayed_as_ours_is():
    """snnTorch's subtract reset takes the threshold off at the next step, after the decay
    (``m_t = beta m_{t-1} + x_t - s_{t-1} theta``); ours at the spike's step, before it decays
    (``v_t = beta (v_{t-1} - s_{t-1} theta) + x_t``). The docs page says so; this pins it."""
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(1)
    x = torch.rand(20, 3, 4, dtype=torch.float64) * 1.2
    spikes, mems = _snntorch_leaky(snn, x, beta=0.8, threshold=1.0, reset_mechanism="subtract")
    beta, m, prev_s, want = 0.8, torch.zeros(3, 4, dtype=x.dtype), torch.zeros(3, 4, dtype=x.dtype), []
    for x_t in x:                                      # snnTorch's rule written out
        m = beta * m + x_t - prev_s
        prev_s = (m > 1.0).to(x.dtype)
        want.append(prev_s)
    torch.testing.assert_close(spikes.to(x.dtype), torch.stack(want), rtol=0, atol=0)
    ours = LIF(4, beta=0.8, backend="scan")(x)[0]
    assert not torch.equal(ours, spikes.to(x.dtype))  # the rules differ, as documented


def test_sigmoid_matches_the_peers_derivative():
    snn_surrogate = pytest.importorskip("snntorch.surrogate")
    z = torch.linspace(-2, 2, 41, requires_grad=True)
    snn_surrogate.sigmoid(slope=4)(z).sum().backward()
    torch.testing.assert_close(Sigmoid(width=0.25).derivative(z.detach()), z.grad)
    assert FastSigmoid().name != Sigmoid().name


def test_the_docs_table_lists_every_peer_name():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "coming-from-peers.md").read_text()
    missing = [name for name in PEER_NAMES if name not in text]
    assert not missing, f"docs/coming-from-peers.md does not mention {missing}"
