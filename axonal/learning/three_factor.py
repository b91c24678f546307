"""Three-factor Hebbian plasticity: eligibility traces gated by a reward or error modulator.

Hebbian coincidences of a presynaptic trace and a postsynaptic factor are not written into the
weight directly; they charge a synaptic eligibility trace that a third, global or per-neuron
signal M (reward, reward prediction error, attention gate) converts into a weight change
(Frémaux & Gerstner, 2016, "Neuromodulated STDP, and theory of three-factor learning rules";
Izhikevich, 2007, "Solving the distal reward problem"). Per time step:

    r_j  <- exp(-dt/tau_pre) r_j + pre_j                 (presynaptic filtered spike trace)
    e_ij <- exp(-dt/tau_eligibility) e_ij + post_i r_j   (eligibility; tau_eligibility=0: e = post r)
    dw_ij = lr * M_i e_ij

The error-modulated, gated rule of Yamada & Chao (arXiv 2510.14382), ``dw_ij = eta M(t) e_i(t)
r_j(t)``, is the case ``tau_eligibility=0`` with ``post`` the readout's prediction error e_i and
the modulator the gate M(t). A reward that arrives only at the end of a trial is applied with
``finish(state, weight, reward)`` to the eligibility accumulated so far.

With zero modulator nothing changes; with non-negative pre and post factors the change has the
sign of the modulator (tests check both).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .rule import LocalRule, check_pre_post

__all__ = ["ThreeFactor", "ThreeFactorState"]


class ThreeFactorState(NamedTuple):
    pre_trace: torch.Tensor    # [B, in]
    eligibility: torch.Tensor  # [B, out, in]


def _modulator(m, batch, out_f, ref):
    m = torch.as_tensor(m, dtype=ref.dtype, device=ref.device)
    if m.ndim == 0:
        return m.expand(batch, out_f)
    if m.shape == (batch,):
        return m[:, None].expand(batch, out_f)
    if m.shape == (out_f,):
        return m[None, :].expand(batch, out_f)
    if m.shape == (batch, out_f):
        return m
    raise ValueError(
        f"modulator must be a scalar, [B]={batch}, [out]={out_f} or [B, out]=[{batch}, {out_f}]; "
        f"got shape {tuple(m.shape)}"
    )


@dataclass(frozen=True)
class ThreeFactor(LocalRule):
    """Reward/error-modulated Hebbian rule with eligibility traces on a weight ``[out, in]``."""

    lr: float = 1e-3
    tau_pre: float = 20.0
    tau_eligibility: float = 100.0
    w_min: float = -math.inf
    w_max: float = math.inf
    dt: float = 1.0
    reduce: str = "mean"

    def __post_init__(self):
        if not self.tau_pre > 0 or not self.dt > 0:
            raise ValueError("ThreeFactor: tau_pre and dt must be > 0")
        if self.tau_eligibility < 0:
            raise ValueError(f"ThreeFactor.tau_eligibility must be >= 0 (0 = no memory), got {self.tau_eligibility}")
        if self.reduce not in ("mean", "sum"):
            raise ValueError(f"ThreeFactor.reduce must be 'mean' or 'sum', got {self.reduce!r}")
        self._check_bounds()

    def initial_state(self, weight, batch):
        out_f, in_f = weight.shape
        z = dict(device=weight.device, dtype=weight.dtype)
        return ThreeFactorState(torch.zeros(batch, in_f, **z), torch.zeros(batch, out_f, in_f, **z))

    def _dw(self, e, m):
        dw = self.lr * (m[:, :, None] * e)
        return dw.mean(0) if self.reduce == "mean" else dw.sum(0)

    def step(self, pre, post, state, weight, modulator=None):
        """Update traces; ``dw`` is zero when ``modulator`` is None (the trace still charges)."""
        check_pre_post(pre, post, weight, "ThreeFactor")
        if state is None:
            state = self.initial_state(weight, pre.shape[0])
        pre, post = pre.detach(), post.detach()
        r = state.pre_trace * math.exp(-self.dt / self.tau_pre) + pre
        hebb = post[:, :, None] * r[:, None, :]
        if self.tau_eligibility == 0:
            e = hebb
        else:
            e = state.eligibility * math.exp(-self.dt / self.tau_eligibility) + hebb
        new = ThreeFactorState(r, e)
        if modulator is None:
            return torch.zeros_like(weight), new
        return self._dw(e, _modulator(modulator, pre.shape[0], weight.shape[0], weight)), new

    def finish(self, state, weight, modulator=None):
        """Delayed reward: ``lr * M * eligibility`` at the end of a trial."""
        if modulator is None or state is None:
            return torch.zeros_like(weight)
        b = state.eligibility.shape[0]
        return self._dw(state.eligibility, _modulator(modulator, b, weight.shape[0], weight))
