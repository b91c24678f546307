"""ELM and Branch-ELM: paper parameter counts, log-spaced memory time constants, the update
equations against a direct implementation, routing, and gradients."""
import math

import numpy as np
import pytest
import torch

from axonal.models.long_memory import ELMClassifier, count_parameters
from axonal.neurons.elm import (BranchELM, ExpressiveLeakyMemory, log_spaced_taus, neuronio_routing_indices,
                                scaled_tanh)


# The authors' README: trainable parameters of the NeuronIO models (1278 inputs, 45 branches of
# 100 synapses, 2 outputs, 1 MLP layer of width 2 d_m), core.md §5.
@pytest.mark.parametrize("d_m,count", [(1, 4601), (10, 5852), (20, 8002), (50, 19252), (100, 54002)])
@pytest.mark.parametrize("cls", [ExpressiveLeakyMemory, BranchELM])
def test_neuronio_parameter_counts(cls, d_m, count):
    elm = cls(1278, 2, num_memory=d_m, num_branch=45, synapses_per_branch=100, routing="neuronio",
              tau_max=150.0)
    assert count_parameters(elm) == count


def test_log_spaced_tau_init_and_fixed():
    elm = ExpressiveLeakyMemory(4, 2, num_memory=5, tau_min=1.0, tau_max=1000.0)
    np.testing.assert_allclose(elm.tau_m.detach().numpy(), [1, 10 ** 0.75, 10 ** 1.5, 10 ** 2.25, 1000], rtol=1e-4)
    assert not elm.tau_m_raw.requires_grad
    learn = ExpressiveLeakyMemory(4, 2, num_memory=5, learn_tau=True)
    assert learn.tau_m_raw.requires_grad
    ratios = log_spaced_taus(6, 2.0, 200.0)
    np.testing.assert_allclose((ratios[1:] / ratios[:-1]).numpy(), 100 ** 0.2, rtol=1e-5)


def _direct(elm, x, branch_variant):
    """Numpy implementation of the ELM / Branch-ELM equations of core.md §5."""
    w = {n: p.detach().double().numpy() for n, p in elm.mlp.named_parameters()}
    w_s = np.maximum(elm.w_s_raw.detach().double().numpy(), 0)
    tau_m = elm.tau_m.detach().double().numpy()
    km = np.exp(-1.0 / tau_m)
    kt = np.exp(-1.0 / 5.0)
    lam = elm.lambda_value
    wy, by = elm.readout.weight.detach().double().numpy(), elm.readout.bias.detach().double().numpy()
    T, B, _ = x.shape
    nb, spb = elm.num_branch, elm.synapses_per_branch
    ys = np.zeros((T, B, wy.shape[0]))
    for b in range(B):
        tr = np.zeros(nb if branch_variant else nb * spb)
        m = np.zeros(len(tau_m))
        for t in range(T):
            xt = x[t, b].numpy().astype(np.float64)
            if branch_variant:
                tr = kt * tr + (w_s * xt).reshape(nb, spb).sum(-1)
                br = tr
            else:
                tr = kt * tr + w_s * xt
                br = tr.reshape(nb, spb).sum(-1)
            z = np.concatenate([br, km * m])
            hdn = np.maximum(w["0.weight"] @ z + w["0.bias"], 0)
            dm = 1.7159 * np.tanh(2 / 3 * (w["2.weight"] @ hdn + w["2.bias"]))
            gain = (1 - np.exp(-lam / tau_m)) if branch_variant else lam * (1 - km)
            m = km * m + gain * dm
            ys[t, b] = wy @ m + by
    return ys


@pytest.mark.parametrize("cls,branch", [(ExpressiveLeakyMemory, False), (BranchELM, True)])
def test_matches_direct_equations(cls, branch):
    torch.manual_seed(0)
    elm = cls(6, 3, num_memory=4, num_branch=3, synapses_per_branch=2, tau_max=50.0)
    with torch.no_grad():
        elm.w_s_raw.uniform_(-0.5, 1.0)  # some negative raw weights: the ReLU must clip them
    x = torch.rand(9, 2, 6)
    y, state = elm(x)
    np.testing.assert_allclose(y.detach().numpy(), _direct(elm, x, branch), rtol=1e-4, atol=1e-5)
    # streaming equals one call
    a, st = elm(x[:4])
    b, _ = elm(x[4:], st)
    torch.testing.assert_close(torch.cat([a, b]), y)


