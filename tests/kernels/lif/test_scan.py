"""Fused numba kernels of the LIF family against the reference scan of their step functions.

Forward spikes must be identical and states equal; gradients (input, initial state, learnable
constants, recurrent weight) must equal autograd through the reference step, for every kind,
reset mode, detach_reset, surrogate and parameter shape. The family includes the non-leaky IF and
the parametric LIF (PLIF), which run on the same kernels. Comparisons run in float64 so that
float rounding cannot flip a spike at exactly threshold.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.kernels import KernelUnavailable, run_kernel
from axonal.neurons import (
    IF,
    LIF,
    AdaptiveLIF,
    AdaptiveLIFParams,
    CurrentBasedLIF,
    LIFParams,
    LIFState,
    ParametricLIF,
    Recurrent,
    RecurrentState,
)
from axonal.surrogate import SURROGATES, TABLE, Surrogate

pytest.importorskip("numba")
from axonal.kernels import _numba_surrogate  # noqa: E402
from axonal.kernels.lif.scan import ScanConfig  # noqa: E402
from axonal.kernels.registry import find_form  # noqa: E402

CLASSES = {"lif": LIF, "cuba_lif": CurrentBasedLIF, "adaptive_lif": AdaptiveLIF, "if": IF,
           "plif": ParametricLIF}
LEAKY_CLASSES = ("lif", "cuba_lif", "adaptive_lif")  # the ones with tau_mem


def _leaves(state):
    if isinstance(state, torch.Tensor):
        return [state]
    out = []
    for s in state:
        out += _leaves(s)
    return out


def _random_state(module, x, gen, scale=0.7):
    """A non-zero initial state (as streaming would pass), requiring grad."""
    b_shape = x.shape[1:]
    if isinstance(module, Recurrent):
        inner = module.neuron.State(*(
            (torch.rand(b_shape, generator=gen, dtype=x.dtype) * scale) for _ in module.neuron.State._fields))
        spikes = (torch.rand(b_shape, generator=gen, dtype=x.dtype) < 0.3).to(x.dtype)
        leaves = _leaves(inner) + [spikes]
        for t in leaves:
            t.requires_grad_()
        return RecurrentState(inner, spikes), leaves
    st_ = module.State(*(
        (torch.rand(b_shape, generator=gen, dtype=x.dtype) * scale) for _ in module.State._fields))
    leaves = _leaves(st_)
    for t in leaves:
        t.requires_grad_()
    return st_, leaves


def _pair(kind, size, recurrent, seed, **kw):
    """Two identical modules, reference scan and numba kernel, float64, perturbed params."""
    cls = CLASSES[kind]
    torch.manual_seed(seed)
    ref = cls(size, backend="scan", **kw)
    fused = cls(size, backend="numba", **kw)
    if recurrent:
        ref, fused = Recurrent(ref), Recurrent(fused)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    fused.load_state_dict(ref.state_dict())
    return ref.double(), fused.double()


def _compare(ref, fused, x, state_seed):
    gen = torch.Generator().manual_seed(state_seed)
    st_r, leaves_r = _random_state(ref, x, gen)
    gen = torch.Generator().manual_seed(state_seed)
    st_f, leaves_f = _random_state(fused, x, gen)
    xr = x.clone().requires_grad_()
    xf = x.clone().requires_grad_()
    s_r, new_r = ref(xr, st_r)
    s_f, new_f = fused(xf, st_f)
    assert torch.equal(s_r, s_f), "spikes differ"
    for a, b in zip(_leaves(new_r), _leaves(new_f)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # a loss that reaches every path: spikes at every step and the final state
    w = torch.randn(s_r.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    loss_r = (w * s_r).sum() + sum((t * (1 + k)).sum() for k, t in enumerate(_leaves(new_r)))
    loss_f = (w * s_f).sum() + sum((t * (1 + k)).sum() for k, t in enumerate(_leaves(new_f)))
    in_r = [xr] + leaves_r + list(ref.parameters())
    in_f = [xf] + leaves_f + list(fused.parameters())
    g_r = torch.autograd.grad(loss_r, in_r, allow_unused=True)
    g_f = torch.autograd.grad(loss_f, in_f, allow_unused=True)
    for a, b in zip(g_r, g_f):
        if a is None:
            assert b is None or torch.all(b == 0)
            continue
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)
    return s_r


# ----------------------------------------------------------------------------- surrogate
GRID = np.concatenate([np.linspace(-3, 3, 121), [0.3, -0.3, 1.0, -1.0, 2.5, -2.5, 1e-9]])


def test_table_codes_are_the_kernel_codes():
    assert [cls.code for cls in TABLE] == list(range(len(TABLE)))
    assert set(TABLE) <= set(SURROGATES.values())
    # the others (Sigmoid, registered ones) have no kernel code: their neurons run the reference
    assert all(cls.code == -1 for cls in SURROGATES.values() if cls not in TABLE)


@pytest.mark.parametrize("cls", TABLE, ids=lambda c: c.name)
def test_numba_scalar_surrogate_equals_torch_class(cls):
    """numba's scalar form (``surrogate_derivative``, float64) equals the torch class's
    ``derivative`` on a grid, at several widths, including the window edges."""
    for width in (0.3, 1.0, 2.5):
        ref = cls(width=width).derivative(torch.tensor(GRID, dtype=torch.float64)).numpy()
        got = [_numba_surrogate.surrogate_derivative(cls.code, width, x) for x in GRID]
        np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("cls", TABLE, ids=lambda c: c.name)
def test_numba_row_surrogate_equals_torch_class_in_each_dtype(cls):
    """The vectorised row form (constants folded, computed in the row's dtype) equals the torch
    class's derivative in the same dtype, at every width, including the window edges of the
    triangle and straight-through surrogates."""
    from numba import njit

    row = njit(lambda code, width, z: _numba_surrogate.surrogate_row(code, width, z, z.shape[0]))
    for dtype, tdtype, rel in ((np.float64, torch.float64, 1e-14), (np.float32, torch.float32, 1e-6)):
        for width in (0.3, 1.0, 2.5):
            z = GRID.astype(dtype)
            ref = cls(width=width).derivative(torch.from_numpy(z.copy())).numpy()
            assert ref.dtype == dtype
            row(cls.code, width, z)
            assert z.dtype == dtype
            np.testing.assert_allclose(z, ref, rtol=rel, atol=rel)


# ----------------------------------------------------------------------------- equivalence
@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(CLASSES)),
    recurrent=st.booleans(),
    reset=st.sampled_from(["subtract", "zero", "none"]),
    detach=st.booleans(),
    surrogate=st.sampled_from(sorted(cls.name for cls in TABLE)),  # the surrogates with kernel code
    width=st.sampled_from([None, 0.3, 1.5]),
    learn=st.sampled_from(["none", "scalar", "per_neuron"]),
    t=st.integers(1, 12),
    b=st.integers(1, 3),
    n=st.integers(1, 9),
    gain=st.floats(0.3, 2.0),
    seed=st.integers(0, 10_000),
)
def test_fused_equals_reference(kind, recurrent, reset, detach, surrogate, width, learn, t, b, n,
                                gain, seed):
    from axonal.surrogate import get_surrogate

    if surrogate == "straight_through" and width is not None:
        width = width * 2
    kw = dict(reset=reset, detach_reset=detach, surrogate=get_surrogate(surrogate, width))
    cls = CLASSES[kind]
    if learn != "none":
        kw.update(learn=cls.learnable_names, per_neuron=(learn == "per_neuron"))
    ref, fused = _pair(kind, n, recurrent, seed, **kw)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(t, b, n, generator=gen, dtype=torch.float64) * gain + 0.4
    _compare(ref, fused, x, seed + 1)


@pytest.mark.parametrize("kind", LEAKY_CLASSES)
def test_multidimensional_neurons_and_tensor_constants(kind):
    """Trailing shape [3, 4]; constants given as (non-learned) tensors broadcasting to it."""
    cls = CLASSES[kind]
    thr = torch.tensor([0.8, 1.0, 1.2, 0.9], dtype=torch.float64)  # broadcasts over dim 0
    tau = torch.tensor([[5.0], [10.0], [20.0]], dtype=torch.float64)  # broadcasts over dim 1
    kw = dict(threshold=thr, tau_mem=tau)
    if kind == "adaptive_lif":
        kw["adaptation"] = torch.full((3, 4), 0.5, dtype=torch.float64)
    ref = cls((3, 4), backend="scan", **kw).double()
    fused = cls((3, 4), backend="numba", **kw).double()
    x = torch.randn(15, 2, 3, 4, dtype=torch.float64) + 0.4
    s = _compare(ref, fused, x, 3)
    assert s.sum() > 0


def test_learned_per_neuron_multidim():
    ref = AdaptiveLIF((2, 3), learn=AdaptiveLIF.learnable_names, per_neuron=True, backend="scan")
    fused = AdaptiveLIF((2, 3), learn=AdaptiveLIF.learnable_names, per_neuron=True, backend="numba")
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(20, 4, 2, 3, dtype=torch.float64) * 1.5 + 0.5
    _compare(ref.double(), fused.double(), x, 5)


def test_float32_forward_identical():
    """In float32 the kernel does the reference's arithmetic in the same order and dtype."""
    for cls in CLASSES.values():
        for reset in ("subtract", "zero", "none"):
            torch.manual_seed(0)
            ref = cls(64, backend="scan", reset=reset, learn=cls.learnable_names, per_neuron=True)
            with torch.no_grad():
                for p in ref.parameters():
                    p.add_(torch.randn_like(p) * 0.1)
            fused = cls(64, backend="numba", reset=reset, learn=cls.learnable_names, per_neuron=True)
            fused.load_state_dict(ref.state_dict())
            x = torch.randn(50, 8, 64) * 0.7 + 0.3
            s_r, st_r = ref(x)
            s_f, st_f = fused(x)
            assert torch.equal(s_r, s_f)
            for a, b in zip(st_r, st_f):
                assert torch.equal(a, b)
            # gradients in float32: same up to float32 rounding
            xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
            g_r = torch.autograd.grad(ref(xr)[0].sum(), [xr, *ref.parameters()])
            g_f = torch.autograd.grad(fused(xf)[0].sum(), [xf, *fused.parameters()])
            for a, b in zip(g_r, g_f):
                torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


def test_recurrent_float32_and_zero_diagonal():
    torch.manual_seed(1)
    ref = Recurrent(CurrentBasedLIF(32, backend="scan"), zero_diagonal=True, weight_scale=3.0)
    fused = Recurrent(CurrentBasedLIF(32, backend="numba"), zero_diagonal=True, weight_scale=3.0)
    fused.load_state_dict(ref.state_dict())
    x = torch.rand(40, 4, 32) * 0.8
    s_r, st_r = ref(x)
    s_f, st_f = fused(x)
    # recurrent sums run in another order than BLAS: compare in float64 below, here closeness
    assert (s_r != s_f).float().mean() < 0.01
    ref, fused = ref.double(), fused.double()
    _compare(ref, fused, x.double(), 2)


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_smooth_outputs():
    """CuBa-LIF with reset 'none': v_T and i_T are smooth (linear) in the input, the initial
    state and the decays, so finite differences check the hand-written chain through the
    state exactly (the spike output, a step function, gets no cotangent here)."""
    from axonal.kernels.lif.scan import _LIFScan

    t, m, n = 6, 6, 3
    gen = torch.Generator().manual_seed(0)

    def mk(*shape):
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()

    x, v0, i0, beta, alpha = mk(t, m), mk(m), mk(m), mk(n), mk(n)
    a0 = torch.zeros(m, dtype=torch.float64)
    rho, adp = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    th = torch.full((n,), 1.0, dtype=torch.float64)
    cfg = ScanConfig(form=1, reset=2, detach=True, surrogate=1, width=0.5, n=n, store=True)

    def f(x, v0, i0, beta, alpha):
        _, v, i, _ = _LIFScan.apply(cfg, x, v0, i0, a0, beta, alpha, rho, th, adp)
        return v, i

    assert torch.autograd.gradcheck(f, (x, v0, i0, beta, alpha))


@pytest.mark.parametrize("reset", [0, 1, 2])
def test_gradcheck_piecewise_smooth_adaptive(reset):
    """Adaptive LIF with a straight-through surrogate of negligible width: the surrogate path
    contributes nothing, so the analytical gradient must be the true derivative of the
    (piecewise smooth) map from input, initial state and constants to the final state, which
    finite differences measure as long as no spike flips under the perturbation."""
    from axonal.kernels.lif.scan import _LIFScan

    t, m, n = 8, 4, 2
    gen = torch.Generator().manual_seed(reset)

    def mk(*shape, lo=0.1, hi=0.9):
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).requires_grad_()

    x, v0, a0 = mk(t, m, lo=0.5, hi=1.5), mk(m), mk(m)
    beta, rho, th, adp = mk(n), mk(n), mk(n, lo=0.8, hi=1.2), mk(n, lo=0.1, hi=0.3)
    zm, zn = torch.zeros(m, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    cfg = ScanConfig(form=2, reset=reset, detach=True, surrogate=4, width=1e-12, n=n, store=True)

    def f(x, v0, a0, beta, rho, th, adp):
        s, v, _, a = _LIFScan.apply(cfg, x, v0, zm, a0, beta, zn, rho, th, adp)
        assert 0 < s.sum() < s.numel()
        return v, a

    assert torch.autograd.gradcheck(f, (x, v0, a0, beta, rho, th, adp), eps=1e-7, atol=1e-6)


def test_gradcheck_recurrent_weight():
    """Recurrent LIF with a negligible-width straight-through surrogate: gradients of the
    final membrane w.r.t. input, recurrent weight and initial spikes are the true ones."""
    from axonal.kernels.lif import lif_family_scan
    from axonal.surrogate import StraightThrough

    torch.manual_seed(0)
    mod = Recurrent(LIF(4, reset="subtract", surrogate=StraightThrough(1e-12), backend="numba"),
                    weight_scale=2.0).double()
    x = (torch.rand(6, 2, 4, dtype=torch.float64) * 0.8).requires_grad_()
    w = mod.weight.detach().clone().requires_grad_()
    s0 = (torch.rand(2, 4, dtype=torch.float64)).requires_grad_()  # any float, not only 0/1

    def f(x, w, s0):
        st0 = RecurrentState(LIFState(torch.zeros(2, 4, dtype=torch.float64)), s0)
        form = find_form(LIFParams, "lif")
        s, new = lif_family_scan(form(mod.neuron.params()), x, st0, weight=w)
        assert 0 < s.sum() < s.numel()
        return new.neuron.v

    assert torch.autograd.gradcheck(f, (x, w, s0), eps=1e-7, atol=1e-6)


# ----------------------------------------------------------------------------- dispatch
def test_streaming_halves_equal_full():
    for module in (LIF(16, backend="numba"), AdaptiveLIF(16, backend="numba"),
                   Recurrent(CurrentBasedLIF(16, backend="numba"), weight_scale=2.0)):
        x = torch.rand(30, 3, 16, dtype=torch.float64) * 0.8
        module = module.double()
        s_full, st_full = module(x)
        s1, st1 = module(x[:13])
        s2, st2 = module(x[13:], st1)
        assert torch.equal(torch.cat([s1, s2]), s_full)
        for a, b in zip(_leaves(st2), _leaves(st_full)):
            assert torch.equal(a, b)


def test_backend_scan_and_unsupported_fall_back():
    p = LIFParams()
    x = torch.rand(3, 2, 4)
    st0 = LIFState(torch.zeros(2, 4))
    assert run_kernel(p, x, st0, backend="scan") is None
    from dataclasses import dataclass

    from axonal.neurons.base import NeuronParams

    @dataclass(frozen=True)
    class HodgkinHuxleyParams(NeuronParams):
        pass

    assert run_kernel(HodgkinHuxleyParams(), x, st0) is None
    with pytest.raises(KernelUnavailable, match="no numba kernel is registered for HodgkinHuxleyParams"):
        run_kernel(HodgkinHuxleyParams(), x, st0, backend="numba")
    # half precision: auto falls back, numba says what to do
    xh, sh = x.half(), LIFState(torch.zeros(2, 4, dtype=torch.half))
    assert run_kernel(p, xh, sh) is None
    with pytest.raises(RuntimeError, match="float32 and float64"):
        run_kernel(p, xh, sh, backend="numba")
    # a user surrogate without a kernel code
    class Cube(Surrogate):
        name = "cube"

        def derivative(self, x):
            return 1 / (1 + x.abs()) ** 3

    pc = LIFParams(surrogate=Cube())
    assert run_kernel(pc, x, st0) is None
    with pytest.raises(RuntimeError, match="kernel code"):
        run_kernel(pc, x, st0, backend="numba")
    # a constant that does not broadcast to the neuron shape
    pb = LIFParams(threshold=torch.ones(3))
    assert run_kernel(pb, x, st0) is None
    with pytest.raises(RuntimeError, match="broadcast"):
        run_kernel(pb, x, st0, backend="numba")
    with pytest.raises(ValueError, match="unknown backend"):
        run_kernel(p, x, st0, backend="cuda-magic")


def test_module_with_custom_surrogate_still_runs():
    class Cube(Surrogate):
        name = "cube"

        def derivative(self, x):
            return 1 / (1 + x.abs()) ** 3

    x = torch.rand(5, 2, 3)
    s_auto, _ = LIF(3, surrogate=Cube())(x)
    s_ref, _ = LIF(3, surrogate=Cube(), backend="scan")(x)
    assert torch.equal(s_auto, s_ref)


def test_no_grad_inference_and_adaptive_params():
    p = AdaptiveLIFParams(tau_adapt=50.0, adaptation=0.7)
    x = torch.rand(20, 2, 5, dtype=torch.float64) * 1.5
    from axonal.neurons import AdaptiveLIFState, adaptive_lif_step
    from axonal.neurons.base import scan

    st0 = AdaptiveLIFState(torch.zeros(2, 5, dtype=torch.float64), torch.zeros(2, 5, dtype=torch.float64))
    with torch.no_grad():
        s_f, st_f = run_kernel(p, x, st0, backend="numba")
    s_r, st_r = scan(adaptive_lif_step, x, st0, p)
    assert torch.equal(s_f, s_r)
    assert not s_f.requires_grad
    for a, b in zip(st_f, st_r):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert s_f.sum() > 0 and math.isfinite(float(st_f.a.sum()))


# ----------------------------------------------------------------------------- IF and PLIF
@pytest.mark.parametrize("backend", ["scan", "numba"])
def test_if_integrates_without_leak_known_values(backend):
    """IF: v <- v + x. A constant 0.3 reaches threshold 1 at the 4th step (1.2), subtract
    leaves 0.2, the next spike comes 3 steps later (0.2 + 3 * 0.3 = 1.1)."""
    x = torch.full((8, 1, 1), 0.3, dtype=torch.float64)
    s, st = IF(1, backend=backend).double()(x)
    assert s.flatten().tolist() == [0, 0, 0, 1, 0, 0, 1, 0]
    assert st.v.item() == pytest.approx(0.1 + 0.3)


@pytest.mark.parametrize("backend", ["scan", "numba"])
def test_plif_follows_fang_et_al_known_values(backend):
    """PLIF (Fang et al. 2021): H = V + (X - V) / tau, 1/tau = sigmoid(w), w = 0 at start
    (tau = 2), hard reset to 0. Input 1.5: H = 0.75, then 0.375 + 0.75 = 1.125 -> spike, reset
    to 0; the pattern repeats."""
    m = ParametricLIF(1, backend=backend).double()
    assert [n for n, _ in m.named_parameters()] == ["inv_tau_param"]
    assert m.inv_tau_param.shape == () and m.inv_tau_param.item() == pytest.approx(0.0)
    x = torch.full((6, 1, 1), 1.5, dtype=torch.float64)
    s, st = m(x)
    assert s.flatten().tolist() == [0, 1, 0, 1, 0, 1]
    assert st.v.item() == 0.0
    # the learned time constant gets a gradient through the kernel (sigmoid chain included)
    s, st = m(x * 0.9)
    (s.sum() + st.v.sum()).backward()
    assert m.inv_tau_param.grad is not None and m.inv_tau_param.grad.abs() > 0


# ----------------------------------------------------------------------------- exact ties
from tests.kernels.ties import STRICT, TIE_KW, tie_input  # noqa: E402


def _zero_state(module, x):
    b_shape = x.shape[1:]
    if isinstance(module, Recurrent):
        inner = module.neuron.State(*(torch.zeros(b_shape, dtype=x.dtype)
                                      for _ in module.neuron.State._fields))
        return RecurrentState(inner, torch.zeros(b_shape, dtype=x.dtype))
    return module.State(*(torch.zeros(b_shape, dtype=x.dtype) for _ in module.State._fields))


def _tie_pair(kind, n, recurrent, reset, dtype, backend="numba", threshold=1.0):
    """Reference scan and ``backend`` modules with the grid constants (``TIE_KW``)."""
    cls = CLASSES[kind]
    ref = cls(n, backend="scan", reset=reset, threshold=threshold, **TIE_KW[kind])
    fused = cls(n, backend=backend, reset=reset, threshold=threshold, **TIE_KW[kind])
    if recurrent:
        ref, fused = Recurrent(ref), Recurrent(fused)
        with torch.no_grad():  # recurrent weights in quarters keep the input exact
            w = torch.randint(-2, 3, ref.weight.shape, generator=torch.Generator().manual_seed(5))
            ref.weight.copy_(w.to(ref.weight.dtype) / 4)
    fused.load_state_dict(ref.state_dict())
    return ref.to(dtype), fused.to(dtype)


def assert_ties_decide(kind, recurrent, reset, x):
    """The reference really meets exact ties on ``x``: firing on ``>`` (the threshold one
    ulp higher) changes its spikes, so a kernel that fires on ``>`` fails the comparison."""
    ref, _ = _tie_pair(kind, x.shape[-1], recurrent, reset, x.dtype)
    strict, _ = _tie_pair(kind, x.shape[-1], recurrent, reset, x.dtype, threshold=STRICT)
    with torch.no_grad():
        s_ref = ref(x, _zero_state(ref, x))[0]
        s_strict = strict(x, _zero_state(strict, x))[0]
    assert not torch.equal(s_ref, s_strict), "no exact tie reached: > and >= would agree"


@pytest.mark.parametrize("recurrent", [False, True], ids=["plain", "recurrent"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_numba_kernels_fire_on_an_exact_tie_like_the_reference(kind, dtype, recurrent):
    """Issue 24: the kernels fire on ``v - threshold >= 0`` like the reference step; changed
    to ``>``, no test noticed, because random inputs never land on the threshold."""
    for reset in ("subtract", "zero", "none"):
        ref, fused = _tie_pair(kind, 6, recurrent, reset, dtype)
        x = tie_input(16, 3, 6, seed=len(kind), dtype=dtype)
        if kind == "plif":  # v <- v/2 + x/2 reaches 1 only with inputs up to 2
            x = 2 * x
        with torch.no_grad():
            s_r, new_r = ref(x, _zero_state(ref, x))
            s_f, new_f = fused(x, _zero_state(fused, x))
        assert torch.equal(s_r, s_f), f"spikes differ at an exact tie ({reset})"
        for a, b in zip(_leaves(new_r), _leaves(new_f)):
            assert torch.equal(a, b)
        xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
        g_r = torch.autograd.grad(ref(xr, _zero_state(ref, x))[0].sum(), xr)[0]
        g_f = torch.autograd.grad(fused(xf, _zero_state(fused, x))[0].sum(), xf)[0]
        torch.testing.assert_close(g_f, g_r)
        assert_ties_decide(kind, recurrent, reset, x)
