"""Heterogeneous-delay motif detection: a time-invariant logistic regression over delayed inputs.

Grimaldi & Perrinet, "Learning heterogeneous delays in a layer of spiking neurons for fast
motion detection", Biological Cybernetics 2023. Each output class ``c`` owns a spatiotemporal
kernel ``K_c[i, delta_t, (delta_x, delta_y)]``: one synapse per (input address, delay). The
drive is a causal convolution of the binary event tensor ``A``::

    C_c(t, pos) = sum_{i, delta} K_c[i, delta, dpos] * A[i, t - delta, pos - dpos] + b_c

and ``P(c | t, pos) = softmax_c C_c``: a multinomial logistic regression whose weights are the
same at every time (time-invariant). Training is binary cross-entropy against the one-hot
label at every time and position (:func:`motif_loss`); the decision at time ``t`` is the class
with the largest mean logit over positions (:func:`motif_decision`). For motifs that occur
once per sequence (e.g. :mod:`axonal.data.timing_task`) both take ``over_time="max"``: the
largest logit over time. Sparse delays: keep the
``top_k`` largest taps of every synapse, or prune the smallest weights of the whole kernel
(:meth:`HeterogeneousDelayDetector.prune_by_magnitude`); :meth:`event_operations` counts
``sum over events of the non-zero weights each event reaches`` (the paper's SOP measure).

Input is time-major ``[T, B, C]`` (no space) or ``[T, B, C, H, W]`` (2-D space, e.g. DVS
polarities as ``C = 2``); output logits ``[T, B, n_classes]`` or ``[T, B, n_classes, H, W]``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal

__all__ = ["HeterogeneousDelayDetector", "MotifState", "motif_loss", "motif_decision"]


class MotifState(NamedTuple):
    """The last ``n_delays - 1`` input steps: ``[n_delays - 1, B, C, ...]``."""

    buffer: torch.Tensor


class HeterogeneousDelayDetector(Temporal):
    """Causal delay convolution + per-class bias: ``forward(x, state=None) -> (logits, state)``.

    Args:
        in_channels: input addresses per position (e.g. channels, or 2 polarities).
        n_classes: motifs to detect.
        n_delays: kernel depth (delays ``0..n_delays-1``; the paper uses 21 at 1 ms).
        kernel_size: spatial size (odd) for 2-D input, ``None`` for ``[T, B, C]`` input
            (the paper uses 17 with circular masks whose radius grows with delay: ``circular``).
        top_k: keep only the ``top_k`` largest-magnitude delays per synapse (sparse delays).
        polarity_symmetric: "complex cell": max of the logits for the input and for the input
            with its two channels swapped (needs ``in_channels == 2``).
    """

    def __init__(self, in_channels: int, n_classes: int, n_delays: int, *,
                 kernel_size: int | None = None, circular: bool = False, top_k: int | None = None,
                 polarity_symmetric: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("n_classes", n_classes), ("n_delays", n_delays)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"HeterogeneousDelayDetector: {name} must be a positive int, got {v!r}")
        if kernel_size is not None and (kernel_size <= 0 or kernel_size % 2 == 0):
            raise ValueError(f"HeterogeneousDelayDetector: kernel_size must be odd and positive, got {kernel_size}")
        if top_k is not None and not 1 <= top_k <= n_delays:
            raise ValueError(f"HeterogeneousDelayDetector: top_k must lie in 1..n_delays={n_delays}")
        if polarity_symmetric and in_channels != 2:
            raise ValueError("HeterogeneousDelayDetector: polarity_symmetric needs in_channels == 2 (ON, OFF)")
        self.in_channels, self.n_classes, self.n_delays = in_channels, n_classes, n_delays
        self.kernel_size = kernel_size
        self.top_k = top_k
        self.polarity_symmetric = polarity_symmetric
        spatial = () if kernel_size is None else (kernel_size, kernel_size)
        shape = (n_classes, in_channels, n_delays, *spatial)
        fan_in = in_channels * n_delays * (kernel_size or 1) ** 2
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound, generator=generator))
        self.bias = nn.Parameter(torch.zeros(n_classes))
        mask = torch.ones(shape)
        if circular and kernel_size is not None:
            r = torch.arange(kernel_size) - kernel_size // 2
            dist = (r[:, None] ** 2 + r[None, :] ** 2).float().sqrt()
            radius = (kernel_size // 2) * (torch.arange(n_delays).float() + 1) / n_delays
            mask = mask * (dist[None] <= radius[:, None, None] + 0.5).float()[None, None]
        self.register_buffer("mask", mask)

    # -- kernel ---------------------------------------------------------------------------------
    def effective_weight(self) -> torch.Tensor:
        w = self.weight * self.mask
        if self.top_k is not None and self.top_k < self.n_delays:
            mag = w.detach().abs()
            kth = mag.topk(self.top_k, dim=2).values[:, :, -1:]
            w = w * (mag >= kth).to(w.dtype)
        return w

    @torch.no_grad()
    def prune_by_magnitude(self, fraction_kept: float) -> int:
        """Keep the largest ``fraction_kept`` of the (unmasked) weights; returns how many remain."""
        if not 0 < fraction_kept <= 1:
            raise ValueError(f"prune_by_magnitude: fraction_kept must lie in (0, 1], got {fraction_kept}")
        w = (self.weight * self.mask).abs().flatten()
        n_keep = max(1, int(round(fraction_kept * int((self.mask != 0).sum()))))
        thresh = w.topk(n_keep).values[-1]
        self.mask.mul_(((self.weight.abs() >= thresh) & (self.mask != 0)).to(self.mask.dtype))
        return self.active_weights()

    def active_weights(self) -> int:
        return int((self.effective_weight() != 0).sum())

    # -- forward --------------------------------------------------------------------------------
    def _check(self, x, state):
        name = type(self).__name__
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"{name}: input must be a floating point tensor (use x.float())")
        want = 3 if self.kernel_size is None else 5
        if x.ndim != want or x.shape[2] != self.in_channels:
            layout = "[T, B, C]" if want == 3 else "[T, B, C, H, W]"
            raise ValueError(f"{name}: input has shape {tuple(x.shape)}; expected time-major {layout} "
                             f"with C = {self.in_channels}")
        hist_shape = (self.n_delays - 1, *x.shape[1:])
        if state is None:
            return x.new_zeros(hist_shape)
        if not isinstance(state, MotifState) or tuple(state.buffer.shape) != hist_shape:
            raise ValueError(f"{name}: state must be the MotifState returned by forward with a buffer "
                             f"of shape {list(hist_shape)}; pass state=None to start fresh")
        return state.buffer.to(x.dtype)

    def _drive(self, full: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # full: [T + D - 1, B, C, ...] -> logits [T, B, n_classes, ...]
        w = weight.flip(2).to(full.dtype)
        if self.kernel_size is None:
            y = F.conv1d(full.permute(1, 2, 0), w)  # [B, K, T]
            return y.permute(2, 0, 1) + self.bias
        pad = self.kernel_size // 2
        y = F.conv3d(full.permute(1, 2, 0, 3, 4), w, padding=(0, pad, pad))  # [B, K, T, H, W]
        return y.permute(2, 0, 1, 3, 4) + self.bias[:, None, None]

    def forward(self, x: torch.Tensor, state: MotifState | None = None):
        hist = self._check(x, state)
        full = torch.cat([hist, x], 0)
        new_state = MotifState(full[full.shape[0] - (self.n_delays - 1):].detach())
        w = self.effective_weight()
        y = self._drive(full, w)
        if self.polarity_symmetric:
            y = torch.maximum(y, self._drive(full.flip(2), w))
        return y, new_state

    @torch.no_grad()
    def event_operations(self, x: torch.Tensor) -> int:
        """Accumulates caused by the events of ``x``: sum over events of the non-zero weights that
        the event's input address feeds (``[T, B, C]``: ``sum_c events_c * nnz(K[:, c])``; with
        space, border effects ignored). Grimaldi & Perrinet's SOP count (#events x #weights)."""
        nnz = (self.effective_weight() != 0).flatten(2).sum(-1).sum(0)  # per input channel
        counts = (x != 0).transpose(0, 2).flatten(1).sum(-1)  # events per channel
        mult = 2 if self.polarity_symmetric else 1
        return int((counts.to(nnz.dtype) * nnz).sum()) * mult

    @torch.no_grad()
    def synaptic_operations(self, inputs: tuple, output):
        """SynOps protocol of ``axonal.metrics``: ``(event_operations(x), dense MACs)``; dense
        counts every input element times every weight it meets (``n_classes x n_delays x``
        kernel area, doubled with ``polarity_symmetric``)."""
        x = inputs[0]
        per_input = self.n_classes * self.n_delays * (self.kernel_size or 1) ** 2
        mult = 2 if self.polarity_symmetric else 1
        return self.event_operations(x), x.numel() * per_input * mult


