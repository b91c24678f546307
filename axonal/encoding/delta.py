"""Delta (threshold-crossing, send-on-delta) coding of raw sensor signals ``[T, B, C]``.

Each channel keeps a reference level. Whenever the signal has moved by at least ``threshold``
from it, the channel emits an UP spike (on output channel ``c``) or a DOWN spike (on channel
``C + c``) and the reference moves toward the signal by the threshold. This is how event
cameras and silicon cochleas turn analog signals into events (Lichtsteiner, Posch & Delbruck,
IEEE JSSC 2008) and the delta-modulation encoder used for sensor data in SNNs.

Two modes:

- ``binary=True`` (default): at most one spike per channel and step; the reference moves by one
  threshold per step (a slew-rate-limited delta modulator). If the signal changes by at most one
  threshold per step, ``|x_t - reference_t| < threshold`` always holds.
- ``binary=False``: the output counts the whole thresholds crossed this step (``k`` spikes as
  the value ``k``) and the reference moves ``k`` thresholds, so the reconstruction
  ``x_0 + threshold * cumsum(UP - DOWN)`` stays within one threshold of the signal for any input.

The reference starts at the first sample (``state=None``): the first step never spikes and the
events describe changes from where the recording starts. Streaming: the returned
:class:`DeltaState` (the reference levels) passed back in continues exactly where the last
call stopped, so encoding two halves equals encoding the whole. With ``off_spikes=False``
only UP spikes are emitted (the reference still follows the signal down). Not differentiable.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..network import Temporal
from ._checks import check_signal

__all__ = ["DeltaState", "delta_encode", "delta_decode", "DeltaEncoder"]

_EPS = 1e-6  # relative slack so that a move of exactly one threshold counts despite rounding


class DeltaState(NamedTuple):
    reference: torch.Tensor  # [B, C], the last reference level of every channel


def _threshold(threshold, n_channels: int, like: torch.Tensor, who: str) -> torch.Tensor:
    thr = torch.as_tensor(threshold, dtype=like.dtype, device=like.device)
    if thr.ndim > 1 or (thr.ndim == 1 and thr.shape[0] != n_channels):
        raise ValueError(f"{who}: threshold must be a number or one value per channel (shape "
                         f"[{n_channels}]), got shape {tuple(thr.shape)}")
    if not torch.isfinite(thr).all() or (thr <= 0).any():
        raise ValueError(f"{who}: threshold must be positive and finite, got {threshold!r}; "
                         "pick a step size in the signal's units, e.g. 0.1 * x.std()")
    return thr


def delta_encode(x: torch.Tensor, threshold, *, off_spikes: bool = True, binary: bool = True,
                 state: DeltaState | None = None):
    """Encode ``x [T, B, C]`` to ``(spikes [T, B, 2C] (or [T, B, C] without off_spikes), DeltaState)``.

    ``threshold``: a positive number or a tensor of ``C`` per-channel thresholds.
    """
    who = "delta_encode"
    check_signal(x, who, 3, "time-major [T, B, C] (for one recording [T, C] use x.unsqueeze(1))")
    if x.ndim != 3:
        raise ValueError(f"{who}: input has shape {tuple(x.shape)}; expected [T, B, C] "
                         "(flatten extra channel dims with x.flatten(2))")
    thr = _threshold(threshold, x.shape[2], x, who)
    x = x.detach()
    if state is None:
        ref = x[0].clone()
    else:
        ref = state.reference
        if not isinstance(ref, torch.Tensor) or tuple(ref.shape) != tuple(x.shape[1:]):
            raise ValueError(f"{who}: state.reference must have shape {tuple(x.shape[1:])} ([B, C]); "
                             "pass the state returned for the same batch, or state=None to start fresh")
        ref = ref.to(device=x.device, dtype=x.dtype)
    counts = []
    for x_t in x.unbind(0):
        d = (x_t - ref) / thr
        if binary:
            k = (d >= 1 - _EPS).to(x.dtype) - (d <= -(1 - _EPS)).to(x.dtype)
        else:
            k = torch.sign(d) * torch.floor(d.abs() + _EPS)
        ref = ref + k * thr
        counts.append(k)
    k = torch.stack(counts)
    up = k.clamp(min=0)
    spikes = torch.cat([up, (-k).clamp(min=0)], dim=-1) if off_spikes else up
    return spikes, DeltaState(ref)


def delta_decode(spikes: torch.Tensor, threshold, initial: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Reconstruct ``[T, B, C]`` from UP/DOWN spikes ``[T, B, 2C]``: ``initial + thr * cumsum(UP - DOWN)``.

    With ``initial = x[0]`` this is the reference level the encoder kept after every step.
    """
    if spikes.ndim != 3 or spikes.shape[-1] % 2:
        raise ValueError(f"delta_decode: expected UP/DOWN spikes [T, B, 2C], got shape {tuple(spikes.shape)}")
    c = spikes.shape[-1] // 2
    thr = _threshold(threshold, c, spikes, "delta_decode")
    return initial + thr * torch.cumsum(spikes[..., :c] - spikes[..., c:], dim=0)


class DeltaEncoder(Temporal):
    """Module form of :func:`delta_encode`; ``forward(x [T, B, C], state=None) -> (spikes, DeltaState)``.

    ``threshold`` may be per channel (a sequence or tensor of ``C`` values, stored as a buffer so
    it follows ``.to(device)``).
    """

    def __init__(self, threshold=0.1, off_spikes: bool = True, binary: bool = True):
        super().__init__()
        thr = torch.as_tensor(threshold, dtype=torch.float32)
        _threshold(thr, int(thr.shape[0]) if thr.ndim == 1 else 1, thr, "DeltaEncoder")
        self.register_buffer("threshold", thr)
        self.off_spikes, self.binary = off_spikes, binary

    def forward(self, x: torch.Tensor, state: DeltaState | None = None):
        return delta_encode(x, self.threshold, off_spikes=self.off_spikes, binary=self.binary, state=state)

    def extra_repr(self) -> str:
        thr = self.threshold.item() if self.threshold.ndim == 0 else list(self.threshold.shape)
        return f"threshold={thr}, off_spikes={self.off_spikes}, binary={self.binary}"
