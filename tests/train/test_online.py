"""SLTT / SLTT-K / truncated BPTT (axonal.train.online) and the detach_temporal switch."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from axonal.models import SpikingClassifier
from axonal.network import Sequential
from axonal.neurons import LIF, AdaptiveLIF, CurrentBasedLIF, Recurrent
from axonal.neurons.base import detach_state
from axonal.neurons.readout import LeakyIntegrator
from axonal.recipes import ConfigError, load_config
from axonal.train.online import backward_batch, detach_temporal
from axonal.train.regularisers import FiringRateRegulariser


def _detached_reference(module, x):
    """The reference: the model's own step over time with ``state.detach()`` between steps."""
    if isinstance(module, Recurrent):
        from axonal.neurons.lif import RecurrentState, recurrent_step
        step = recurrent_step(type(module.neuron).step)
        z = x.new_zeros(x.shape[1:])
        state = RecurrentState(module.neuron.initial_state(z), z)
        params = (module.neuron.params(), module.recurrent_weight())
    else:
        step, state, params = type(module).step, module.initial_state(x[0]), module.params()
    outs = []
    for x_t in x.unbind(0):
        out, state = step(x_t, detach_state(state), params)
        outs.append(out)
    return torch.stack(outs)


@pytest.mark.parametrize("make", [
    lambda: LIF(5, tau_mem=4.0, threshold=0.5, learn=("tau_mem", "threshold")),
    lambda: CurrentBasedLIF(5, tau_mem=4.0, tau_syn=3.0, threshold=0.5),
    lambda: AdaptiveLIF(5, tau_mem=4.0, threshold=0.5),
    lambda: Recurrent(LIF(5, tau_mem=4.0, threshold=0.5), weight_scale=2.0),
    lambda: LeakyIntegrator(5, tau=5.0),
])
@pytest.mark.parametrize("backend", ["auto", "numba"])
def test_switch_gradient_equals_reference_with_detached_state(make, backend):
    torch.manual_seed(0)
    module = make()
    inner = module.neuron if isinstance(module, Recurrent) else module
    inner.backend = backend   # forced fused kernel: the switch must still cut (it runs the scan)
    x = (torch.randn(12, 3, 5) * 1.5).requires_grad_()
    w = torch.randn(12, 3, 5)
    with detach_temporal(module):
        out, _ = module(x)
    params = [x] + list(module.parameters())
    got = torch.autograd.grad((out * w).sum(), params)
    ref_out = _detached_reference(module, x)
    want = torch.autograd.grad((ref_out * w).sum(), params)
    torch.testing.assert_close(out, ref_out)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r)
    # and the cut matters: the full BPTT input gradient differs
    full, _ = module(x)
    g_full = torch.autograd.grad((full * w).sum(), x)[0]
    assert not torch.allclose(g_full, got[0])
    assert "detach_temporal" not in inner.__dict__   # the switch restores the module on exit


def test_switch_rejects_a_temporal_layer_that_cannot_cut():
    from axonal.network import Temporal

    class Leaky(Temporal):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

    with pytest.raises(TypeError, match="does not implement the temporal cut"):
        with detach_temporal(Sequential(nn.Linear(2, 2), Leaky())):
            pass


def _model():
    torch.manual_seed(1)
    return SpikingClassifier(3, 4, (8,), neuron_params=dict(tau_mem=5.0, threshold=0.4), recurrent=True,
                             recurrent_scale=1.0, readout="membrane_mean", readout_tau=5.0)


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def test_online_sltt_equals_per_step_loss_under_the_switch():
    """SLTT's online per-step backward accumulates exactly the gradient of L = mean_t CE(o_t, y)
    computed over the whole sequence with the temporal routes cut."""
    model = _model()
    x, y = torch.randn(10, 6, 3) * 2, torch.tensor([0, 1, 2, 3, 0, 1])
    model.zero_grad()
    scores, loss = backward_batch(model, x, y, algorithm="sltt")
    online = _grads(model)
    model.zero_grad()
    with detach_temporal(model):
        out, _ = model.net(x)
    ref = sum(F.cross_entropy(o, y) for o in out.unbind(0)) / out.shape[0]
    ref.backward()
    for g, r in zip(online, _grads(model)):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(float(ref.detach()), rel=1e-5)
    torch.testing.assert_close(scores, model(x).detach())


