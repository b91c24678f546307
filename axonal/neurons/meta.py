"""The probabilistic meta neuron (after the Levy-Baxter-style model of Rudnicka, Szczepański &
Pręgowska, 2025, arXiv 2508.11674; equations are our interpretation, core.md §3).

Transmission is stochastic per synapse, so the model is a soma behind stochastic synapses:

- each presynaptic spike crosses synapse (j -> i) with probability ``s`` (synaptic success);
- a transmitted spike has a random amplitude ``Q ~ U(0, 1)`` scaled by the weight ``w_ij``;
- excitatory (w > 0) and inhibitory (w < 0) drive are summed separately, the inhibitory part
  scaled by the inhibition strength ``b``: ``drive_i = sum_j x_j m_ij Q_ij (w_ij^+ - b w_ij^-)``;
- the soma integrates with leak ``beta`` and fires when it crosses ``g``:
  ``V <- beta V + drive``, spike ``H(V - g)``, reset by subtraction (or to zero, or none).

The library's shape splits these where the physics splits them:

- ``MetaNeuron`` (``@register_neuron("meta")``) is the soma: ``MetaNeuronParams`` (``threshold``
  g, ``beta``; no synaptic weights), ``MetaNeuronState`` and the pure ``meta_neuron_step``, a
  ``NeuronModule`` with a registered ``compiled`` kernel (an elementwise soma fuses over time).
- ``StochasticSynapse`` holds the weights and the per-postsynaptic-neuron synaptic constants
  ``transmission`` s and ``inhibition`` b (``StochasticSynapseParams``), and samples the drive.
- ``MetaNeuronLayer`` composes the two (the convenient layer of the experiments):
  ``MetaNeuronLayer(50, 2, learn=("transmission", "inhibition", "threshold", "beta"))``. Its
  synapse has no recurrence, so the drive of all T steps is sampled first and the soma then
  runs over the whole sequence in its fused kernel.

Learnable constants declare their rule beside the field (``NeuronParams``): ``s`` and ``beta``
through a sigmoid (``unit``), ``b`` and ``g`` through softplus (``positive``). Through the
sampling, the amplitude is pathwise (``w Q`` is differentiable in w) and the Bernoulli
transmission uses a straight-through estimator (``m + s - stop_grad(s)``: forward the sample,
backward the gradient of its mean ``s``). ``stochastic=False`` replaces sampling by its
expectation (``m Q -> s / 2``), a deterministic mean-field neuron. Spikes use a surrogate
derivative as the LIF family does (fast-sigmoid with slope 25, i.e. width 0.04, as core.md
proposes).

The random stream is part of the synapse's state. ``StochasticSynapseState.step`` counts the
steps sampled so far; with ``seed`` given, the noise of step ``t`` is drawn from a generator
seeded by ``(seed, t)`` alone, so a pass from ``state=None`` always sees the same noise
(reproducible evaluation) and streaming a sequence in chunks, passing the state back, gives
exactly the spikes of one call. Without ``seed`` the noise comes from torch's global generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..functional import from_raw, to_raw
from ..kernels.registry import register_kernel
from ..network import Temporal
from ..surrogate import FastSigmoid, Surrogate
from ._fused import CompiledKernel
from .base import NeuronModule, NeuronParams, check_sequence, constant
from .catalog import register_neuron
from .lif import apply_reset

__all__ = ["MetaNeuronParams", "MetaNeuronState", "meta_neuron_step", "MetaNeuron",
           "StochasticSynapseParams", "StochasticSynapseState", "stochastic_drive",
           "StochasticSynapse", "MetaNeuronLayerState", "MetaNeuronLayer"]

Number = float | torch.Tensor


# ----------------------------------------------------------------------------- soma
@dataclass(frozen=True)
class MetaNeuronParams(NeuronParams):
    """The meta neuron's soma: threshold ``g`` and leak factor ``beta`` (floats or per-neuron tensors)."""

    threshold: Number = constant(1.0, learn="positive")                    # g > 0
    beta: Number = constant(0.9, learn="unit", check="unit_closed")        # leak factor in [0, 1]
    reset: str = "subtract"
    surrogate: str | Surrogate = FastSigmoid(width=0.04)
    detach_reset: bool = True


