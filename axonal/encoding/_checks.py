"""Input validation shared by the encoders: every bad input gets a message with the fix."""
from __future__ import annotations

import math

import torch

from ..functional import all_finite


def check_signal(x, who: str, min_ndim: int, layout: str) -> torch.Tensor:
    """Check that ``x`` is a finite floating tensor of at least ``min_ndim`` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: input must be a torch.Tensor {layout}, got {type(x).__name__} "
                        "(wrap it with torch.as_tensor(x, dtype=torch.float32))")
    if not x.is_floating_point():
        raise TypeError(f"{who}: input dtype is {x.dtype}; encoders need floating point values "
                        "(convert with x.float())")
    if x.ndim < min_ndim:
        raise ValueError(f"{who}: input has shape {tuple(x.shape)} ({x.ndim} dims); expected {layout}")
    if not all_finite(x):
        raise ValueError(f"{who}: input contains NaN or inf; clean the signal first "
                         "(e.g. torch.nan_to_num(x) or drop the bad samples)")
    return x


def check_steps(num_steps, who: str) -> int:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps <= 0:
        raise ValueError(f"{who}: num_steps must be a positive int, got {num_steps!r}")
    return num_steps


def check_positive_number(name: str, value, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{who}: {name} must be a positive finite number, got {value!r}")
    return float(value)
