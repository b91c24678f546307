"""Adaptive E/I reservoir: Dale's law, the fast forward equals the step, adaptation reaches targets."""
import numpy as np
import pytest
import torch

from axonal.reservoir.adaptive import (
    EIReservoir,
    EIReservoirState,
    ei_reservoir_step,
    heterogeneous_targets,
    homeostatic_inhibition_step,
)


def test_construction_obeys_dale_and_the_spectral_radius():
    res = EIReservoir(100, 2, spectral_radius=1.3, seed=0)
    assert res.n_exc == 80
    assert (res.w_exc >= 0).all() and (res.w_inh >= 0).all()
    signed = torch.cat([res.w_exc, -res.w_inh], 1).double()
    assert torch.linalg.eigvals(signed).abs().max().item() == pytest.approx(1.3, rel=1e-4)
    # E/I balance at g = 1: equal total excitatory and inhibitory weight
    assert res.w_exc.sum().item() == pytest.approx(res.w_inh.sum().item(), rel=1e-4)
    assert torch.equal(res.w_exc, EIReservoir(100, 2, spectral_radius=1.3, seed=0).w_exc)


@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_forward_equals_the_step_reference_and_streams(leak):
    res = EIReservoir(50, 3, leak=leak, seed=1)
    res.inh_gain.copy_(torch.rand(50, generator=torch.Generator().manual_seed(0)) * 2)
    u = torch.randn(30, 4, 3, generator=torch.Generator().manual_seed(1))
    out, state = res(u)
    st, ref = EIReservoirState(torch.zeros(4, 50)), []
    p = res.params()
    for u_t in u.unbind(0):
        r, st = ei_reservoir_step(u_t, st, p)
        ref.append(r)
    torch.testing.assert_close(out, torch.stack(ref), rtol=1e-5, atol=1e-6)
    a, sa = res(u[:12])
    b, _ = res(u[12:], sa)
    torch.testing.assert_close(torch.cat([a, b]), out)


def test_adaptation_drives_rates_to_heterogeneous_targets():
    res = EIReservoir(100, 1, spectral_radius=1.0, seed=2)
    targets = heterogeneous_targets(100, mean=0.35, spread=0.5, seed=0)
    u = torch.rand(3000, 1, 1, generator=torch.Generator().manual_seed(0)) - 0.5
    res.adapt(u, targets, eta=0.05)
    rates, _ = res(torch.rand(2000, 1, 1, generator=torch.Generator().manual_seed(1)) - 0.5)
    r = rates[200:].mean((0, 1))
    reachable = res.inh_gain > 0.05          # neurons whose target is below their uninhibited rate
    assert reachable.sum() > 60
    err = (r - targets)[reachable].abs()
    assert err.mean() < 0.02
    # the rates follow the heterogeneous targets, not one common value
    assert np.corrcoef(r[reachable], targets[reachable])[0, 1] > 0.85


def test_homeostatic_step_sign_and_floor():
    g = torch.tensor([1.0, 1.0, 0.01])
    new = homeostatic_inhibition_step(g, torch.tensor([[0.5, 0.1, 0.0]]), torch.tensor([0.2, 0.2, 0.2]), 0.1)
    assert new.tolist() == pytest.approx([1.03, 0.99, 0.0])   # above target: more inhibition; floor 0


def test_global_inhibition_and_targets():
    res = EIReservoir(20, seed=0)
    res.set_global_inhibition(2.5)
    assert torch.all(res.inh_gain == 2.5)
    t = heterogeneous_targets(1000, 0.2, 0.5, seed=1)
    assert t.min() >= 0.1 and t.max() <= 0.3 and abs(t.mean() - 0.2) < 0.01
    assert torch.all(heterogeneous_targets(5, 0.2, 0.0) == 0.2)


def test_checks():
    with pytest.raises(ValueError, match="inhibitory_fraction"):
        EIReservoir(20, inhibitory_fraction=1.0)
    with pytest.raises(ValueError, match="mean"):
        heterogeneous_targets(5, mean=1.5)
    res = EIReservoir(20, 2)
    with pytest.raises(ValueError):
        res(torch.zeros(5, 3, 1))
    with pytest.raises(ValueError, match="target"):
        res.adapt(torch.zeros(5, 1, 2), 1.5)
    with pytest.raises(ValueError, match="state"):
        res(torch.zeros(5, 3, 2), EIReservoirState(torch.zeros(2, 20)))
