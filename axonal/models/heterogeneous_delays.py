"""Heterogeneous-delay motif detector as a zoo classifier (Grimaldi & Perrinet 2023).

Grimaldi & Perrinet, "Learning heterogeneous delays in a layer of spiking neurons for fast
motion detection", Biological Cybernetics 2023: one layer of synapses, one per (input address,
delay), read by a time-invariant multinomial logistic regression
(:class:`axonal.synapses.motif.HeterogeneousDelayDetector`). For a dataset of sequences with one
label each, the class score is each class's largest logit over time (``decision: max``, the
motif occurs once) or the time average of the class probabilities (``decision: prob``); the
training loop's cross-entropy on the ``max`` scores is :func:`axonal.synapses.motif.motif_loss`
with ``over_time="max"``. Input: ``[T, B, C]`` events (or currents).
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from ..config import Section
from ..synapses.motif import HeterogeneousDelayDetector
from .registry import encoded_channels, register_model

__all__ = ["HeterogeneousDelayConfig", "MotifClassifier"]


class HeterogeneousDelayConfig(Section):
    """``model`` section of ``architecture: heterogeneous_delays`` (:class:`MotifClassifier`).

    ``n_delays``: kernel depth, delays ``0..n_delays-1`` (the paper: 21 taps of 1 ms);
    ``top_k``: keep only the ``top_k`` largest delays per synapse ("sparse delays");
    ``decision``: ``max`` (largest logit over time) or ``prob`` (mean softmax over time).
    """

    architecture: Literal["heterogeneous_delays"] = "heterogeneous_delays"
    n_delays: int = Field(21, gt=0)
    top_k: int | None = Field(None, gt=0)
    decision: Literal["max", "prob"] = "max"


class MotifClassifier(nn.Module):
    """``forward(x [T, B, C]) -> scores [B, K]`` of a :class:`HeterogeneousDelayDetector`."""

    def __init__(self, detector: HeterogeneousDelayDetector, encoder: nn.Module | None = None,
                 decision: str = "max"):
        super().__init__()
        if decision not in ("max", "prob"):
            raise ValueError(f"MotifClassifier: decision must be 'max' or 'prob', got {decision!r}")
        self.encoder = encoder
        self.detector = detector
        self.decision = decision

    @classmethod
    def from_config(cls, section: HeterogeneousDelayConfig, n_inputs: int, n_classes: int,
                    encoder: nn.Module | None = None):
        if section.top_k is not None and section.top_k > section.n_delays:
            raise ValueError(f"heterogeneous_delays: top_k={section.top_k} exceeds n_delays={section.n_delays}")
        det = HeterogeneousDelayDetector(n_inputs, n_classes, section.n_delays, top_k=section.top_k)
        return cls(det, encoder, section.decision)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            x, _ = self.encoder(x)
        return self.detector(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        if self.decision == "max":
            return logits.max(0).values
        # log of the time-averaged probabilities: cross-entropy on it is the NLL of that average
        return F.softmax(logits, -1).mean(0).clamp_min(1e-12).log()


def build_motif(section: HeterogeneousDelayConfig, info, encoder) -> MotifClassifier:
    return MotifClassifier.from_config(section, n_inputs=encoded_channels(encoder, info),
                                       n_classes=info.n_classes, encoder=encoder)


register_model("heterogeneous_delays", HeterogeneousDelayConfig, build_motif)
