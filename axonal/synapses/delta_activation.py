"""Delta Activation Layer: transmit quantised changes of activations, trained for temporal sparsity.

Yousefzadeh & Sifalakis, "Training for temporal sparsity in deep neural networks, application
in video processing" (arXiv 2107.07305, 2021). On a stream ``a_t`` [T, B, ...] a layer sends
only the change of its quantised activation,

    delta_t = Q(a_t) - Q(a_{t-1})     (the first step sends Q(a_0) whole),

and the next linear layer accumulates ``z_t = z_{t-1} + W delta_t``, which equals
``W Q(a_t)`` by linearity (:func:`accumulate_linear`), while every zero in ``delta`` is a
multiply-accumulate skipped. Training adds an L1 penalty on the deltas
(:meth:`DeltaActivation.penalty`), so that small changes become exactly zero after
quantisation. ``Q(a) = step * round(a / step)`` passes its gradient straight through.

``DeltaActivation(step=0.05, l1=1e-3)`` is a ``Temporal`` layer: ``forward(a, state=None) ->
(Q(a), state)`` (the reconstructed activation, so a network computes the same thing with or
without delta transmission); the deltas of the last call and their sparsity are kept
(``last_deltas``, ``sparsity()``) for the energy accounting; ``state`` (the last quantised
activation) passed back streams, so two halves equal the whole sequence.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..network import Temporal

__all__ = ["DeltaActivation", "DeltaActivationState", "quantise", "accumulate_linear"]


class DeltaActivationState(NamedTuple):
    previous: torch.Tensor   # Q(a_{t-1}) of the last step seen


def quantise(a: torch.Tensor, step: float) -> torch.Tensor:
    """``step * round(a / step)`` with a straight-through gradient."""
    q = torch.round(a / step) * step
    return a + (q - a).detach()


class DeltaActivation(Temporal):
    """Quantised delta transmission of activations with an L1 temporal-sparsity penalty."""

    def __init__(self, step: float = 0.05, l1: float = 0.0):
        super().__init__()
        if not step > 0:
            raise ValueError(f"DeltaActivation: step (the quantisation step) must be > 0, got {step}")
        if l1 < 0:
            raise ValueError(f"DeltaActivation: l1 must be >= 0, got {l1}")
        self.step, self.l1 = float(step), float(l1)
        self.last_deltas: torch.Tensor | None = None

    def forward(self, a: torch.Tensor, state: DeltaActivationState | None = None):
        if a.ndim < 2:
            raise ValueError(f"DeltaActivation expects a time-major [T, B, ...] tensor, got shape {tuple(a.shape)}")
        q = quantise(a, self.step)
        if state is None:
            prev = torch.zeros_like(q[:1])
        else:
            if tuple(state.previous.shape) != tuple(a.shape[1:]):
                raise ValueError(f"DeltaActivation: state has shape {tuple(state.previous.shape)} but each step has "
                                 f"shape {tuple(a.shape[1:])}; pass state=None to start fresh")
            prev = state.previous.unsqueeze(0)
        self.last_deltas = q - torch.cat([prev, q[:-1]])
        return q, DeltaActivationState(q[-1] if a.shape[0] else prev[0])

    def penalty(self) -> torch.Tensor:
        """``l1 * mean |delta|`` of the last forward pass (differentiable)."""
        if self.last_deltas is None:
            raise RuntimeError("DeltaActivation.penalty: run the layer first")
        return self.l1 * self.last_deltas.abs().mean()

    def sparsity(self) -> float:
        """Fraction of zero deltas in the last forward pass (the skipped transmissions)."""
        if self.last_deltas is None:
            raise RuntimeError("DeltaActivation.sparsity: run the layer first")
        return float((self.last_deltas.detach() == 0).float().mean())


def accumulate_linear(deltas: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """The receiving side: ``z_t = z_{t-1} + W delta_t`` (plus the bias), ``[T, B, out]``.
    Equals ``linear(Q(a))`` step by step when ``deltas`` came from ``Q(a)``."""
    return torch.cumsum(deltas @ linear.weight.T, 0) + (0 if linear.bias is None else linear.bias)
