"""Latency (time-to-first-spike) coding: larger values spike earlier, each input at most once.

Two maps from a value ``x`` to a spike time over ``num_steps`` steps (``T = num_steps``):

- ``"linear"``: ``t = (1 - x) * (T - 1)`` for ``x`` in ``[0, 1]``; ``x = 1`` spikes at step 0,
  ``x = 0`` at the last step. Values below ``threshold`` never spike.
- ``"log"``: the first-passage time of a leaky integrator ``tau dV/dt = -V + x`` (``V(0) = 0``)
  to the threshold ``theta``: ``V(t) = x (1 - exp(-t / tau))`` reaches ``theta`` at
  ``t = tau * ln(x / (x - theta))``. Inputs ``x <= theta`` never reach it and never spike; strong
  inputs spike almost at once and weak ones late (logarithmic compression of the range).
  Times past the window are clipped to the last step so every supra-threshold input spikes once.

The spike falls in step ``floor(t)`` (the step during which the threshold is crossed), so the
map is monotone: ``x_i > x_j`` implies ``t_i <= t_j``. Time-to-first-spike codes follow
Thorpe, Delorme & Van Rullen (Neural Networks 2001) and Gütig & Sompolinsky (Nat. Neurosci.
2006). ``normalize=True`` first rescales every sample (over all non-batch dims) to ``[0, 1]``
by its min and max, so each sample's strongest input spikes at step 0.
"""
from __future__ import annotations

import torch

from ..network import Temporal
from ._checks import check_positive_number, check_signal, check_steps

__all__ = ["latency_encode", "latency_times", "LatencyEncoder", "LATENCY_METHODS"]

LATENCY_METHODS = ("linear", "log")


def _normalize_per_sample(x: torch.Tensor) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return ((flat - lo) / span).reshape(x.shape)


def latency_times(x: torch.Tensor, num_steps: int, *, method: str = "linear", tau: float = 5.0,
                  threshold: float = 0.01, normalize: bool = False) -> torch.Tensor:
    """Spike step of every input, ``[B, ...]`` int64, or ``-1`` where the input never spikes."""
    who = "latency_encode"
    check_steps(num_steps, who)
    check_signal(x, who, 1, "static [B, ...] values (one spike time per value)")
    if method not in LATENCY_METHODS:
        raise ValueError(f"{who}: unknown method {method!r}; choose one of {list(LATENCY_METHODS)}")
    tau = check_positive_number("tau", tau, who)
    if method == "log":
        check_positive_number("threshold", threshold, who)
    elif not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise ValueError(f"{who}: threshold must lie in [0, 1] for the linear method, got {threshold!r}")
    x = x.detach()
    if normalize:
        x = _normalize_per_sample(x)
    last = num_steps - 1
    if method == "linear":
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{who}: the linear method needs values in [0, 1], got range "
                f"[{x.min().item():.4g}, {x.max().item():.4g}]; pass normalize=True or divide by the maximum")
        fires = x >= threshold
        t = torch.floor((1.0 - x) * last)
    else:
        fires = x > threshold
        safe = torch.where(fires, x, torch.full_like(x, 2.0 * threshold))
        t = torch.floor(tau * torch.log(safe / (safe - threshold))).clamp(max=last)
    t = t.clamp(0, last).to(torch.int64)
    return torch.where(fires, t, torch.full_like(t, -1))


def latency_encode(x: torch.Tensor, num_steps: int, *, method: str = "linear", tau: float = 5.0,
                   threshold: float = 0.01, normalize: bool = False) -> torch.Tensor:
    """Static ``x [B, ...]`` to spikes ``[num_steps, B, ...]`` with at most one spike per input.

    See the module docstring for the ``"linear"`` and ``"log"`` maps; ``threshold`` is the value
    below which an input stays silent (the firing threshold ``theta`` of the log map).
    """
    times = latency_times(x, num_steps, method=method, tau=tau, threshold=threshold, normalize=normalize)
    steps = torch.arange(num_steps, device=x.device).view(num_steps, *([1] * x.ndim))
    return (steps == times.unsqueeze(0)).to(x.dtype)


class LatencyEncoder(Temporal):
    """Module form of :func:`latency_encode`; ``forward(x [B, ...], state=None) -> (spikes, None)``."""

    def __init__(self, num_steps: int, method: str = "linear", tau: float = 5.0,
                 threshold: float = 0.01, normalize: bool = False):
        super().__init__()
        check_steps(num_steps, "LatencyEncoder")
        if method not in LATENCY_METHODS:
            raise ValueError(f"LatencyEncoder: unknown method {method!r}; choose one of {list(LATENCY_METHODS)}")
        self.num_steps, self.method, self.tau = num_steps, method, tau
        self.threshold, self.normalize = threshold, normalize

    def forward(self, x: torch.Tensor, state=None):
        return latency_encode(x, self.num_steps, method=self.method, tau=self.tau,
                              threshold=self.threshold, normalize=self.normalize), None

    def extra_repr(self) -> str:
        return (f"num_steps={self.num_steps}, method={self.method!r}, tau={self.tau}, "
                f"threshold={self.threshold}, normalize={self.normalize}")
