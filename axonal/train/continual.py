"""Continual learning: task sequences, protocols, EWC, and a runner for HLOP / EWC / fine-tuning.

Task sequences from one labelled set ``(x [N, F], y [N])``: :func:`split_tasks` (disjoint
class pairs: split digits) and :func:`permuted_tasks` (the same classes under a fixed random
permutation of the features per task: permuted digits / permuted MNIST-1D).

Protocols (van de Ven & Tolias, "Three scenarios for continual learning", 2019):

- ``task``: task-incremental, the task identity is known; the scores are masked to the task's
  classes in training and test (multi-head);
- ``class``: class-incremental, one head over all classes seen; no task identity at test;
- ``domain``: the label set is shared by every task (permuted tasks).

Methods: ``finetune`` (plain sequential training), ``ewc`` (elastic weight consolidation;
Kirkpatrick et al., PNAS 2017: a penalty ``lambda/2 sum_i F_i (theta_i - theta*_i)^2`` with
``F`` the diagonal empirical Fisher after each task, accumulated) and ``hlop``
(``axonal.learning.hlop``). :func:`run_continual` returns the accuracy matrix ``R[i][j]``
(accuracy on task ``j`` after training task ``i``), ``ACC = mean_j R[-1][j]`` and backward
transfer ``BWT = mean_{j<last} (R[-1][j] - R[j][j])`` (Lopez-Paz & Ranzato, NeurIPS 2017).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..learning.hlop import HLOP
from .annealing import static_scores

__all__ = ["Task", "split_tasks", "permuted_tasks", "EWC", "run_continual", "PROTOCOLS", "METHODS"]

PROTOCOLS = ("task", "class", "domain")
METHODS = ("finetune", "ewc", "hlop")


@dataclass
class Task:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[int] = field(default_factory=list)


def split_tasks(x_train, y_train, x_test, y_test, n_tasks: int = 5) -> list[Task]:
    """Disjoint groups of classes in label order (10 classes, 5 tasks: {0,1}, {2,3}, ...)."""
    classes = sorted(int(c) for c in torch.unique(y_train))
    if len(classes) % n_tasks:
        raise ValueError(f"split_tasks: {len(classes)} classes do not split into {n_tasks} equal tasks")
    per = len(classes) // n_tasks
    tasks = []
    for i in range(n_tasks):
        cs = classes[i * per:(i + 1) * per]
        mtr = torch.isin(y_train, torch.tensor(cs))
        mte = torch.isin(y_test, torch.tensor(cs))
        tasks.append(Task(x_train[mtr], y_train[mtr], x_test[mte], y_test[mte], cs))
    return tasks


def permuted_tasks(x_train, y_train, x_test, y_test, n_tasks: int = 5, seed: int = 0) -> list[Task]:
    """Task 0 is the data as given; task ``i > 0`` permutes the features with a fixed random order."""
    gen = torch.Generator().manual_seed(seed)
    classes = sorted(int(c) for c in torch.unique(y_train))
    tasks = []
    for i in range(n_tasks):
        perm = torch.arange(x_train.shape[1]) if i == 0 else torch.randperm(x_train.shape[1], generator=gen)
        tasks.append(Task(x_train[:, perm], y_train, x_test[:, perm], y_test, classes))
    return tasks


class EWC:
    """Elastic weight consolidation: ``consolidate`` after a task, ``penalty`` while training later ones."""

    def __init__(self, model: nn.Module, lam: float = 100.0):
        if lam < 0:
            raise ValueError(f"EWC: lam must be >= 0, got {lam}")
        self.model, self.lam = model, float(lam)
        self.fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters() if p.requires_grad}
        self.anchor = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def consolidate(self, scores_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                    y: torch.Tensor, batch_size: int = 32) -> None:
        """Add the diagonal empirical Fisher of this task (mean squared gradient of the log-likelihood
        of the true labels, per batch) and anchor the current parameters."""
        params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        acc = {n: torch.zeros_like(p) for n, p in params.items()}
        n_batches = 0
        for i in range(0, len(x), batch_size):
            self.model.zero_grad(set_to_none=True)
            F.cross_entropy(scores_fn(x[i:i + batch_size]), y[i:i + batch_size]).backward()
            for n, p in params.items():
                if p.grad is not None:
                    acc[n] += p.grad.detach() ** 2
            n_batches += 1
        self.model.zero_grad(set_to_none=True)
        for n in params:
            self.fisher[n] += acc[n] / max(n_batches, 1)
            self.anchor[n] = params[n].detach().clone()

    def penalty(self) -> torch.Tensor:
        total = 0.0
        for n, p in self.model.named_parameters():
            if n in self.fisher:
                total = total + (self.fisher[n] * (p - self.anchor[n]) ** 2).sum()
        return 0.5 * self.lam * total


def _masked(scores: torch.Tensor, classes: Sequence[int] | None) -> torch.Tensor:
    if classes is None:
        return scores
    mask = torch.full_like(scores, float("-inf"))
    mask[:, list(classes)] = 0.0
    return scores + mask


def run_continual(model: nn.Module, tasks: Sequence[Task], *, method: str = "finetune", protocol: str = "task",
                  steps: int = 4, epochs: int = 10, lr: float = 1e-3, batch_size: int = 32, seed: int = 0,
                  ewc_lambda: float = 100.0, hlop_dims: int | Sequence[int] = 10, hlop_layers=None) -> dict:
    """Train ``model`` (``[T, B, F] -> [T, B, K]``, scores = mean over ``steps``) on ``tasks`` in
    order with ``method`` under ``protocol``; returns ``{"R", "acc", "bwt", ...}`` (module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    gen = torch.Generator().manual_seed(seed)
    ewc = EWC(model, ewc_lambda) if method == "ewc" else None
    hlop = HLOP(model, hlop_layers) if method == "hlop" else None

    def scores_of(x, task_classes):
        return _masked(static_scores(model, x, steps), task_classes if protocol == "task" else None)

    r = []
    for i, task in enumerate(tasks):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(task.x_train), generator=gen)
            for b in range(0, len(order), batch_size):
                idx = order[b:b + batch_size]
                loss = F.cross_entropy(scores_of(task.x_train[idx], task.classes), task.y_train[idx])
                if ewc is not None and i > 0:
                    loss = loss + ewc.penalty()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if hlop is not None and i > 0:
                    hlop.project_gradients()
                opt.step()
        if ewc is not None:
            ewc.consolidate(lambda x: scores_of(x, task.classes), task.x_train, task.y_train, batch_size)
        if hlop is not None and i < len(tasks) - 1:
            with torch.no_grad(), hlop.record():
                static_scores(model, task.x_train, steps)
            hlop.learn_subspace(hlop_dims, seed=seed + i)
        model.eval()
        with torch.no_grad():
            row = [float((scores_of(t.x_test, t.classes).argmax(1) == t.y_test).float().mean()) for t in tasks]
        r.append(row)
    n = len(tasks)
    acc = sum(r[-1]) / n
    bwt = sum(r[-1][j] - r[j][j] for j in range(n - 1)) / max(n - 1, 1)
    return {"R": r, "acc": acc, "bwt": bwt, "method": method, "protocol": protocol}