def test_tbptt_window_T_equals_bptt_of_the_per_step_loss_and_sltt_k_uses_K_steps():
    model = _model()
    x, y = torch.randn(9, 6, 3) * 2, torch.tensor([0, 1, 2, 3, 0, 1])
    model.zero_grad()
    backward_batch(model, x, y, algorithm="tbptt", window=9)
    tb = _grads(model)
    model.zero_grad()
    out, _ = model.net(x)
    (sum(F.cross_entropy(o, y) for o in out.unbind(0)) / 9).backward()
    for g, r in zip(tb, _grads(model)):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    # SLTT-K with K = T is SLTT; with K = 1 it is one step's loss
    model.zero_grad()
    backward_batch(model, x, y, algorithm="sltt_k", sltt_k=9)
    k_all = _grads(model)
    model.zero_grad()
    backward_batch(model, x, y, algorithm="sltt")
    for g, r in zip(k_all, _grads(model)):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    gen = torch.Generator().manual_seed(3)
    t_pick = int(torch.randperm(9, generator=torch.Generator().manual_seed(3))[0])
    model.zero_grad()
    backward_batch(model, x, y, algorithm="sltt_k", sltt_k=1, generator=gen)
    one = _grads(model)
    model.zero_grad()
    with detach_temporal(model):
        out, _ = model.net(x)
    F.cross_entropy(out[t_pick], y).backward()
    for g, r in zip(one, _grads(model)):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)


def test_sltt_peak_saved_memory_is_flat_in_T():
    """Bytes held for backward at once: grows with T under BPTT, constant under SLTT."""
    model = _model()

    def peak(algorithm, t_len):
        live, peak_bytes = [0], [0]

        def pack(t):
            live[0] += t.numel() * t.element_size()
            peak_bytes[0] = max(peak_bytes[0], live[0])
            return t

        x, y = torch.randn(t_len, 6, 3), torch.zeros(6, dtype=torch.long)
        orig = torch.Tensor.backward

        def backward(self, *a, **k):   # a graph's saved tensors are freed by its backward
            orig(self, *a, **k)
            live[0] = 0
        torch.Tensor.backward = backward
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                backward_batch(model, x, y, algorithm=algorithm)
        finally:
            torch.Tensor.backward = orig
        return peak_bytes[0]

    assert peak("sltt", 40) == peak("sltt", 10)
    assert peak("bptt", 40) > 3 * peak("bptt", 10)


def test_online_needs_a_windowable_model_and_valid_options():
    class Plain(nn.Module):
        def forward(self, x):
            return x.mean(0)
    with pytest.raises(TypeError, match="Sequential"):
        backward_batch(Plain(), torch.randn(3, 2, 4), torch.zeros(2, dtype=torch.long), algorithm="sltt")
    with pytest.raises(ValueError, match="unknown algorithm"):
        backward_batch(_model(), torch.randn(3, 2, 3), torch.zeros(2, dtype=torch.long), algorithm="ottt")


def test_recipe_keys_for_algorithm_and_regulariser():
    cfg = load_config("basicmotions", ["training.algorithm=sltt_k", "training.sltt_k=5"])
    assert cfg.training.algorithm == "sltt_k" and cfg.training.sltt_k == 5
    with pytest.raises(ConfigError, match="needs sltt_k"):
        load_config("basicmotions", ["training.algorithm=sltt_k"])
    with pytest.raises(ConfigError, match="tbptt_window"):
        load_config("basicmotions", ["training.algorithm=tbptt"])
    with pytest.raises(ConfigError, match="allowed values"):
        load_config("basicmotions", ["training.algorithm=ottt"])
    with pytest.raises(ConfigError, match="unknown key 'uper'"):
        load_config("basicmotions", ["training.rate_regulariser={uper: 0.2}"])


