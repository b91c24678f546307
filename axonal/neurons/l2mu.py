"""Legendre Memory Unit (LMU) and its natively spiking version, the L2MU.

LMU: Voelker, Kajić & Eliasmith, "Legendre Memory Units: Continuous-Time Representation in
Recurrent Neural Networks", NeurIPS 2019. Per step, with an encoder ``u``, a linear memory
``m`` (``memory_size`` units with ``order`` Legendre coefficients each) and a hidden state ``h``:

    u_t = e_x x_t + e_h h_{t-1} + e_m m_{t-1}                (memory_size)
    m_t[j] = Ā m_{t-1}[j] + B̄ u_t[j]                         (per unit j, order coefficients)
    h_t = tanh(W_x x_t + W_h h_{t-1} + W_m m_t)              (hidden_size)

``Ā``, ``B̄`` are the continuous Legendre (Padé) delay matrices ``A/θ``, ``B/θ`` discretised
with zero-order hold at ``dt`` (:func:`lmu_matrices`); they are fixed, so that the memory
keeps an optimal polynomial summary of the last ``θ`` steps of ``u``.

L2MU: Fra, Leto, Pignata, Macii & Urgese, "Natively neuromorphic LMU architecture for
encoding-free SNN-based HAR on commercial edge devices", ICANN 2024 (arXiv 2407.04076). Each
block (encoder, memory, hidden and output) is a population of LIF (or current-based LIF)
neurons and the blocks exchange spikes only:

    s^u_t = LIF_u(e_x x_t + e_h s^h_{t-1} + e_m s^m_{t-1})
    s^m_t = LIF_m(Ā s^m_{t-1}[j] + B̄ s^u_t[j])              (per memory unit j)
    s^h_t = LIF_h(W_x x_t + W_h s^h_{t-1} + W_m s^m_t)
    s^o_t = LIF_o(W_o s^h_t + b_o)

Every population learns its decay and threshold (one value per population, ``learn=
("tau_mem", "threshold")``). Initial decays/thresholds default to the best Braille
configuration of the authors' follow-up code (u 0.8/0.2, h 0.45/0.65, m 0.2/0.4, out
0.6/0.15). Initialisation as in that code: ``e_x``, ``e_h`` LeCun-uniform, ``e_m`` zero,
``W_x``, ``W_h``, ``W_m`` Xavier-normal, no biases in the cell.

The "encoding-free" input module (:class:`SpikingInputModule`) turns raw sensor values into
spikes inside the network: three ``Linear -> LIF`` layers trained end to end (the paper names
a three-layer module; its sizes are not published, the default width is 4x the channels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal, apply_per_step
from .base import NeuronParams, check_sequence, constant, scan
from .catalog import neuron_class, renamed_error

__all__ = [
    "legendre_continuous",
    "lmu_matrices",
    "LegendreMemory",
    "Fanout",
    "LMU",
    "LMUParams",
    "LMUState",
    "LMUStepParams",
    "lmu_step",
    "SpikingInputModule",
    "L2MU",
    "L2MUState",
    "L2MUStepParams",
    "l2mu_step",
    "L2MU_BRAILLE_INIT",
]

#: (decay, threshold) of each population in the authors' best Braille-7 configuration
#: (neuromorphic-polito/L2MU-Braille, model_insights/best_parameters); used as initial values.
L2MU_BRAILLE_INIT = {"u": (0.8, 0.2), "h": (0.45, 0.65), "m": (0.2, 0.4), "o": (0.6, 0.15)}


# ----------------------------------------------------------------------------- matrices
def legendre_continuous(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous LMU state-space matrices ``A`` (order x order) and ``B`` (order x 1).

    ``A[i, j] = (2i+1) * (-1 if i < j else (-1)^(i-j+1))``, ``B[i] = (2i+1) (-1)^i``
    (Voelker et al. 2019, eq. 2, with θ factored out).
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive int (number of Legendre coefficients), got {order!r}")
    q = np.arange(order, dtype=np.float64)
    r = (2 * q + 1)[:, None]
    i, j = np.meshgrid(q, q, indexing="ij")
    a = np.where(i < j, -1.0, (-1.0) ** (i - j + 1)) * r
    b = r * ((-1.0) ** q)[:, None]
    return a, b


@dataclass(frozen=True)
class LMUParams(NeuronParams):
    """The constants of a Legendre memory: ``order`` coefficients per unit, window ``theta`` and
    step ``dt`` (both in the same time unit). Fixed: ``Ā``, ``B̄`` are not learned."""

    order: int = 4
    theta: float = constant(10.0, check="positive")
    dt: float = constant(1.0, check="positive")

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.order, int) or isinstance(self.order, bool) or self.order < 1:
            raise ValueError(f"LMU order must be a positive int, got {self.order!r}")


def lmu_matrices(order: int, theta: float, dt: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Discrete ``(Ā, B̄)`` of the LMU: zero-order hold of ``(A/θ, B/θ)`` over ``dt`` (float64).

    Computed as the matrix exponential of the block matrix ``[[A/θ, B/θ], [0, 0]] dt``, whose
    top blocks are ``Ā = e^{A dt/θ}`` and ``B̄ = A^{-1}(Ā - I) B`` (identical to
    ``scipy.signal.cont2discrete((A/θ, B/θ, C, D), dt, method="zoh")``).
    """
    LMUParams(order=order, theta=theta, dt=dt)  # validates
    a, b = legendre_continuous(order)
    n = order
    block = torch.zeros(n + 1, n + 1, dtype=torch.float64)
    block[:n, :n] = torch.from_numpy(a) / theta * dt
    block[:n, n:] = torch.from_numpy(b) / theta * dt
    e = torch.linalg.matrix_exp(block)
    return e[:n, :n].clone(), e[:n, n:].clone()


