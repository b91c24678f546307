"""Non-spiking language-model baselines of the results table: LSTM, GRU, small causal transformer.

The recurrent baselines carry their state across windows like the spiking models. The
transformer sees only the current window (its context is ``bptt`` characters; no state is
carried), the usual way a small GPT is trained on fixed-length blocks.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import LanguageModel

__all__ = ["RNNLanguageModel", "TransformerLanguageModel"]


class RNNLanguageModel(LanguageModel):
    """Embedding -> ``nn.LSTM`` / ``nn.GRU`` -> linear readout."""

    def __init__(self, vocab_size: int, kind: str = "lstm", d_embed: int = 64, hidden: int = 128, n_layers: int = 1):
        super().__init__(vocab_size)
        if kind not in ("lstm", "gru"):
            raise ValueError(f"kind must be 'lstm' or 'gru', got {kind!r}")
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(d_embed, hidden, n_layers)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        self.check_input(x)
        h, state = self.rnn(self.embed(x), state)
        return self.head(h), state

    def lm_extra_macs(self, steps: int, batch: int) -> float:
        """Dense MACs of the recurrent cell (``nn.LSTM`` / ``nn.GRU`` are not ``nn.Linear``), unless a
        SynOps rule for its class is registered (``axonal.models.long_memory`` registers one for
        ``nn.LSTM``), which then counts it."""
        from ...metrics.synops import synops_rule

        if synops_rule(self.rnn) is not None:
            return 0.0
        gates = 4 if self.kind == "lstm" else 3
        total = 0
        for layer in range(self.rnn.num_layers):
            i = self.rnn.input_size if layer == 0 else self.rnn.hidden_size
            total += gates * self.rnn.hidden_size * (i + self.rnn.hidden_size)
        return float(total * steps * batch)


class TransformerLanguageModel(LanguageModel):
    """Pre-LN causal transformer (``nn.TransformerEncoder`` with a causal mask), learned positions."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, heads: int = 4, ffn_mult: int = 4,
                 max_len: int = 512):
        super().__init__(vocab_size)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, 1, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn_mult * d_model, dropout=0.0, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.max_len, self.d_model, self.n_layers = max_len, d_model, n_layers

    def forward(self, x, state=None):
        self.check_input(x)
        T = x.shape[0]
        if T > self.max_len:
            raise ValueError(f"window of {T} characters exceeds max_len={self.max_len}")
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=x.device)
        h = self.encoder(self.embed(x) * math.sqrt(self.d_model) + self.pos[:T], mask=mask, is_causal=True)
        return self.head(self.ln(h)), None

    def lm_extra_macs(self, steps: int, batch: int) -> float:
        """Attention scores and weighted sums (causal: on average (T+1)/2 keys per query), and
        the attention projections (``nn.MultiheadAttention`` holds them as raw parameters)."""
        d = self.d_model
        per_layer = 2 * d * steps * (steps + 1) / 2 + 4 * d * d * steps
        return float(per_layer * self.n_layers * batch)