def test_trainer_runs_sltt_from_a_recipe(tmp_path):
    from axonal.train import Trainer

    res = Trainer("smoke", overrides=["training.algorithm=sltt", "training.epochs=1", "output.raster=false",
                                      "output.curves=false"], run_dir=tmp_path, quiet=True).fit()
    assert res["epochs_run"] == 1 and res["history"][0]["train_loss"] > 0


# ----------------------------------------------------------------------------- regulariser
def test_rate_regulariser_known_values_and_gradient():
    model = Sequential(nn.Linear(2, 3), LIF(3, threshold=0.5), nn.Linear(3, 2), LeakyIntegrator(2))
    reg = FiringRateRegulariser(model, lower=0.3, upper=0.6, target=[0.5], weight=2.0)
    assert reg.names == ["layers.1"]
    with reg:
        model(torch.randn(4, 2, 2))
    # replace the rates by known values: neuron rates 0.0, 0.5, 1.0
    reg._sums, reg._steps = [torch.tensor([0.0, 4.0, 8.0], requires_grad=True)], [8]
    loss = reg.loss()
    # lower: (0.3^2 + 0 + 0)/3; upper: (0 + 0 + 0.4^2)/3; target: (0.5 - 0.5)^2
    assert float(loss.detach()) == pytest.approx(2.0 * ((0.09 + 0.16) / 3))
    loss.backward()
    torch.testing.assert_close(reg._sums[0].grad, torch.tensor([-2 * 0.3, 0.0, 2 * 0.4]) * 2.0 / 3 / 8)
    with pytest.raises(ValueError, match="one per layer"):
        FiringRateRegulariser(model, lower=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        FiringRateRegulariser(model, upper=2.0)


def test_rate_regulariser_raises_silent_neurons():
    torch.manual_seed(0)
    model = Sequential(nn.Linear(2, 16), LIF(16, threshold=1.0), nn.Linear(16, 2), LeakyIntegrator(2))
    with torch.no_grad():
        model[0].weight.mul_(0.05)
        model[0].bias.fill_(-0.5)   # silent at the start
    reg = FiringRateRegulariser(model, lower=0.2, weight=10.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = torch.randn(20, 8, 2)
    rates = []
    for _ in range(30):
        with reg:
            model(x)
            loss = reg.loss()
        rates.append(float(reg.rates()[0].mean().detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert rates[0] < 0.05 and rates[-1] > 0.15


def test_every_catalog_population_honours_the_switch():
    """Every neuron population a recipe can configure cuts its temporal gradient under the switch."""
    from axonal.models.registry import configurable_population
    from axonal.neurons.catalog import neuron_class, neuron_names

    checked = []
    for name in neuron_names():
        cls = neuron_class(name)
        if not configurable_population(cls):
            continue
        torch.manual_seed(0)
        module = cls(5)
        x = (torch.randn(8, 2, 5) * 2).requires_grad_()
        try:
            module(x.detach())
        except ValueError:    # a neuron with two input channels per cell (ConductanceLIF: exc, inh)
            x = (torch.rand(8, 2, 2, 5) * 2).requires_grad_()
        with detach_temporal(module):
            out, _ = module(x)
        w = torch.randn(out.shape)
        ref = _detached_reference(module, x)
        if not out.requires_grad:   # a neuron without a gradient path (coba_lif): values only
            torch.testing.assert_close(out, ref, msg=lambda m: f"{name}: {m}")
            checked.append(name)
            continue
        got = torch.autograd.grad((out * w).sum(), x, allow_unused=True)[0]
        want = torch.autograd.grad((ref * w).sum(), x, allow_unused=True)[0]
        torch.testing.assert_close(out, ref, msg=lambda m: f"{name}: {m}")
        if want is None:
            assert got is None or not got.any(), name
        else:
            torch.testing.assert_close(got, want, msg=lambda m: f"{name}: {m}")
        checked.append(name)
    assert {"lif", "if"} <= set(checked) and len(checked) >= 5