class MetaNeuronState(NamedTuple):
    v: torch.Tensor


def meta_neuron_step(x, state: MetaNeuronState, p: MetaNeuronParams):
    """One soma step: synaptic drive ``x [B, ...]`` -> ``(spikes, state)``."""
    v = p.beta * state.v + x
    spk = p.surrogate(v - p.threshold)
    return spk, MetaNeuronState(apply_reset(v, spk, p.threshold, p))


@register_neuron("meta")
class MetaNeuron(NeuronModule):
    """Meta-neuron somata: ``MetaNeuron(64, threshold=1., beta=0.9, learn=("threshold", "beta"))``.

    ``forward(drive [T, B, ...], state=None) -> (spikes, MetaNeuronState)``. Put a
    ``StochasticSynapse`` (or any synapse) before it, or use ``MetaNeuronLayer``.
    """

    Params = MetaNeuronParams
    State = MetaNeuronState
    step = staticmethod(meta_neuron_step)


def _soma_dynamics(x, v, beta, theta):
    v = beta * v + x
    return v - theta, v


def _soma_subtract(s, v, beta, theta):
    return (v - s * theta,)


def _soma_zero(s, v, beta, theta):
    return (v * (1 - s),)


def _soma_none(s, v, beta, theta):
    return (v,)


register_kernel(MetaNeuronParams, "compiled", CompiledKernel(
    _soma_dynamics, {"subtract": _soma_subtract, "zero": _soma_zero, "none": _soma_none},
    state=("v",), params=("beta", "theta"), bind=lambda p: (p.beta, p.threshold)))


# ----------------------------------------------------------------------------- synapse
@dataclass(frozen=True)
class StochasticSynapseParams(NeuronParams):
    """Synaptic constants, one per postsynaptic neuron (or one per layer)."""

    transmission: Number = constant(0.8, learn="unit", check="unit_closed")   # s in [0, 1]
    inhibition: Number = constant(1.0, learn="positive", check="nonnegative")  # b >= 0
    stochastic: bool = True


class StochasticSynapseState(NamedTuple):
    step: torch.Tensor   # steps sampled so far (int64 scalar): the position in the random stream


def stochastic_drive(x, weight, p: StochasticSynapseParams, generator=None):
    """One step of drive: presynaptic spikes ``x [B, in]``, ``weight [out, in]`` -> ``[B, out]``.

    ``drive_i = sum_j x_j m_ij Q_ij (w_ij^+ - b_i w_ij^-)`` with ``m ~ Bernoulli(s_i)`` (straight-
    through gradient) and ``Q ~ U(0, 1)``, both drawn from ``generator`` (``m`` first); without
    sampling (``stochastic=False``) its expectation ``s_i / 2 sum_j x_j (w_ij^+ - b_i w_ij^-)``.
    """
    inh = p.inhibition
    if isinstance(inh, torch.Tensor) and inh.ndim == 1:
        inh = inh.reshape(-1, 1)                                           # per-neuron: [out, 1]
    w_eff = F.relu(weight) - inh * F.relu(-weight)                         # [out, in]
    s = torch.as_tensor(p.transmission, dtype=x.dtype, device=x.device)
    if not p.stochastic:
        return 0.5 * s * (x @ w_eff.T)
    shape = (x.shape[0], *weight.shape)                                    # [B, out, in]
    s_full = s.reshape(-1, 1) if s.ndim == 1 else s                        # per-neuron s: [out, 1]
    m = (torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype) < s_full).to(x.dtype)
    m = m + s_full - s_full.detach()                                        # straight-through
    q = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.einsum("bi,boi,oi->bo", x, m * q, w_eff)


def _check_features(who: str, **sizes) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")


def _check_input(x, in_features: int, weight: torch.Tensor, who: str) -> None:
    """``check_sequence`` (which also refuses T = 0) plus what a stochastic layer needs: the
    weights' dtype (the drive is drawn and summed in it)."""
    check_sequence(x, (in_features,), who)
    if x.dtype != weight.dtype:
        raise TypeError(f"{who}: the input is {x.dtype} but the layer's weights are "
                        f"{weight.dtype}; convert the input (x.to({weight.dtype})) or the layer "
                        f"(layer.to({x.dtype}))")


