"""From a network's output over time to class scores, and classification accuracy.

A spiking classifier emits a sequence ``[T, B, K]``; which summary of it is the class score is a
modelling choice, so each common one is a named function and ``readout(out, mode)`` picks by name:

- ``"sum"``  spike count per class (rate coding, e.g. Neftci, Mostafa & Zenke 2019);
- ``"mean"`` mean over time (of spikes = firing rate, or of a non-spiking leaky readout's membrane,
  as in Cramer et al. 2020's SHD baselines);
- ``"max"``  maximum over time (the max-over-time membrane readout of the same paper);
- ``"last"`` the last step (sequence models that carry evidence in their state).
"""
from __future__ import annotations

import torch

READOUTS = ("sum", "mean", "max", "last")


def _check_sequence(out: torch.Tensor, who: str) -> None:
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{who}: expected a tensor [T, B, K], got {type(out).__name__}")
    if out.ndim < 2:
        raise ValueError(
            f"{who}: output has shape {tuple(out.shape)}; expected time-major [T, B, K] "
            "(add the time axis with out.unsqueeze(0) for a single step)"
        )
    if out.shape[0] == 0:
        raise ValueError(f"{who}: output has no time steps (shape {tuple(out.shape)})")


def spike_count(out: torch.Tensor) -> torch.Tensor:
    """Sum over time: ``[T, B, K] -> [B, K]`` (spike counts when ``out`` is spikes)."""
    _check_sequence(out, "spike_count")
    return out.sum(0)


def mean_over_time(out: torch.Tensor) -> torch.Tensor:
    """Mean over time: ``[T, B, K] -> [B, K]`` (firing rate, or mean membrane of a readout)."""
    _check_sequence(out, "mean_over_time")
    return out.mean(0)


def max_over_time(out: torch.Tensor) -> torch.Tensor:
    """Maximum over time: ``[T, B, K] -> [B, K]`` (max-over-time membrane readout)."""
    _check_sequence(out, "max_over_time")
    return out.amax(0)


def last_step(out: torch.Tensor) -> torch.Tensor:
    """The last time step: ``[T, B, K] -> [B, K]``."""
    _check_sequence(out, "last_step")
    return out[-1]


_FUNCS = {"sum": spike_count, "mean": mean_over_time, "max": max_over_time, "last": last_step}


def readout(out: torch.Tensor, mode: str = "sum") -> torch.Tensor:
    """Class scores ``[B, K]`` from an output sequence ``[T, B, K]``; ``mode`` in ``READOUTS``."""
    if mode not in _FUNCS:
        raise ValueError(f"unknown readout mode {mode!r}; choose one of {list(READOUTS)}")
    return _FUNCS[mode](out)


def predictions(scores: torch.Tensor) -> torch.Tensor:
    """Predicted class per sample: argmax of ``scores [B, K]``."""
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        hint = (" It looks like an output sequence [T, B, K]: reduce it first, e.g. "
                "readout(out, 'sum').") if isinstance(scores, torch.Tensor) and scores.ndim == 3 else ""
        raise ValueError(f"scores must have shape [B, K], got {shape}.{hint}")
    return scores.argmax(-1)


def accuracy(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose highest score is the target class.

    ``scores`` are logits, spike counts or any per-class score ``[B, K]`` (reduce an output
    sequence ``[T, B, K]`` first with ``readout``). ``targets`` are class indices ``[B]`` or
    one-hot / soft labels ``[B, K]`` (their argmax is the class). Ties go to the lowest index.
    """
    pred = predictions(scores)
    if not isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets)
    if targets.ndim == 2 and targets.shape == scores.shape:
        targets = targets.argmax(-1)
    if targets.ndim != 1 or targets.shape[0] != scores.shape[0]:
        raise ValueError(
            f"targets must be class indices [B] or one-hot [B, K] matching scores {tuple(scores.shape)}; "
            f"got {tuple(targets.shape)}"
        )
    if targets.is_floating_point():
        if not torch.equal(targets, targets.round()):
            raise ValueError("targets [B] must hold integer class indices, got fractional values")
        targets = targets.long()
    if scores.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (pred == targets.to(pred.device)).float().mean().item()