def motif_loss(logits: torch.Tensor, target: torch.Tensor, over_time: str | None = None) -> torch.Tensor:
    """Training loss of the detector. ``logits``: ``[T, B, K, ...]``; ``target``: ``[B]``.

    ``over_time=None`` (the paper, for motion present at every time and place): binary
    cross-entropy between the softmax over classes and the one-hot label, averaged over every
    time step and position. ``over_time="max"`` (motifs that occur once in a sequence):
    cross-entropy of each class's largest position-averaged logit over time — the steps
    without the motif then carry no gradient, instead of drowning the few that have it.
    """
    if over_time == "max":
        mean = logits.flatten(3).mean(-1) if logits.ndim > 3 else logits
        return F.cross_entropy(mean.max(0).values, target)
    if over_time is not None:
        raise ValueError(f"motif_loss: over_time must be None or 'max', got {over_time!r}")
    prob = F.softmax(logits, dim=2)
    onehot = F.one_hot(target, logits.shape[2]).to(prob.dtype)
    onehot = onehot.reshape(1, *onehot.shape, *([1] * (logits.ndim - 3))).expand_as(prob)
    return F.binary_cross_entropy(prob.clamp(1e-7, 1 - 1e-7), onehot)


def motif_decision(logits: torch.Tensor, over_time: str | None = "max") -> torch.Tensor:
    """Class with the largest logit averaged over positions (Grimaldi & Perrinet's decision).

    ``over_time=None`` returns the decision at every step ``[T, B]``. For one decision per
    sequence ``[B]``: ``"max"`` (default) takes each class's largest position-averaged logit
    over time, ``"prob"`` averages the softmax over time. (Averaging the *logits* over time
    would reduce the linear filter to spike counts and lose all timing information.)
    """
    mean = logits.flatten(3).mean(-1) if logits.ndim > 3 else logits
    if over_time is None:
        return mean.argmax(-1)
    if over_time == "max":
        return mean.max(0).values.argmax(-1)
    if over_time == "prob":
        return F.softmax(mean, -1).mean(0).argmax(-1)
    raise ValueError(f"motif_decision: over_time must be 'max', 'prob' or None, got {over_time!r}")
