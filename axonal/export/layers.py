"""Small layers that NIR has and the rest of axonal does not: elementwise gain, sum pooling,
a stateless threshold and an elementwise integer delay.

``axonal.export.from_nir`` builds networks from these and the library's own layers; they are
ordinary layers, usable in ``axonal.Sequential`` like any other (stateless ones act on every
time step, ``Delay`` is temporal).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..network import Temporal

__all__ = ["Scale", "SumPool2d", "Threshold", "Delay", "DelayBuffer"]


class Scale(nn.Module):
    """``y = x * scale + offset`` elementwise (NIR's ``Scale``; ``offset`` carries a constant
    drive such as a neuron's ``v_leak`` term, default none)."""

    def __init__(self, scale: torch.Tensor | float, offset: torch.Tensor | float | None = None):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())
        self.register_buffer("offset", None if offset is None else
                             torch.as_tensor(offset, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * self.scale
        return y if self.offset is None else y + self.offset


class SumPool2d(nn.Module):
    """Sum over each pooling window (NIR's ``SumPool2d``): average pooling times the window
    area, zero padding counted as zeros."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = nn.modules.utils._pair(kernel_size)
        self.stride = nn.modules.utils._pair(stride if stride is not None else kernel_size)
        self.padding = nn.modules.utils._pair(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        area = self.kernel_size[0] * self.kernel_size[1]
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            count_include_pad=True) * area

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Threshold(nn.Module):
    """Stateless spike function ``z = H(x - threshold)`` (NIR's ``Threshold``).

    ``strict=True`` fires on ``x > threshold`` (NIR's definition, snnTorch, Norse);
    ``strict=False`` on ``x >= threshold`` (axonal's neurons). Forward only: the step has no
    gradient (use a neuron with a surrogate to train)."""

    def __init__(self, threshold: torch.Tensor | float, strict: bool = True):
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(threshold, dtype=torch.float32).clone())
        self.strict = bool(strict)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fired = x > self.threshold if self.strict else x >= self.threshold
        return fired.to(x.dtype)

    def extra_repr(self) -> str:
        return f"strict={self.strict}"


class DelayBuffer(NamedTuple):
    history: torch.Tensor   # the last max(steps) input steps [D, B, ...], oldest first


class Delay(Temporal):
    """Elementwise integer delay ``y[t, b, i] = x[t - steps[i], b, i]`` (``x`` before 0 is 0);
    NIR's ``Delay`` with ``delay = steps * dt``. ``steps`` is an int or an integer tensor of
    the feature shape. ``forward(x [T, B, ...], state=None) -> (y, DelayBuffer)``; passing the
    state back continues the sequence exactly."""

    def __init__(self, steps: torch.Tensor | int):
        super().__init__()
        steps = torch.as_tensor(steps)
        if steps.is_floating_point():
            if not torch.equal(steps, steps.round()):
                raise ValueError(f"Delay: steps must be whole numbers of steps, got {steps}")
            steps = steps.round()
        steps = steps.to(torch.long)
        if steps.numel() and int(steps.min()) < 0:
            raise ValueError(f"Delay: steps must be >= 0, got minimum {int(steps.min())}")
        self.register_buffer("steps", steps)
        self.max_steps = int(steps.max()) if steps.numel() else 0

    def forward(self, x: torch.Tensor, state: DelayBuffer | None = None):
        d = self.max_steps
        if state is None:
            history = x.new_zeros((d, *x.shape[1:]))
        else:
            history = state.history
            if tuple(history.shape) != (d, *x.shape[1:]):
                raise ValueError(f"Delay: state has shape {tuple(history.shape)} but this input "
                                 f"needs {(d, *x.shape[1:])}; pass state=None to start fresh")
        full = torch.cat([history, x])                     # [d + T, B, ...]
        t_len = x.shape[0]
        steps = torch.broadcast_to(self.steps, x.shape[2:]) if self.steps.ndim else self.steps
        if steps.ndim == 0:
            s = int(steps)
            y = full[d - s: d - s + t_len]
        else:
            # index d + t - steps[i] along time, per feature
            t_idx = torch.arange(t_len, device=x.device).view(t_len, *([1] * (x.ndim - 1)))
            idx = (d + t_idx - steps.view(1, 1, *steps.shape)).expand(x.shape)
            y = torch.gather(full, 0, idx)
        return y, DelayBuffer(full[full.shape[0] - d:] if d else history)

    def extra_repr(self) -> str:
        return f"max_steps={self.max_steps}"
