"""RWKV-v4 blocks and SpikeGPT, the spiking RWKV language model.

After Zhu, Zhao, Li & Eshraghian, "SpikeGPT: Generative Pre-trained Language Model with Spiking
Neural Networks" (TMLR 2024; spec in ``shared/papers/secondary.md`` section 2) and Peng et al.,
"RWKV" (2023). The sequence position is the neurons' time axis.

- *Token shift*: each sub-layer mixes ``x_t`` with ``x_{t-1}`` per channel (separate mixing
  weights for the k, v and r paths); the previous token's ``x`` is part of the state.
- *Time mixing*: ``k, v, r`` are linear maps of the shifted mixes; ``Wo(sigmoid(r) * WKV(k, v))``
  with the per-channel decay and bonus of :mod:`axonal.kernels.wkv` (fused numba kernel on CPU).
- *Channel mixing*: ``sigmoid(Wr x') * Wv(relu(Wk x'')^2)``, hidden size ``ffn_mult * d``.
- *Block*: ``x <- x + LIF(TimeMix(LN(x)))``, ``x <- x + LIF(ChannelMix(LN(x)))``; the multi-step
  LIF runs along the token axis with tau = 2, threshold 1, hard reset to 0 and the ATan surrogate
  (alpha = 2), as in SpikeGPT's code (SpikingJelly's ``MultiStepLIFNode``: ``v <- v + (x - v) / tau``,
  which is this library's LIF with decay 1/2 fed ``x / 2``). An extra LN sits before block 0.
- *Binary embedding*: the embedding is passed through a Heaviside spike (ATan surrogate), so the
  network's input is binary, as SpikeGPT proposes.
- ``spiking=False`` gives the non-spiking RWKV of the same size (identity instead of LIF, real
  embedding): the equivalent the paper compares with.

Initialisation follows RWKV-v4's idea (per-channel decays spread from fast to slow across
channels and deeper layers, token-shift mixes from ``(i/d)^p``), in a simplified form: the exact
"fancy init" constants of the reference code are not reproduced. Dropout and the logit L2
penalty of SpikeGPT's code are left out (small models, short training).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ...kernels.wkv import WKVState, initial_state, wkv
from ...neurons.lif import LIF
from ...surrogate import get_surrogate
from .common import LanguageModel

__all__ = ["TimeMixing", "ChannelMixing", "RWKVBlock", "SpikeGPT", "BlockState"]


def _shift(x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """``x_{t-1}`` for every t of ``x [T, B, C]`` (``last`` is the step before the window)."""
    return torch.cat([last.unsqueeze(0), x[:-1]], 0)


class TimeMixing(nn.Module):
    def __init__(self, d: int, layer: int, n_layers: int, backend: str = "auto"):
        super().__init__()
        r0 = layer / max(n_layers - 1, 1)            # 0 at the first layer, 1 at the last
        r1 = 1.0 - layer / n_layers                   # 1 .. ~0
        i = torch.arange(d, dtype=torch.float32)
        self.time_decay = nn.Parameter(-5 + 8 * (i / max(d - 1, 1)) ** (0.7 + 1.3 * r0))
        self.time_first = nn.Parameter(torch.full((d,), math.log(0.3)) + 0.5 * ((i % 3) - 1))
        ramp = (i / d)
        self.mix_k = nn.Parameter(ramp ** r1)
        self.mix_v = nn.Parameter(ramp ** r1 + 0.3 * r0)
        self.mix_r = nn.Parameter(ramp ** (0.5 * r1))
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.output = nn.Linear(d, d, bias=False)
        self.backend = backend

    def forward(self, x, last, state: WKVState | None):
        xx = _shift(x, last)
        k = self.key(x * self.mix_k + xx * (1 - self.mix_k))
        v = self.value(x * self.mix_v + xx * (1 - self.mix_v))
        r = torch.sigmoid(self.receptance(x * self.mix_r + xx * (1 - self.mix_r)))
        y, state = wkv(self.time_decay, self.time_first, k, v, state, backend=self.backend)
        return self.output(r * y), x[-1], state


class ChannelMixing(nn.Module):
    def __init__(self, d: int, layer: int, n_layers: int, mult: int = 4):
        super().__init__()
        r1 = 1.0 - layer / n_layers
        ramp = torch.arange(d, dtype=torch.float32) / d
        self.mix_k = nn.Parameter(ramp ** r1)
        self.mix_r = nn.Parameter(ramp ** r1)
        self.key = nn.Linear(d, mult * d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(mult * d, d, bias=False)

    def forward(self, x, last):
        xx = _shift(x, last)
        k = torch.square(F.relu(self.key(x * self.mix_k + xx * (1 - self.mix_k))))
        r = torch.sigmoid(self.receptance(x * self.mix_r + xx * (1 - self.mix_r)))
        return r * self.value(k), x[-1]


class BlockState(NamedTuple):
    att_last: torch.Tensor
    wkv: WKVState
    ffn_last: torch.Tensor
    lif_att: tuple | None
    lif_ffn: tuple | None


def _spikegpt_lif(d: int) -> LIF:
    # SpikingJelly MultiStepLIFNode(tau=2, v_reset=0, ATan(alpha=2)): decay 1/2, input halved
    return LIF(d, tau_mem=1.0 / math.log(2.0), threshold=1.0, reset="zero", surrogate="atan",
               detach_reset=False, backend="reference")


class RWKVBlock(nn.Module):
    def __init__(self, d: int, layer: int, n_layers: int, spiking: bool = True, ffn_mult: int = 4,
                 backend: str = "auto"):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = TimeMixing(d, layer, n_layers, backend)
        self.ffn = ChannelMixing(d, layer, n_layers, ffn_mult)
        self.spiking = spiking
        if spiking:
            self.lif_att, self.lif_ffn = _spikegpt_lif(d), _spikegpt_lif(d)

    def initial_state(self, batch: int, d: int, device=None) -> BlockState:
        z = torch.zeros(batch, d, device=device)
        return BlockState(z, initial_state(batch, d, device=device), z.clone(), None, None)

    def forward(self, x, state: BlockState, record=None):
        h, att_last, wkv_state = self.att(self.ln1(x), state.att_last, state.wkv)
        lif_att = lif_ffn = None
        if self.spiking:
            h, lif_att = self.lif_att(0.5 * h, state.lif_att)
            record and record("att_spikes", h)
        x = x + h
        h, ffn_last = self.ffn(self.ln2(x), state.ffn_last)
        if self.spiking:
            h, lif_ffn = self.lif_ffn(0.5 * h, state.lif_ffn)
            record and record("ffn_spikes", h)
        return x + h, BlockState(att_last, wkv_state, ffn_last, lif_att, lif_ffn)


class SpikeGPT(LanguageModel):
    """SpikeGPT (``spiking=True``) or the plain RWKV of the same size (``spiking=False``).

    ``SpikeGPT(vocab_size=98, d_model=64, n_layers=2)``; ``forward(x [T, B], state) -> (logits, state)``.
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, ffn_mult: int = 4,
                 spiking: bool = True, binary_embedding: bool | None = None, backend: str = "auto"):
        super().__init__(vocab_size)
        self.spiking = spiking
        self.binary_embedding = spiking if binary_embedding is None else binary_embedding
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        nn.init.uniform_(self.embed.weight, -1e-4 if not self.binary_embedding else -1.0, 1e-4 if not self.binary_embedding else 1.0)
        self.ln0 = nn.LayerNorm(d_model)
        self.blocks = nn.ModuleList(RWKVBlock(d_model, i, n_layers, spiking, ffn_mult, backend)
                                    for i in range(n_layers))
        self.ln_out = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self._spike = get_surrogate("atan")

    def forward(self, x: torch.Tensor, state=None):
        self.check_input(x)
        h = self.embed(x)
        if self.binary_embedding:
            h = self._spike(h)
            self.record("embedding_spikes", h)
        h = self.ln0(h)
        if state is None:
            state = [b.initial_state(x.shape[1], self.d_model, x.device) for b in self.blocks]
        new = []
        for block, s in zip(self.blocks, state):
            h, s = block(h, s, self.record if self.spiking else None)
            new.append(s)
        return self.head(self.ln_out(h)), new
