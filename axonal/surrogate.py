"""Spike functions: Heaviside forward, named surrogate derivative backward.

A surrogate is an object with a ``name`` and a ``width``. Its ``derivative(x)`` replaces the
Dirac delta of the Heaviside step in the backward pass (Neftci, Mostafa & Zenke, 2019,
"Surrogate gradient learning in spiking neural networks"). Each surrogate except the
straight-through estimator is the exact derivative of a smooth step ``primitive(x)`` that rises
from 0 to 1, so its area is one and ``width`` sets how far from threshold gradients still flow.
The defaults give a peak of about 1 at threshold, as snnTorch's and SpikingJelly's defaults do.

``code`` is a small integer so that fused kernels (numba, Triton) evaluate the same derivative;
``derivative_by_code`` is the scalar formula they compile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "Surrogate",
    "FastSigmoid",
    "ATan",
    "Triangle",
    "Gaussian",
    "StraightThrough",
    "SURROGATES",
    "get_surrogate",
    "spike",
]


@dataclass(frozen=True)
class Surrogate:
    """Base class: Heaviside forward, ``derivative`` backward.

    ``width`` > 0 is in units of the membrane distance from threshold.
    """

    width: float = 1.0
    name = "base"
    code = -1

    def __post_init__(self):
        if not (isinstance(self.width, (int, float)) and self.width > 0):
            raise ValueError(
                f"surrogate {self.name!r}: width must be a positive number, got {self.width!r}"
            )

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """Smooth step whose derivative is the surrogate (used to check it numerically)."""
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Spike = H(x) forward, ``derivative(x)`` backward. ``x`` is membrane minus threshold."""
        return _SpikeFunction.apply(x, self)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli, 2018): 1 / (2w (1 + |x|/w)^2)."""

    width: float = 0.5
    name = "fast_sigmoid"
    code = 0

    def primitive(self, x):
        z = x / self.width
        return 0.5 + 0.5 * z / (1 + z.abs())

    def derivative(self, x):
        return 1.0 / (2 * self.width * (1 + (x / self.width).abs()) ** 2)


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arc-tangent (Fang et al., 2021): derivative of 1/2 + atan(pi x / 2w) / pi.

    width = 1/alpha in SpikingJelly's and snnTorch's notation (alpha = 2 -> width 0.5).
    """

    width: float = 0.5
    name = "atan"
    code = 1

    def primitive(self, x):
        return 0.5 + torch.atan(math.pi * x / (2 * self.width)) / math.pi

    def derivative(self, x):
        return 1.0 / (2 * self.width * (1 + (math.pi * x / (2 * self.width)) ** 2))


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Piecewise-linear (Esser et al., 2016; Bellec et al., 2018): max(0, 1 - |x|/w) / w."""

    width: float = 1.0
    name = "triangle"
    code = 2

    def primitive(self, x):
        z = (x / self.width).clamp(-1, 1)
        return 0.5 + z - 0.5 * z * z.abs()

    def derivative(self, x):
        return (1 - (x / self.width).abs()).clamp(min=0) / self.width


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Gaussian bump of standard deviation ``width`` (Yin et al., 2021)."""

    width: float = 0.4
    name = "gaussian"
    code = 3

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (self.width * math.sqrt(2))))

    def derivative(self, x):
        return torch.exp(-0.5 * (x / self.width) ** 2) / (self.width * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator (Bengio et al., 2013): gradient 1 where |x| < width.

    The default width is infinite: the gradient passes unchanged everywhere. Unlike the
    others it is not a normalised density, so ``primitive`` is the clipped identity.
    """

    width: float = math.inf
    name = "straight_through"
    code = 4

    def primitive(self, x):
        return x.clamp(-self.width, self.width)

    def derivative(self, x):
        return (x.abs() < self.width).to(x.dtype)


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (FastSigmoid, ATan, Triangle, Gaussian, StraightThrough)
}


def get_surrogate(spec: str | Surrogate | None = None, width: float | None = None) -> Surrogate:
    """Resolve a name (optionally with a width) or an instance; ``None`` means ATan."""
    if spec is None:
        spec = "atan"
    if isinstance(spec, Surrogate):
        if width is not None and width != spec.width:
            return type(spec)(width=width)
        return spec
    if not isinstance(spec, str) or spec not in SURROGATES:
        raise ValueError(
            f"unknown surrogate {spec!r}; choose one of {sorted(SURROGATES)} "
            "or pass a Surrogate instance"
        )
    cls = SURROGATES[spec]
    return cls() if width is None else cls(width=width)


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None


def spike(x: torch.Tensor, surrogate: str | Surrogate | None = None) -> torch.Tensor:
    """Heaviside of ``x`` (spike where x >= 0) with the named surrogate gradient."""
    return get_surrogate(surrogate)(x)


def derivative_by_code(code: int, width: float, x: float) -> float:
    """Scalar surrogate derivative, the formula fused kernels compile (kept in sync by tests)."""
    if code == 0:
        a = abs(x) / width
        return 1.0 / (2.0 * width * (1.0 + a) * (1.0 + a))
    if code == 1:
        z = math.pi * x / (2.0 * width)
        return 1.0 / (2.0 * width * (1.0 + z * z))
    if code == 2:
        a = 1.0 - abs(x) / width
        return a / width if a > 0.0 else 0.0
    if code == 3:
        z = x / width
        return math.exp(-0.5 * z * z) / (width * 2.5066282746310002)
    if code == 4:
        return 1.0 if abs(x) < width else 0.0
    raise ValueError(f"unknown surrogate code {code}")
