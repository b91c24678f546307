"""The interface every local learning rule shares.

A local rule updates a weight matrix ``[out, in]`` from quantities available at the synapse:
presynaptic spikes ``[B, in]``, a postsynaptic factor ``[B, out]`` (spikes, or an error) and,
for three-factor rules, a modulator. It never needs backprop. Rules are frozen dataclasses
(hyper-parameters only); their traces live in an explicit state NamedTuple, as neuron states do:

    dw, state = rule.step(pre_t, post_t, state, weight, modulator=None)
    rule.apply(weight, dw)          # in place, without autograd, enforcing w_min <= w <= w_max
"""
from __future__ import annotations

import math

import torch

__all__ = ["LocalRule", "check_pre_post"]


def check_pre_post(pre, post, weight, who: str) -> None:
    if pre.ndim != 2 or post.ndim != 2:
        raise ValueError(
            f"{who}: pre and post must be one time step, [B, in] and [B, out]; got "
            f"{tuple(pre.shape)} and {tuple(post.shape)} (loop over time, or use .sequence())"
        )
    if weight.ndim != 2 or weight.shape != (post.shape[1], pre.shape[1]):
        raise ValueError(
            f"{who}: weight must be [out, in] = [{post.shape[1]}, {pre.shape[1]}], got {tuple(weight.shape)}"
        )
    if pre.shape[0] != post.shape[0]:
        raise ValueError(f"{who}: pre batch {pre.shape[0]} != post batch {post.shape[0]}")


class LocalRule:
    """Base for rules: ``initial_state``, ``step``, ``apply``, ``sequence``. Needs ``w_min``/``w_max``."""

    w_min: float = -math.inf
    w_max: float = math.inf

    def _check_bounds(self):
        if not self.w_min < self.w_max:
            raise ValueError(f"{type(self).__name__}: need w_min < w_max, got {self.w_min} and {self.w_max}")

    def initial_state(self, weight: torch.Tensor, batch: int):
        raise NotImplementedError

    def step(self, pre, post, state, weight, modulator=None):
        raise NotImplementedError

    def finish(self, state, weight, modulator=None):
        """Change due at the end of a trial (e.g. a delayed reward); none by default."""
        return torch.zeros_like(weight)

    @torch.no_grad()
    def apply(self, weight: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
        """``weight += dw`` in place, clipped to ``[w_min, w_max]``; returns ``weight``."""
        weight.add_(dw.to(weight.dtype)).clamp_(self.w_min, self.w_max)
        return weight

    def sequence(self, pre_seq, post_seq, weight, state=None, modulator=None, apply: bool = False):
        """Run ``step`` over ``[T, B, ...]`` rasters. Returns ``(total dw, state)``.

        ``apply=True`` updates ``weight`` after every step (online); otherwise the weight is
        held fixed and the summed change is returned. ``modulator`` may be a tensor ``[T, ...]``.
        """
        total = torch.zeros_like(weight)
        for t, (pre, post) in enumerate(zip(pre_seq.unbind(0), post_seq.unbind(0))):
            m = None if modulator is None else (modulator[t] if torch.is_tensor(modulator)
                                                and modulator.ndim > 0 else modulator)
            dw, state = self.step(pre, post, state, weight, m)
            total += dw
            if apply:
                self.apply(weight, dw)
        return total, state