class LegendreMemory(nn.Module):
    """The fixed memory coupling of the LMU: ``m[j] <- Ā m[j] + B̄ u[j]`` for each unit ``j``.

    ``forward(m [B, memory_size*order], u [B, memory_size]) -> [B, memory_size*order]``; the
    result is the new memory (LMU) or the memory population's input current (L2MU). ``Ā``,
    ``B̄`` are buffers (not trained). For ``SpikeMonitor`` it reports its synaptic operations:
    every nonzero memory element fans out to ``order`` targets (a column of ``Ā``), every
    nonzero encoder element to ``order`` targets (``B̄``).
    """

    def __init__(self, memory_size: int, order: int, theta: float, dt: float = 1.0):
        super().__init__()
        if memory_size < 1:
            raise ValueError(f"memory_size must be >= 1, got {memory_size}")
        a, b = lmu_matrices(order, theta, dt)
        self.memory_size, self.order, self.theta, self.dt = memory_size, order, float(theta), float(dt)
        self.register_buffer("A", a.float())
        self.register_buffer("B", b.float().squeeze(1))

    def forward(self, m: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        batch = m.shape[0]
        mm = m.reshape(batch, self.memory_size, self.order)
        new = torch.matmul(mm, self.A.to(m.dtype).t()) + u.unsqueeze(-1) * self.B.to(m.dtype)
        return new.reshape(batch, self.memory_size * self.order)

    def synaptic_operations(self, inputs: tuple, output):
        m, u = inputs[0], inputs[1]
        ops = (torch.count_nonzero(m.detach()) + torch.count_nonzero(u.detach())).double() * self.order
        dense = float(m.numel() + u.numel()) * self.order
        return ops, dense

    def extra_repr(self) -> str:
        return f"memory_size={self.memory_size}, order={self.order}, theta={self.theta}, dt={self.dt}"


class Fanout(nn.Module):
    """One presynaptic population projecting to several targets through their own weights.

    ``Fanout(lin_a, lin_b)(x, weight)`` with ``weight = fanout.stacked()`` returns
    ``(lin_a(x), lin_b(x))`` (no biases) from a single matmul with the stacked weights. The
    linear layers stay owned (and registered) by the caller; this module only groups them and
    tells ``SpikeMonitor`` the fan-out (``fan_out``: the sum of the targets' sizes) so each
    input event is counted once per synapse.
    """

    def __init__(self, *layers: nn.Linear):
        super().__init__()
        if not layers or any(l.bias is not None for l in layers):
            raise ValueError("Fanout needs one or more nn.Linear layers without bias")
        if len({l.in_features for l in layers}) != 1:
            raise ValueError("Fanout layers must share in_features")
        self._layers = list(layers)  # plain list: parameters stay registered on the owner only
        self.sizes = [l.out_features for l in layers]
        self.fan_out = int(sum(self.sizes))

    def stacked(self) -> torch.Tensor:
        return torch.cat([l.weight for l in self._layers])

    def forward(self, x: torch.Tensor, weight: torch.Tensor):
        y = F.linear(x, weight)
        outs, start = [], 0
        for n in self.sizes:  # slicing: cheaper than Tensor.split per step
            outs.append(y[..., start:start + n])
            start += n
        return tuple(outs)


def _lecun_uniform_(w: torch.Tensor) -> torch.Tensor:
    bound = math.sqrt(3.0 / w.shape[1])
    with torch.no_grad():
        return w.uniform_(-bound, bound)


def _check_sizes(**sizes):
    for k, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{k} must be a positive int, got {v!r}")


# ----------------------------------------------------------------------------- LMU (non-spiking)
class LMUState(NamedTuple):
    h: torch.Tensor  # [B, hidden_size]
    m: torch.Tensor  # [B, memory_size * order]


class LMUStepParams(NamedTuple):
    """What one LMU step reads: the fixed memory and the six projections (callables)."""

    memory: Callable   # (m, u) -> new m
    e_x: Callable
    e_h: Callable
    e_m: Callable
    W_x: Callable
    W_h: Callable
    W_m: Callable


def lmu_step(x_t, state: LMUState, p: LMUStepParams):
    """One LMU step (module docstring): ``x_t [B, input_size]`` -> ``(h, LMUState)``."""
    h, m = state
    u = p.e_x(x_t) + p.e_h(h) + p.e_m(m)
    m = p.memory(m, u)
    h = torch.tanh(p.W_x(x_t) + p.W_h(h) + p.W_m(m))
    return h, LMUState(h, m)


class LMU(Temporal):
    """Non-spiking Legendre Memory Unit (Voelker et al., NeurIPS 2019): the L2MU's reference.

    ``forward(x [T, B, input_size], state=None) -> (h [T, B, hidden_size], LMUState)``.
    Same initialisation as :class:`L2MU`; ``activation`` is ``tanh`` as in the paper. The
    neuron contract: ``Params`` (``LMUParams``), ``State``, the pure ``lmu_step`` run by ``scan``
    (a recurrence through dense projections: no elementwise fused kernel applies).
    """

    Params = LMUParams
    State = LMUState
    step = staticmethod(lmu_step)

    def __init__(self, input_size: int, hidden_size: int, memory_size: int, order: int = 4,
                 theta: float = 10.0, dt: float = 1.0):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, memory_size=memory_size)
        self._params = LMUParams(order=order, theta=theta, dt=dt)
        self.input_size, self.hidden_size, self.memory_size, self.order = input_size, hidden_size, memory_size, order
        mo = memory_size * order
        self.memory = LegendreMemory(memory_size, order, theta, dt)
        self.e_x = nn.Linear(input_size, memory_size, bias=False)
        self.e_h = nn.Linear(hidden_size, memory_size, bias=False)
        self.e_m = nn.Linear(mo, memory_size, bias=False)
        self.W_x = nn.Linear(input_size, hidden_size, bias=False)
        self.W_h = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_m = nn.Linear(mo, hidden_size, bias=False)
        _lecun_uniform_(self.e_x.weight)
        _lecun_uniform_(self.e_h.weight)
        nn.init.zeros_(self.e_m.weight)
        for lin in (self.W_x, self.W_h, self.W_m):
            nn.init.xavier_normal_(lin.weight)

    def params(self) -> LMUParams:
        return self._params

    def step_params(self) -> LMUStepParams:
        return LMUStepParams(self.memory, self.e_x, self.e_h, self.e_m, self.W_x, self.W_h, self.W_m)

    def initial_state(self, x_t: torch.Tensor) -> LMUState:
        b = x_t.shape[0]
        return LMUState(x_t.new_zeros(b, self.hidden_size), x_t.new_zeros(b, self.memory_size * self.order))

    def forward(self, x: torch.Tensor, state: LMUState | None = None):
        check_sequence(x, (self.input_size,), "LMU")
        if state is None:
            state = self.initial_state(x[0] if x.shape[0] else x.new_zeros(x.shape[1:]))
        elif not isinstance(state, LMUState):
            raise TypeError(f"LMU: state must be an LMUState (as returned by forward), got {type(state).__name__}")
        return scan(lmu_step, x, state, self.step_params())


