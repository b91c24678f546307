"""Surrogate spike functions: Heaviside forward, derivative checked numerically."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.surrogate import SURROGATES, TABLE, Surrogate, get_surrogate, spike, with_ops

SMOOTH = ["fast_sigmoid", "atan", "triangle", "gaussian"]


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_forward_is_heaviside(name):
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 3.0])
    assert torch.equal(spike(x, name), torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("width", [0.2, 0.5, 1.7])
def test_derivative_matches_finite_difference_of_primitive(name, width):
    s = get_surrogate(name, width)
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    x = x[(x.abs() - width).abs() > 1e-3]  # the triangle has kinks at +-width
    h = 1e-6
    numeric = (s.primitive(x + h) - s.primitive(x - h)) / (2 * h)
    assert torch.allclose(s.derivative(x), numeric, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_surrogates_have_unit_area_and_peak_near_one(name):
    s = get_surrogate(name)
    x = torch.linspace(-200, 200, 2_000_001, dtype=torch.float64)
    area = torch.trapezoid(s.derivative(x), x).item()
    assert area == pytest.approx(1.0, abs=5e-3)
    assert s.derivative(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_backward_uses_surrogate_derivative(name):
    s = get_surrogate(name)
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    g = torch.randn(41, dtype=torch.float64)
    s(x).backward(g)
    assert torch.allclose(x.grad, g * s.derivative(x.detach()))


def test_straight_through_passes_gradient_everywhere_by_default():
    s = get_surrogate("straight_through")
    x = torch.tensor([-100.0, 0.0, 50.0], requires_grad=True)
    s(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(3))
    assert torch.equal(get_surrogate("straight_through", 1.0).derivative(torch.tensor([0.5, 1.5])),
                       torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("cls", TABLE, ids=lambda c: c.name)
def test_table_formulas_are_the_textbook_derivatives(cls):
    """The table's folded form (two constants of the width) is the textbook formula each
    class documents, written independently here with the width."""
    import math as m

    textbook = {
        "fast_sigmoid": lambda x, w: 1 / (2 * w * (1 + abs(x) / w) ** 2),
        "atan": lambda x, w: 1 / (2 * w * (1 + (m.pi * x / (2 * w)) ** 2)),
        "triangle": lambda x, w: max(0.0, 1 - abs(x) / w) / w,
        "gaussian": lambda x, w: m.exp(-0.5 * (x / w) ** 2) / (w * m.sqrt(2 * m.pi)),
        "straight_through": lambda x, w: 1.0 if abs(x) < w else 0.0,
    }[cls.name]
    xs = torch.linspace(-4, 4, 161, dtype=torch.float64)
    for w in (0.2, 0.5, 1.7):
        got = cls(width=w).derivative(xs)
        want = torch.tensor([textbook(float(x), w) for x in xs], dtype=torch.float64)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(0, len(TABLE) - 1), width=st.floats(0.05, 5.0), x=st.floats(-10, 10))
def test_formula_with_python_math_matches_tensor_formula(k, width, x):
    """``with_ops`` rebinds a formula to another namespace (here scalar Python math): the same
    source gives the torch class's value, which is how the kernels compile it."""
    import math

    class PyOps:  # scalar stand-ins of the four array functions the formulas use
        abs = staticmethod(abs)
        exp = staticmethod(math.exp)
        maximum = staticmethod(max)
        where = staticmethod(lambda c, a, b: a if c else b)

    cls = TABLE[k]
    a, b = cls.constants(width)
    ref = cls(width=width).derivative(torch.tensor([x], dtype=torch.float64)).item()
    assert with_ops(cls.formula, PyOps)(x, a, b, 1.0, 0.0) == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_a_surrogate_without_formula_must_define_derivative():
    class Bare(Surrogate):
        name = "bare"

    with pytest.raises(NotImplementedError, match="neither derivative nor formula"):
        Bare().derivative(torch.zeros(2))


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown surrogate 'sigmoidd'.*atan"):
        get_surrogate("sigmoidd")


@pytest.mark.parametrize("width", [0, -1.0, float("nan")])
def test_bad_width_is_rejected(width):
    with pytest.raises(ValueError, match="width must be a positive number"):
        get_surrogate("atan", width)


def test_instance_passes_through_and_width_override_copies():
    s = get_surrogate("gaussian", 0.3)
    assert get_surrogate(s) is s
    t = get_surrogate(s, 0.6)
    assert t.width == 0.6 and s.width == 0.3 and t.name == "gaussian"
    assert math.isinf(get_surrogate("straight_through").width)


