"""What a neuron module takes and gives besides its dynamics (``axonal.neurons.base.NeuronModule``):
fixed constants in the state_dict, torch.func and torch.compile, output modes, batch-first input,
state validation and the errors a newcomer meets (issues 22 and 24)."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

import axonal
from axonal.functional import set_finite_check
from axonal.kernels.registry import KernelUnavailable
from axonal.neurons import (
    IF,
    LIF,
    AdaptiveLIF,
    CurrentBasedLIF,
    LIFState,
    ParametricLIF,
    RecurrentLIF,
    neuron_class,
    neuron_names,
)
from axonal.models.registry import configurable_population


# ----------------------------------------------------------------------------- constants in state_dict
def test_fixed_constants_mismatch_is_refused_on_load():
    saved = LIF(4, decay=0.95).state_dict()
    with pytest.raises(ValueError, match=r"tau_mem: saved 19\.49.*decay 0\.95.*this model 1\.44.*decay 0\.5"):
        LIF(4, decay=0.5).load_state_dict(saved)
    LIF(4, decay=0.95).load_state_dict(saved)          # the same constants load


def test_constant_mismatch_names_the_layer_inside_a_network():
    net = axonal.Sequential(nn.Linear(3, 4), LIF(4, reset="zero"))
    other = axonal.Sequential(nn.Linear(3, 4), LIF(4, reset="subtract"))
    with pytest.raises(ValueError, match=r"layers\.1: LIF: .*reset: saved 'zero', this model 'subtract'"):
        other.load_state_dict(net.state_dict())


def test_tensor_and_surrogate_constants_are_checked():
    a = LIF(3, threshold=torch.tensor([1.0, 2.0, 3.0]), surrogate="fast_sigmoid")
    with pytest.raises(ValueError, match="threshold"):
        LIF(3, threshold=torch.tensor([1.0, 2.0, 4.0]), surrogate="fast_sigmoid").load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="surrogate"):
        LIF(3, threshold=torch.tensor([1.0, 2.0, 3.0])).load_state_dict(a.state_dict())


def test_constants_survive_safetensors_and_learned_ones_are_parameters():
    from safetensors.torch import load, save

    m = CurrentBasedLIF(5, decay=0.9, tau_syn=3.0, learn=("threshold",))
    blob = save({k: v.contiguous() for k, v in m.state_dict().items()})
    loaded = load(blob)
    assert "_extra_state" in loaded and "threshold_param" in loaded
    CurrentBasedLIF(5, decay=0.9, tau_syn=3.0, learn=("threshold",)).load_state_dict(loaded)
    with pytest.raises(ValueError, match="tau_syn"):
        CurrentBasedLIF(5, decay=0.9, tau_syn=4.0, learn=("threshold",)).load_state_dict(loaded)


def test_state_dicts_saved_without_constants_still_load_strictly():
    old = {k: v for k, v in RecurrentLIF(4).state_dict().items() if not k.endswith("_extra_state")}
    RecurrentLIF(4).load_state_dict(old)               # strict: no missing-key error
    result = RecurrentLIF(4).load_state_dict(old, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_damaged_constants_record_is_a_clear_error():
    sd = LIF(2).state_dict()
    sd["_extra_state"] = torch.tensor(list(b"{not json"), dtype=torch.uint8)
    with pytest.raises(ValueError, match="unreadable"):
        LIF(2).load_state_dict(sd)


# ----------------------------------------------------------------------------- torch.func / compile
def _weighted(module):
    def f(x):
        s, st = module(x)
        w = torch.arange(1, x.shape[0] + 1, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
        return (s * w).sum() + st[0].square().sum() if isinstance(st[0], torch.Tensor) else (s * w).sum()
    return f


FUNC_NEURONS = [
    lambda: LIF(3, learn=("tau_mem",)), lambda: CurrentBasedLIF(3), lambda: AdaptiveLIF(3),
    lambda: IF(3), lambda: ParametricLIF(3), lambda: RecurrentLIF(3),
    lambda: LIF(3, backend="scan", surrogate="sigmoid", decay_input=True),
]


@pytest.mark.parametrize("make", FUNC_NEURONS, ids=range(len(FUNC_NEURONS)))
def test_torch_func_grad_vmap_jvp_match_autograd(make):
    torch.manual_seed(0)
    m = make().double()
    x = (torch.rand(6, 2, 3, dtype=torch.float64) * 1.5)
    f = _weighted(m)
    xr = x.clone().requires_grad_()
    f(xr).backward()
    assert xr.grad.abs().sum() > 0
    torch.testing.assert_close(grad(f)(x), xr.grad)
    tangent = torch.rand_like(x)
    _, forward_mode = jvp(f, (x,), (tangent,))
    torch.testing.assert_close(forward_mode, (xr.grad * tangent).sum())
    xs = torch.rand(4, 6, 2, 3, dtype=torch.float64) * 1.5
    batched = vmap(lambda x: m(x)[0])(xs)
    torch.testing.assert_close(batched, torch.stack([m(x)[0] for x in xs]), rtol=0, atol=0)
    params = dict(m.named_parameters())
    if params:
        g = grad(lambda p: functional_call(m, p, (x,))[0].sum())(params)
        loss = m(x)[0].sum()
        ref = torch.autograd.grad(loss, list(params.values()))
        for (name, a), b in zip(g.items(), ref):
            torch.testing.assert_close(a, b, msg=name)


def test_every_catalog_neuron_takes_grad_and_vmap():
    """Every configurable neuron of the catalog runs under torch.func (reference scan)."""
    for name in neuron_names():
        cls = neuron_class(name)
        if not configurable_population(cls):
            continue
        m = cls(3).double()
        shape = (5, 2, 2, 3) if name == "coba_lif" else (5, 2, 3)
        x = torch.rand(*shape, dtype=torch.float64)
        g = grad(lambda x: m(x)[0].sum())(x)
        assert g.shape == x.shape, name
        out = vmap(lambda x: m(x)[0])(x.unsqueeze(0).expand(2, *shape))
        torch.testing.assert_close(out[0], m(x)[0], msg=name)


def test_forced_fast_backend_inside_torch_func_is_a_clear_error():
    pytest.importorskip("numba")
    m = LIF(3, backend="numba")
    with pytest.raises(KernelUnavailable, match="torch.func transform.*backend='auto'"):
        grad(lambda x: m(x)[0].sum())(torch.rand(4, 2, 3))


def test_torch_compile_fullgraph_has_no_graph_break_from_the_checks():
    m = LIF(4, backend="reference")
    compiled = torch.compile(lambda x: m(x)[0], fullgraph=True, backend="eager")
    x = torch.rand(5, 2, 4) * 2
    torch.testing.assert_close(compiled(x), m(x)[0], rtol=0, atol=0)


def test_finite_check_is_switchable_per_module_and_globally():
    nan = torch.full((3, 1, 2), float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        LIF(2)(nan)
    LIF(2, check_finite=False)(nan)                    # per layer
    previous = set_finite_check(False)
    try:
        LIF(2)(nan)                                    # library-wide
    finally:
        set_finite_check(previous)
    with pytest.raises(ValueError, match="NaN"):
        LIF(2)(nan)


# ----------------------------------------------------------------------------- nn.Sequential
def test_spikes_output_chains_in_torch_sequential():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), LIF(8, output="spikes"), nn.Linear(8, 3), LIF(3, output="spikes"))
    x = torch.rand(7, 2, 5)
    ref = axonal.Sequential(net[0], LIF(8), net[2], LIF(3))
    torch.testing.assert_close(net(x), ref(x)[0], rtol=0, atol=0)
    net(x).sum().backward()
    assert net[0].weight.grad.abs().sum() > 0


def test_batch_first_is_the_transposed_time_major_run():
    torch.manual_seed(1)
    x = torch.rand(2, 9, 4) * 2                        # [B, T, N]
    out, st = LIF(4, batch_first=True)(x)
    ref, ref_st = LIF(4)(x.transpose(0, 1))
    torch.testing.assert_close(out, ref.transpose(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(st.v, ref_st.v, rtol=0, atol=0)
    rec = RecurrentLIF(4, in_features=4, batch_first=True, output="spikes")
    assert rec(x).shape == (2, 9, 4)


def test_output_mode_and_wrapping_errors():
    with pytest.raises(ValueError, match="output must be one of"):
        LIF(3, output=True)                            # snnTorch's output=True is not ours
    with pytest.raises(ValueError, match="plain torch.nn.Sequential"):
        axonal.Sequential(nn.Linear(2, 3), LIF(3, output="spikes"))
    with pytest.raises(ValueError, match="give output= and batch_first= to Recurrent"):
        axonal.Recurrent(LIF(3, batch_first=True))


# ----------------------------------------------------------------------------- state validation
def test_state_is_validated_like_input():
    m = LIF(3)
    _, st = m(torch.rand(4, 2, 3))
    with pytest.raises(ValueError, match=r"state\.v contains NaN.*state=None"):
        m(torch.rand(4, 2, 3), LIFState(torch.full((2, 3), float("nan"))))
    with pytest.raises(TypeError, match=r"state\.v is torch\.float64 but the input is torch\.float32"):
        m(torch.rand(4, 2, 3), LIFState(st.v.double()))
    out, _ = m(torch.rand(4, 2, 3), st)
    assert out.dtype == torch.float32
    rec = RecurrentLIF(3)
    _, rst = rec(torch.rand(4, 2, 3))
    bad = rst._replace(neuron=rst.neuron._replace(v=torch.full((2, 3), float("inf"))))
    with pytest.raises(ValueError, match="NaN or inf"):
        rec(torch.rand(4, 2, 3), bad)
    with pytest.raises(TypeError, match=r"state\.spikes is torch\.float64"):
        rec(torch.rand(4, 2, 3), rst._replace(spikes=rst.spikes.double()))


# ----------------------------------------------------------------------------- newcomer errors
def test_zero_time_steps_is_a_clear_error():
    with pytest.raises(ValueError, match=r"zero time steps.*T >= 1"):
        LIF(3)(torch.rand(0, 2, 3))
    with pytest.raises(ValueError, match=r"T >= 1"):
        axonal.Sequential(nn.Linear(3, 2), LIF(2))(torch.rand(0, 2, 3))


@pytest.mark.parametrize("size", [2.5, 0.95, torch.tensor(1.5)])
def test_a_float_size_says_constants_are_keywords(size):
    with pytest.raises(TypeError, match=r"layer size.*tau_mem=.*decay="):
        LIF(size)


def test_tensor_constant_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"threshold has shape \(3,\).*one value per neuron \(shape \(4,\)\)"):
        LIF(4, threshold=torch.ones(3))
    with pytest.raises(ValueError, match=r"threshold has shape \(3,\)"):
        LIF(threshold=torch.ones(3))(torch.rand(5, 2, 4))   # no size: found at the first call
    LIF(threshold=torch.ones(4))(torch.rand(5, 2, 4))


def test_float64_input_follows_the_input_dtype_in_neurons_and_recurrent_layers():
    # LIF has always followed its input's dtype; Recurrent(LIF) does the same now
    x = torch.rand(5, 2, 3, dtype=torch.float64)
    assert LIF(3)(x)[0].dtype == torch.float64
    out, st = RecurrentLIF(3, in_features=3)(x)
    assert out.dtype == torch.float64 and st.neuron.v.dtype == torch.float64
    r = RecurrentLIF(3, backend="scan")
    torch.testing.assert_close(r(x)[0], r.double()(x)[0])


def test_float64_input_to_sequential_with_float32_weights_says_how_to_fix():
    net = axonal.Sequential(nn.Linear(3, 2), LIF(2))
    with pytest.raises(TypeError, match=r"float32 weights but its input is torch.float64.*x.to\(torch.float32\).*model.to"):
        net(torch.rand(5, 2, 3, dtype=torch.float64))
    assert net.double()(torch.rand(5, 2, 3, dtype=torch.float64))[0].dtype == torch.float64


def test_sequential_refuses_lstm_with_what_is_supported():
    with pytest.raises(TypeError, match=r"LSTM, which returns a tuple.*Temporal"):
        axonal.Sequential(nn.LSTM(3, 4), LIF(4))


def test_missing_time_axis_before_a_conv_names_the_layout():
    net = axonal.Sequential(nn.Conv2d(2, 4, 3, padding=1), LIF((4, 6, 6)))
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\].*without the time axis.*unsqueeze"):
        net(torch.rand(8, 2, 6, 6))
    with pytest.raises(ValueError, match=r"\[T, B, 3\].*unsqueeze"):
        axonal.Sequential(nn.Linear(3, 2), LIF(2))(torch.rand(8, 3))


def test_batch_major_input_revealed_by_a_state_is_named():
    m = LIF(8)
    _, state = m(torch.rand(20, 4, 8))
    with pytest.raises(ValueError, match="batch-major.*transpose"):
        m(torch.rand(4, 20, 8), state)


def test_a_checkpoint_of_other_constants_is_a_checkpoint_error():
    from axonal.train.checkpoint import CheckpointError, restore

    saved = axonal.Sequential(nn.Linear(3, 4), LIF(4, decay=0.95))
    record = {"path": "runs/x/last.json",
              "tensors": {f"model.{k}": v for k, v in saved.state_dict().items()}}
    restore(record, axonal.Sequential(nn.Linear(3, 4), LIF(4, decay=0.95)), rng=False)
    with pytest.raises(CheckpointError, match=r"runs/x/last.json does not fit.*tau_mem: saved"):
        restore(record, axonal.Sequential(nn.Linear(3, 4), LIF(4, decay=0.5)), rng=False)