# ----------------------------------------------------------------------------- spiking input module
class SpikingInputModule(Temporal):
    """Encoding-free front end: raw values -> ``[Linear -> LIF] x layers`` -> spikes.

    ``forward(x [T, B, in_features], state=None) -> (spikes [T, B, width], states)``. The LIF
    populations learn their decay and threshold; the first layer sees real values (MACs), the
    others spikes. ``neuron`` is ``"lif"`` or ``"cuba_lif"``. The layers
    are feed-forward, so each population runs its fused kernel over the whole sequence
    (``backend="auto"``).
    """

    def __init__(self, in_features: int, width: int, layers: int = 3, neuron: str = "lif",
                 decay: float = 0.8, threshold: float = 0.5, syn_decay: float = 0.5,
                 learn: Sequence[str] = ("tau_mem", "threshold"), backend: str = "auto"):
        super().__init__()
        _check_sizes(in_features=in_features, width=width, layers=layers)
        self.in_features, self.width = in_features, width
        self.linears = nn.ModuleList(nn.Linear(in_features if i == 0 else width, width) for i in range(layers))
        self.neurons = nn.ModuleList(_population(neuron, width, decay, threshold, syn_decay, learn, backend)
                                     for _ in range(layers))

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        check_sequence(x, (self.in_features,), "SpikingInputModule")
        if state is not None and len(state) != len(self.neurons):
            raise ValueError(f"SpikingInputModule: state must hold {len(self.neurons)} entries; pass None to start fresh")
        states = []
        for i, (lin, neu) in enumerate(zip(self.linears, self.neurons)):
            x, st = neu(apply_per_step(lin, x), None if state is None else state[i])
            states.append(st)
        return x, tuple(states)


