"""Hebbian Learning based Orthogonal Projection (HLOP; Xiao et al., ICLR 2024).

Continual learning without replay: each layer keeps a *principal subspace* of the inputs it
saw in earlier tasks, extracted by lateral "subspace neurons" with a Hebbian rule, and the
weight updates of later tasks are projected orthogonally to it, so the layer's response to
old inputs does not change.

- :class:`HebbianSubspace` holds the lateral weights ``H`` [k, n] of one layer. For a batch of
  presynaptic activity ``x`` [B, n], ``y = H x``, ``x_hat = H^T y`` and the Oja subspace rule
  ``dH = lr * y (x - x_hat)^T / B`` (Oja 1989) drives the rows of ``H`` to an orthonormal basis
  of the principal subspace of ``x``. ``extend(k)`` adds ``k`` rows for a new task
  (orthogonally initialised, then learned); rows of earlier tasks are frozen.
- :class:`HLOP` attaches one subspace to every chosen ``nn.Linear`` of a model.
  ``record()`` collects each layer's inputs (for a spiking layer these are the spikes of the
  layer below at every step: the weight gradient of a Linear is a sum of outer products
  ``delta_t x_t^T``, so projecting the gradient ``G (I - H^T H)`` equals projecting every
  input, the paper's projected trace); ``learn_subspace(k)`` extends and trains the
  subspaces on the recorded inputs (here after a task rather than during it);
  ``project_gradients()`` (after ``backward``, before the optimiser step) removes from each
  weight gradient its component in the old subspaces. Biases are not projected (give the
  layers ``bias=False`` for the full guarantee).
"""
from __future__ import annotations

import contextlib
from typing import Iterable, Sequence

import torch
from torch import nn

__all__ = ["HebbianSubspace", "HLOP"]


class HebbianSubspace(nn.Module):
    """Lateral subspace neurons of one layer with ``n`` inputs (module docstring)."""

    def __init__(self, n: int):
        super().__init__()
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"HebbianSubspace: n must be a positive int, got {n!r}")
        self.n = n
        self.register_buffer("H", torch.zeros(0, n))
        self.frozen = 0

    @property
    def dim(self) -> int:
        return self.H.shape[0]

    def extend(self, k: int, generator: torch.Generator | None = None) -> None:
        """Freeze the current rows and add ``k`` new ones, orthonormal to each other and to the old."""
        k = min(int(k), self.n - self.dim)
        self.frozen = self.dim
        if k <= 0:
            return
        r = torch.randn(self.n, k, generator=generator, dtype=self.H.dtype)
        if self.dim:
            r = r - self.H.T @ (self.H @ r)
        q, _ = torch.linalg.qr(r)
        self.H = torch.cat([self.H, q.T.to(self.H)])

    @torch.no_grad()
    def hebbian_step(self, x: torch.Tensor, lr: float = 0.05) -> None:
        """One Oja-subspace update of the new (unfrozen) rows on inputs ``x`` [B, n]."""
        x = x.reshape(-1, self.n).to(self.H)
        y = x @ self.H.T                       # [B, k]
        recon = y @ self.H                     # [B, n]
        dh = y[:, self.frozen:].T @ (x - recon) / x.shape[0]
        self.H[self.frozen:] += lr * dh

    def projector(self) -> torch.Tensor:
        """``H^T H`` [n, n]: (close to) the orthogonal projector onto the stored subspace."""
        return self.H.T @ self.H


class HLOP:
    """Hebbian orthogonal projection for the ``nn.Linear`` layers of ``model`` (or ``layers``)."""

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None):
        mods = dict(model.named_modules())
        names = list(layers) if layers is not None else [n for n, m in mods.items() if isinstance(m, nn.Linear)]
        bad = [n for n in names if not isinstance(mods.get(n), nn.Linear)]
        if bad:
            raise ValueError(f"HLOP projects nn.Linear layers; {bad} are not (Linear layers: "
                             f"{[n for n, m in mods.items() if isinstance(m, nn.Linear)]})")
        self.names = names
        self.layers = [mods[n] for n in names]
        self.subspaces = [HebbianSubspace(m.in_features) for m in self.layers]
        self._inputs: list[list[torch.Tensor]] = [[] for _ in names]

    @contextlib.contextmanager
    def record(self):
        """Within the block, every forward pass stores each layer's inputs (detached)."""
        def hook(i):
            def fn(module, inputs):
                self._inputs[i].append(inputs[0].detach().reshape(-1, module.in_features))
            return fn
        handles = [m.register_forward_pre_hook(hook(i)) for i, m in enumerate(self.layers)]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def learn_subspace(self, k: int | Sequence[int], *, epochs: int = 20, lr: float = 0.05, batch_size: int = 256,
                       seed: int = 0) -> None:
        """Add ``k`` subspace neurons per layer (one int or one per layer) and train them with the
        Hebbian rule on the inputs recorded since the last call; then forget those inputs."""
        ks = [k] * len(self.layers) if isinstance(k, int) else list(k)
        if len(ks) != len(self.layers):
            raise ValueError(f"HLOP.learn_subspace: k has {len(ks)} entries for {len(self.layers)} layers")
        gen = torch.Generator().manual_seed(seed)
        for sub, kk, inputs in zip(self.subspaces, ks, self._inputs):
            if not inputs:
                raise RuntimeError("HLOP.learn_subspace: no inputs recorded; run the task's data through the "
                                   "model inside `with hlop.record():` first")
            data = torch.cat(inputs)
            sub.extend(kk, generator=gen)
            for _ in range(epochs):
                order = torch.randperm(len(data), generator=gen)
                for i in range(0, len(data), batch_size):
                    sub.hebbian_step(data[order[i:i + batch_size]], lr)
        self._inputs = [[] for _ in self.layers]

    @torch.no_grad()
    def project_gradients(self) -> None:
        """``W.grad <- W.grad (I - H^T H)`` for every layer with a stored subspace."""
        for m, sub in zip(self.layers, self.subspaces):
            if sub.dim and m.weight.grad is not None:
                m.weight.grad -= m.weight.grad @ sub.projector().to(m.weight.grad)

    def parameters(self) -> Iterable[torch.Tensor]:
        return [s.H for s in self.subspaces]
