"""Dynamic-confidence inference: run over time, stop each sample once its output is confident.

Li, Jones & Furber, "Unleashing the potential of spiking neural networks with dynamic
confidence", ICCV 2023: at every step t the running output (accumulated readout) is decoded to
a confidence; a sample stops at the first step whose confidence reaches a threshold c*, chosen
once on validation data from the accuracy-latency trade-off. Stopping each sample at the first
step from which its prediction is right (the *oracle*) bounds what any stopping rule can reach.

    running = running_scores(model, x)             # [T, B, K]: the decision at every step
    c = calibrate_threshold(running_val, y_val, max_drop=0.01)
    res = early_exit(running_test, c)              # predictions, exit steps
    curve = latency_curve(running_test, y_test)    # accuracy vs mean steps (and energy)

Confidence policies: ``max_prob`` (top softmax probability), ``margin`` (top-1 minus top-2
probability), ``entropy`` (1 - H(p) / log K). The energy of an early exit is either measured:
``energy_profile(model, x, steps)`` runs the model on the first t steps for each t of a grid
(``axonal.metrics.energy_model``) and ``latency_curve(..., energy_profile=profile)`` interpolates
each sample's energy at its exit step; or, given only the full-length ``energy_per_sample``,
estimated as that x (steps run / T), which assumes uniform activity over time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .energy_model import energy_breakdown

__all__ = ["POLICIES", "running_scores", "confidence", "ExitResult", "early_exit", "oracle_exit",
           "latency_curve", "calibrate_threshold", "energy_profile"]

POLICIES = ("max_prob", "margin", "entropy")


@torch.no_grad()
def running_scores(model, x: torch.Tensor) -> torch.Tensor:
    """The class scores the model would report if stopped after each step, ``[T, B, K]``.

    ``model`` has ``forward_sequence(x) -> [T, B, K]`` (the readout over time, as
    ``axonal.models.SpikingClassifier``) and a ``readout`` attribute naming how it is summarised:
    ``membrane_mean`` (running mean), ``last_membrane`` (the value at t), ``membrane_max``
    (running max) or ``spike_count`` (running sum). A callable that already returns ``[T, B, K]``
    running scores may be passed instead.
    """
    if not hasattr(model, "forward_sequence"):
        out = model(x)
        if not isinstance(out, torch.Tensor) or out.ndim != 3:
            raise TypeError("running_scores needs a model with forward_sequence(x) -> [T, B, K] (e.g. "
                            "SpikingClassifier) or a callable returning running scores [T, B, K]")
        return out
    seq = model.forward_sequence(x)
    readout = getattr(model, "readout", "membrane_mean")
    steps = torch.arange(1, seq.shape[0] + 1, dtype=seq.dtype, device=seq.device).view(-1, 1, 1)
    if readout == "membrane_mean":
        return seq.cumsum(0) / steps
    if readout == "spike_count":
        return seq.cumsum(0)
    if readout == "membrane_max":
        return seq.cummax(0).values
    if readout == "last_membrane":
        return seq
    raise ValueError(f"running_scores: unknown readout {readout!r}")


def confidence(scores: torch.Tensor, policy: str = "max_prob") -> torch.Tensor:
    """Confidence in [0, 1] of scores ``[..., K]`` under ``policy`` (one of ``POLICIES``)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown confidence policy {policy!r}; choose one of {POLICIES}")
    p = scores.float().softmax(-1)
    if policy == "max_prob":
        return p.amax(-1)
    if policy == "margin":
        top = p.topk(2, dim=-1).values
        return top[..., 0] - top[..., 1]
    k = p.shape[-1]
    h = -(p * p.clamp_min(1e-12).log()).sum(-1)
    return 1 - h / math.log(k)


@dataclass
class ExitResult:
    """Per sample: ``predictions`` and ``steps`` (1-based step at which it stopped)."""

    predictions: torch.Tensor
    steps: torch.Tensor
    total_steps: int

    @property
    def mean_steps(self) -> float:
        return float(self.steps.float().mean())

    @property
    def latency_reduction(self) -> float:
        """1 - mean steps / T."""
        return 1 - self.mean_steps / self.total_steps

    def accuracy(self, y: torch.Tensor) -> float:
        return float((self.predictions == y).float().mean())


def _check(running: torch.Tensor) -> None:
    if not isinstance(running, torch.Tensor) or running.ndim != 3 or running.shape[0] < 1:
        raise ValueError(f"running scores must be a tensor [T, B, K] with T >= 1, got "
                         f"{tuple(running.shape) if isinstance(running, torch.Tensor) else type(running).__name__}")


