"""Spike-timing-dependent plasticity: trace-based rule objects and the pair-based reference.

Pair-based STDP (Bi & Poo, 1998; Song, Miller & Abbott, 2000) sums, over every pair of a
presynaptic spike at ``t_pre`` and a postsynaptic spike at ``t_post`` (``dt = t_post - t_pre``):

    dw = +A+ exp(-dt / tau+)   if dt > 0   (pre before post: potentiation)
    dw = -A- exp( dt / tau-)   if dt < 0   (post before pre: depression)

and nothing for coincident spikes. :func:`pair_stdp` computes exactly that sum over whole
rasters. The trace form (Morrison, Diesmann & Gerstner, 2008, Biol. Cybern. 98:459) gets the
same sum online: a presynaptic trace ``x`` decays with tau+ and jumps by 1 at each pre spike, a
postsynaptic trace ``y`` with tau-; a post spike adds ``A+ x`` and a pre spike subtracts
``A- y``, each read *before* this step's spikes are added. With ``pairing="all_to_all"`` the
traces add up (every pair counts, equal to :func:`pair_stdp` when weights are updated after the
sequence); with ``"nearest"`` they are reset to 1 (only the nearest pre spike counts).

Forms (Gütig et al., 2003, J. Neurosci. 23:3697): ``additive`` changes do not depend on the
weight and the weight is clipped to ``[w_min, w_max]`` (hard bounds); ``multiplicative``
scales potentiation by ``(w_max - w)^mu`` and depression by ``(w - w_min)^mu`` (soft bounds),
then clips as well. Defaults follow core.md §3: A+ = 0.01, A- = 0.012, tau = 20 steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .rule import LocalRule, check_pre_post

__all__ = ["STDP", "STDPState", "pair_stdp", "stdp_window"]


class STDPState(NamedTuple):
    pre_trace: torch.Tensor   # [B, in]
    post_trace: torch.Tensor  # [B, out]


@dataclass(frozen=True)
class STDP(LocalRule):
    """Trace-based STDP on a weight ``[out, in]`` from pre spikes ``[B, in]`` and post ``[B, out]``.

    ``step`` returns the change for one time step (averaged over the batch with
    ``reduce="mean"``, summed with ``"sum"``); ``apply`` adds it and enforces the bounds.
    """

    a_plus: float = 0.01
    a_minus: float = 0.012
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    form: str = "additive"
    pairing: str = "all_to_all"
    mu: float = 1.0
    dt: float = 1.0
    reduce: str = "mean"

    def __post_init__(self):
        for name in ("tau_plus", "tau_minus", "dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"STDP.{name} must be > 0, got {getattr(self, name)}")
        for name in ("a_plus", "a_minus", "mu"):
            if getattr(self, name) < 0:
                raise ValueError(f"STDP.{name} must be >= 0, got {getattr(self, name)}")
        if self.form not in ("additive", "multiplicative"):
            raise ValueError(f"STDP.form must be 'additive' or 'multiplicative', got {self.form!r}")
        if self.pairing not in ("all_to_all", "nearest"):
            raise ValueError(f"STDP.pairing must be 'all_to_all' or 'nearest', got {self.pairing!r}")
        if self.reduce not in ("mean", "sum"):
            raise ValueError(f"STDP.reduce must be 'mean' or 'sum', got {self.reduce!r}")
        self._check_bounds()

    def initial_state(self, weight: torch.Tensor, batch: int) -> STDPState:
        out_f, in_f = weight.shape
        z = dict(device=weight.device, dtype=weight.dtype)
        return STDPState(torch.zeros(batch, in_f, **z), torch.zeros(batch, out_f, **z))

    def step(self, pre, post, state: STDPState | None, weight, modulator=None):
        """One step: returns ``(dw [out, in], new_state)``; ``modulator`` scales dw if given."""
        check_pre_post(pre, post, weight, "STDP")
        if state is None:
            state = self.initial_state(weight, pre.shape[0])
        pre, post = pre.detach(), post.detach()
        x = state.pre_trace * math.exp(-self.dt / self.tau_plus)
        y = state.post_trace * math.exp(-self.dt / self.tau_minus)
        ltp = post.T @ x     # [out, in]: post spike now x pre trace (earlier pre spikes)
        ltd = y.T @ pre      # post trace (earlier post spikes) x pre spike now
        if self.reduce == "mean":
            ltp, ltd = ltp / pre.shape[0], ltd / pre.shape[0]
        w = weight.detach()
        if self.form == "multiplicative":
            ltp = ltp * (self.w_max - w).clamp(min=0) ** self.mu
            ltd = ltd * (w - self.w_min).clamp(min=0) ** self.mu
        dw = self.a_plus * ltp - self.a_minus * ltd
        if modulator is not None:
            dw = dw * modulator
        if self.pairing == "all_to_all":
            x, y = x + pre, y + post
        else:
            x = torch.where(pre > 0, torch.ones_like(x), x)
            y = torch.where(post > 0, torch.ones_like(y), y)
        return dw, STDPState(x, y)

    def window(self, delta_t: torch.Tensor) -> torch.Tensor:
        """The additive pair window W(t_post - t_pre) of this rule."""
        return stdp_window(delta_t, self.a_plus, self.a_minus, self.tau_plus, self.tau_minus)


def stdp_window(delta_t, a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=20.0):
    """W(dt): +A+ e^{-dt/tau+} for dt > 0, -A- e^{dt/tau-} for dt < 0, 0 at dt = 0."""
    d = torch.as_tensor(delta_t, dtype=torch.float64)
    return torch.where(d > 0, a_plus * torch.exp(-d / tau_plus),
                       torch.where(d < 0, -a_minus * torch.exp(d / tau_minus), torch.zeros_like(d)))


def pair_stdp(pre: torch.Tensor, post: torch.Tensor, a_plus=0.01, a_minus=0.012, tau_plus=20.0,
              tau_minus=20.0, dt: float = 1.0, reduce: str = "mean") -> torch.Tensor:
    """Pair-based STDP over whole rasters: sum of W(t_post - t_pre) over all spike pairs.

    ``pre [T, B, in]``, ``post [T, B, out]`` -> ``dw [out, in]`` (mean over the batch with
    ``reduce="mean"``). O(T^2) in memory; the reference the trace rule is tested against.
    """
    if pre.ndim != 3 or post.ndim != 3 or pre.shape[:2] != post.shape[:2]:
        raise ValueError(
            f"pair_stdp expects pre [T, B, in] and post [T, B, out] with the same T and B; "
            f"got {tuple(pre.shape)} and {tuple(post.shape)}"
        )
    t = torch.arange(pre.shape[0], dtype=torch.float64) * dt
    win = stdp_window(t[:, None] - t[None, :], a_plus, a_minus, tau_plus, tau_minus)  # [Tpost, Tpre]
    dw = torch.einsum("tbi,ts,sbj->ij", post.double(), win, pre.double())
    if reduce == "mean":
        dw = dw / pre.shape[1]
    return dw.to(pre.dtype)
