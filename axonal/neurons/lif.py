"""The leaky integrate-and-fire family: LIF, current-based LIF, adaptive LIF, and recurrence.

Discrete-time updates with per-step decay ``beta = exp(-dt / tau)`` and input integrated
without the (1 - beta) factor, as in snnTorch's ``Leaky`` and SpikingJelly's ``LIFNode`` with
``decay_input=False``. A spike is emitted when ``v >= theta`` (snnTorch and Norse fire on
``v > theta``; the two differ only when the membrane lands exactly on the threshold):

- LIF:              v <- beta v + x;            s = H(v - theta);  reset
                    (``decay_input=True``: v <- beta v + (1 - beta) x, SpikingJelly's
                    default ``v + (x - v) / tau`` with ``beta = 1 - 1/tau``)
- CurrentBasedLIF:  i <- alpha i + x; v <- beta v + i;  s = H(v - theta);  reset
  (Gerstner et al., "Neuronal Dynamics", 2014, ch. 1; NIR's CubaLIF)
- AdaptiveLIF:      v <- beta v + x;  theta_t = theta + b a;  s = H(v - theta_t);  reset by
  theta_t;  a <- rho a + s   (Bellec et al., 2018, "Long short-term memory and
  learning-to-learn in networks of spiking neurons")
- IF:               v <- v + x  (no leak; the perfect integrator)
- ParametricLIF:    v <- v + (x - v) / tau with 1/tau = sigmoid(w) learned (Fang et al., 2021)

Each registers its fused kernels (numba, Triton, and the fused event-driven Linear) with
``register_lif_family(ParamsType, form)``, where ``form(params)`` describes the neuron to the
kernels as a ``LIFDynamics`` bundle: the kernels know no neuron class.

Reset: ``subtract`` (v -= theta s), ``zero`` (v *= 1 - s) or ``none``. With
``detach_reset=True`` (default, as snnTorch and Zenke & Vogels 2021 recommend) no gradient
flows through the reset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..functional import decay_factor
from ..kernels.lif import LIFDynamics, register_lif_family
from ..kernels.registry import run_kernel
from ..network import Temporal
from ..surrogate import Surrogate
from .base import OUTPUTS, NeuronModule, NeuronParams, _batch_first_in, check_sequence, check_state, constant, scan
from .catalog import register_neuron

Number = float | torch.Tensor


def apply_reset(v, s, threshold, params):
    """Membrane after a spike ``s`` under ``params.reset`` (and ``detach_reset``)."""
    if params.reset == "none":
        return v
    r = s.detach() if params.detach_reset else s
    if params.reset == "subtract":
        return v - r * threshold
    return v * (1 - r)


# ----------------------------------------------------------------------------- LIF
@dataclass(frozen=True)
class LIFParams(NeuronParams):
    tau_mem: Number = constant(10.0, learn="log")
    threshold: Number = constant(1.0, learn="positive")
    reset: str = "subtract"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True
    dt: float = constant(1.0, check="positive")
    #: scale the input by ``1 - beta`` (SpikingJelly's ``decay_input=True``): the membrane then
    #: relaxes towards the input instead of summing it
    decay_input: bool = False


class LIFState(NamedTuple):
    v: torch.Tensor


def lif_step(x, state: LIFState, p: LIFParams):
    """One step of the leaky integrate-and-fire neuron."""
    beta = decay_factor(p.tau_mem, p.dt)
    v = beta * state.v + ((1 - beta) * x if p.decay_input else x)
    s = p.surrogate(v - p.threshold)
    return s, LIFState(apply_reset(v, s, p.threshold, p))


# ----------------------------------------------------------------------------- CuBa-LIF
@dataclass(frozen=True)
class CurrentBasedLIFParams(NeuronParams):
    tau_mem: Number = constant(10.0, learn="log")
    tau_syn: Number = constant(5.0, learn="log")
    threshold: Number = constant(1.0, learn="positive")
    reset: str = "subtract"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True
    dt: float = constant(1.0, check="positive")


class CurrentBasedLIFState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor


def current_based_lif_step(x, state: CurrentBasedLIFState, p: CurrentBasedLIFParams):
    """One step of the current-based LIF: input charges a decaying synaptic current."""
    i = decay_factor(p.tau_syn, p.dt) * state.i + x
    v = decay_factor(p.tau_mem, p.dt) * state.v + i
    s = p.surrogate(v - p.threshold)
    return s, CurrentBasedLIFState(apply_reset(v, s, p.threshold, p), i)


# ----------------------------------------------------------------------------- adaptive LIF
@dataclass(frozen=True)
class AdaptiveLIFParams(NeuronParams):
    tau_mem: Number = constant(20.0, learn="log")
    tau_adapt: Number = constant(200.0, learn="log")
    #: threshold increase per unit of adaptation; 0 is a plain LIF (learned through softplus,
    #: which starts a 0 just above it)
    adaptation: Number = constant(1.8, learn="positive", check="nonnegative")
    threshold: Number = constant(1.0, learn="positive")
    reset: str = "subtract"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True
    dt: float = constant(1.0, check="positive")


class AdaptiveLIFState(NamedTuple):
    v: torch.Tensor
    a: torch.Tensor


def adaptive_lif_step(x, state: AdaptiveLIFState, p: AdaptiveLIFParams):
    """One step of the LIF with a spike-triggered, decaying threshold increase."""
    v = decay_factor(p.tau_mem, p.dt) * state.v + x
    theta = p.threshold + p.adaptation * state.a
    s = p.surrogate(v - theta)
    a = decay_factor(p.tau_adapt, p.dt) * state.a + s
    return s, AdaptiveLIFState(apply_reset(v, s, theta, p), a)


# ----------------------------------------------------------------------------- IF
def _reset_terms(p) -> dict:
    """The reset and surrogate fields every LIF-family form passes on."""
    return dict(reset=p.reset, detach_reset=p.detach_reset, surrogate=p.surrogate)


@dataclass(frozen=True)
class IFParams(NeuronParams):
    threshold: Number = constant(1.0, learn="positive")
    reset: str = "subtract"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True


class IFState(NamedTuple):
    v: torch.Tensor


def if_step(x, state: IFState, p: IFParams):
    """One step of the (non-leaky) integrate-and-fire neuron: the membrane sums its input."""
    v = state.v + x
    s = p.surrogate(v - p.threshold)
    return s, IFState(apply_reset(v, s, p.threshold, p))


@register_neuron("if")
class IF(NeuronModule):
    """Integrate-and-fire neurons without leak, ``v <- v + x`` (the perfect integrator, as
    SpikingJelly's ``IFNode`` and the neuron of ANN-to-SNN conversion). Runs on the LIF
    family's fused kernels with decay 1."""

    Params = IFParams
    State = IFState
    step = staticmethod(if_step)


register_lif_family(IFParams, lambda p: LIFDynamics(
    beta=1.0, threshold=p.threshold, **_reset_terms(p)))


# ----------------------------------------------------------------------------- PLIF
@dataclass(frozen=True)
class ParametricLIFParams(NeuronParams):
    #: 1/tau of the membrane, in (0, 1); learned as sigmoid(w), the paper's parametrisation
    #: (learn rule ``unit``); 0.5 is the paper's initial tau = 2
    inv_tau: Number = constant(0.5, learn="unit")
    threshold: Number = constant(1.0, learn="positive")
    reset: str = "zero"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True


class ParametricLIFState(NamedTuple):
    v: torch.Tensor


def parametric_lif_step(x, state: ParametricLIFState, p: ParametricLIFParams):
    """One step of the parametric LIF: ``v <- v + (x - v) / tau`` = ``(1 - k) v + k x``."""
    k = p.inv_tau
    v = (1 - k) * state.v + k * x
    s = p.surrogate(v - p.threshold)
    return s, ParametricLIFState(apply_reset(v, s, p.threshold, p))


@register_neuron("plif")
class ParametricLIF(NeuronModule):
    """Parametric LIF (PLIF) with a learnable membrane time constant: Fang, Yu, Chen, Huang,
    Masquelier & Tian, 2021, "Incorporating Learnable Membrane Time Constant to Enhance
    Learning of Spiking Neural Networks", ICCV, eq. (4): ``H_t = V_{t-1} + (X_t - (V_{t-1} -
    V_reset)) / tau`` with ``1/tau = sigmoid(w)``, ``w`` learned, one per layer (as the paper
    shares it within a layer; ``per_neuron=True`` gives one per neuron).

    Where this interprets the paper: the membrane rests and resets at 0 (``V_reset = 0``,
    as in the paper's experiments), so ``H_t = (1 - 1/tau) V_{t-1} + X_t / tau``; the reset
    is the family's ``reset`` field, ``"zero"`` by default (the paper's hard reset to
    ``V_reset``), ``"subtract"`` or ``"none"`` on request; ``detach_reset`` defaults to True as
    in the rest of the family. Learned by default (``learn=("inv_tau",)``); pass ``learn=()``
    for a fixed tau. Runs on the LIF family's fused kernels: decay ``1 - 1/tau`` and the
    input scaled by ``1/tau`` with torch ops before the kernel (autograd carries the
    gradient of ``w`` through both); the fused event-driven Linear does not take it (the
    Linear and the neuron then run one after the other). That scaling costs: forward +
    backward at T=100, B=32, N=512 (float32, one thread, numba) took 17-21 ms against 11-12
    ms for ``LIF`` (and ``IF``); a gain applied inside the kernel would remove the difference.
    """

    Params = ParametricLIFParams
    State = ParametricLIFState
    step = staticmethod(parametric_lif_step)

    def __init__(self, size=None, *, learn=("inv_tau",), per_neuron=False, backend="auto",
                 **params):
        super().__init__(size, learn=learn, per_neuron=per_neuron, backend=backend, **params)


register_lif_family(ParametricLIFParams, lambda p: LIFDynamics(
    beta=1 - p.inv_tau, input_gain=p.inv_tau, threshold=p.threshold, **_reset_terms(p)))


# ----------------------------------------------------------------------------- modules
class _LIFFamily(NeuronModule):
    """The LIF family's modules (``decay=`` and the other keywords: ``NeuronModule``)."""


@register_neuron("lif")
class LIF(_LIFFamily):
    """Leaky integrate-and-fire neurons. ``LIF(decay=0.9)`` or ``LIF(tau_mem=10.)``.

    ``forward(x [T, B, ...], state=None) -> (spikes, state)``: it chains in
    ``axonal.Sequential`` (which carries the state), not as such in ``torch.nn.Sequential``;
    there use ``LIF(..., output="spikes")`` (the spikes alone, fresh state every call; add
    ``batch_first=True`` for ``[B, T, ...]`` input). ``decay_input=True`` is SpikingJelly's
    ``LIFNode`` form ``v <- v + (x - v) / tau`` with ``decay = 1 - 1/tau``. A spike fires when
    ``v >= threshold``.
    """

    Params = LIFParams
    State = LIFState
    step = staticmethod(lif_step)


@register_neuron("cuba_lif")
class CurrentBasedLIF(_LIFFamily):
    """Current-based (CuBa) LIF: a synaptic current filters the input before the membrane."""

    Params = CurrentBasedLIFParams
    State = CurrentBasedLIFState
    step = staticmethod(current_based_lif_step)


@register_neuron("adaptive_lif")
class AdaptiveLIF(_LIFFamily):
    """Adaptive-threshold LIF (ALIF), the neuron of long short-term memory SNNs (LSNN)."""

    Params = AdaptiveLIFParams
    State = AdaptiveLIFState
    step = staticmethod(adaptive_lif_step)


def _lif_form(p: LIFParams) -> LIFDynamics:
    beta = decay_factor(p.tau_mem, p.dt)
    return LIFDynamics(beta=beta, threshold=p.threshold, input_gain=(1 - beta) if p.decay_input else None,
                       **_reset_terms(p))


register_lif_family(LIFParams, _lif_form)
register_lif_family(CurrentBasedLIFParams, lambda p: LIFDynamics(
    beta=decay_factor(p.tau_mem, p.dt), alpha=decay_factor(p.tau_syn, p.dt),
    threshold=p.threshold, **_reset_terms(p)))
register_lif_family(AdaptiveLIFParams, lambda p: LIFDynamics(
    beta=decay_factor(p.tau_mem, p.dt), rho=decay_factor(p.tau_adapt, p.dt),
    adaptation=p.adaptation, threshold=p.threshold, **_reset_terms(p)))


# ----------------------------------------------------------------------------- refractory LIF
#: membrane integrators of the refractory LIF and the conductance-based LIF
INTEGRATORS = ("euler", "exp_euler")


@dataclass(frozen=True)
class RefractoryLIFParams(NeuronParams):
    """Constants of the LIF with a resting potential, a reset potential and an absolute
    refractory period (Norse's ``LIFRefrac``, Brian2's ``refractory=``; Gerstner et al.,
    "Neuronal Dynamics", 2014, ch. 1.3). Units: times in ms, voltages in mV (any consistent
    units work; the defaults are the COBA benchmark's, Brette et al. 2007).

    ``bias`` is a constant drive in mV added to the input (PyNN's ``i_offset`` times the
    membrane resistance). ``integrator``: ``"euler"`` (forward Euler, Brian2's choice for these
    equations) or ``"exp_euler"`` (exact for an input held over the step). ``reset``:
    ``"zero"`` sets the membrane to ``v_reset`` (zero distance from it), ``"subtract"``
    lowers it by ``threshold - v_reset``, ``"none"`` leaves it (the refractory clamp still
    holds it for ``t_ref``).
    """

    tau_mem: Number = constant(20.0, learn="log")
    v_rest: Number = constant(-60.0, learn="free")
    v_reset: Number = constant(-60.0, learn="free")
    threshold: Number = constant(-50.0, learn="free")
    #: absolute refractory period (ms): the membrane is clamped for round(t_ref / dt) steps
    #: after a spike, counting the spike's step
    t_ref: Number = constant(5.0, check="nonnegative")
    bias: Number = constant(0.0, learn="free")
    dt: float = constant(0.1, check="positive")
    integrator: str = "euler"
    reset: str = "zero"
    surrogate: str | Surrogate = "atan"
    detach_reset: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_integrator(self.integrator, type(self).__name__)


class RefractoryLIFState(NamedTuple):
    v: torch.Tensor           # membrane (mV)
    refractory: torch.Tensor  # refractory time left (ms); 0: integrating


def check_integrator(integrator: str, who: str) -> None:
    if integrator not in INTEGRATORS:
        raise ValueError(f"{who}.integrator must be one of {list(INTEGRATORS)}, got {integrator!r}")


def refractory_gate(refractory: torch.Tensor, dt: float):
    """Count the refractory time down by one step: ``(time left, integrating mask)``.

    A neuron integrates once less than half a step is left, so a period of ``t_ref`` clamps
    exactly ``round(t_ref / dt)`` steps (the spike's own step included) however the
    repeated subtraction rounds."""
    left = torch.clamp(refractory - dt, min=0.0)
    active = left < 0.5 * dt
    return torch.where(active, torch.zeros_like(left), left), active


def refractory_fire(v, active, left, p):
    """Spike where the integrating membrane reached ``threshold``, reset it and start the
    refractory period: ``(spikes, v, time left)``. The forward values are exact (a reset
    membrane equals ``v_reset``); with ``detach_reset=False`` the reset's gradient flows
    through the surrogate."""
    s = p.surrogate(v - p.threshold) * active.to(v.dtype)
    spiked = s.detach() > 0
    v_after = v
    if p.reset != "none":
        v_reset = torch.as_tensor(p.v_reset, dtype=v.dtype, device=v.device)
        target = v_reset if p.reset == "zero" else v - (p.threshold - v_reset)
        r = s.detach() if p.detach_reset else s
        # where(): the forward value is exactly the target; the second term is 0 forward and
        # carries d(spike) * (target - v) backward when the reset is not detached
        v_after = torch.where(spiked, target, v) + (r - r.detach()) * (target - v)
    t_ref = torch.as_tensor(p.t_ref, dtype=left.dtype, device=left.device).expand_as(left)
    return s, v_after, torch.where(spiked, t_ref, left)


def refractory_lif_step(x, state: RefractoryLIFState, p: RefractoryLIFParams):
    """One step of the refractory LIF (input ``x`` in mV, a current times the resistance):

        tau_mem dv/dt = v_rest - v + bias + x     (while not refractory)
        spike when v >= threshold; v <- v_reset; clamped for t_ref
    """
    left, active = refractory_gate(state.refractory, p.dt)
    drive = p.v_rest + p.bias + x
    if p.integrator == "euler":
        v_new = state.v + p.dt / p.tau_mem * (drive - state.v)
    else:
        v_new = drive + (state.v - drive) * decay_factor(p.tau_mem, p.dt)
    v = torch.where(active, v_new, state.v)
    s, v, left = refractory_fire(v, active, left, p)
    return s, RefractoryLIFState(v, left)


@register_neuron("refractory_lif")
class RefractoryLIF(NeuronModule):
    """LIF with resting and reset potentials and an absolute refractory period, in physical
    units (ms, mV). ``RefractoryLIF(100, t_ref=2.0)``; input ``[T, B, 100]`` in mV.

    The membrane starts at ``v_rest`` (not at 0 as in the dimensionless LIF family). This is
    the neuron of ``axonal.reservoir.SparseNetwork`` (current-based channels).
    """

    Params = RefractoryLIFParams
    State = RefractoryLIFState
    step = staticmethod(refractory_lif_step)

    def initial_state(self, x_t: torch.Tensor) -> RefractoryLIFState:
        """Membrane at ``v_rest``, not refractory, shaped like one input step ``x_t``."""
        v_rest = torch.as_tensor(self.params().v_rest, dtype=x_t.dtype, device=x_t.device)
        return RefractoryLIFState(torch.zeros_like(x_t) + v_rest, torch.zeros_like(x_t))


# ----------------------------------------------------------------------------- recurrence
class RecurrentState(NamedTuple):
    neuron: tuple
    spikes: torch.Tensor


def recurrent_step(neuron_step):
    """Lift a neuron step to one whose input also receives last step's spikes through W."""

    def step(x, state: RecurrentState, p):
        neuron_params, weight = p
        out, inner = neuron_step(x + F.linear(state.spikes, weight), state.neuron, neuron_params)
        return out, RecurrentState(inner, out)

    return step


class Recurrent(Temporal):
    """A neuron population with all-to-all recurrent weights inside the scan (RLIF, RALIF ...).

    ``Recurrent(LIF(128))`` adds ``weight`` [128, 128]; at each step the input is
    ``x_t + s_{t-1} W^T``. With ``in_features=`` it also owns its input weights (Norse's
    ``LIFRecurrent(in, hidden)``: one layer ``in_features -> size``): the input is then
    ``x_t W_in^T + s_{t-1} W^T``, the projection applied to the whole sequence at once before the
    scan. ``forward(x [T, B, N], state=None) -> (spikes, RecurrentState)``; ``output`` and
    ``batch_first`` as for the neurons (``NeuronModule``). The dtype follows the input, as for
    the neurons: the weights are used in the input's dtype.
    """

    def __init__(self, neuron: NeuronModule, weight_scale: float = 1.0, zero_diagonal: bool = False,
                 *, in_features: int | None = None, bias: bool = False,
                 output: str = "spikes_and_state", batch_first: bool = False):
        super().__init__()
        if not isinstance(neuron, NeuronModule):
            raise TypeError(f"Recurrent wraps a neuron module such as LIF(128), got {type(neuron).__name__}")
        if neuron.size is None or len(neuron.size) != 1:
            raise ValueError("Recurrent needs a neuron module with a 1-D size, e.g. Recurrent(LIF(128))")
        if neuron.output != "spikes_and_state" or neuron.batch_first:
            raise ValueError("Recurrent: give output= and batch_first= to Recurrent, not to the neuron it wraps")
        if output not in OUTPUTS:
            raise ValueError(f"Recurrent: output must be one of {list(OUTPUTS)}, got {output!r}")
        n = neuron.size[0]
        self.neuron = neuron
        self.zero_diagonal = zero_diagonal
        self.output = output
        self.batch_first = bool(batch_first)
        bound = weight_scale / math.sqrt(n)
        self.weight = nn.Parameter(torch.empty(n, n).uniform_(-bound, bound))
        if in_features is not None:
            if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features <= 0:
                raise ValueError(f"Recurrent: in_features must be a positive int, got {in_features!r}")
            self.input = nn.Linear(in_features, n, bias=bias)
        else:
            self.input = None
        self._step = recurrent_step(type(neuron).step)

    @property
    def size(self):
        return self.neuron.size

    @property
    def in_features(self) -> int:
        """The width of one input step: ``in_features`` with input weights, else the size."""
        return self.input.in_features if self.input is not None else self.neuron.size[0]

    def recurrent_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        weight = self.weight if dtype is None else self.weight.to(dtype)
        if self.zero_diagonal:
            return weight * (1 - torch.eye(weight.shape[0], device=weight.device, dtype=weight.dtype))
        return weight

    def _name(self) -> str:
        return f"Recurrent({type(self.neuron).__name__})"

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """The input through the input weights (if any), in the input's dtype."""
        check_sequence(x, (self.in_features,), self._name(), finite=self.neuron.check_finite)
        if self.input is None:
            return x
        if x.dtype == self.input.weight.dtype:
            return self.input(x)  # through the module, so its hooks (SpikeMonitor's SynOps) see it
        w = self.input.weight.to(x.dtype)
        b = None if self.input.bias is None else self.input.bias.to(x.dtype)
        return F.linear(x, w, b)

    def _check(self, x, state):
        name = self._name()
        if state is None:
            z = x.new_zeros(x.shape[1:])
            return RecurrentState(self.neuron.initial_state(z), z)
        if not isinstance(state, RecurrentState):
            raise TypeError(f"{name}: state must be a RecurrentState, got {type(state).__name__}")
        if not isinstance(state.spikes, torch.Tensor) or tuple(state.spikes.shape) != tuple(x.shape[1:]):
            shape = tuple(state.spikes.shape) if isinstance(state.spikes, torch.Tensor) else state.spikes
            raise ValueError(
                f"{name}: state has shape {shape} but each step has shape {tuple(x.shape[1:])}; "
                "pass state=None to start fresh"
            )
        if not isinstance(state.neuron, self.neuron.State):
            raise TypeError(f"{name}: state.neuron must be a {self.neuron.State.__name__}, got "
                            f"{type(state.neuron).__name__}")
        check_state(x, state.neuron, name, finite=self.neuron.check_finite)
        check_state(x, state, name, finite=self.neuron.check_finite, batch=False)  # the spikes
        return state

    def run(self, x: torch.Tensor, state: RecurrentState | None = None):
        """Time-major ``(spikes [T, B, N], RecurrentState)`` whatever ``output`` says."""
        x = self._project(x)
        state = self._check(x, state)
        params = self.neuron.params()
        weight = self.recurrent_weight(x.dtype)
        if self.neuron.detach_temporal:  # SLTT: no gradient back in time (kernels keep it: scan)
            return scan(self._step, x, state, (params, weight), detach_temporal=True)
        if not (self.neuron.backend == "auto" and x.shape[0] == 1):  # one step: see NeuronModule.run
            result = run_kernel(params, x, state, self.neuron.backend, weight=weight)
            if result is not None:
                return result
        return scan(self._step, x, state, (params, weight))

    def forward(self, x: torch.Tensor, state: RecurrentState | None = None):
        """Run the population over the sequence ``x`` [T, B, in_features] (``[B, T, ...]`` with
        ``batch_first``), starting from ``state`` (``None``: at rest, no spikes yet).

        Returns ``(spikes [T, B, N], RecurrentState(neuron=<the neuron's state>, spikes=<last
        step's spikes>))``, or the spikes alone with ``output="spikes"``. Passing the returned
        state back continues the sequence exactly (streaming); for truncated backpropagation
        through time pass ``axonal.detach_state(state)``.
        """
        if self.batch_first:
            x = _batch_first_in(x, self._name())
        out, state = self.run(x, state)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out if self.output == "spikes" else (out, state)

    def trace(self, x: torch.Tensor, state: RecurrentState | None = None):
        """Reference scan that also returns every state over time: ``(spikes, states)``."""
        x = self._project(x)
        state = self._check(x, state)
        out, _, states = scan(self._step, x, state, (self.neuron.params(), self.recurrent_weight(x.dtype)),
                              record=True)
        return out, states

    def extra_repr(self) -> str:
        parts = [f"in_features={self.in_features}"] if self.input is not None else []
        if self.zero_diagonal:
            parts.append("zero_diagonal=True")
        if self.output != "spikes_and_state":
            parts.append(f"output={self.output!r}")
        if self.batch_first:
            parts.append("batch_first=True")
        return ", ".join(parts)


def RecurrentLIF(size: int, *, in_features: int | None = None, weight_scale: float = 1.0,
                 zero_diagonal: bool = False, output: str = "spikes_and_state",
                 batch_first: bool = False, **kwargs) -> Recurrent:
    """LIF population with recurrent weights (RLIF): ``RecurrentLIF(128, decay=0.9)``.

    ``in_features=`` gives it input weights too (Norse's ``LIFRecurrent(in, hidden)`` is
    ``RecurrentLIF(hidden, in_features=in)``); the other keywords go to ``LIF``."""
    return Recurrent(LIF(size, **kwargs), weight_scale=weight_scale, zero_diagonal=zero_diagonal,
                     in_features=in_features, output=output, batch_first=batch_first)
