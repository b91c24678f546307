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
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal, apply_per_step
from .base import check_sequence, check_positive
from .lif import LIF, CurrentBasedLIF

__all__ = [
    "legendre_continuous",
    "lmu_matrices",
    "LegendreMemory",
    "Fanout",
    "LMU",
    "LMUState",
    "SpikingInputModule",
    "L2MU",
    "L2MUState",
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


def lmu_matrices(order: int, theta: float, dt: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Discrete ``(Ā, B̄)`` of the LMU: zero-order hold of ``(A/θ, B/θ)`` over ``dt`` (float64).

    Computed as the matrix exponential of the block matrix ``[[A/θ, B/θ], [0, 0]] dt``, whose
    top blocks are ``Ā = e^{A dt/θ}`` and ``B̄ = A^{-1}(Ā - I) B`` (identical to
    ``scipy.signal.cont2discrete((A/θ, B/θ, C, D), dt, method="zoh")``).
    """
    check_positive("theta", theta)
    check_positive("dt", dt)
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


class LMU(Temporal):
    """Non-spiking Legendre Memory Unit (Voelker et al., NeurIPS 2019): the L2MU's reference.

    ``forward(x [T, B, input_size], state=None) -> (h [T, B, hidden_size], LMUState)``.
    Same initialisation as :class:`L2MU`; ``activation`` is ``tanh`` as in the paper.
    """

    def __init__(self, input_size: int, hidden_size: int, memory_size: int, order: int = 4,
                 theta: float = 10.0, dt: float = 1.0):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, memory_size=memory_size)
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

    def initial_state(self, x_t: torch.Tensor) -> LMUState:
        b = x_t.shape[0]
        return LMUState(x_t.new_zeros(b, self.hidden_size), x_t.new_zeros(b, self.memory_size * self.order))

    def forward(self, x: torch.Tensor, state: LMUState | None = None):
        check_sequence(x, (self.input_size,), "LMU")
        h, m = state if state is not None else self.initial_state(x.new_zeros(x.shape[1:]))
        hs = []
        for x_t in x.unbind(0):
            u = self.e_x(x_t) + self.e_h(h) + self.e_m(m)
            m = self.memory(m, u)
            h = torch.tanh(self.W_x(x_t) + self.W_h(h) + self.W_m(m))
            hs.append(h)
        return torch.stack(hs), LMUState(h, m)


# ----------------------------------------------------------------------------- spiking input module
class SpikingInputModule(Temporal):
    """Encoding-free front end: raw values -> ``[Linear -> LIF] x layers`` -> spikes.

    ``forward(x [T, B, in_features], state=None) -> (spikes [T, B, width], states)``. The LIF
    populations learn their decay and threshold; the first layer sees real values (MACs), the
    others spikes. ``neuron`` is ``"lif"`` or ``"cuba"``.
    """

    def __init__(self, in_features: int, width: int, layers: int = 3, neuron: str = "lif",
                 decay: float = 0.8, threshold: float = 0.5, syn_decay: float = 0.5,
                 learn: Sequence[str] = ("tau_mem", "threshold"), backend: str = "scan"):
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


def _population(neuron: str, size: int, decay: float, threshold: float, syn_decay: float,
                learn: Sequence[str], backend: str = "scan"):
    if neuron == "lif":
        return LIF(size, decay=decay, threshold=threshold, learn=tuple(learn), backend=backend)
    if neuron == "cuba":
        tau_syn = -1.0 / math.log(syn_decay)
        return CurrentBasedLIF(size, decay=decay, tau_syn=tau_syn, threshold=threshold,
                               learn=tuple(learn), backend=backend)
    raise ValueError(f"neuron must be 'lif' (Leaky) or 'cuba' (Synaptic / current-based), got {neuron!r}")


# ----------------------------------------------------------------------------- L2MU
class L2MUState(NamedTuple):
    u: tuple               # encoder population state
    m: tuple               # memory population state
    h: tuple               # hidden population state
    o: tuple | None        # output population state (None without an output population)
    s_m: torch.Tensor      # last memory spikes [B, memory_size*order]
    s_h: torch.Tensor      # last hidden spikes [B, hidden_size]
    inp: tuple | None      # input-module states (None without an input module)


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

    def initial_state(self, batch: int, like: torch.Tensor) -> L2MUState:
        z = lambda n: like.new_zeros(batch, n)
        mk = lambda pop, n: pop.initial_state(z(n))
        mo = self.memory_size * self.order
        o = mk(self.pop_o, self.output_size) if self.pop_o is not None else None
        return L2MUState(mk(self.pop_u, self.memory_size), mk(self.pop_m, mo), mk(self.pop_h, self.hidden_size),
                         o, z(mo), z(self.hidden_size), None)

    def _run(self, x, state, record: bool):
        check_sequence(x, (self.input_size,), "L2MU")
        if state is None:
            state = self.initial_state(x.shape[1], x)
        elif not isinstance(state, L2MUState):
            raise TypeError(f"L2MU: state must be an L2MUState (as returned by forward), got {type(state).__name__}")
        elif state.s_h.shape[0] != x.shape[1]:
            raise ValueError(f"L2MU: state batch {state.s_h.shape[0]} != input batch {x.shape[1]}; "
                             "pass state=None to start fresh")
        inp_state = state.inp
        if self.input_module is not None:
            x, inp_state = self.input_module(x, inp_state)
        pops = [self.pop_u, self.pop_m, self.pop_h] + ([self.pop_o] if self.pop_o is not None else [])
        steps = [type(p).step for p in pops]
        params = [p.params() for p in pops]
        st_u, st_m, st_h, st_o, s_m, s_h = state.u, state.m, state.h, state.o, state.s_m, state.s_h
        # Feed-forward input currents for all steps at once; each spiking population's output
        # goes through one stacked matmul to all its targets (same sums as the per-block
        # matrices, fewer calls): s_h -> (e_h, W_h) for the next step, s_m -> W_m now and
        # e_m at the next step.
        in_u, in_h = self.from_x(x, self.from_x.stacked())
        w_h, w_m = self.from_h.stacked(), self.from_m.stacked()
        to_u_h, to_h_h = self.from_h(s_h, w_h)
        to_u_m, _ = self.from_m(s_m, w_m)
        outs = []
        rec = {"input": x, "u": [], "m": [], "h": [], "o": []} if record else None
        for t, (iu, ih) in enumerate(zip(in_u.unbind(0), in_h.unbind(0))):
            s_u, st_u = steps[0](iu + to_u_h + to_u_m, st_u, params[0])
            s_m, st_m = steps[1](self.memory(s_m, s_u), st_m, params[1])
            to_u_m, to_h_m = self.from_m(s_m, w_m)
            s_h, st_h = steps[2](ih + to_h_h + to_h_m, st_h, params[2])
            to_u_h, to_h_h = self.from_h(s_h, w_h)
            if self.pop_o is not None:
                s_o, st_o = steps[3](self.W_o(s_h), st_o, params[3])
                outs.append(s_o)
            else:
                outs.append(s_h)
            if record:
                rec["u"].append(s_u)
                rec["m"].append(s_m)
                rec["h"].append(s_h)
                if self.pop_o is not None:
                    rec["o"].append(s_o)
        new_state = L2MUState(st_u, st_m, st_h, st_o, s_m, s_h, inp_state)
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