def _step_seed(seed: int, t: int) -> int:
    """A generator seed for step ``t`` of stream ``seed`` (well mixed: neighbouring seeds or
    steps give unrelated streams)."""
    return int(np.random.SeedSequence((int(seed), int(t))).generate_state(1, np.uint64)[0] >> 1)


class _Learned(Temporal):
    """Learnable constants of a Params type, stored as ``<field>_param`` raw values (the rule
    declared beside the field, as ``NeuronModule`` does)."""

    Params: type

    def _init_params(self, learn, per_neuron_shape, **values):
        self._fixed = self.Params(**values)          # validates every constant
        rules = self.Params.learn_rules()
        unknown = set(learn) - set(rules)
        if unknown:
            raise ValueError(f"{type(self).__name__}: cannot learn {sorted(unknown)}; learnable: {list(rules)}")
        self._learned = tuple(learn)
        for name in self._learned:
            raw = to_raw(rules[name], torch.as_tensor(getattr(self._fixed, name)).detach())
            self.register_parameter(f"{name}_param", nn.Parameter(torch.broadcast_to(raw, per_neuron_shape).clone()))

    def params(self):
        rules = self.Params.learn_rules()
        values = {n: from_raw(rules[n], getattr(self, f"{n}_param")) for n in self._learned}
        return replace(self._fixed, **values) if values else self._fixed