#: the neuron models of the paper's populations, by their names in ``neurons.catalog``
POPULATION_NEURONS = ("lif", "cuba_lif")


def _population(neuron: str, size: int, decay: float, threshold: float, syn_decay: float,
                learn: Sequence[str], backend: str = "auto"):
    error = renamed_error(neuron)
    if error is not None:
        raise error
    name = neuron
    if name not in POPULATION_NEURONS:
        raise ValueError(f"neuron must be 'lif' (Leaky) or 'cuba_lif' (Synaptic / current-based), "
                         f"got {neuron!r}")
    extra = {} if name == "lif" else {"tau_syn": -1.0 / math.log(syn_decay)}
    return neuron_class(name)(size, decay=decay, threshold=threshold, learn=tuple(learn),
                              backend=backend, **extra)


# ----------------------------------------------------------------------------- L2MU
class L2MUState(NamedTuple):
    u: tuple               # encoder population state
    m: tuple               # memory population state
    h: tuple               # hidden population state
    o: tuple | None        # output population state (None without an output population)
    s_m: torch.Tensor      # last memory spikes [B, memory_size*order]
    s_h: torch.Tensor      # last hidden spikes [B, hidden_size]
    inp: tuple | None      # input-module states (None without an input module)


class L2MUCarry(NamedTuple):
    """The L2MU state during a scan: ``L2MUState`` (less the input module's) plus the
    projections of the last spikes that the next step reads."""

    u: tuple
    m: tuple
    h: tuple
    o: tuple | None
    s_m: torch.Tensor
    s_h: torch.Tensor
    to_u_h: torch.Tensor   # e_h s^h_{t-1}
    to_h_h: torch.Tensor   # W_h s^h_{t-1}
    to_u_m: torch.Tensor   # e_m s^m_{t-1}


class L2MUStepParams(NamedTuple):
    """What one L2MU step reads, resolved once per pass (``L2MU.step_params``)."""

    steps: tuple           # the populations' step functions: u, m, h (, o)
    params: tuple          # and their Params
    memory: Callable       # (s_m, s_u) -> memory population input
    from_m: Callable       # (s_m, w_m) -> (e_m s_m, W_m s_m)
    from_h: Callable       # (s_h, w_h) -> (e_h s_h, W_h s_h)
    w_m: torch.Tensor      # stacked [e_m; W_m]
    w_h: torch.Tensor      # stacked [e_h; W_h]
    W_o: Callable | None   # hidden -> output population input (None: no output population)