# ----------------------------------------------------------------------------- sigmoid, registration
def test_sigmoid_derivative_matches_finite_difference_and_peaks_at_one():
    from axonal.surrogate import Sigmoid

    for width in (0.04, 0.25, 1.3):
        s = get_surrogate("sigmoid", width)
        x = torch.linspace(-3, 3, 601, dtype=torch.float64)
        h = 1e-6
        numeric = (s.primitive(x + h) - s.primitive(x - h)) / (2 * h)
        torch.testing.assert_close(s.derivative(x), numeric, atol=1e-6, rtol=1e-5)
    assert Sigmoid().derivative(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(1.0)
    big = Sigmoid(width=0.01).derivative(torch.tensor([-1e4, 1e4]))
    assert torch.isfinite(big).all()                 # no overflow far from threshold


def test_spike_under_torch_func_equals_autograd():
    from torch.func import grad, jvp, vmap

    x = torch.randn(5, 3, dtype=torch.float64)
    w = torch.randn(3, dtype=torch.float64)
    f = lambda x: (spike(x, "triangle") * w).sum()
    xr = x.clone().requires_grad_()
    f(xr).backward()
    torch.testing.assert_close(grad(f)(x), xr.grad)
    torch.testing.assert_close(vmap(grad(f))(x.unsqueeze(1)).squeeze(1), xr.grad)
    _, t = jvp(lambda x: spike(x, "atan"), (x,), (torch.ones_like(x),))
    torch.testing.assert_close(t, get_surrogate("atan").derivative(x))


def test_register_surrogate_is_usable_by_name_by_neurons_and_recipes():
    from dataclasses import dataclass

    from axonal.models.classifier import SpikingClassifierConfig
    from axonal.neurons import LIF
    from axonal.surrogate import SURROGATES, register_surrogate

    @register_surrogate("test_rectangle")
    @dataclass(frozen=True)
    class Rectangle(Surrogate):
        width: float = 0.5

        def primitive(self, x):
            return ((x + self.width) / (2 * self.width)).clamp(0, 1)

        def derivative(self, x):
            return (x.abs() < self.width).to(x.dtype) / (2 * self.width)

    try:
        assert get_surrogate("test_rectangle", 0.25) == Rectangle(width=0.25)
        assert Rectangle.code == -1                    # never a built-in kernel formula
        x = torch.tensor([-0.3, 0.1, 0.6], requires_grad=True)
        spike(x, "test_rectangle").sum().backward()
        assert x.grad.tolist() == [1.0, 1.0, 0.0]
        m = LIF(3, surrogate="test_rectangle")         # auto falls back to the reference scan
        inp = torch.rand(4, 2, 3, requires_grad=True)
        m(inp)[0].sum().backward()
        section = SpikingClassifierConfig.for_neuron("lif").model_validate(
            {"neuron": "lif", "surrogate": "test_rectangle", "surrogate_width": 0.2})
        assert section.neuron_params()["surrogate"] == Rectangle(width=0.2)
        with pytest.raises(ValueError, match="already registered"):
            register_surrogate("test_rectangle", type("Other", (Rectangle,), {}))
        with pytest.raises(ValueError, match="built-in"):
            register_surrogate("atan", Rectangle)
        with pytest.raises(TypeError, match="subclass of axonal.surrogate.Surrogate"):
            register_surrogate("test_fn", lambda x: x)
        with pytest.raises(ValueError, match="identifier"):
            register_surrogate("my surrogate", Rectangle)
    finally:
        SURROGATES.pop("test_rectangle", None)
    with pytest.raises(Exception, match="unknown surrogate"):
        SpikingClassifierConfig.for_neuron("lif").model_validate({"neuron": "lif", "surrogate": "test_rectangle"})


def test_a_subclass_of_a_built_in_does_not_inherit_its_kernel_code():
    from dataclasses import dataclass

    from axonal.surrogate import ATan, SURROGATES, register_surrogate

    @dataclass(frozen=True)
    class SteepATan(ATan):
        def derivative(self, x):
            return 2 * super().derivative(x)

    try:
        register_surrogate("test_steep_atan", SteepATan)
        assert SteepATan.code == -1 and ATan.code == 1
    finally:
        SURROGATES.pop("test_steep_atan", None)
