"""A synapse with fixed sparse connectivity: only the listed (pre, post) pairs have a weight.

``EventLinear`` (``synapses/sparse.py``) is the other sparse concept: a *dense* weight matrix
whose work follows the *input's* sparsity (spikes). Here the *connectivity* is sparse and
fixed (a random graph with 2 % of the pairs, a distance-dependent liquid, a wiring diagram):
the layer stores ``nnz`` weights, one per synapse, and the post- and presynaptic index of
each, and computes

    y[..., i] = sum over synapses k with post[k] = i of  w[k] * x[..., pre[k]]

which is ``x @ W^T`` for the dense ``W [out, in]`` that is zero off the synapses, at
``O(nnz)`` memory instead of ``O(in x out)``. Input ``[T, B, in]`` (any leading axes) gives
``[T, B, out]``, like ``nn.Linear`` applied to every step. The weights are an ``nn.Parameter``
(``trainable=True``: the gradient reaches exactly the existing synapses, the same values as
the dense equivalent's gradient read at them) or a buffer (``trainable=False``: fixed, or
changed in place by a local rule through :meth:`SparseSynapse.update_from_dense`).

``axonal.reservoir.Connectivity.synapse()`` turns a reservoir's CSR projection into one.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SparseSynapse"]


def _as_index(a, name: str, size: int) -> torch.Tensor:
    t = torch.as_tensor(a).reshape(-1)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"SparseSynapse: {name} must hold integer indices, got dtype {t.dtype}")
    t = t.to(torch.int64)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= size):
        raise ValueError(f"SparseSynapse: {name} indices must lie in [0, {size}), got "
                         f"[{int(t.min())}, {int(t.max())}]")
    return t


class SparseSynapse(nn.Module):
    """Fixed sparse connectivity from ``in_features`` to ``out_features`` neurons.

    ``SparseSynapse(in_features, out_features, pre, post, weight=None, trainable=True)``:
    synapse ``k`` connects input ``pre[k]`` to output ``post[k]`` with weight ``weight[k]``
    (default: uniform in ``±1/sqrt(mean fan-in)``, as ``nn.Linear`` scales by its fan-in).
    Repeated pairs add up. Build one from a dense matrix with :meth:`from_dense` or from CSR
    rows by presynaptic neuron with :meth:`from_csr`.
    """

    def __init__(self, in_features: int, out_features: int, pre, post, weight=None, *,
                 trainable: bool = True, dtype: torch.dtype | None = None):
        super().__init__()
        if not (int(in_features) > 0 and int(out_features) > 0):
            raise ValueError(f"SparseSynapse: in_features and out_features must be > 0, got "
                             f"{in_features} and {out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        pre = _as_index(pre, "pre", self.in_features)
        post = _as_index(post, "post", self.out_features)
        if pre.shape != post.shape:
            raise ValueError(f"SparseSynapse: pre and post must list the same synapses, got "
                             f"{pre.numel()} and {post.numel()} indices")
        dtype = dtype or torch.get_default_dtype()
        if weight is None:
            fan_in = max(pre.numel() / self.out_features, 1.0)
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(pre.numel(), dtype=dtype).uniform_(-bound, bound)
        else:
            w = torch.as_tensor(weight).detach().to(dtype).reshape(-1).clone()
            if w.shape != pre.shape:
                raise ValueError(f"SparseSynapse: {w.numel()} weights for {pre.numel()} synapses")
            if not bool(torch.isfinite(w).all()):
                raise ValueError("SparseSynapse: weights contain NaN or inf")
        self.register_buffer("pre", pre)
        self.register_buffer("post", post)
        self.trainable = bool(trainable)
        if self.trainable:
            self.weight = nn.Parameter(w)
        else:
            self.register_buffer("weight", w)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dense(cls, weight: torch.Tensor, mask: torch.Tensor | None = None, **kwargs):
        """The synapses of ``weight [out, in]`` where ``mask`` (default: ``weight != 0``)."""
        weight = torch.as_tensor(weight)
        if weight.ndim != 2:
            raise ValueError(f"SparseSynapse.from_dense needs a matrix [out, in], got shape "
                             f"{tuple(weight.shape)}")
        mask = weight != 0 if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        post, pre = mask.nonzero(as_tuple=True)
        kwargs.setdefault("dtype", weight.dtype if weight.is_floating_point() else None)
        return cls(weight.shape[1], weight.shape[0], pre, post, weight[post, pre], **kwargs)

    @classmethod
    def from_csr(cls, in_features: int, out_features: int, indptr, indices, weights, **kwargs):
        """From rows by presynaptic neuron: the synapses of input ``j`` are positions
        ``indptr[j]:indptr[j+1]`` of ``indices`` (their outputs) and ``weights``."""
        indptr = torch.as_tensor(indptr).to(torch.int64).reshape(-1)
        if indptr.numel() != int(in_features) + 1:
            raise ValueError(f"SparseSynapse.from_csr: indptr needs in_features + 1 = "
                             f"{int(in_features) + 1} entries, got {indptr.numel()}")
        counts = indptr.diff()
        if bool((counts < 0).any()):
            raise ValueError("SparseSynapse.from_csr: indptr must be non-decreasing")
        pre = torch.repeat_interleave(torch.arange(int(in_features)), counts)
        return cls(in_features, out_features, pre, indices, weights, **kwargs)

    # ------------------------------------------------------------------ use
    @property
    def nnz(self) -> int:
        return self.pre.numel()

    def _matrix(self) -> torch.Tensor:
        """The sparse ``W [out, in]`` (COO) whose values are the (differentiable) weights."""
        idx = torch.stack([self.post, self.pre])
        # the indices were range-checked at construction: skip torch's per-call invariant check
        return torch.sparse_coo_tensor(idx, self.weight, (self.out_features, self.in_features),
                                       check_invariants=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., in]`` (time-major ``[T, B, in]``) -> ``[..., out]``."""
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"SparseSynapse: input must end in in_features = {self.in_features} "
                             f"([T, B, {self.in_features}]), got {shape}")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features).to(self.weight.dtype)
        y = torch.sparse.mm(self._matrix(), x2.t()).t()
        return y.reshape(*lead, self.out_features)

    def to_dense(self) -> torch.Tensor:
        """The dense equivalent ``W [out, in]`` (repeated pairs summed)."""
        w = torch.zeros(self.out_features, self.in_features, dtype=self.weight.dtype,
                        device=self.weight.device)
        return w.index_put((self.post, self.pre), self.weight.detach(), accumulate=True)

    @torch.no_grad()
    def update_from_dense(self, dw: torch.Tensor) -> None:
        """Add a dense change ``dw [out, in]`` (a local rule's, e.g. ``axonal.learning.STDP``)
        to the existing synapses only; the pairs without a synapse stay absent."""
        if tuple(dw.shape) != (self.out_features, self.in_features):
            raise ValueError(f"SparseSynapse.update_from_dense: dw must be [out, in] = "
                             f"[{self.out_features}, {self.in_features}], got {tuple(dw.shape)}")
        self.weight.add_(dw[self.post, self.pre].to(self.weight.dtype))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.nnz}, trainable={self.trainable}")