class StochasticSynapse(_Learned):
    """Stochastic synapses ``in_features -> out_features``: ``forward(x [T, B, in], state=None)
    -> (drive [T, B, out], StochasticSynapseState)``.

    ``transmission`` (s) and ``inhibition`` (b) are one per postsynaptic neuron
    (``per_neuron=True``) or one per layer; ``learn`` names those to learn. ``seed`` makes the
    noise a function of (seed, step): see the module docstring.
    """

    Params = StochasticSynapseParams

    def __init__(self, in_features: int, out_features: int, *, transmission: float = 0.8,
                 inhibition: float = 1.0, stochastic: bool = True, learn: Sequence[str] = (),
                 per_neuron: bool = True, weight_scale: float = 1.0, seed: int | None = None):
        super().__init__()
        _check_features(type(self).__name__, in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self._init_params(learn, (out_features,) if per_neuron else (), transmission=transmission,
                          inhibition=inhibition, stochastic=stochastic)
        bound = weight_scale * math.sqrt(3.0 / in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.seed = seed

    def initial_state(self, x_t: torch.Tensor) -> StochasticSynapseState:
        return StochasticSynapseState(torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor, state: StochasticSynapseState | None = None):
        _check_input(x, self.in_features, self.weight, type(self).__name__)
        if state is None:
            state = self.initial_state(x[0])
        elif not isinstance(state, StochasticSynapseState):
            raise TypeError(f"{type(self).__name__}: state must be a StochasticSynapseState, got {type(state).__name__}")
        p = self.params()
        t0 = int(state.step)
        gen = None
        if self.seed is not None and p.stochastic:
            gen = torch.Generator(device=x.device)
        drives = []
        for t, x_t in enumerate(x.unbind(0)):
            if gen is not None:
                gen.manual_seed(_step_seed(self.seed, t0 + t))
            drives.append(stochastic_drive(x_t, self.weight, p, gen))
        drive = torch.stack(drives)
        return drive, StochasticSynapseState(torch.as_tensor(t0 + x.shape[0], dtype=torch.int64))

    def extra_repr(self):
        return (f"in={self.in_features}, out={self.out_features}, learn={list(self._learned)}, "
                f"stochastic={self._fixed.stochastic}, seed={self.seed}")


# ----------------------------------------------------------------------------- layer
class MetaNeuronLayerState(NamedTuple):
    soma: MetaNeuronState
    synapse: StochasticSynapseState

    @property
    def v(self) -> torch.Tensor:
        """The somata's membrane."""
        return self.soma.v


class MetaNeuronLayer(Temporal):
    """Stochastic synapses + meta-neuron somata: ``MetaNeuronLayer(50, 2, learn=("transmission",
    "inhibition", "threshold", "beta"))``. ``forward(x [T, B, in], state=None, current=None) ->
    (spikes [T, B, out], MetaNeuronLayerState)``.

    Intrinsic constants are one per neuron (``per_neuron=True``, default) or one per layer.
    ``seed`` fixes the synaptic noise as a function of the step (module docstring): every pass
    from ``state=None`` sees the same noise, and chunks streamed with the state equal one call.
    ``backend`` selects the soma's path (``"auto"``: its fused kernel when one applies).
    """

    INTRINSIC = ("transmission", "inhibition", "threshold", "beta")

    def __init__(self, in_features: int, out_features: int, *, transmission: float = 0.8,
                 inhibition: float = 1.0, threshold: float = 1.0, beta: float = 0.9,
                 learn: Sequence[str] = (), per_neuron: bool = True, stochastic: bool = True,
                 reset: str = "subtract", surrogate: str | Surrogate = FastSigmoid(width=0.04),
                 weight_scale: float = 1.0, seed: int | None = None, backend: str = "auto"):
        super().__init__()
        _check_features("MetaNeuronLayer", in_features=in_features, out_features=out_features)
        learn = (learn,) if isinstance(learn, str) else tuple(learn)
        unknown = set(learn) - set(self.INTRINSIC)
        if unknown:
            raise ValueError(f"MetaNeuronLayer: cannot learn {sorted(unknown)}; learnable: {list(self.INTRINSIC)}")
        self.in_features, self.out_features = in_features, out_features
        syn_learn = tuple(n for n in learn if n in StochasticSynapseParams.learn_rules())
        self.synapse = StochasticSynapse(in_features, out_features, transmission=transmission,
                                         inhibition=inhibition, stochastic=stochastic, learn=syn_learn,
                                         per_neuron=per_neuron, weight_scale=weight_scale, seed=seed)
        self.soma = MetaNeuron(out_features, threshold=threshold, beta=beta, reset=reset,
                               surrogate=surrogate, learn=tuple(n for n in learn if n not in syn_learn),
                               per_neuron=per_neuron, backend=backend)

    @property
    def weight(self) -> nn.Parameter:
        """The synaptic weights ``[out, in]``."""
        return self.synapse.weight

    @property
    def seed(self) -> int | None:
        return self.synapse.seed

    def intrinsic(self) -> dict:
        """Current intrinsic constants in their natural ranges."""
        syn, soma = self.synapse.params(), self.soma.params()
        return dict(transmission=syn.transmission, inhibition=syn.inhibition,
                    threshold=soma.threshold, beta=soma.beta)

    def intrinsic_parameters(self) -> dict[str, nn.Parameter]:
        """``{name: raw nn.Parameter}`` of the learned intrinsic constants."""
        out = {}
        for name in self.INTRINSIC:
            for mod in (self.synapse, self.soma):
                p = getattr(mod, f"{name}_param", None)
                if p is not None:
                    out[name] = p
        return out

    def initial_state(self, x_t: torch.Tensor) -> MetaNeuronLayerState:
        return MetaNeuronLayerState(MetaNeuronState(x_t.new_zeros(x_t.shape[0], self.out_features)),
                                    self.synapse.initial_state(x_t))

    def forward(self, x, state: MetaNeuronLayerState | None = None, current=None):
        """``x [T, B, in]`` spikes; ``current`` an extra somatic input, ``[B, out]`` held over
        time or ``[T, B, out]`` (a teacher signal for supervised plasticity)."""
        _check_input(x, self.in_features, self.weight, "MetaNeuronLayer")
        t_len, b = x.shape[:2]
        if state is None:
            state = self.initial_state(x[0])
        elif not isinstance(state, MetaNeuronLayerState):
            raise TypeError(f"MetaNeuronLayer: state must be a MetaNeuronLayerState (as returned by forward), "
                            f"got {type(state).__name__}")
        drive, syn_state = self.synapse(x, state.synapse)
        if current is not None:
            current = torch.as_tensor(current, dtype=x.dtype, device=x.device)
            if current.shape not in ((b, self.out_features), (t_len, b, self.out_features)):
                raise ValueError(f"MetaNeuronLayer: current must be [B, out] = [{b}, {self.out_features}] or "
                                 f"[T, B, out] = [{t_len}, {b}, {self.out_features}]; got {tuple(current.shape)}")
            drive = drive + current
        spikes, soma_state = self.soma(drive, state.soma)
        return spikes, MetaNeuronLayerState(soma_state, syn_state)

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, seed={self.seed}"
