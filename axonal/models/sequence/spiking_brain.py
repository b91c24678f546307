"""SpikingBrain-style components: spike-count coding, adaptive-threshold integer activation,
and a small linear-attention language model built from them.

After Pan et al., "SpikingBrain technical report" (BICLab, 2025; spec in
``shared/papers/secondary.md`` section 9, coding schemes from the authors' ``W8ASpike/neuron.py``
as summarised there):

- :class:`AdaptiveIntegerSpike`: an activation is quantised to an integer **spike count**
  ``n = clamp(round(x / V_th), -n_max, n_max)`` with a threshold adapted to the activation's own
  statistics, ``V_th = mean(|x|) / k`` over the feature axis of each token (``k`` sets how many
  spikes an average-sized activation gets). The layer outputs ``n * V_th`` (what the spike train
  decodes to) with a straight-through gradient, and keeps the counts for coding and statistics.
- :func:`encode_counts` / :func:`decode_counts`: integer counts -> spike trains ``[T, ...]`` and
  back, exactly, in three schemes: *binary* (one 1 per step until the count is used, T = max
  count, non-negative counts or a ``zero_point`` shift), *ternary* (+1 / -1 by sign, T = max
  |count|) and *bitwise* (one bit per step, most significant first, T = ceil(log2(max + 1));
  signed as ``sign_magnitude`` (bits of |n| carried as +-1 spikes) or ``twos_complement`` (the
  first bit weighs -2^(T-1))).
- :class:`SpikingLinearAttentionLM`: per layer, LN -> spike-coded q, k, v -> causal linear
  attention ``o_t = phi(q_t) S_t / (phi(q_t) z_t)`` with ``S_t = sum_{i<=t} phi(k_i) v_i^T``,
  ``phi = elu + 1`` (Katharopoulos et al. 2020) carried as a state across windows; a spike-coded
  MLP. Every input of a weight layer is a spike count: a count ``n`` costs ``|n|`` accumulates
  per target (ternary coding), which is how :meth:`SpikeCountLinear.lm_cost` counts them. The
  7B model's sliding-window layers, MoE and conversion from Qwen are out of scope (training
  here is from scratch).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .common import LanguageModel

__all__ = ["encode_counts", "decode_counts", "steps_needed", "AdaptiveIntegerSpike", "SpikeCountLinear",
           "LinearAttentionState", "causal_linear_attention", "SpikingLinearAttentionLM", "SCHEMES"]

SCHEMES = ("binary", "ternary", "bitwise")
SIGNED = ("sign_magnitude", "twos_complement")


def _as_counts(counts) -> torch.Tensor:
    counts = torch.as_tensor(counts)
    if counts.is_floating_point():
        if not torch.equal(counts, counts.round()):
            raise ValueError("spike counts must be integers (round them first)")
        counts = counts.to(torch.int64)
    if counts.dtype == torch.bool or counts.is_complex():
        raise TypeError(f"spike counts must be an integer tensor, got {counts.dtype}")
    return counts.to(torch.int64)


def steps_needed(counts, scheme: str, signed: str = "sign_magnitude", zero_point: int = 0) -> int:
    """The number of time steps a scheme needs for ``counts``."""
    c = _as_counts(counts) - zero_point
    m = int(c.abs().max()) if c.numel() else 0
    if scheme in ("binary", "ternary"):
        return m
    if scheme == "bitwise":
        if signed == "twos_complement":
            lo, hi = (int(c.min()), int(c.max())) if c.numel() else (0, 0)
            t = 1
            while not (-(2 ** (t - 1)) <= lo and hi <= 2 ** (t - 1) - 1):
                t += 1
            return t
        return max(1, math.ceil(math.log2(m + 1))) if m else 1
    raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")


def encode_counts(counts, scheme: str = "ternary", *, signed: str = "sign_magnitude", zero_point: int = 0,
                  steps: int | None = None) -> torch.Tensor:
    """Integer counts ``[...]`` -> spike train ``[T, ...]`` (float 0/1 or -1/0/1); exact inverse of
    :func:`decode_counts` with the same arguments."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    if signed not in SIGNED:
        raise ValueError(f"unknown signed mode {signed!r}; choose one of {SIGNED}")
    c = _as_counts(counts) - zero_point
    need = steps_needed(c, scheme, signed)
    T = need if steps is None else steps
    if T < need:
        raise ValueError(f"{scheme} coding of these counts needs {need} steps, got steps={steps}")
    t = torch.arange(T).view(-1, *([1] * c.ndim))
    if scheme == "binary":
        if (c < 0).any():
            raise ValueError("binary coding needs non-negative counts: pass zero_point=<min count> or use "
                             "scheme='ternary' / 'bitwise'")
        return (t < c).float()
    if scheme == "ternary":
        return (t < c.abs()).float() * torch.sign(c).float()
    if signed == "twos_complement":
        u = torch.where(c < 0, c + (1 << T), c)
        return ((u.unsqueeze(0) >> (T - 1 - t)) & 1).float()
    return ((c.abs().unsqueeze(0) >> (T - 1 - t)) & 1).float() * torch.sign(c).float()


