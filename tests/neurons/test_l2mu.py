"""L2MU / LMU: Legendre matrices against scipy, LMU against a direct implementation of the
equations, spike-only traffic between the L2MU's blocks, parameter counts, state streaming."""
import math

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from axonal.metrics import SpikeMonitor
from axonal.models.long_memory import L2MUClassifier, LMUClassifier, count_parameters
from axonal.neurons.l2mu import L2MU, LMU, Fanout, LegendreMemory, legendre_continuous, lmu_matrices


@pytest.mark.parametrize("order,theta", [(1, 1.0), (4, 10.0), (7, 10.0), (6, 3.5), (10, 20.0)])
def test_discrete_matrices_match_scipy_zoh(order, theta):
    a, b = legendre_continuous(order)
    ad, bd, *_ = cont2discrete((a / theta, b / theta, np.eye(order), np.zeros((order, 1))), dt=1.0, method="zoh")
    abar, bbar = lmu_matrices(order, theta)
    np.testing.assert_allclose(abar.numpy(), ad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bbar.numpy(), bd, rtol=1e-10, atol=1e-12)


def test_continuous_matrices_known_values():
    a, b = legendre_continuous(3)
    # A[i, j] = (2i+1) * (-1 if i < j else (-1)^(i-j+1)); B[i] = (2i+1)(-1)^i
    np.testing.assert_array_equal(a, [[-1, -1, -1], [3, -3, -3], [-5, 5, -5]])
    np.testing.assert_array_equal(b[:, 0], [1, -3, 5])


def test_lmu_memory_is_a_delay_line():
    """The memory holds a Legendre summary of the last θ steps (Voelker et al. 2019): decoding
    with the Legendre polynomials at the window's two ends recovers the input now (weights
    (-1)^q) and θ steps ago (weights 1) for a slowly varying input."""
    order, theta = 8, 20.0
    abar, bbar = lmu_matrices(order, theta)
    m = torch.zeros(order, 1, dtype=torch.float64)
    u = torch.sin(torch.arange(300, dtype=torch.float64) * 2 * math.pi / 80)
    mem = []
    for t in range(300):
        m = abar @ m + bbar * u[t]
        mem.append(m[:, 0].clone())
    mem = torch.stack(mem)
    now = mem @ torch.tensor([(-1.0) ** q for q in range(order)], dtype=torch.float64)
    past = mem.sum(1)
    lag = int(theta)
    assert (now[100:] - u[100:]).abs().max() < 0.05
    assert (past[100:] - u[100 - lag:300 - lag]).abs().max() < 0.05
    assert (past[100:] - u[100:]).abs().max() > 0.5  # it really is delayed


def test_lmu_matches_direct_equations():
    torch.manual_seed(0)
    n_in, h, mem, order, theta = 3, 5, 2, 4, 8.0
    lmu = LMU(n_in, h, mem, order, theta).double()
    with torch.no_grad():
        lmu.e_m.weight.normal_(0, 0.3)  # zero at init; make every term active
    x = torch.randn(12, 2, n_in, dtype=torch.float64)
    out, state = lmu(x)
    abar, bbar = lmu.memory.A.numpy(), lmu.memory.B.numpy()[:, None]
    np.testing.assert_allclose(abar, lmu_matrices(order, theta)[0].numpy(), rtol=1e-6, atol=1e-7)
    W = {k: getattr(lmu, k).weight.detach().numpy() for k in ("e_x", "e_h", "e_m", "W_x", "W_h", "W_m")}
    for b in range(2):
        hv = np.zeros(h)
        mv = np.zeros((mem, order))
        for t in range(12):
            xt = x[t, b].numpy()
            u = W["e_x"] @ xt + W["e_h"] @ hv + W["e_m"] @ mv.reshape(-1)
            mv = np.stack([abar @ mv[j] + bbar[:, 0] * u[j] for j in range(mem)])
            hv = np.tanh(W["W_x"] @ xt + W["W_h"] @ hv + W["W_m"] @ mv.reshape(-1))
            np.testing.assert_allclose(out[t, b].detach().numpy(), hv, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(state.m[b].detach().numpy(), mv.reshape(-1), atol=1e-12)


def test_lmu_gradcheck():
    torch.manual_seed(1)
    lmu = LMU(2, 3, 2, 3, 5.0).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: lmu(v)[0], (x,))


