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

Intrinsic parameters. The rule above is gradient descent on the Tempotron cost (Gütig &
Sompolinsky 2006, eq. 3): ``E = V_thr - V(t_max)`` for a miss, ``V(t_max) - V_thr`` for a false
alarm, 0 when correct. :meth:`Tempotron.cost` returns that cost differentiably in the neuron's
own intrinsic parameters, the membrane time constant ``tau`` (with ``tau_s = tau / 4`` kept) and
the threshold ``V_thr``, so ``Tempotron(..., learn=("tau", "threshold"))`` learns them by
gradient jointly with the weights, which keep their local rule (the comparison of
Rudnicka, Szczepański & Pręgowska, 2025, arXiv 2508.11674, core.md §3).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..neurons.base import check_sequence
from ..neurons.readout import leaky_sum

__all__ = ["Tempotron", "tempotron_kernel_traces", "tempotron_update"]


def _v0(tau, tau_s):
    """Peak normaliser of K; floats, or tensors (differentiable in the time constants)."""
    if isinstance(tau, torch.Tensor) or isinstance(tau_s, torch.Tensor):
        tau, tau_s = torch.as_tensor(tau), torch.as_tensor(tau_s)
        t_peak = tau * tau_s * torch.log(tau / tau_s) / (tau - tau_s)
        return 1.0 / (torch.exp(-t_peak / tau) - torch.exp(-t_peak / tau_s))
    t_peak = tau * tau_s * math.log(tau / tau_s) / (tau - tau_s)
    return 1.0 / (math.exp(-t_peak / tau) - math.exp(-t_peak / tau_s))


def _exp(v):
    return torch.exp(v) if isinstance(v, torch.Tensor) else math.exp(v)


def tempotron_kernel_traces(x: torch.Tensor, tau: float | torch.Tensor = 15.0,
                            tau_s: float | torch.Tensor | None = None, dt: float = 1.0) -> torch.Tensor:
    """``x [T, B, in]`` -> ``sum_{t_i < t} K(t - t_i)`` per input, ``[T, B, in]``.

    ``tau`` (and ``tau_s``) may be scalar tensors; the traces are then differentiable in them.
    The two exponential traces (``a <- a e^{-dt/tau} + x``, ``b <- b e^{-dt/tau_s} + x``) are
    linear and time-invariant, so they run in closed form by blocks of matmuls (``leaky_sum``)
    instead of a Python loop over steps
    (``axonal.neurons.readout.leaky_sum``, the leaky integrator's closed form).
    """
    tau_s = tau / 4 if tau_s is None else tau_s
    ft, fs = (float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for v in (tau, tau_s))
    if not (ft > 0 and fs > 0 and ft != fs):
        raise ValueError(f"need tau > 0, tau_s > 0 and tau != tau_s; got {ft}, {fs}")
    da, db, v0 = _exp(-dt / tau), _exp(-dt / tau_s), _v0(tau, tau_s)
    return v0 * (leaky_sum(x, da) - leaky_sum(x, db))


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

    ``learn=("tau", "threshold")`` makes those intrinsic parameters ``nn.Parameter`` s (tau as
    its logarithm, so it stays positive; ``tau_s = tau / 4``). The weights never get
    gradients; train the intrinsics with ``tp.cost(x, y).backward()`` and an optimizer over
    ``tp.parameters()`` beside ``local_update``.
    """

    LEARNABLE = ("tau", "threshold")

    def __init__(self, in_features: int, out_features: int = 1, tau: float = 15.0,
                 tau_s: float | None = None, threshold: float = 1.0, lr: float = 1e-2,
                 v_rest: float = 0.0, init_scale: float = 0.1, seed: int | None = None,
                 learn: tuple[str, ...] = ()):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError("in_features and out_features must be positive")
        unknown = set(learn) - set(self.LEARNABLE)
        if unknown:
            raise ValueError(f"Tempotron: cannot learn {sorted(unknown)}; learnable: {list(self.LEARNABLE)}")
        if "tau" in learn and tau_s is not None:
            raise ValueError("Tempotron: a learned tau keeps tau_s = tau / 4; do not also pass tau_s")
        if not tau > 0:
            raise ValueError(f"Tempotron: tau must be > 0, got {tau}")
        self.in_features, self.out_features = in_features, out_features
        self.learn = tuple(learn)
        self._tau, self._tau_s = tau, (tau / 4 if tau_s is None else tau_s)
        self._threshold = threshold
        if "tau" in self.learn:
            self.log_tau = nn.Parameter(torch.tensor(math.log(tau)))
        if "threshold" in self.learn:
            self.threshold_param = nn.Parameter(torch.tensor(float(threshold)))
        self.lr, self.v_rest = lr, v_rest
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        self.weight = nn.Parameter(init_scale * torch.randn(out_features, in_features, generator=g),
                                   requires_grad=False)

    @property
    def tau(self):
        return self.log_tau.exp() if "tau" in self.learn else self._tau

    @property
    def tau_s(self):
        return self.tau / 4 if "tau" in self.learn else self._tau_s

    @property
    def threshold(self):
        return self.threshold_param if "threshold" in self.learn else self._threshold

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

    def cost(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean Tempotron cost over samples and units (differentiable in the intrinsics).

        ``err * (V_thr - V(t_max))`` with ``err = target - fired`` (+1 miss, -1 false alarm,
        0 correct); its gradient in the weights is the Tempotron rule itself.
        """
        _, vmax = self(x)
        fired = (vmax.detach() >= float(torch.as_tensor(self.threshold).detach())).float()
        err = self.targets(y) - fired
        return (err * (self.threshold - vmax)).mean()

    @torch.no_grad()
    def local_update(self, x: torch.Tensor, y: torch.Tensor) -> int:
        """One Tempotron step on a batch; returns how many unit answers were wrong."""
        v, k = self.potential(x)
        target = self.targets(y)
        thr = float(torch.as_tensor(self.threshold).detach())
        dw = tempotron_update(k, v, target, thr, self.lr)
        self.weight.add_(dw)
        return int(((v.max(0).values >= thr).float() != target).sum())