def decode_counts(spikes: torch.Tensor, scheme: str = "ternary", *, signed: str = "sign_magnitude",
                  zero_point: int = 0) -> torch.Tensor:
    """Spike train ``[T, ...]`` -> integer counts ``[...]`` (int64)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    s = spikes.to(torch.int64)
    T = s.shape[0]
    if scheme in ("binary", "ternary"):
        return s.sum(0) + zero_point
    w = (2 ** (T - 1 - torch.arange(T))).view(-1, *([1] * (s.ndim - 1)))
    if signed == "twos_complement":
        w = w.clone()
        w[0] = -w[0]
    return (s * w).sum(0) + zero_point


class AdaptiveIntegerSpike(nn.Module):
    """``x -> n * V_th`` with ``n = clamp(round(x / V_th), -n_max, n_max)``, ``V_th = mean|x| / k``.

    Straight-through gradient (identity inside the clamp range). ``last_counts`` holds the counts
    of the last call (int64) for coding and statistics.
    """

    def __init__(self, k: float = 1.0, n_max: int = 4):
        super().__init__()
        if not k > 0 or n_max < 1:
            raise ValueError(f"AdaptiveIntegerSpike needs k > 0 and n_max >= 1, got k={k}, n_max={n_max}")
        self.k, self.n_max = float(k), int(n_max)
        self.last_counts: torch.Tensor | None = None

    def threshold(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().abs().mean(-1, keepdim=True) / self.k + 1e-6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vth = self.threshold(x)
        n = torch.clamp(torch.round(x.detach() / vth), -self.n_max, self.n_max)
        self.last_counts = n.to(torch.int64)
        inside = (x.detach() / vth).abs() <= self.n_max + 0.5
        q = n * vth
        return torch.where(inside, x + (q - x).detach(), q)


class SpikeCountLinear(nn.Module):
    """``Linear(AdaptiveIntegerSpike(x))``: the layer receives spike counts.

    ``lm_cost`` counts ``sum |n| * out_features`` accumulates (each spike of a ternary train adds
    one weight) against ``numel * out_features`` dense MACs.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = False, k: float = 1.0, n_max: int = 4):
        super().__init__()
        self.spike = AdaptiveIntegerSpike(k, n_max)
        self.linear = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x):
        return self.linear(self.spike(x))

    def lm_cost(self):
        n = self.spike.last_counts
        out = self.linear.out_features
        return float(n.abs().sum()) * out, 0.0, float(n.numel()) * out


class LinearAttentionState(NamedTuple):
    s: torch.Tensor   # [B, H, dk, dv] running sum of phi(k) v^T
    z: torch.Tensor   # [B, H, dk] running sum of phi(k)


def causal_linear_attention(q, k, v, state: LinearAttentionState | None = None):
    """``q, k [T, B, H, dk]``, ``v [T, B, H, dv]`` -> ``(o [T, B, H, dv], state)``, phi = elu + 1."""
    q, k = F.elu(q) + 1, F.elu(k) + 1
    T, B, H, dk = q.shape
    if state is None:
        state = LinearAttentionState(q.new_zeros(B, H, dk, v.shape[-1]), q.new_zeros(B, H, dk))
    kv = torch.einsum("tbhd,tbhe->tbhde", k, v).cumsum(0) + state.s
    z = k.cumsum(0) + state.z
    num = torch.einsum("tbhd,tbhde->tbhe", q, kv)
    den = torch.einsum("tbhd,tbhd->tbh", q, z).unsqueeze(-1)
    return num / (den + 1e-6), LinearAttentionState(kv[-1], z[-1])


class _Layer(nn.Module):
    def __init__(self, d, heads, mult, k, n_max):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = SpikeCountLinear(d, 3 * d, k=k, n_max=n_max)
        self.out = SpikeCountLinear(d, d, k=k, n_max=n_max)
        self.up = SpikeCountLinear(d, mult * d, k=k, n_max=n_max)
        self.down = SpikeCountLinear(mult * d, d, k=k, n_max=n_max)

    def forward(self, x, state, record):
        T, B, d = x.shape
        q, k_, v = self.qkv(self.ln1(x)).view(T, B, 3, self.heads, d // self.heads).unbind(2)
        o, state = causal_linear_attention(q, k_, v, state)
        x = x + self.out(o.reshape(T, B, d))
        x = x + self.down(F.gelu(self.up(self.ln2(x))))
        for name, m in (("qkv", self.qkv), ("out", self.out), ("up", self.up), ("down", self.down)):
            record(f"{name}_counts", m.spike.last_counts)
        return x, state


class SpikingLinearAttentionLM(LanguageModel):
    """Embedding -> [spike-coded linear attention + spike-coded MLP] x L -> readout."""

    spiking = True

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, heads: int = 4, ffn_mult: int = 2,
                 k: float = 1.0, n_max: int = 4):
        super().__init__(vocab_size)
        if d_model % heads:
            raise ValueError(f"d_model={d_model} must be a multiple of heads={heads}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(_Layer(d_model, heads, ffn_mult, k, n_max) for _ in range(n_layers))
        self.ln_out = nn.LayerNorm(d_model)
        self.head = SpikeCountLinear(d_model, vocab_size, k=k, n_max=n_max)

    def forward(self, x, state=None):
        self.check_input(x)
        h = self.embed(x)
        state = state or [None] * len(self.layers)
        new = []
        for layer, s in zip(self.layers, state):
            h, s = layer(h, s, self.record)
            new.append(s)
        return self.head(self.ln_out(h)), new