@pytest.mark.parametrize("neuron", ["lif", "cuba_lif"])
def test_l2mu_blocks_exchange_binary_spikes_and_fire(neuron):
    torch.manual_seed(0)
    net = L2MU(6, 24, 8, order=4, theta=10.0, output_size=4, neuron=neuron, input_module=3)
    x = torch.randn(60, 5, 6) * 2
    out, state, spikes = net.trace(x)
    assert set(spikes) == {"input", "u", "m", "h", "o"}
    for name, s in spikes.items():
        assert torch.all((s == 0) | (s == 1)), f"block {name} sent non-binary values"
        assert s.sum() > 0, f"block {name} never fired"  # per-block spike rates are non-zero
    assert torch.equal(out, spikes["o"])
    assert out.shape == (60, 5, 4)


def test_l2mu_step_matches_manual_block_equations():
    """One L2MU run against a hand-written loop over the five block equations of core.md §1."""
    torch.manual_seed(3)
    net = L2MU(4, 6, 3, order=3, theta=5.0, output_size=2, input_module=None).double()
    with torch.no_grad():
        net.e_m.weight.normal_(0, 0.5)
    x = (torch.rand(15, 2, 4, dtype=torch.float64) < 0.4).double()
    out, _ = net(x)
    abar, bbar = net.memory.A, net.memory.B[:, None]
    p = {k: getattr(net, f"pop_{k}").params() for k in "umho"}

    def lif(v, i, k):
        beta = math.exp(-1.0 / float(p[k].tau_mem))
        th = float(p[k].threshold)
        v = beta * v + i
        s = (v - th >= 0).double()
        return s, v - s * th

    vu, vm, vh, vo = (torch.zeros(2, n, dtype=torch.float64) for n in (3, 9, 6, 2))
    sm, sh = torch.zeros(2, 9, dtype=torch.float64), torch.zeros(2, 6, dtype=torch.float64)
    with torch.no_grad():
        for t in range(15):
            su, vu = lif(vu, net.e_x(x[t]) + net.e_h(sh) + net.e_m(sm), "u")
            im = (sm.view(2, 3, 3) @ abar.t() + su[..., None] * bbar[:, 0]).reshape(2, 9)
            sm, vm = lif(vm, im, "m")
            sh, vh = lif(vh, net.W_x(x[t]) + net.W_h(sh) + net.W_m(sm), "h")
            so, vo = lif(vo, net.W_o(sh), "o")
            torch.testing.assert_close(out[t], so)


def test_l2mu_streaming_equals_one_call():
    torch.manual_seed(0)
    net = L2MU(3, 10, 4, order=3, output_size=2, input_module=2)
    x = torch.randn(20, 2, 3) * 2
    full, _ = net(x)
    a, st = net(x[:8])
    b, _ = net(x[8:], st)
    torch.testing.assert_close(torch.cat([a, b]), full)


def test_l2mu_learnable_decay_and_threshold_per_population():
    net = L2MU(6, 16, 8, order=4, output_size=3, input_module=None)
    names = {n for n, _ in net.named_parameters()}
    for pop in ("pop_u", "pop_m", "pop_h", "pop_o"):
        assert f"{pop}.tau_mem_param" in names and f"{pop}.threshold_param" in names
        assert getattr(net, pop).tau_mem_param.numel() == 1  # one per population
    # Braille initial values (decay, threshold)
    assert math.isclose(math.exp(-1 / float(net.pop_u.params().tau_mem.detach())), 0.8, rel_tol=1e-6)
    assert math.isclose(float(net.pop_h.params().threshold.detach()), 0.65, rel_tol=1e-6)
    # Ā, B̄ are frozen buffers, not parameters
    assert "memory.A" in dict(net.named_buffers()) and "memory.A" not in names
    x = torch.randn(30, 4, 6) * 3
    out, _ = net(x)
    out.sum().backward()
    assert net.pop_h.threshold_param.grad is not None


