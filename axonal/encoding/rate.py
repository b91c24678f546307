"""Rate (Poisson / Bernoulli) coding: an intensity becomes a spike probability per time step.

Each step and input element spikes independently with probability ``p = clamp(gain * x, 0, 1)``,
the discrete-time approximation of a Poisson process of rate ``p / dt`` (Dayan & Abbott,
*Theoretical Neuroscience*, 2001, ch. 1.4). Over ``T`` steps the spike count is Binomial(T, p),
so the mean rate estimates the intensity with standard deviation ``sqrt(p (1 - p) / T)``.

Sampling is not differentiable: the output carries no gradient to ``x``. Pass a seeded
``torch.Generator`` (or ``seed=`` to the module) for reproducible spike trains.
"""
from __future__ import annotations

import torch

from ..network import Temporal
from ._checks import check_positive_number, check_signal, check_steps

__all__ = ["rate_encode", "RateEncoder"]


def _uniform(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None or generator.device == like.device:
        return torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)
    # the generator lives elsewhere (e.g. a CPU generator and CUDA input): sample there, move
    return torch.rand(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


def rate_encode(x: torch.Tensor, num_steps: int | None = None, *, gain: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli spikes with probability ``clamp(gain * x, 0, 1)`` per step.

    - ``num_steps`` given: ``x`` is static ``[B, ...]`` and the result is ``[num_steps, B, ...]``;
    - ``num_steps=None``: ``x`` is already time-major ``[T, B, ...]`` (intensities that change
      over time) and the result has the same shape.

    Returns 0/1 spikes in ``x``'s dtype and device.
    """
    who = "rate_encode"
    gain = check_positive_number("gain", gain, who)
    if num_steps is None:
        check_signal(x, who, 2, "time-major [T, B, ...] (or pass num_steps=T for static [B, ...] input)")
        shape = x.shape
        p = x
    else:
        check_steps(num_steps, who)
        check_signal(x, who, 1, "static [B, ...] when num_steps is given")
        shape = (num_steps, *x.shape)
        p = x.unsqueeze(0)
    p = (p.detach() * gain).clamp(0.0, 1.0)
    return (_uniform(shape, x, generator) < p).to(x.dtype)


class RateEncoder(Temporal):
    """Module form of :func:`rate_encode`; ``forward(x, state=None) -> (spikes, None)``.

    A ``Temporal`` layer so that it may create the time axis as the first layer of
    ``axonal.network.Sequential``. ``seed`` makes the sequence of calls reproducible: the
    module owns a generator seeded once (per device) that every call advances.
    """

    def __init__(self, num_steps: int | None = None, gain: float = 1.0, seed: int | None = None):
        super().__init__()
        if num_steps is not None:
            check_steps(num_steps, "RateEncoder")
        self.num_steps = num_steps
        self.gain = check_positive_number("gain", gain, "RateEncoder")
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        key = str(device)
        if key not in self._generators:
            g = torch.Generator(device=device)
            g.manual_seed(int(self.seed))
            self._generators[key] = g
        return self._generators[key]

    def forward(self, x: torch.Tensor, state=None):
        return rate_encode(x, self.num_steps, gain=self.gain, generator=self._generator(x.device)), None

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, gain={self.gain}, seed={self.seed}"
