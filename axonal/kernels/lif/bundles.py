"""The named bundles of the LIF-family kernels, in a leaf module (the numba, Triton and
event-driven kernels and their wrappers all read them; nothing here imports a kernel).

``LIFDynamics`` is how a neuron describes itself to the kernels (built by its registered form);
``LIFDynamics.form`` derives, in this one place, the compile-time literal the inner loops branch
on. The other bundles carry the kernels' arrays and scalars (numba types them as named tuples).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ...surrogate import Surrogate

Number = float | torch.Tensor

#: the forms of the family, the compile-time literal of the kernels' inner loops
LEAKY, CURRENT_BASED, ADAPTIVE = 0, 1, 2
RESETS = {"subtract": 0, "zero": 1, "none": 2}
#: the family's name in the registry's forms (``registry.register_form``)
FAMILY = "lif"

class LIFDynamics(NamedTuple):
    """One LIF-family population as the kernels see it::

        x <- input_gain x                      (``input_gain`` given)
        i <- alpha i + x                       (current-based form: ``alpha`` given)
        v <- beta v + (i or x)
        theta = threshold + adaptation a       (adaptive form: ``rho`` given)
        s = H(v - theta);  v <- reset(v, s, theta);  a <- rho a + s

    Decays are per step (``exp(-dt / tau)``), constants scalars or tensors broadcastable to
    the neuron shape. ``beta = 1`` is the non-leaky integrate-and-fire neuron. The input gain
    (the parametric LIF's ``1/tau``) is applied with torch ops before the kernel, to the input
    and, in the recurrent form, to the rows of the recurrent weight (``gain_j (x + s W^T)_j``),
    so autograd carries its gradient; the kernels never see it."""

    beta: Number
    threshold: Number
    reset: str
    detach_reset: bool
    surrogate: Surrogate
    alpha: Number | None = None
    rho: Number | None = None
    adaptation: Number | None = None
    input_gain: Number | None = None

    @property
    def form(self) -> int:
        """``LEAKY``, ``CURRENT_BASED`` or ``ADAPTIVE``: derived here, nowhere else."""
        if self.alpha is not None:
            if self.rho is not None:
                raise ValueError("a LIF-family form has a synaptic current or an adaptation, "
                                 "not both")
            return CURRENT_BASED
        return ADAPTIVE if self.rho is not None else LEAKY


#: the state field each form carries besides ``v``
_EXTRA_STATE = {LEAKY: None, CURRENT_BASED: "i", ADAPTIVE: "a"}


class ScanConfig(NamedTuple):
    """The static arguments of the autograd Functions (never differentiated)."""
    form: int
    reset: int
    detach: bool
    surrogate: int  # the surrogate's ``code``: its index in ``axonal.surrogate.TABLE``
    width: float
    n: int  # neurons per batch row
    store: bool  # keep what the backward needs


class KernelConfig(NamedTuple):
    """The scalars a numba kernel branches on (a bundle; numba types it as a named tuple)."""
    form: int
    reset: int
    detach: bool
    surrogate: int
    width: float


class StateArrays(NamedTuple):
    """Flat states [M] (or their gradients): membrane, synaptic current, adaptation."""
    v: object
    i: object
    a: object


class ParamArrays(NamedTuple):
    """Per-neuron constants [N] (or their per-element gradients [M])."""
    beta: object
    alpha: object
    rho: object
    threshold: object
    adaptation: object


class Saved(NamedTuple):
    """What the forward keeps for the backward: spikes, v before reset, i_t or a_t."""
    spk: object
    vpre: object
    aux: object


class Grads(NamedTuple):
    """The incoming gradients of the spikes [T, M] and of the final states [M]."""
    spikes: object
    v: object
    i: object
    a: object


def kernel_config(cfg: ScanConfig) -> KernelConfig:
    return KernelConfig(cfg.form, cfg.reset, cfg.detach, cfg.surrogate, cfg.width)