def early_exit(running: torch.Tensor, threshold: float, policy: str = "max_prob", min_steps: int = 1) -> ExitResult:
    """Stop each sample at the first step ``t >= min_steps`` whose confidence reaches ``threshold``
    (at T if none does); its prediction is the argmax at that step."""
    _check(running)
    t_len = running.shape[0]
    conf = confidence(running, policy)                          # [T, B]
    hit = conf >= threshold
    hit[: max(min_steps, 1) - 1] = False
    hit[-1] = True
    first = hit.float().argmax(0)                               # first True per sample
    preds = running.argmax(-1).gather(0, first[None])[0]
    return ExitResult(preds, first + 1, t_len)


def oracle_exit(running: torch.Tensor, y: torch.Tensor) -> ExitResult:
    """Each sample stops at the first step from which its prediction stays right to the end (at T,
    wrong, if it is wrong at T): the bound for a stopping rule that may not change its mind."""
    _check(running)
    t_len = running.shape[0]
    correct = running.argmax(-1) == y[None]                     # [T, B]
    # stays correct from t on: reverse cumulative AND
    stays = correct.flip(0).cummin(0).values.flip(0)
    stays[-1] = True
    first = stays.float().argmax(0)
    preds = running.argmax(-1).gather(0, first[None])[0]
    return ExitResult(preds, first + 1, t_len)


def energy_profile(model, x: torch.Tensor, steps: Sequence[int], **energy_kw) -> list[tuple[int, float]]:
    """``[(t, joules per sample of running only the first t steps of x)]`` for each ``t`` in ``steps``
    (``energy_breakdown``'s keyword arguments pass through: table, precision, ...)."""
    out = []
    for t in sorted(set(int(t) for t in steps)):
        if not 1 <= t <= x.shape[0]:
            raise ValueError(f"energy_profile: step {t} is outside 1..{x.shape[0]}")
        out.append((t, energy_breakdown(model, x[:t], **energy_kw).total_j))
    return out


def _profile_energy(steps: torch.Tensor, profile) -> float:
    ts, es = zip(*profile)
    return float(np.interp(steps.float().numpy(), ts, es).mean())


def latency_curve(running: torch.Tensor, y: torch.Tensor, thresholds=None, policy: str = "max_prob",
                  energy_per_sample: float | None = None, energy_profile=None) -> list[dict]:
    """Accuracy against mean steps for each threshold, plus the full-length point (threshold None).

    With ``energy_profile`` (from :func:`energy_profile`, spanning 1..T) each row gets
    ``energy_j``: the mean over samples of the profile interpolated at the sample's exit step;
    with only ``energy_per_sample`` (the full length's), ``energy_j`` scales it by mean steps / T.
    """
    _check(running)
    if thresholds is None:
        thresholds = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999]
    t_len = running.shape[0]
    full = float((running[-1].argmax(-1) == y).float().mean())
    all_steps = torch.full((running.shape[1],), t_len)
    rows = [({"threshold": None, "accuracy": full, "mean_steps": float(t_len), "latency_reduction": 0.0}, all_steps)]
    for c in thresholds:
        r = early_exit(running, c, policy)
        rows.append(({"threshold": float(c), "accuracy": r.accuracy(y), "mean_steps": r.mean_steps,
                      "latency_reduction": r.latency_reduction}, r.steps))
    for row, steps in rows:
        if energy_profile is not None:
            row["energy_j"] = _profile_energy(steps, energy_profile)
        elif energy_per_sample is not None:
            row["energy_j"] = energy_per_sample * row["mean_steps"] / t_len
    return [row for row, _ in rows]


def calibrate_threshold(running: torch.Tensor, y: torch.Tensor, max_drop: float = 0.01, policy: str = "max_prob",
                        thresholds=None) -> float:
    """The threshold with the fewest mean steps whose accuracy on this (validation) data is within
    ``max_drop`` of the full-length accuracy; 1.0 (never stop early) if none is."""
    if thresholds is None:
        thresholds = torch.linspace(0.3, 1.0, 71).tolist() + [0.995, 0.999, 0.9999]
    full = float((running[-1].argmax(-1) == y).float().mean())
    best, best_steps = 1.0, float("inf")
    for c in thresholds:
        r = early_exit(running, c, policy)
        if r.accuracy(y) >= full - max_drop - 1e-12 and r.mean_steps < best_steps:
            best, best_steps = float(c), r.mean_steps
    return best