def test_scaled_tanh_and_long_memory_retains_input():
    assert math.isclose(float(scaled_tanh(torch.tensor(100.0))), 1.7159, rel_tol=1e-6)
    # a memory unit with tau 1000 keeps exp(-100/1000) of its value after 100 silent steps;
    # with zero MLP output weights the memory only decays
    elm = ExpressiveLeakyMemory(2, 1, num_memory=2, tau_min=1.0, tau_max=1000.0)
    with torch.no_grad():
        for p in elm.mlp.parameters():
            p.zero_()
    from axonal.neurons.elm import ELMState
    st = ELMState(torch.zeros(1, 2), torch.ones(1, 2))
    _, st = elm(torch.zeros(100, 1, 2), st)
    np.testing.assert_allclose(st.m[0].detach().numpy(), [math.exp(-100 / 1.0), math.exp(-100 / 1000.0)], rtol=1e-3, atol=1e-30)


def test_neuronio_routing_layout():
    idx, mask = neuronio_routing_indices(8, 2, 5)
    # interlaced inputs: 0,4,1,5,2,6,3,7; branch k starts at k*ceil(8/2) = 4k
    assert idx.tolist() == [0, 4, 1, 5, 2, 2, 6, 3, 7, 7]
    assert mask.tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match="synapses_per_branch"):
        neuronio_routing_indices(10, 2, 3)


def test_validation_and_gradients():
    with pytest.raises(ValueError, match="routing"):
        ExpressiveLeakyMemory(6, 2, num_branch=2, synapses_per_branch=2)
    with pytest.raises(ValueError, match="tau_max"):
        ExpressiveLeakyMemory(6, 2, tau_min=5.0, tau_max=2.0)
    with pytest.raises(ValueError, match="time-major"):
        ExpressiveLeakyMemory(6, 2)(torch.randn(4, 6))
    torch.manual_seed(0)
    elm = ExpressiveLeakyMemory(3, 2, num_memory=3, learn_tau=True).double()
    x = torch.rand(5, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: elm(v)[0], (x,))
    clf = ELMClassifier(3, 4, num_memory=8, branch=True)
    out, _ = clf(torch.rand(7, 2, 3))
    assert clf.reduce(out).shape == (2, 4)


@pytest.mark.parametrize("cls", [ExpressiveLeakyMemory, BranchELM])
def test_neuron_contract_params_state_step_and_one_initial_state_signature(cls):
    from axonal.neurons import neuron_class
    from axonal.neurons.base import scan
    from axonal.neurons.elm import ELMParams, ELMState, elm_step

    torch.manual_seed(0)
    elm = cls(6, 2, num_memory=4, num_branch=3, synapses_per_branch=2, learn_tau=True)
    assert neuron_class({"v1": "elm", "v2": "branch_elm"}[cls.variant]) is cls
    assert isinstance(elm.params(), ELMParams) and elm.params().variant == cls.variant
    x = torch.randn(9, 3, 6)
    st0 = elm.initial_state(x[0])
    assert isinstance(st0, ELMState) and st0.m.shape == (3, 4)
    out, st = elm(x)
    ref, st_ref = scan(elm_step, x, st0, elm.step_params())        # the pure step, by hand
    torch.testing.assert_close(out, ref)
    a, s = elm(x[:4])
    b, _ = elm(x[4:], s)
    torch.testing.assert_close(torch.cat([a, b]), out)
    out.sum().backward()
    assert elm.tau_m_raw.grad is not None and elm.tau_m_raw.grad.abs().sum() > 0


def test_elm_params_are_validated():
    from axonal.neurons.elm import ELMParams

    with pytest.raises(ValueError, match="tau_syn"):
        ExpressiveLeakyMemory(2, 1, num_memory=2, tau_syn=-1.0)
    with pytest.raises(ValueError, match="tau_max"):
        ELMParams(tau_min=5.0, tau_max=2.0)
    with pytest.raises(ValueError, match="variant"):
        ELMParams(variant="v3")
