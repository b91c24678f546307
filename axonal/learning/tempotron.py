"""The Tempotron (Gütig & Sompolinsky, 2006, Nat. Neurosci. 9:420): a neuron that learns to
fire or stay silent for whole spike patterns by a local, error-triggered rule.

The potential is a weighted sum of postsynaptic potential kernels,
``V(t) = sum_i w_i sum_{t_i < t} K(t - t_i) + V_rest`` with
``K(t) = V0 (exp(-t/tau) - exp(-t/tau_s))``, ``V0`` normalising the peak of K to 1, tau = 15
and tau_s = tau/4 (core.md §3). The neuron answers "yes" when ``max_t V(t) >= threshold``. On
an error at ``t_max = argmax V``, every weight moves by ``+/- lr * sum_{t_i < t_max} K(t_max - t_i)``:
up for a missed "yes", down for a false one. Nothing changes on correct answers.

K is computed with two exponential traces (``a <- a e^{-1/tau} + x``, ``b <- b e^{-1/tau_s} + x``,
``K-trace = V0 (a - b)``), so the kernel of a spike at the current step is 0, as K(0) = 0.

:func:`tempotron_update` is the rule on its own: given presynaptic kernel traces and a
potential trace from *any* neuron, it returns the change, so it can train the output layer
of other models too. :class:`Tempotron` is the classic neuron with one unit per class
(one-vs-rest targets).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..neurons.base import check_sequence

__all__ = ["Tempotron", "tempotron_kernel_traces", "tempotron_update"]


def _v0(tau, tau_s):
    t_peak = tau * tau_s * math.log(tau / tau_s) / (tau - tau_s)
    return 1.0 / (math.exp(-t_peak / tau) - math.exp(-t_peak / tau_s))


def tempotron_kernel_traces(x: torch.Tensor, tau: float = 15.0, tau_s: float | None = None,
                            dt: float = 1.0) -> torch.Tensor:
    """``x [T, B, in]`` -> ``sum_{t_i < t} K(t - t_i)`` per input, ``[T, B, in]``."""
    tau_s = tau / 4 if tau_s is None else tau_s
    if not (tau > 0 and tau_s > 0 and tau != tau_s):
        raise ValueError(f"need tau > 0, tau_s > 0 and tau != tau_s; got {tau}, {tau_s}")
    da, db, v0 = math.exp(-dt / tau), math.exp(-dt / tau_s), _v0(tau, tau_s)
    a = torch.zeros_like(x[0])
    b = torch.zeros_like(x[0])
    out = []
    for x_t in x.unbind(0):
        a = a * da + x_t
        b = b * db + x_t
        out.append(v0 * (a - b))
    return torch.stack(out)


def tempotron_update(kernels: torch.Tensor, potential: torch.Tensor, target: torch.Tensor,
                     threshold: float, lr: float, reduce: str = "sum") -> torch.Tensor:
    """The Tempotron change for a weight ``[out, in]``.

    ``kernels [T, B, in]`` (presynaptic kernel traces), ``potential [T, B, out]``, ``target
    [B, out]`` in {0, 1}. Wrong answers contribute ``+/- lr * kernels[t_max]``; summed (or
    averaged with ``reduce="mean"``) over the batch.
    """
    vmax, tmax = potential.detach().max(0)                          # [B, out]
    fired = (vmax >= threshold).to(kernels.dtype)
    err = target.to(kernels.dtype) - fired                          # +1 miss, -1 false alarm, 0 ok
    k = kernels.detach()
    b_idx = torch.arange(k.shape[1], device=k.device)[:, None]
    k_at = k[tmax, b_idx]                                           # [B, out, in]
    dw = lr * (err[:, :, None] * k_at)
    return dw.mean(0) if reduce == "mean" else dw.sum(0)


class Tempotron(nn.Module):
    """Tempotron units ``in_features -> out_features`` (one per class; binary: out_features=1).

        tp = Tempotron(50, 2)
        for x, y in batches: tp.local_update(x, y)      # x [T, B, 50], y [B] class ids
        pred = tp.predict(x)                            # class with the highest peak potential
    """

    def __init__(self, in_features: int, out_features: int = 1, tau: float = 15.0,
                 tau_s: float | None = None, threshold: float = 1.0, lr: float = 1e-2,
                 v_rest: float = 0.0, init_scale: float = 0.1, seed: int | None = None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError("in_features and out_features must be positive")
        self.in_features, self.out_features = in_features, out_features
        self.tau, self.tau_s = tau, (tau / 4 if tau_s is None else tau_s)
        self.threshold, self.lr, self.v_rest = threshold, lr, v_rest
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        self.weight = nn.Parameter(init_scale * torch.randn(out_features, in_features, generator=g),
                                   requires_grad=False)

    def potential(self, x: torch.Tensor):
        """``x [T, B, in]`` -> ``(V [T, B, out], kernel traces [T, B, in])``."""
        check_sequence(x, (self.in_features,), "Tempotron")
        k = tempotron_kernel_traces(x, self.tau, self.tau_s)
        return k @ self.weight.T + self.v_rest, k

    def forward(self, x: torch.Tensor):
        """Returns ``(fires [B, out] as 0/1, peak potential [B, out])``."""
        v, _ = self.potential(x)
        vmax = v.max(0).values
        return (vmax >= self.threshold).float(), vmax

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        y = torch.as_tensor(y)
        if y.ndim == 2:
            return y.float()
        if self.out_features == 1:
            return y.float()[:, None]
        return nn.functional.one_hot(y.long(), self.out_features).float()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        fires, vmax = self(x)
        if self.out_features == 1:
            return fires[:, 0].long()
        return vmax.argmax(1)

    @torch.no_grad()
    def local_update(self, x: torch.Tensor, y: torch.Tensor) -> int:
        """One Tempotron step on a batch; returns how many unit answers were wrong."""
        v, k = self.potential(x)
        target = self.targets(y)
        dw = tempotron_update(k, v, target, self.threshold, self.lr)
        self.weight.add_(dw)
        return int(((v.max(0).values >= self.threshold).float() != target).sum())
