"""Perforated Backpropagation: dendrite nodes added to a trained network's neurons.

Brenner & Itti, "Perforated Backpropagation: a neuroscience inspired extension to artificial
neural networks" (arXiv 2501.18018, 2025); open-source package ``PerforatedAI``.

:class:`DendriteWrapper` wraps a ``Linear`` or ``Conv2d`` layer ``f`` (its output units are the
*neurons*)::

    out = f(x) + sum_k v_k * d_k(x),     d_k(x) = phi(f_k(x) + sum_{j<k} u_kj * d_j(x))

``f_k`` is a copy of ``f`` re-initialised ``N(0, 1) * 0.01``, ``phi`` a sigmoid, ``v_k`` one
weight per output unit (zero when the dendrite is added) and ``u_kj`` cascade weights from the
earlier dendrites (as in cascade correlation). Spiking layers: wrap the ``Linear`` that feeds
a neuron population; the dendrites then add to its synaptic current (time is folded into the
batch by ``axonal.Sequential``).

Training alternates two phases (:class:`PerforatedTrainer`):

- **n-mode**: the original weights and the ``v`` weights learn the task loss; dendrites frozen;
- **p-mode**: every wrapper gets a *candidate* dendrite, trained alone to maximise the
  correlation between its output and its neuron's remaining error ``e = dL/d out`` (captured by
  a gradient hook): ``S = sum_o |sum_b (c_bo - mean c_o)(e_bo - mean e_o)|``. Then the
  candidate is frozen and joins the dendrites, its ``v`` starts at zero and n-mode resumes.

Switching (the package's defaults): switch when the validation score has not improved for
``n_epochs_to_switch`` (10) epochs, an improvement being relatively > ``improvement_rel``
(1e-4) and absolutely > ``improvement_abs`` (1e-5); on a switch reload the best weights; a
dendrite set is kept only if it improves the best validation score, otherwise it is removed
and counts as a failed try; stop after ``max_dendrite_tries`` (5) failures or
``max_dendrites`` (100) dendrites. ``mode="gd"`` is the open-source alternative: dendrites are
added at the switch and trained jointly with the task loss (no correlation phase).
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch
from torch import nn

__all__ = ["DendriteWrapper", "PerforatedTrainer", "add_dendrite_wrappers", "wrappers"]


def _reinit(module: nn.Module, scale: float, generator: torch.Generator | None) -> nn.Module:
    m = copy.deepcopy(module)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * scale)
            p.requires_grad_(True)
    return m


def _units_last(t: torch.Tensor) -> torch.Tensor:
    """``[N, C, ...]`` -> ``[N * ..., C]`` (output units last)."""
    if t.ndim == 2:
        return t
    return t.movedim(1, -1).reshape(-1, t.shape[1])


class DendriteWrapper(nn.Module):
    """A ``Linear``/``Conv2d`` layer with dendrite nodes (module docstring)."""

    def __init__(self, module: nn.Module, phi: Callable = torch.sigmoid, init_scale: float = 0.01):
        super().__init__()
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            raise TypeError(f"DendriteWrapper wraps nn.Linear or nn.Conv2d, got {type(module).__name__}")
        self.module = module
        self.phi, self.init_scale = phi, float(init_scale)
        self.units = module.out_features if isinstance(module, nn.Linear) else module.out_channels
        self.dendrites = nn.ModuleList()
        self.v = nn.ParameterList()
        self.u = nn.ParameterList()            # u[k]: [k, units], from dendrites 0..k-1 into dendrite k
        self.candidate: nn.Module | None = None
        self.candidate_u: nn.Parameter | None = None
        self._candidate_out: torch.Tensor | None = None
        self._error: torch.Tensor | None = None

    def _shape(self, w: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return w.reshape(1, -1, *([1] * (like.ndim - 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x)
        ds: list[torch.Tensor] = []
        for k, f_k in enumerate(self.dendrites):
            z = f_k(x)
            for j in range(k):
                z = z + self._shape(self.u[k][j], z) * ds[j]
            ds.append(self.phi(z))
        for d, v in zip(ds, self.v):
            out = out + self._shape(v, out) * d
        if self.candidate is not None:
            z = self.candidate(x.detach())     # trained alone: no gradient into the layers below
            for j, d in enumerate(ds):
                z = z + self._shape(self.candidate_u[j], z) * d.detach()
            self._candidate_out = self.phi(z)
            if out.requires_grad:
                out.register_hook(self._store_error)
        return out

    def _store_error(self, grad: torch.Tensor):
        self._error = grad.detach()

    # ------------------------------------------------------------------ phases
    def add_candidate(self, generator: torch.Generator | None = None) -> list[nn.Parameter]:
        """Start p-mode: a new candidate dendrite (returned: its trainable parameters)."""
        self.candidate = _reinit(self.module, self.init_scale, generator)
        dev = next(self.module.parameters()).device
        self.candidate_u = nn.Parameter(torch.randn(len(self.dendrites), self.units, generator=generator).to(dev)
                                        * self.init_scale)
        return list(self.candidate.parameters()) + [self.candidate_u]

    def correlation(self) -> torch.Tensor:
        """``S = sum_o |sum_b (c - c_mean)(e - e_mean)|`` of the last forward/backward pass."""
        if self._candidate_out is None or self._error is None:
            raise RuntimeError("DendriteWrapper.correlation: needs a forward pass with a candidate and a backward "
                               "pass of the task loss first")
        c, e = _units_last(self._candidate_out), _units_last(self._error)
        return ((c - c.mean(0)) * (e - e.mean(0))).sum(0).abs().sum()

    def accept_candidate(self) -> None:
        """End p-mode: the candidate becomes a frozen dendrite with output weights ``v = 0``."""
        if self.candidate is None:
            raise RuntimeError("DendriteWrapper.accept_candidate: no candidate (call add_candidate first)")
        for p in self.candidate.parameters():
            p.requires_grad_(False)
        self.dendrites.append(self.candidate)
        self.u.append(nn.Parameter(self.candidate_u.detach().clone(), requires_grad=False))
        self.v.append(nn.Parameter(torch.zeros(self.units, device=self.candidate_u.device)))
        self.candidate, self.candidate_u, self._candidate_out, self._error = None, None, None, None

    def add_trainable_dendrite(self, generator: torch.Generator | None = None) -> None:
        """GD mode: add a dendrite that learns with the task loss (its weights stay trainable)."""
        self.add_candidate(generator)
        cand = self.candidate
        self.accept_candidate()
        for p in cand.parameters():
            p.requires_grad_(True)
        self.u[-1].requires_grad_(True)

    def remove_last_dendrite(self) -> None:
        del self.dendrites[-1]
        self.u = nn.ParameterList(list(self.u)[:-1])      # ParameterList has no __delitem__
        self.v = nn.ParameterList(list(self.v)[:-1])

    @property
    def n_dendrites(self) -> int:
        return len(self.dendrites)


def add_dendrite_wrappers(model: nn.Module, types=(nn.Linear,), **kwargs) -> nn.Module:
    """Replace every ``types`` layer of ``model`` (in place) by a ``DendriteWrapper`` of it."""
    for name, child in list(model.named_children()):
        if isinstance(child, types) and not isinstance(model, DendriteWrapper):
            setattr(model, name, DendriteWrapper(child, **kwargs))
        else:
            add_dendrite_wrappers(child, types, **kwargs)
    return model


def wrappers(model: nn.Module) -> list[DendriteWrapper]:
    return [m for m in model.modules() if isinstance(m, DendriteWrapper)]


class PerforatedTrainer:
    """The n/p switching schedule (module docstring) over a model with ``DendriteWrapper`` s.

    ``loss_fn(model, batch) -> loss``; ``batches()`` yields one epoch of training batches;
    ``score(model) -> float`` is the validation score (higher is better). ``fit(max_epochs)``
    returns the history, one dict per epoch (``mode``, ``score``, ``dendrites``).
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, batches: Callable[[], Iterable], score: Callable,
                 *, lr: float = 1e-3, p_lr: float = 1e-2, mode: str = "correlation", n_epochs_to_switch: int = 10,
                 improvement_rel: float = 1e-4, improvement_abs: float = 1e-5, max_dendrite_tries: int = 5,
                 max_dendrites: int = 100, p_epochs_max: int = 20, seed: int = 0):
        if mode not in ("correlation", "gd"):
            raise ValueError(f"mode must be 'correlation' or 'gd', got {mode!r}")
        self.model, self.loss_fn, self.batches, self.score = model, loss_fn, batches, score
        self.wrappers = wrappers(model)
        if not self.wrappers:
            raise ValueError("PerforatedTrainer: the model has no DendriteWrapper; use add_dendrite_wrappers(model)")
        self.lr, self.p_lr, self.mode = lr, p_lr, mode
        self.n_switch, self.rel, self.abs = n_epochs_to_switch, improvement_rel, improvement_abs
        self.max_tries, self.max_dendrites, self.p_epochs_max = max_dendrite_tries, max_dendrites, p_epochs_max
        self.gen = torch.Generator().manual_seed(seed)
        self.history: list[dict] = []

    def _improves(self, new: float, best: float | None) -> bool:
        if best is None:
            return True
        return new - best > max(self.abs, self.rel * abs(best))

    def _n_epoch(self, opt) -> None:
        self.model.train()
        for batch in self.batches():
            loss = self.loss_fn(self.model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def _p_epoch(self, opt) -> float:
        self.model.train()
        total = 0.0
        for batch in self.batches():
            self.model.zero_grad(set_to_none=True)
            opt.zero_grad(set_to_none=True)
            self.loss_fn(self.model, batch).backward()     # fills each wrapper's error e
            corr = sum(w.correlation() for w in self.wrappers)
            opt.zero_grad(set_to_none=True)
            (-corr).backward()
            opt.step()
            total += float(corr.detach())
        self.model.zero_grad(set_to_none=True)
        return total

    def _optimizer(self):
        return torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=self.lr)

    def fit(self, max_epochs: int) -> list[dict]:
        best, best_state, cycle_start_best = None, None, None
        opt, bad, tries, epoch = self._optimizer(), 0, 0, 0
        while epoch < max_epochs:
            self._n_epoch(opt)
            epoch += 1
            s = self.score(self.model)
            if self._improves(s, best):
                best, best_state, bad = s, copy.deepcopy(self.model.state_dict()), 0
            else:
                bad += 1
            self.history.append({"epoch": epoch, "mode": "n", "score": s, "best": best,
                                 "dendrites": self.wrappers[0].n_dendrites})
            if bad < self.n_switch:
                continue
            # plateau: judge the last dendrite set, then add a new one
            self.model.load_state_dict(best_state)
            if cycle_start_best is not None and not self._improves(best, cycle_start_best):
                for w in self.wrappers:
                    w.remove_last_dendrite()
                best_state = copy.deepcopy(self.model.state_dict())
                tries += 1
                self.history[-1]["rejected_dendrite"] = True
            if tries >= self.max_tries or self.wrappers[0].n_dendrites >= self.max_dendrites:
                break
            cycle_start_best = best
            if self.mode == "gd":
                for w in self.wrappers:
                    w.add_trainable_dendrite(self.gen)
            else:
                params = [p for w in self.wrappers for p in w.add_candidate(self.gen)]
                p_opt = torch.optim.Adam(params, lr=self.p_lr)
                p_best, p_bad = None, 0
                for _ in range(self.p_epochs_max):
                    if epoch >= max_epochs:
                        break
                    corr = self._p_epoch(p_opt)
                    epoch += 1
                    self.history.append({"epoch": epoch, "mode": "p", "correlation": corr,
                                         "dendrites": self.wrappers[0].n_dendrites})
                    if self._improves(corr, p_best):
                        p_best, p_bad = corr, 0
                    else:
                        p_bad += 1
                        if p_bad >= self.n_switch:
                            break
                for w in self.wrappers:
                    w.accept_candidate()
            best_state = copy.deepcopy(self.model.state_dict())
            opt, bad = self._optimizer(), 0
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return self.history