def test_parameter_counts():
    i, h, m, q, k = 6, 48, 16, 4, 4
    mq = m * q
    # cell: e_x, e_h, e_m, W_x, W_h, W_m (no biases) + W_o (bias) + 2 learnables x 4 populations
    cell = i * m + h * m + mq * m + i * h + h * h + mq * h + (h * k + k) + 8
    net = L2MUClassifier(i, k, hidden_size=h, memory_size=m, order=q, input_module=None)
    assert count_parameters(net) == cell
    w = 3 * i  # input module: 3 Linear (with bias) + 2 learnables x 3 LIF populations
    net = L2MUClassifier(i, k, hidden_size=h, memory_size=m, order=q, input_module=3)
    module = (i * w + w) + 2 * (w * w + w) + 6
    assert count_parameters(net) == cell - i * m - i * h + w * m + w * h + module
    lmu = LMUClassifier(i, k, hidden_size=h, memory_size=m, order=q)
    assert count_parameters(lmu) == i * m + h * m + mq * m + i * h + h * h + mq * h + h * k + k


def test_synops_counted_through_monitor():
    torch.manual_seed(0)
    net = L2MU(4, 8, 3, order=2, output_size=2, input_module=None)
    x = (torch.rand(10, 3, 4) < 0.5).float()
    with SpikeMonitor(net) as mon:
        _, _, spikes = net.trace(x)
    rep = mon.report(samples=3, steps=10)
    expected = (x.sum() * (3 + 8)  # input -> (e_x, W_x)
                + spikes["h"].sum() * (3 + 8)  # s_h -> (e_h, W_h) (for the next step)
                + spikes["m"].sum() * (3 + 8)  # s_m -> W_m now and e_m next (counted once)
                + (spikes["m"][:-1].sum() + spikes["u"].sum()) * 2  # Ā, B̄ fan-out = order
                + spikes["h"].sum() * 2) / 3  # W_o
    assert rep.macs == 0  # every connection carries spikes
    assert math.isclose(rep.synops, float(expected.detach()), rel_tol=1e-6)


def test_fanout_and_memory_validation():
    with pytest.raises(ValueError, match="without bias"):
        Fanout(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="order"):
        LegendreMemory(2, 0, 5.0)
    with pytest.raises(ValueError, match="theta"):
        lmu_matrices(3, -1.0)
    with pytest.raises(ValueError, match="neuron"):
        L2MU(3, 4, 2, neuron="izhikevich")
    with pytest.raises(ValueError, match="time-major"):
        L2MU(3, 4, 2)(torch.randn(5, 3, 3, 2))


def test_one_initial_state_signature_params_and_catalog_names():
    from axonal.neurons.l2mu import L2MUState, LMUParams, LMUState

    net = L2MU(3, 5, 2, order=3, output_size=2, neuron="cuba_lif", input_module=None)
    x = torch.randn(7, 4, 3)
    st = net.initial_state(x[0])
    assert isinstance(st, L2MUState) and st.s_h.shape == (4, 5) and st.s_m.shape == (4, 6)
    assert isinstance(net.params(), LMUParams) and net.params().order == 3
    with pytest.raises(ValueError, match="'cuba' is now called 'cuba_lif'"):
        L2MU(3, 5, 2, order=3, output_size=2, neuron="cuba", input_module=None)
    lmu = LMU(3, 5, 2, order=3)
    lst = lmu.initial_state(x[0])
    assert isinstance(lst, LMUState) and lst.m.shape == (4, 6)
    full, _ = lmu(x)
    a, s = lmu(x[:3])
    b, _ = lmu(x[3:], s)
    torch.testing.assert_close(torch.cat([a, b]), full)
    with pytest.raises(ValueError, match="order"):
        LMUParams(order=0)


def test_input_module_runs_fused_and_equals_the_reference():
    """The feed-forward input module takes its populations' fused kernels under auto."""
    from axonal.neurons.l2mu import SpikingInputModule

    torch.manual_seed(0)
    fused = SpikingInputModule(3, 8, neuron="lif")
    ref = SpikingInputModule(3, 8, neuron="lif", backend="reference")
    ref.load_state_dict(fused.state_dict())
    assert all(n.backend == "auto" for n in fused.neurons)
    x = torch.randn(12, 2, 3) * 2
    out_f, _ = fused(x)
    out_r, _ = ref(x)
    torch.testing.assert_close(out_f, out_r)
    assert out_f.sum() > 0
    g_f = torch.autograd.grad(out_f.sum(), list(fused.parameters()))
    g_r = torch.autograd.grad(out_r.sum(), list(ref.parameters()))
    for a, b in zip(g_f, g_r):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
