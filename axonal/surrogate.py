"""Spike functions: Heaviside forward, named surrogate derivative backward.

A surrogate is an object with a ``name`` and a ``width``. Its ``derivative(x)`` replaces the
Dirac delta of the Heaviside step in the backward pass (Neftci, Mostafa & Zenke, 2019,
"Surrogate gradient learning in spiking neural networks"). Each surrogate except the
straight-through estimator is the exact derivative of a smooth step ``primitive(x)`` that rises
from 0 to 1, so its area is one and ``width`` sets how far from threshold gradients still flow.
The defaults give a peak of about 1 at threshold, as snnTorch's and SpikingJelly's defaults do.

One table, every backend: each surrogate writes its derivative once, as
``formula(x, a, b, one, zero)`` over an array namespace ``ops`` (``abs``, ``exp``, ``maximum``,
``where``, spelled as in torch and ``triton.language``), with the width folded into two
constants ``constants(width) -> (a, b)`` (computed in float64, then cast to the data's dtype by
each backend, so a float32 kernel stays float32 and does one division or exp per element). The
torch class evaluates the formula with ``ops = torch``; the fused kernels rebind ``ops`` to
their own namespace with ``with_ops`` (numba: ``axonal.kernels._numba_surrogate``; Triton:
``triton.language`` in ``axonal.kernels.lif._triton_kernels``), so the formulas exist here only.
``code`` is a surrogate's index in ``TABLE``, the compile-time choice the kernels branch on.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Callable

import torch

#: the array namespace the formulas read; the kernels rebind it (``with_ops``)
ops = torch

__all__ = [
    "Surrogate",
    "FastSigmoid",
    "ATan",
    "Triangle",
    "Gaussian",
    "StraightThrough",
    "Sigmoid",
    "SURROGATES",
    "register_surrogate",
    "TABLE",
    "with_ops",
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

    @staticmethod
    def constants(width: float) -> tuple[float, float]:
        """The formula's two width-dependent constants (a, b), in float64 Python arithmetic."""
        raise NotImplementedError

    @staticmethod
    def formula(x, a, b, one, zero):
        """d spike / dx at ``x`` from ``constants(width)``; ``one``/``zero`` are 1 and 0 in the
        data's dtype (a float literal would widen float32 to float64 in numba)."""
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative at ``x`` (the table's formula with ``ops = torch``)."""
        if type(self).formula is Surrogate.formula:
            raise NotImplementedError(f"{type(self).__name__} defines neither derivative nor formula")
        a, b = self.constants(self.width)
        return self.formula(x, a, b, x.new_ones(()), x.new_zeros(()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Spike = H(x) forward, ``derivative(x)`` backward. ``x`` is membrane minus threshold."""
        return _spike_function(x, self)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli, 2018): 1 / (2w (1 + |x|/w)^2)."""

    width: float = 0.5
    name = "fast_sigmoid"
    code = 0

    def primitive(self, x):
        z = x / self.width
        return 0.5 + 0.5 * z / (1 + z.abs())

    @staticmethod
    def constants(width):
        return 1.0 / (2.0 * width), 1.0 / width

    @staticmethod
    def formula(x, a, b, one, zero):  # a = 1/(2w), b = 1/w
        q = one + b * ops.abs(x)
        return a / (q * q)


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

    @staticmethod
    def constants(width):
        return 1.0 / (2.0 * width), math.pi / (2.0 * width)

    @staticmethod
    def formula(x, a, b, one, zero):  # a = 1/(2w), b = pi/(2w)
        q = b * x
        return a / (one + q * q)


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Piecewise-linear (Esser et al., 2016; Bellec et al., 2018): max(0, 1 - |x|/w) / w."""

    width: float = 1.0
    name = "triangle"
    code = 2

    def primitive(self, x):
        z = (x / self.width).clamp(-1, 1)
        return 0.5 + z - 0.5 * z * z.abs()

    @staticmethod
    def constants(width):
        return 1.0 / width, 0.0

    @staticmethod
    def formula(x, a, b, one, zero):  # a = 1/w
        return ops.maximum(zero, one - a * ops.abs(x)) * a


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Gaussian bump of standard deviation ``width`` (Yin et al., 2021)."""

    width: float = 0.4
    name = "gaussian"
    code = 3

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (self.width * math.sqrt(2))))

    @staticmethod
    def constants(width):
        return 1.0 / (width * math.sqrt(2.0 * math.pi)), -0.5 / (width * width)

    @staticmethod
    def formula(x, a, b, one, zero):  # a = 1/(w sqrt(2 pi)), b = -1/(2 w^2)
        return a * ops.exp(b * x * x)


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

    @staticmethod
    def constants(width):
        return width, 0.0

    @staticmethod
    def formula(x, a, b, one, zero):  # a = w
        return ops.where(ops.abs(x) < a, one, zero)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Derivative of the logistic sigmoid ``sigmoid(x / w)``: ``sigmoid(x/w) (1 - sigmoid(x/w)) / w``
    (snnTorch's ``surrogate.sigmoid(slope)`` and SpikingJelly's ``surrogate.Sigmoid(alpha)``
    with slope = alpha = 1/w; the default w = 0.25 is SpikingJelly's alpha = 4 and peaks at 1).

    Written as ``b e / (1 + e)^2`` with ``e = exp(-b |x|)``, ``b = 1/w``: the same value, and no
    overflow for large ``|x|``. It has no kernel code yet (not in ``TABLE``): neurons using it
    run the reference scan.
    """

    width: float = 0.25
    name = "sigmoid"

    def primitive(self, x):
        return torch.sigmoid(x / self.width)

    @staticmethod
    def constants(width):
        return 1.0 / width, 0.0

    @staticmethod
    def formula(x, a, b, one, zero):  # a = 1/w
        e = ops.exp(-a * ops.abs(x))
        q = one + e
        return a * e / (q * q)


#: the surrogates with kernel formulas, in ``code`` order
TABLE: tuple[type[Surrogate], ...] = (FastSigmoid, ATan, Triangle, Gaussian, StraightThrough)
assert all(cls.code == k for k, cls in enumerate(TABLE))
#: every surrogate a name resolves to: the table's, ``Sigmoid`` and those added with
#: ``register_surrogate`` (recipes and ``get_surrogate`` read this live)
SURROGATES: dict[str, type[Surrogate]] = {cls.name: cls for cls in (*TABLE, Sigmoid)}
_BUILT_IN = frozenset(SURROGATES)


def register_surrogate(name: str, cls: type[Surrogate] | None = None, *, overwrite: bool = False):
    """Make the Surrogate subclass ``cls`` known by ``name`` to ``get_surrogate``, every neuron's
    ``surrogate=`` and the recipes' ``surrogate:`` key. Usable as a decorator::

        @register_surrogate("my_sigmoid")
        @dataclass(frozen=True)
        class MySigmoid(Surrogate):
            width: float = 0.25
            def derivative(self, x):
                s = torch.sigmoid(x / self.width)
                return s * (1 - s) / self.width

    The class defines ``derivative(x)`` (or ``constants`` and ``formula`` as the built-ins do)
    and, to have its derivative checked numerically, ``primitive(x)``; it is built as
    ``cls(width=...)``. Registered surrogates have no fused-kernel code: neurons using them
    run the reference scan. Built-in names cannot be replaced; ``overwrite=True`` replaces an
    earlier registration of your own.
    """
    if cls is None:
        return lambda c: register_surrogate(name, c, overwrite=overwrite)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register_surrogate: name must be a Python identifier such as 'my_sigmoid', got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Surrogate)):
        raise TypeError(f"register_surrogate({name!r}, ...): pass a subclass of axonal.surrogate.Surrogate "
                        f"(a frozen dataclass with a width and a derivative), got {cls!r}")
    if name in _BUILT_IN:
        raise ValueError(f"register_surrogate: {name!r} is a built-in surrogate; choose another name")
    if name in SURROGATES and SURROGATES[name] is not cls and not overwrite:
        raise ValueError(f"register_surrogate: {name!r} is already registered ({SURROGATES[name].__name__}); "
                         "pass overwrite=True to replace it")
    if cls.derivative is Surrogate.derivative and cls.formula is Surrogate.formula:
        raise TypeError(f"register_surrogate({name!r}, {cls.__name__}): the class defines no derivative(x)")
    cls.name = name
    cls.code = -1  # a subclass of a built-in must not run the built-in's kernel formula
    SURROGATES[name] = cls
    return cls


def with_ops(fn: Callable, namespace) -> Callable:
    """A copy of the formula ``fn`` (or of ``constants``) whose global ``ops`` is ``namespace``:
    the same source compiled by another backend (numba, Triton)."""
    glb = dict(fn.__globals__)
    glb["ops"] = namespace
    copy = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__
    copy.__doc__ = fn.__doc__
    return copy


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
    """H(x) forward, the surrogate derivative backward: the plain autograd path. (torch's
    ``apply`` binds the signature of a ``setup_context``-style Function on every call, about
    25 us, which a Python loop over time steps pays at every step: that style is kept for the
    transforms, ``_TransformableSpike``.)"""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None


class _TransformableSpike(torch.autograd.Function):
    """The same spike for ``torch.func`` (``grad``, ``vmap``, ``jvp``): ``forward`` separate from
    ``setup_context``, a generated vmap rule, and the surrogate derivative in forward mode too."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, surrogate):
        return (x >= 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, surrogate = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        ctx.surrogate = surrogate

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None

    @staticmethod
    def jvp(ctx, x_tangent, _surrogate_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * ctx.surrogate.derivative(x)


def _spike_function(x: torch.Tensor, surrogate: "Surrogate") -> torch.Tensor:
    if torch._C._are_functorch_transforms_active():
        return _TransformableSpike.apply(x, surrogate)
    return _SpikeFunction.apply(x, surrogate)


def spike(x: torch.Tensor, surrogate: str | Surrogate | None = None) -> torch.Tensor:
    """Heaviside of ``x`` (spike where x >= 0) with the named surrogate gradient."""
    return get_surrogate(surrogate)(x)
