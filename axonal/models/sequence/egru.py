"""The event-based GRU (EGRU): units communicate only when their state crosses a threshold.

After Subramoney, Nazeer, Schöne, Mayr & Kappel, "Efficient recurrent architectures through
activity sparsity and sparse back-propagation through time" (ICLR 2023), used for language
modelling on SpiNNaker 2 by Nazeer et al. (2024); spec in ``shared/papers/secondary.md`` section 19.
Per unit, with the previous **event output** ``y_{t-1}`` (not the dense state) as recurrent input::

    u_t = sigmoid(W_u x_t + R_u y_{t-1} + b_u)                 update gate
    r_t = sigmoid(W_r x_t + R_r y_{t-1} + b_r)                 reset gate
    z_t = tanh(W_z x_t + R_z (r_t * y_{t-1}) + b_z)            candidate
    c_t = u_t * z_t + (1 - u_t) * c_{t-1}                      internal state
    e_t = H(c_t - theta)                                       event (per-unit learnable theta)
    y_t = c_t * e_t                                            what the unit sends
    c_t <- c_t - theta * e_t                                   subtractive reset after an event

Backward: ``H`` gets the paper's pseudo-derivative ``gamma * max(0, 1 - |c - theta| / eps)``
(defaults ``gamma = 0.3``, ``eps = 1``, recalled from the paper: the exact constants of its
experiments were not retrievable here). :class:`EventOutput` is its autograd function: the
gradient reaching ``c_t`` through ``y_t`` is ``g * (e_t + c_t * H')``, exactly zero for a unit
that neither fired nor came within ``eps`` of its threshold: the backward pass is activity-sparse
(:func:`backward_sparsity` measures the share of units whose gradient path is cut). Where the
paper updates the state with the event of the previous step or the same step is not something
this text could check; the reset here uses the same step's event, so ``y_t`` carries the value
that crossed the threshold.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .common import LanguageModel

__all__ = ["EventOutput", "event_output", "EGRUCell", "EGRUState", "EGRU", "EGRULanguageModel",
           "pseudo_derivative"]


def pseudo_derivative(x: torch.Tensor, gamma: float, eps: float) -> torch.Tensor:
    """``gamma * max(0, 1 - |x| / eps)``: EGRU's surrogate of ``H'(x)``."""
    return gamma * torch.clamp(1 - x.abs() / eps, min=0)


class EventOutput(torch.autograd.Function):
    """``(c, theta) -> (y = c * H(c - theta), e = H(c - theta))`` with the pseudo-derivative."""

    @staticmethod
    def forward(ctx, c, theta, gamma: float, eps: float):
        e = (c > theta).to(c.dtype)
        ctx.save_for_backward(c, theta, e)
        ctx.gamma, ctx.eps = gamma, eps
        return c * e, e

    @staticmethod
    def backward(ctx, gy, ge):
        c, theta, e = ctx.saved_tensors
        d = pseudo_derivative(c - theta, ctx.gamma, ctx.eps)
        g_h = gy * c + ge                       # gradient reaching H(c - theta)
        gc = gy * e + g_h * d
        gtheta = -(g_h * d)
        gtheta = gtheta.sum_to_size(theta.shape) if theta.shape != gtheta.shape else gtheta
        return gc, gtheta, None, None


def event_output(c, theta, gamma: float = 0.3, eps: float = 1.0):
    return EventOutput.apply(c, theta, gamma, eps)


class EGRUState(NamedTuple):
    c: torch.Tensor   # internal state [B, H]
    y: torch.Tensor   # last event output [B, H]


class EGRUCell(nn.Module):
    """One EGRU step: ``forward(x_t [B, I] or precomputed W x_t [B, 3H], state) -> (y_t, e_t, state)``."""

    def __init__(self, input_size: int, hidden_size: int, theta: float = 0.2, gamma: float = 0.3,
                 eps: float = 1.0, theta_spread: float = 0.1):
        super().__init__()
        self.hidden_size = hidden_size
        self.input = nn.Linear(input_size, 3 * hidden_size)
        self.recurrent = nn.Linear(hidden_size, 2 * hidden_size, bias=False)    # R_u, R_r on y
        self.recurrent_z = nn.Linear(hidden_size, hidden_size, bias=False)      # R_z on r * y
        # per-unit learnable thresholds, spread so that units differ in how often they fire
        self.theta = nn.Parameter(theta + theta_spread * torch.rand(hidden_size))
        self.gamma, self.eps = gamma, eps

    def initial_state(self, batch: int, device=None) -> EGRUState:
        z = torch.zeros(batch, self.hidden_size, device=device)
        return EGRUState(z, z.clone())

    def step(self, wx: torch.Tensor, state: EGRUState):
        H = self.hidden_size
        ru = self.recurrent(state.y)
        u = torch.sigmoid(wx[:, :H] + ru[:, :H])
        r = torch.sigmoid(wx[:, H:2 * H] + ru[:, H:])
        z = torch.tanh(wx[:, 2 * H:] + self.recurrent_z(r * state.y))
        c = u * z + (1 - u) * state.c
        y, e = event_output(c, self.theta, self.gamma, self.eps)
        c = c - self.theta * e
        return y, e, EGRUState(c, y)

    def forward(self, x_t: torch.Tensor, state: EGRUState | None = None):
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t.device)
        return self.step(self.input(x_t), state)


class EGRU(nn.Module):
    """EGRU layer over ``x [T, B, I]``: ``-> (y [T, B, H], events [T, B, H], state)``."""

    def __init__(self, input_size: int, hidden_size: int, **cell_options):
        super().__init__()
        self.cell = EGRUCell(input_size, hidden_size, **cell_options)

    def forward(self, x: torch.Tensor, state: EGRUState | None = None):
        if state is None:
            state = self.cell.initial_state(x.shape[1], x.device)
        wx = self.cell.input(x)                     # all input projections at once
        ys, es = [], []
        for w_t in wx.unbind(0):
            y, e, state = self.cell.step(w_t, state)
            ys.append(y)
            es.append(e)
        return torch.stack(ys), torch.stack(es), state


def backward_sparsity(c: torch.Tensor, theta: torch.Tensor, eps: float = 1.0) -> float:
    """Share of units whose pseudo-derivative is zero and that sent no event (gradient path cut)."""
    return float(((c - theta).abs() >= eps).logical_and(c <= theta).float().mean())


class EGRULanguageModel(LanguageModel):
    """Embedding -> EGRU layers -> linear readout of the event outputs."""

    spiking = True

    def __init__(self, vocab_size: int, d_embed: int = 64, hidden: int = 128, n_layers: int = 1, **cell_options):
        super().__init__(vocab_size)
        self.embed = nn.Embedding(vocab_size, d_embed)
        sizes = [d_embed] + [hidden] * n_layers
        self.layers = nn.ModuleList(EGRU(a, b, **cell_options) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        self.check_input(x)
        h = self.embed(x)
        state = state or [None] * len(self.layers)
        new = []
        for i, (layer, s) in enumerate(zip(self.layers, state)):
            h, e, s = layer(h, s)
            self.record(f"events{i}", e)
            new.append(s)
        return self.head(h), new
