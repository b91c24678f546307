"""Timestep annealing (IIR-SNN) and a small trainer for static inputs repeated over time.

IIR-SNN (Chowdhury, Rathi & Roy, "One Timestep is All You Need", ECCV 2022) trains a
direct-encoded SNN at a few steps, then *iteratively initialises and retrains* it at fewer
steps, each stage starting from the previous stage's weights, thresholds and leaks, down to
one step. :func:`anneal_timesteps` runs that schedule: the same module object goes from stage
to stage, so every learned constant (``learn=("threshold", "tau_mem")`` of the neurons)
carries over; the optimiser is rebuilt per stage (``reset_optimizer=True``, the default) or
kept.

:func:`fit_static` trains a network ``[T, B, F] -> [T, B, K]`` (an ``axonal.Sequential``
whose last layer gives class currents) on static samples ``x [N, F]`` repeated for ``T``
steps, with the class scores the mean output over time; :func:`static_accuracy` evaluates it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["anneal_timesteps", "fit_static", "static_accuracy", "static_scores"]


def static_scores(model: nn.Module, x: torch.Tensor, steps: int) -> torch.Tensor:
    """Mean output over ``steps`` of ``model`` fed ``x [B, ...]`` at every step."""
    out = model(x.unsqueeze(0).expand(steps, *x.shape))
    out = out[0] if isinstance(out, tuple) else out
    return out.mean(0)


@torch.no_grad()
def static_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    model.eval()
    acc = float((static_scores(model, x, steps).argmax(1) == y).float().mean())
    model.train()
    return acc


def fit_static(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, *, epochs: int,
               lr: float = 1e-3, batch_size: int = 64, seed: int = 0,
               optimizer: torch.optim.Optimizer | None = None) -> torch.optim.Optimizer:
    """Adam (or ``optimizer``) on cross-entropy of ``static_scores``; returns the optimiser."""
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(static_scores(model, x[idx], steps), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return opt


def anneal_timesteps(model: nn.Module, fit: Callable[[nn.Module, int, torch.optim.Optimizer | None], object],
                     schedule: Sequence[int] = (5, 4, 3, 2, 1), *, evaluate: Callable[[nn.Module, int], dict] | None = None,
                     reset_optimizer: bool = True) -> list[dict]:
    """Train ``model`` at each number of steps of ``schedule`` in turn (IIR-SNN).

    ``fit(model, steps, optimizer)`` trains one stage and returns its optimiser (``optimizer``
    is ``None`` when ``reset_optimizer`` or at the first stage); ``evaluate(model, steps)``
    returns a dict of metrics logged per stage. ``schedule`` must strictly decrease (it usually
    ends at 1). Returns one record per stage: ``{"steps", **metrics}``.
    """
    schedule = [int(s) for s in schedule]
    if not schedule or any(s < 1 for s in schedule):
        raise ValueError(f"schedule must be a non-empty list of positive step counts, got {schedule}")
    if any(b >= a for a, b in zip(schedule, schedule[1:])):
        raise ValueError(f"schedule must strictly decrease (e.g. [5, 4, 3, 2, 1]), got {schedule}")
    records, opt = [], None
    for steps in schedule:
        opt = fit(model, steps, None if reset_optimizer else opt)
        rec = {"steps": steps}
        if evaluate is not None:
            rec.update(evaluate(model, steps))
        records.append(rec)
    return records
