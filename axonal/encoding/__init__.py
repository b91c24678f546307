"""Raw signal -> spikes (or input current), time-major ``[T, B, ...]``.

Every encoder is a plain function and a ``Temporal`` module (``forward(x, state=None) ->
(out, state)``), so it can be the first layer of ``axonal.network.Sequential``, including the
encoders that create the time axis from static input (``num_steps``):

===========  ==========================  ======================================================
name         function / module           input -> output
===========  ==========================  ======================================================
``rate``     rate_encode / RateEncoder    [B, ...] + num_steps (or [T, B, ...]) -> 0/1 spikes
``latency``  latency_encode / LatencyEncoder  [B, ...] -> [T, B, ...], one spike per input
``delta``    delta_encode / DeltaEncoder  [T, B, C] -> UP/DOWN spikes [T, B, 2C], streamable
``direct``   direct_encode / DirectEncoder  affine / standardised current, differentiable
===========  ==========================  ======================================================

``get_encoder("rate", num_steps=25)`` builds a module by name (for configs and the CLI).
"""
from __future__ import annotations

import inspect

from torch import nn

from .delta import DeltaEncoder, DeltaState, delta_decode, delta_encode
from .direct import DirectEncoder, channel_statistics, direct_encode
from .latency import LATENCY_METHODS, LatencyEncoder, latency_encode, latency_times
from .rate import RateEncoder, rate_encode

ENCODERS: dict[str, type[nn.Module]] = {
    "rate": RateEncoder,
    "latency": LatencyEncoder,
    "delta": DeltaEncoder,
    "direct": DirectEncoder,
}


def get_encoder(name: str, **kwargs) -> nn.Module:
    """Build an encoder module by name: one of ``"rate"``, ``"latency"``, ``"delta"``, ``"direct"``."""
    if not isinstance(name, str) or name.lower() not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known encoders: {sorted(ENCODERS)}")
    cls = ENCODERS[name.lower()]
    try:
        return cls(**kwargs)
    except TypeError as err:
        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise TypeError(f"encoder {name!r}: {err}; its options are {known}") from None


__all__ = [
    "ENCODERS", "get_encoder",
    "rate_encode", "RateEncoder",
    "latency_encode", "latency_times", "LatencyEncoder", "LATENCY_METHODS",
    "delta_encode", "delta_decode", "DeltaEncoder", "DeltaState",
    "direct_encode", "DirectEncoder", "channel_statistics",
]
