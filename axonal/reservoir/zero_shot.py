"""Zero-shot learning on a fixed liquid: contrastive projection heads and nearest-prototype readout.

After Lin et al., "Resistive memory-based zero-shot liquid state machine for multimodal event
data learning" (Nature Computational Science, 2025; secondary.md §24): a *fixed, random* liquid
encodes each modality (its weights come from RRAM programming noise; in software, sampled);
only small projection heads are trained, with a CLIP-style contrastive loss that pulls the
embeddings of paired samples of two modalities together (InfoNCE; Radford et al., ICML 2021;
van den Oord et al., arXiv 1807.03748). A class never seen in training is then recognised by
the nearest embedding of the other modality (its prototype). The paper's code was not
available; the loss and the heads below are the standard ones.

- :func:`info_nce` — symmetric InfoNCE of two batches of embeddings (row ``k`` of each is a pair).
- :class:`ContrastiveHeads` — one linear (or one-hidden-layer) head per modality onto a shared,
  L2-normalised embedding; :meth:`ContrastiveHeads.fit` trains both with Adam on paired features
  (e.g. :func:`axonal.reservoir.lsm.liquid_features` of each modality's liquid).
- :func:`nearest_prototype` — zero-shot labels: cosine-nearest class prototype.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["info_nce", "ContrastiveHeads", "nearest_prototype"]


def info_nce(za: torch.Tensor, zb: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE: ``(CE(za zb^T / tau, diag) + CE(zb za^T / tau, diag)) / 2``.

    ``za``, ``zb`` ``[B, D]``: row ``k`` of each is a positive pair, every other row a negative.
    Inputs are L2-normalised here, so the logits are cosine similarities over ``temperature``.
    """
    if za.shape != zb.shape or za.ndim != 2:
        raise ValueError(f"info_nce expects two [B, D] batches of the same shape, got {tuple(za.shape)} "
                         f"and {tuple(zb.shape)}")
    if not temperature > 0:
        raise ValueError(f"info_nce: temperature must be > 0, got {temperature}")
    za, zb = F.normalize(za, dim=1), F.normalize(zb, dim=1)
    logits = za @ zb.T / temperature
    target = torch.arange(za.shape[0], device=za.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _head(d_in: int, d_out: int, hidden: int | None) -> nn.Module:
    if hidden is None:
        return nn.Linear(d_in, d_out)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class ContrastiveHeads(nn.Module):
    """Projection heads of two modalities onto a shared normalised embedding.

    ``ContrastiveHeads(dim_a, dim_b, embed_dim=32, hidden=None)``; ``embed_a(x)`` /
    ``embed_b(x)`` -> ``[B, embed_dim]`` unit vectors. Features are standardised with the
    statistics of the training data (stored as buffers by :meth:`fit`).
    """

    def __init__(self, dim_a: int, dim_b: int, embed_dim: int = 32, hidden: int | None = None):
        super().__init__()
        for name, v in (("dim_a", dim_a), ("dim_b", dim_b), ("embed_dim", embed_dim)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ContrastiveHeads: {name} must be an int >= 1, got {v!r}")
        self.head_a, self.head_b = _head(dim_a, embed_dim, hidden), _head(dim_b, embed_dim, hidden)
        for side, d in (("a", dim_a), ("b", dim_b)):
            self.register_buffer(f"mean_{side}", torch.zeros(d))
            self.register_buffer(f"std_{side}", torch.ones(d))

    def embed_a(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head_a((x.float() - self.mean_a) / self.std_a), dim=1)

    def embed_b(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head_b((x.float() - self.mean_b) / self.std_b), dim=1)

    def fit(self, feats_a: torch.Tensor, feats_b: torch.Tensor, *, epochs: int = 100, batch_size: int = 128,
            lr: float = 1e-2, temperature: float = 0.1, weight_decay: float = 1e-4, seed: int = 0) -> list[float]:
        """Train both heads on pairs ``(feats_a[k], feats_b[k])``; returns the mean loss per epoch."""
        if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[0] != feats_b.shape[0]:
            raise ValueError(f"ContrastiveHeads.fit expects paired features [B, dim_a] and [B, dim_b], got "
                             f"{tuple(feats_a.shape)} and {tuple(feats_b.shape)}")
        if feats_a.shape[0] < 2:
            raise ValueError("ContrastiveHeads.fit needs at least 2 pairs (one positive, one negative)")
        a, b = feats_a.float(), feats_b.float()
        self.mean_a.copy_(a.mean(0)); self.std_a.copy_(a.std(0).clamp(min=1e-6))
        self.mean_b.copy_(b.mean(0)); self.std_b.copy_(b.std(0).clamp(min=1e-6))
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        history = []
        for _ in range(epochs):
            order = torch.randperm(a.shape[0], generator=g)
            total, n = 0.0, 0
            for k in range(0, a.shape[0], batch_size):
                idx = order[k:k + batch_size]
                if idx.numel() < 2:
                    continue
                loss = info_nce(self.head_a((a[idx] - self.mean_a) / self.std_a),
                                self.head_b((b[idx] - self.mean_b) / self.std_b), temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, n = total + float(loss.detach()) * idx.numel(), n + idx.numel()
            history.append(total / max(n, 1))
        return history


def nearest_prototype(queries: torch.Tensor, prototypes: torch.Tensor, labels) -> torch.Tensor:
    """Label of the cosine-nearest prototype for each query (``[Q, D]``, ``[P, D]``, ``labels [P]``)."""
    if queries.ndim != 2 or prototypes.ndim != 2 or queries.shape[1] != prototypes.shape[1]:
        raise ValueError(f"nearest_prototype expects [Q, D] queries and [P, D] prototypes, got "
                         f"{tuple(queries.shape)} and {tuple(prototypes.shape)}")
    labels = torch.as_tensor(labels)
    if labels.shape != (prototypes.shape[0],):
        raise ValueError(f"nearest_prototype: one label per prototype ({prototypes.shape[0]}), got {tuple(labels.shape)}")
    sim = F.normalize(queries.float(), dim=1) @ F.normalize(prototypes.float(), dim=1).T
    return labels[sim.argmax(1)]
