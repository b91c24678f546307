"""Direct (current) coding: raw values feed the first neurons as input current.

``y = scale * (x - mean) / std + bias`` with optional per-channel standardisation whose
statistics are fitted on training data only (``DirectEncoder.fit``), so that validation and test
data are transformed with the training statistics and nothing leaks from them. Static input
``[B, ...]`` can be held constant over ``num_steps`` steps (the usual "direct input" of deep
SNNs, e.g. Rueckauer et al., Front. Neurosci. 2017). Differentiable: gradients pass through.

:func:`channel_statistics` is the one place where per-channel mean and standard deviation are
computed; ``axonal.data`` uses it to standardise datasets.
"""
from __future__ import annotations

import torch

from ..network import Temporal
from ._checks import check_signal, check_steps

__all__ = ["channel_statistics", "direct_encode", "DirectEncoder"]


def channel_statistics(x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8):
    """Per-channel ``(mean [C], std [C])`` over every dimension but the last (the channel).

    ``mask`` (bool, ``x.shape[:-1]``) selects the entries to use, e.g. the valid steps of padded
    sequences. A constant channel gets ``std = 1`` so standardising it only removes its mean.
    """
    check_signal(x, "channel_statistics", 1, "[..., C] with channels last")
    flat = x.detach().reshape(-1, x.shape[-1]).double()
    if mask is not None:
        if tuple(mask.shape) != tuple(x.shape[:-1]):
            raise ValueError(f"channel_statistics: mask has shape {tuple(mask.shape)}, expected "
                             f"{tuple(x.shape[:-1])} (x's shape without the channel dim)")
        flat = flat[mask.reshape(-1).to(torch.bool)]
    if flat.shape[0] == 0:
        raise ValueError("channel_statistics: no values to fit; pass a non-empty training set")
    mean = flat.mean(0)
    std = flat.std(0, unbiased=False)
    std = torch.where(std > eps, std, torch.ones_like(std))
    return mean.to(x.dtype), std.to(x.dtype)


def direct_encode(x: torch.Tensor, *, scale: float = 1.0, bias: float = 0.0, num_steps: int | None = None,
                  mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> torch.Tensor:
    """``scale * (x - mean) / std + bias``; with ``num_steps``, static ``[B, ...]`` is repeated to ``[T, B, ...]``.

    ``mean``/``std`` are per-channel (last dim) statistics, e.g. from :func:`channel_statistics`
    on the training split; omit them for a plain affine map.
    """
    who = "direct_encode"
    if num_steps is None:
        check_signal(x, who, 2, "time-major [T, B, ...] (or pass num_steps=T for static [B, ...] input)")
    else:
        check_steps(num_steps, who)
        check_signal(x, who, 1, "static [B, ...] when num_steps is given")
    if (mean is None) != (std is None):
        raise ValueError(f"{who}: pass both mean and std (from channel_statistics) or neither")
    if mean is not None:
        if mean.shape[-1] != x.shape[-1]:
            raise ValueError(f"{who}: statistics are for {mean.shape[-1]} channels but the input has "
                             f"{x.shape[-1]} (channels are the last dim)")
        x = (x - mean.to(x)) / std.to(x)
    y = x * scale + bias
    if num_steps is not None:
        y = y.unsqueeze(0).expand(num_steps, *y.shape)
    return y


class DirectEncoder(Temporal):
    """Module form of :func:`direct_encode`; ``forward(x, state=None) -> (current, None)``.

    With ``standardize=True`` call ``fit(train_x)`` first; the statistics are buffers, saved in
    the ``state_dict`` and moved with ``.to(device)``.
    """

    def __init__(self, scale: float = 1.0, bias: float = 0.0, num_steps: int | None = None,
                 standardize: bool = False, n_channels: int | None = None):
        super().__init__()
        if num_steps is not None:
            check_steps(num_steps, "DirectEncoder")
        self.scale, self.bias, self.num_steps, self.standardize = float(scale), float(bias), num_steps, standardize
        c = n_channels or 0
        self.register_buffer("mean", torch.zeros(c))
        self.register_buffer("std", torch.ones(c))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> "DirectEncoder":
        """Fit the per-channel statistics on training data ``[..., C]`` (channels last)."""
        mean, std = channel_statistics(x, mask)
        self.mean, self.std = mean.float(), std.float()
        self.fitted = torch.tensor(True, device=mean.device)
        return self

    def forward(self, x: torch.Tensor, state=None):
        mean = std = None
        if self.standardize:
            if not bool(self.fitted):
                raise RuntimeError("DirectEncoder(standardize=True) has no statistics yet; call "
                                   ".fit(train_x) on the training data first")
            mean, std = self.mean, self.std
        return direct_encode(x, scale=self.scale, bias=self.bias, num_steps=self.num_steps,
                             mean=mean, std=std), None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("mean", "std"):  # statistics sized at fit time: adopt the saved size
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, bias={self.bias}, num_steps={self.num_steps}, standardize={self.standardize}"
