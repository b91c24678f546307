"""Surrogate spike functions: Heaviside forward, derivative checked numerically."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.surrogate import SURROGATES, derivative_by_code, get_surrogate, spike

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


@settings(max_examples=200, deadline=None)
@given(code=st.integers(0, 4), width=st.floats(0.05, 5.0), x=st.floats(-10, 10))
def test_scalar_formula_for_kernels_matches_tensor_formula(code, width, x):
    cls = next(c for c in SURROGATES.values() if c.code == code)
    ref = cls(width=width).derivative(torch.tensor([x], dtype=torch.float64)).item()
    assert derivative_by_code(code, width, x) == pytest.approx(ref, rel=1e-9, abs=1e-12)


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
