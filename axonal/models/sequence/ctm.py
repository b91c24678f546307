"""Continuous Thought Machine (CTM) components: neuron-level models, synchronisation readout,
certainty-based tick loss, and a small CTM.

After Darlow, Regan, Risi, Jones & Sakana AI, "Continuous Thought Machines" (2025; spec in
``shared/papers/secondary.md`` section 18, read from the authors' ``models/ctm.py``,
``models/modules.py`` and ``utils/losses.py`` as summarised there). The model thinks for
``ticks`` internal steps, decoupled from input time:

- **State**: ``d_model`` neurons, each with the history of its last ``M`` pre-activations (a
  learned start trace) and a post-activation ``z`` (a learned start value).
- **Synapse model**: maps ``[attention output, z]`` to new pre-activations, pushed into each
  neuron's history. The reference uses a U-Net-like MLP; here it is a two-layer GLU MLP with a
  LayerNorm (a simplification for small CPU models).
- :class:`NeuronLevelModels`: every neuron has its **own** two-layer GLU MLP over its history,
  run for all neurons at once as batched ``einsum`` s over ``N`` independent weight sets.
- :class:`SynchronizationReadout`: for neuron pairs ``(i, j)``,
  ``S_ij(t) = sum_{tau<=t} r^{t-tau} z_i z_j / sqrt(sum_{tau<=t} r^{t-tau})`` with a learnable decay
  ``r = exp(-d)``, ``d`` clamped to [0, 15], kept recurrently (``alpha <- r alpha + z_i z_j``,
  ``beta <- r beta + 1``). The "action" synchronisation is the query of cross-attention over the
  input features; the "output" synchronisation gives the logits of every tick.
- :func:`certainty_tick_loss`: certainty = 1 - normalised entropy; the loss is the mean of the
  cross-entropy at the tick with the lowest loss and at the tick with the highest certainty.

Pairs are drawn at random (seeded), with a few self-pairs, as in the reference's random pairing.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NeuronLevelModels", "SynchronizationReadout", "SyncState", "certainty", "certainty_tick_loss",
           "ContinuousThoughtMachine"]


class NeuronLevelModels(nn.Module):
    """Per-neuron private MLPs: history ``[B, N, M]`` -> post-activations ``[B, N]``.

    Neuron ``n``: ``z_n = GLU(GLU(h_n W1_n + b1_n) W2_n + b2_n)`` with ``W1_n [M, 2H]``, ``W2_n [H, 2]``.
    """

    def __init__(self, n_neurons: int, memory: int, hidden: int = 16):
        super().__init__()
        if min(n_neurons, memory, hidden) < 1:
            raise ValueError("NeuronLevelModels needs n_neurons, memory and hidden >= 1")
        b1, b2 = 1 / math.sqrt(memory), 1 / math.sqrt(hidden)
        self.w1 = nn.Parameter(torch.empty(n_neurons, memory, 2 * hidden).uniform_(-b1, b1))
        self.b1 = nn.Parameter(torch.zeros(n_neurons, 2 * hidden))
        self.w2 = nn.Parameter(torch.empty(n_neurons, hidden, 2).uniform_(-b2, b2))
        self.b2 = nn.Parameter(torch.zeros(n_neurons, 2))

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        if history.ndim != 3 or history.shape[1:] != self.w1.shape[:2]:
            raise ValueError(f"NeuronLevelModels expects history [B, {self.w1.shape[0]}, {self.w1.shape[1]}], "
                             f"got {tuple(history.shape)}")
        a = F.glu(torch.einsum("bnm,nmh->bnh", history, self.w1) + self.b1, -1)
        return F.glu(torch.einsum("bnh,nho->bno", a, self.w2) + self.b2, -1).squeeze(-1)


class SyncState(NamedTuple):
    alpha: torch.Tensor   # [B, P] decayed sum of z_i z_j
    beta: torch.Tensor    # [B, P] decayed sum of 1


class SynchronizationReadout(nn.Module):
    """Synchronisation of ``n_pairs`` neuron pairs, updated one tick at a time (O(1) per tick)."""

    def __init__(self, n_neurons: int, n_pairs: int, n_self_pairs: int = 2, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        left = torch.randint(0, n_neurons, (n_pairs,), generator=g)
        right = torch.randint(0, n_neurons, (n_pairs,), generator=g)
        right[:n_self_pairs] = left[:n_self_pairs]
        self.register_buffer("left", left)
        self.register_buffer("right", right)
        self.decay = nn.Parameter(torch.zeros(n_pairs))

    def rate(self) -> torch.Tensor:
        return torch.exp(-self.decay.clamp(0, 15))

    def step(self, z: torch.Tensor, state: SyncState | None = None):
        pp = z[:, self.left] * z[:, self.right]
        r = self.rate()
        if state is None:
            state = SyncState(torch.zeros_like(pp), torch.zeros_like(pp))
        alpha, beta = r * state.alpha + pp, r * state.beta + 1
        return alpha / torch.sqrt(beta), SyncState(alpha, beta)


def certainty(logits: torch.Tensor) -> torch.Tensor:
    """``1 - H(softmax) / log K`` over the class axis 1 of ``logits [B, K, ...]``."""
    logp = F.log_softmax(logits, 1)
    ent = -(logp.exp() * logp).sum(1)
    return 1 - ent / math.log(logits.shape[1])


def certainty_tick_loss(logits: torch.Tensor, y: torch.Tensor):
    """CTM loss for ``logits [B, K, ticks]``, ``y [B]``: mean of the CE at the lowest-loss tick and
    at the most-certain tick. Returns ``(loss, most_certain_tick [B])``."""
    if logits.ndim != 3 or y.shape != logits.shape[:1]:
        raise ValueError(f"certainty_tick_loss needs logits [B, K, ticks] and y [B]; got {tuple(logits.shape)}, "
                         f"{tuple(y.shape)}")
    ce = F.cross_entropy(logits, y.unsqueeze(-1).expand(-1, logits.shape[-1]), reduction="none")   # [B, ticks]
    best = ce.argmin(-1)
    sure = certainty(logits).argmax(-1)
    idx = torch.arange(len(y))
    return (ce[idx, best].mean() + ce[idx, sure].mean()) / 2, sure


class ContinuousThoughtMachine(nn.Module):
    """A small CTM over input features ``[B, S, d_input]`` -> logits ``[B, n_out, ticks]``.

    ``n_out`` may be ``classes * groups`` for several answers at once (parity of every prefix, the
    moves of a maze route): ``ctm.grouped(logits, classes)`` reshapes to ``[B, classes, groups, ticks]``.
    """

    def __init__(self, d_input: int, n_out: int, d_model: int = 32, memory: int = 5, ticks: int = 10,
                 d_attn: int = 32, heads: int = 2, nlm_hidden: int = 8, n_sync_out: int = 32,
                 n_sync_action: int = 16, seed: int = 0):
        super().__init__()
        self.ticks, self.d_model, self.memory = ticks, d_model, memory
        self.kv = nn.Sequential(nn.Linear(d_input, d_attn), nn.LayerNorm(d_attn))
        self.query = nn.Linear(n_sync_action, d_attn)
        self.attention = nn.MultiheadAttention(d_attn, heads, batch_first=True)
        self.synapse = nn.Sequential(nn.Linear(d_attn + d_model, 4 * d_model), nn.GLU(), nn.LayerNorm(2 * d_model),
                                     nn.Linear(2 * d_model, 2 * d_model), nn.GLU())
        self.start_trace = nn.Parameter(torch.randn(d_model, memory) * 0.1)
        self.start_z = nn.Parameter(torch.randn(d_model) * 0.1)
        self.nlm = NeuronLevelModels(d_model, memory, nlm_hidden)
        self.sync_action = SynchronizationReadout(d_model, n_sync_action, seed=seed)
        self.sync_out = SynchronizationReadout(d_model, n_sync_out, seed=seed + 1)
        self.out = nn.Linear(n_sync_out, n_out)

    def forward(self, features: torch.Tensor):
        B = features.shape[0]
        kv = self.kv(features)
        trace = self.start_trace.expand(B, -1, -1)
        z = self.start_z.expand(B, -1)
        sa = so = None
        outs = []
        for _ in range(self.ticks):
            s_act, sa = self.sync_action.step(z, sa)
            o, _ = self.attention(self.query(s_act).unsqueeze(1), kv, kv, need_weights=False)
            pre = self.synapse(torch.cat([o.squeeze(1), z], -1))
            trace = torch.cat([trace[:, :, 1:], pre.unsqueeze(-1)], -1)
            z = self.nlm(trace)
            s_out, so = self.sync_out.step(z, so)
            outs.append(self.out(s_out))
        return torch.stack(outs, -1)

    @staticmethod
    def grouped(logits: torch.Tensor, classes: int) -> torch.Tensor:
        B, n, T = logits.shape
        return logits.view(B, n // classes, classes, T).transpose(1, 2)