def l2mu_step(currents, c: L2MUCarry, p: L2MUStepParams):
    """One L2MU step (module docstring) from the feed-forward currents ``(e_x x_t, W_x x_t)``.

    Returns ``(out, carry, s_u)``: the output population's spikes (the hidden ones without an
    output population), the new carry and the encoder spikes (for ``trace``). The populations
    are coupled within the step (u -> m -> h -> o) and across steps (h, m -> u, h), so they run
    their reference steps here: a kernel that fuses time for one population cannot apply.
    """
    iu, ih = currents
    s_u, st_u = p.steps[0](iu + c.to_u_h + c.to_u_m, c.u, p.params[0])
    s_m, st_m = p.steps[1](p.memory(c.s_m, s_u), c.m, p.params[1])
    to_u_m, to_h_m = p.from_m(s_m, p.w_m)
    s_h, st_h = p.steps[2](ih + c.to_h_h + to_h_m, c.h, p.params[2])
    to_u_h, to_h_h = p.from_h(s_h, p.w_h)
    if p.W_o is not None:
        out, st_o = p.steps[3](p.W_o(s_h), c.o, p.params[3])
    else:
        out, st_o = s_h, c.o
    return out, L2MUCarry(st_u, st_m, st_h, st_o, s_m, s_h, to_u_h, to_h_h, to_u_m), s_u


