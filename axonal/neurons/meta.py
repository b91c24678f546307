"""The probabilistic meta neuron (after the Levy-Baxter-style model of Rudnicka, Szczepański &
Pręgowska, 2025, arXiv 2508.11674; equations are our interpretation, core.md §3).

A layer of such neurons includes its synapses, because transmission is stochastic per synapse:

- each presynaptic spike crosses synapse (j -> i) with probability ``s`` (synaptic success);
- a transmitted spike has a random amplitude ``Q ~ U(0, 1)`` scaled by the weight ``w_ij``;
- excitatory (w > 0) and inhibitory (w < 0) drive are summed separately, the inhibitory part
  scaled by the inhibition strength ``b``: ``drive_i = sum_j x_j m_ij Q_ij (w_ij^+ - b w_ij^-)``;
- the soma integrates with leak ``beta`` and fires when it crosses ``g``:
  ``V <- beta V + drive``, spike ``H(V - g)``, reset by subtraction (or to zero).

Learnable intrinsic parameters, reparameterised so they stay in range and gradients flow:
``s = sigmoid(s_raw)``, ``b = softplus(b_raw)``, ``g = softplus(g_raw)``,
``beta = sigmoid(beta_raw)``. Through the sampling, the amplitude is pathwise (``w Q`` is
differentiable in w) and the Bernoulli transmission uses a straight-through estimator
(``m + s - stop_grad(s)``: forward the sample, backward the gradient of its mean ``s``).
``stochastic=False`` replaces sampling by its expectation (``m Q -> s / 2``), a deterministic
mean-field neuron. Spikes use a surrogate derivative as the LIF family does (fast-sigmoid
with slope 25, i.e. width 0.04, as core.md proposes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal
from ..surrogate import FastSigmoid, Surrogate, get_surrogate
from .base import check_reset, check_sequence, scan

__all__ = ["MetaNeuronParams", "MetaNeuronState", "meta_neuron_step", "MetaNeuronLayer"]

Number = float | torch.Tensor


@dataclass(frozen=True)
class MetaNeuronParams:
    """``weight [out, in]`` plus the intrinsic parameters (floats or per-neuron tensors)."""

    weight: torch.Tensor
    transmission: Number = 0.8   # s, probability in (0, 1]
    inhibition: Number = 1.0     # b >= 0
    threshold: Number = 1.0      # g > 0
    beta: Number = 0.9           # leak factor in [0, 1]
    stochastic: bool = True
    reset: str = "subtract"
    surrogate: str | Surrogate = FastSigmoid(width=0.04)
    detach_reset: bool = True

    def __post_init__(self):
        check_reset(self.reset)
        if not isinstance(self.surrogate, Surrogate):
            object.__setattr__(self, "surrogate", get_surrogate(self.surrogate))
        for name, lo, hi in (("transmission", 0.0, 1.0), ("beta", 0.0, 1.0)):
            v = getattr(self, name)
            if isinstance(v, (int, float)) and not lo <= v <= hi:
                raise ValueError(f"MetaNeuronParams.{name} must lie in [{lo}, {hi}], got {v}")
        if isinstance(self.inhibition, (int, float)) and self.inhibition < 0:
            raise ValueError(f"MetaNeuronParams.inhibition must be >= 0, got {self.inhibition}")
        if isinstance(self.threshold, (int, float)) and self.threshold <= 0:
            raise ValueError(f"MetaNeuronParams.threshold must be > 0, got {self.threshold}")


class MetaNeuronState(NamedTuple):
    v: torch.Tensor


def meta_neuron_step(x, state: MetaNeuronState, p: MetaNeuronParams, generator=None, current=None):
    """One step: presynaptic spikes ``x [B, in]`` -> ``(spikes [B, out], state)``.

    ``current [B, out]`` (optional) is added to the somatic drive unfiltered by the synapses,
    e.g. a teacher current in supervised STDP.
    """
    inh = p.inhibition
    if isinstance(inh, torch.Tensor) and inh.ndim == 1:
        inh = inh.reshape(-1, 1)                                           # per-neuron: [out, 1]
    w_eff = F.relu(p.weight) - inh * F.relu(-p.weight)                    # [out, in]
    if p.stochastic:
        shape = (x.shape[0], *p.weight.shape)                             # [B, out, in]
        s = torch.as_tensor(p.transmission, dtype=x.dtype, device=x.device)
        s_full = s.reshape(-1, 1) if s.ndim == 1 else s                   # per-neuron s: [out, 1]
        m = (torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype) < s_full).to(x.dtype)
        m = m + s_full - s_full.detach()                                   # straight-through
        q = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)
        drive = torch.einsum("bi,boi,oi->bo", x, m * q, w_eff)
    else:
        s = torch.as_tensor(p.transmission, dtype=x.dtype, device=x.device)
        drive = 0.5 * s * (x @ w_eff.T)
    if current is not None:
        drive = drive + current
    v = p.beta * state.v + drive
    spk = p.surrogate(v - p.threshold)
    r = spk.detach() if p.detach_reset else spk
    if p.reset == "subtract":
        v = v - r * p.threshold
    elif p.reset == "zero":
        v = v * (1 - r)
    return spk, MetaNeuronState(v)


def _inv_sigmoid(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _inv_softplus(y):
    return y + math.log(-math.expm1(-y))


class MetaNeuronLayer(Temporal):
    """Stochastic synapses + meta-neuron somata: ``MetaNeuronLayer(50, 2, learn=("transmission",
    "inhibition", "threshold", "beta"))``. ``forward(x [T, B, in]) -> (spikes [T, B, out], state)``.

    Intrinsic parameters are one per neuron (``per_neuron=True``, default) or one per layer.
    ``seed`` fixes the synaptic noise of every forward pass (reproducible evaluation).
    """

    INTRINSIC = ("transmission", "inhibition", "threshold", "beta")

    def __init__(self, in_features: int, out_features: int, *, transmission: float = 0.8,
                 inhibition: float = 1.0, threshold: float = 1.0, beta: float = 0.9,
                 learn: Sequence[str] = (), per_neuron: bool = True, stochastic: bool = True,
                 reset: str = "subtract", surrogate: str | Surrogate = FastSigmoid(width=0.04),
                 weight_scale: float = 1.0, seed: int | None = None):
        super().__init__()
        unknown = set(learn) - set(self.INTRINSIC)
        if unknown:
            raise ValueError(f"MetaNeuronLayer: cannot learn {sorted(unknown)}; learnable: {list(self.INTRINSIC)}")
        self.in_features, self.out_features = in_features, out_features
        init = dict(transmission=transmission, inhibition=inhibition, threshold=threshold, beta=beta)
        MetaNeuronParams(torch.zeros(1, 1), **init, reset=reset, surrogate=surrogate)  # validate
        bound = weight_scale * math.sqrt(3.0 / in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self._learned = tuple(learn)
        self._fixed = init
        shape = (out_features,) if per_neuron else ()
        raw = dict(transmission=_inv_sigmoid(transmission), beta=_inv_sigmoid(beta),
                   inhibition=_inv_softplus(max(inhibition, 1e-4)), threshold=_inv_softplus(threshold))
        for name in self._learned:
            self.register_parameter(f"{name}_raw", nn.Parameter(torch.full(shape, raw[name])))
        self.stochastic, self.reset, self.surrogate = stochastic, reset, get_surrogate(surrogate)
        self.seed = seed

    def intrinsic(self) -> dict:
        """Current intrinsic parameters in their natural ranges."""
        out = dict(self._fixed)
        for name in self._learned:
            raw = getattr(self, f"{name}_raw")
            out[name] = torch.sigmoid(raw) if name in ("transmission", "beta") else F.softplus(raw)
        return out

    def params(self) -> MetaNeuronParams:
        return MetaNeuronParams(self.weight, **self.intrinsic(), stochastic=self.stochastic,
                                reset=self.reset, surrogate=self.surrogate)

    def forward(self, x, state: MetaNeuronState | None = None, current=None):
        """``x [T, B, in]`` spikes; ``current`` an extra somatic input, ``[B, out]`` held over
        time or ``[T, B, out]`` (a teacher signal for supervised plasticity)."""
        check_sequence(x, (self.in_features,), "MetaNeuronLayer")
        t_len, b = x.shape[:2]
        if state is None:
            state = MetaNeuronState(x.new_zeros(b, self.out_features))
        p = self.params()
        gen = None
        if self.seed is not None:
            gen = torch.Generator(device=x.device).manual_seed(self.seed)
        if current is None:
            return scan(lambda x_t, s_, p_: meta_neuron_step(x_t, s_, p_, gen), x, state, p)
        current = torch.as_tensor(current, dtype=x.dtype, device=x.device)
        if current.shape == (b, self.out_features):
            currents = [current] * t_len
        elif current.shape == (t_len, b, self.out_features):
            currents = current.unbind(0)
        else:
            raise ValueError(f"MetaNeuronLayer: current must be [B, out] = [{b}, {self.out_features}] or "
                             f"[T, B, out] = [{t_len}, {b}, {self.out_features}]; got {tuple(current.shape)}")
        outs = []
        for x_t, c_t in zip(x.unbind(0), currents):
            s_t, state = meta_neuron_step(x_t, state, p, gen, c_t)
            outs.append(s_t)
        return torch.stack(outs), state

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, learn={list(self._learned)}, stochastic={self.stochastic}"