class L2MU(Temporal):
    """Natively spiking LMU (Fra et al., ICANN 2024): encoder, memory, hidden (and output)
    populations of LIF or CuBa-LIF neurons exchanging spikes only. See the module docstring.

    ``L2MU(input_size, hidden_size, memory_size, order, theta, output_size=None, neuron="lif",
    input_module=4)``: ``input_module`` is the width factor of the three-layer spiking input
    module (``None`` or 0 feeds ``x`` directly to ``e_x`` and ``W_x``; give spikes then if the
    network must be spike-only). ``init`` maps population name ("u", "m", "h", "o") to initial
    ``(decay, threshold)``; ``syn_decay`` is the synaptic decay of CuBa populations.

    ``forward(x [T, B, input_size], state=None) -> (spikes [T, B, output_size or hidden_size],
    L2MUState)``. ``trace`` also returns every block's spikes.

    How the populations run: the spiking input module's layers are feed-forward, so each of
    its populations takes its fused kernel over the whole sequence; the cell's populations (u,
    m, h, o) feed each other within every step and across steps, so the cell is the per-step
    ``l2mu_step`` (the populations' reference steps inside one Python loop over time).
    """

    def __init__(self, input_size: int, hidden_size: int, memory_size: int, order: int = 4,
                 theta: float = 10.0, output_size: int | None = None, neuron: str = "lif",
                 input_module: float | None = 4, input_layers: int = 3, init: dict | None = None,
                 syn_decay: float = 0.5, learn: Sequence[str] = ("tau_mem", "threshold"), dt: float = 1.0):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, memory_size=memory_size)
        if output_size is not None:
            _check_sizes(output_size=output_size)
        cfg = dict(L2MU_BRAILLE_INIT)
        if init:
            unknown = set(init) - set(cfg)
            if unknown:
                raise ValueError(f"init: unknown populations {sorted(unknown)}; known: {sorted(cfg)}")
            cfg.update(init)
        self.input_size, self.hidden_size, self.memory_size = input_size, hidden_size, memory_size
        self._params = LMUParams(order=order, theta=theta, dt=dt)
        self.order, self.theta, self.neuron = order, float(theta), neuron
        self.output_size = output_size
        mo = memory_size * order
        if input_module:
            width = max(1, int(round(input_module * input_size)))
            self.input_module = SpikingInputModule(input_size, width, input_layers, neuron,
                                                   syn_decay=syn_decay, learn=learn)
            feat = width
        else:
            self.input_module = None
            feat = input_size
        self.memory = LegendreMemory(memory_size, order, theta, dt)
        self.e_x = nn.Linear(feat, memory_size, bias=False)
        self.e_h = nn.Linear(hidden_size, memory_size, bias=False)
        self.e_m = nn.Linear(mo, memory_size, bias=False)
        self.W_x = nn.Linear(feat, hidden_size, bias=False)
        self.W_h = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_m = nn.Linear(mo, hidden_size, bias=False)
        _lecun_uniform_(self.e_x.weight)
        _lecun_uniform_(self.e_h.weight)
        nn.init.zeros_(self.e_m.weight)
        for lin in (self.W_x, self.W_h, self.W_m):
            nn.init.xavier_normal_(lin.weight)
        self.from_x = Fanout(self.e_x, self.W_x)
        self.from_h = Fanout(self.e_h, self.W_h)
        self.from_m = Fanout(self.e_m, self.W_m)
        self.pop_u = _population(neuron, memory_size, *cfg["u"], syn_decay, learn)
        self.pop_m = _population(neuron, mo, *cfg["m"], syn_decay, learn)
        self.pop_h = _population(neuron, hidden_size, *cfg["h"], syn_decay, learn)
        if output_size is not None:
            self.W_o = nn.Linear(hidden_size, output_size)
            self.pop_o = _population(neuron, output_size, *cfg["o"], syn_decay, learn)
        else:
            self.W_o = self.pop_o = None

    def params(self) -> LMUParams:
        """The memory's constants (each population has its own Params: ``pop_u.params()``, ...)."""
        return self._params

    def initial_state(self, x_t: torch.Tensor) -> L2MUState:
        """Zero state for one input step ``x_t [B, input_size]``."""
        z = lambda n: x_t.new_zeros(x_t.shape[0], n)
        mk = lambda pop, n: pop.initial_state(z(n))
        mo = self.memory_size * self.order
        o = mk(self.pop_o, self.output_size) if self.pop_o is not None else None
        return L2MUState(mk(self.pop_u, self.memory_size), mk(self.pop_m, mo), mk(self.pop_h, self.hidden_size),
                         o, z(mo), z(self.hidden_size), None)

    def step_params(self) -> L2MUStepParams:
        """The step's inputs for this pass (the populations' Params resolved once)."""
        pops = [self.pop_u, self.pop_m, self.pop_h] + ([self.pop_o] if self.pop_o is not None else [])
        return L2MUStepParams(tuple(type(p).step for p in pops), tuple(p.params() for p in pops),
                              self.memory, self.from_m, self.from_h, self.from_m.stacked(),
                              self.from_h.stacked(), self.W_o)

    def _run(self, x, state, record: bool):
        check_sequence(x, (self.input_size,), "L2MU")
        if state is None:
            state = self.initial_state(x[0] if x.shape[0] else x.new_zeros(x.shape[1:]))
        elif not isinstance(state, L2MUState):
            raise TypeError(f"L2MU: state must be an L2MUState (as returned by forward), got {type(state).__name__}")
        elif state.s_h.shape[0] != x.shape[1]:
            raise ValueError(f"L2MU: state batch {state.s_h.shape[0]} != input batch {x.shape[1]}; "
                             "pass state=None to start fresh")
        inp_state = state.inp
        if self.input_module is not None:
            x, inp_state = self.input_module(x, inp_state)   # feed-forward: fused populations
        p = self.step_params()
        # Feed-forward input currents of all steps at once; the projections of the last spikes
        # that the next step needs are carried with the state (one stacked matmul per
        # spiking population and step: s_h -> (e_h, W_h), s_m -> (e_m, W_m)).
        in_u, in_h = self.from_x(x, self.from_x.stacked())
        to_u_h, to_h_h = self.from_h(state.s_h, p.w_h)
        to_u_m, _ = self.from_m(state.s_m, p.w_m)
        carry = L2MUCarry(state.u, state.m, state.h, state.o, state.s_m, state.s_h, to_u_h, to_h_h, to_u_m)
        outs = []
        rec = {"input": x, "u": [], "m": [], "h": [], "o": []} if record else None
        for iu, ih in zip(in_u.unbind(0), in_h.unbind(0)):
            out, carry, s_u = l2mu_step((iu, ih), carry, p)
            outs.append(out)
            if record:
                rec["u"].append(s_u)
                rec["m"].append(carry.s_m)
                rec["h"].append(carry.s_h)
                if self.pop_o is not None:
                    rec["o"].append(out)
        new_state = L2MUState(carry.u, carry.m, carry.h, carry.o, carry.s_m, carry.s_h, inp_state)
        out = torch.stack(outs)
        if record:
            rec = {k: (torch.stack(v) if isinstance(v, list) else v) for k, v in rec.items() if
                   not (isinstance(v, list) and not v)}
            return out, new_state, rec
        return out, new_state

    def forward(self, x: torch.Tensor, state: L2MUState | None = None):
        return self._run(x, state, record=False)

    def trace(self, x: torch.Tensor, state: L2MUState | None = None):
        """``(out, state, spikes)`` where ``spikes`` maps "input", "u", "m", "h" (and "o") to
        the ``[T, B, n]`` spike trains each block sent to the others."""
        return self._run(x, state, record=True)
