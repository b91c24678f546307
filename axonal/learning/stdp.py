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

For networks of excitatory and inhibitory neurons (NALSM, Ivanov & Michmizos 2021; the
sparse engine ``axonal.reservoir.SparseNetwork`` runs this rule on its existing synapses):
``w_min`` / ``w_max`` may be given per presynaptic neuron (an array ``[in]``, for example
E in [0, 3] and I in [-3, 0]); presynaptic neurons flagged in ``mirror`` get the mirrored
rule (``-A- x`` at a post spike, ``+A+ y`` at a pre spike: potentiation of an inhibitory
synapse makes it more negative); ``modulates`` says which amplitude a modulator scales
(``"both"``: the whole change, ``"depression"``: A- only, ``"potentiation"``: A+ only,
``"none"``); ``trace_increment`` is the jump of a trace at a spike (1 by default).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from .rule import LocalRule, check_pre_post

__all__ = ["STDP", "STDPState", "pair_stdp", "stdp_window", "MODULATES"]

#: which amplitude of STDP a modulator scales
MODULATES = ("both", "depression", "potentiation", "none")


def _as_cpu_tensor(v) -> torch.Tensor:
    """A tensor, numpy array or list of per-neuron values as a CPU tensor."""
    return v.detach().cpu() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))


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
    trace_increment: float = 1.0
    modulates: str = "both"
    mirror: torch.Tensor | None = None

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
        if not (math.isfinite(self.trace_increment) and self.trace_increment >= 0):
            raise ValueError(f"STDP.trace_increment must be a finite number >= 0, got {self.trace_increment}")
        if self.modulates not in MODULATES:
            raise ValueError(f"STDP.modulates must be one of {list(MODULATES)}, got {self.modulates!r}")
        for name in ("w_min", "w_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)):  # per presynaptic neuron
                t = torch.as_tensor(_as_cpu_tensor(v), dtype=torch.float64)
                if t.ndim == 0:
                    object.__setattr__(self, name, float(t))
                    continue
                if t.ndim != 1 or torch.isnan(t).any():
                    raise ValueError(f"STDP.{name} must be a number or a 1-D array over the "
                                     f"presynaptic neurons without NaN, got shape {tuple(t.shape)}")
                object.__setattr__(self, name, t)
        if self.mirror is not None:
            m = torch.as_tensor(_as_cpu_tensor(self.mirror)).to(torch.bool)
            if m.ndim != 1:
                raise ValueError(f"STDP.mirror must be a 1-D boolean array over the presynaptic "
                                 f"neurons, got shape {tuple(m.shape)}")
            if self.form != "additive":
                raise ValueError("STDP.mirror needs form='additive' (the soft bounds of the "
                                 "multiplicative form are not defined for mirrored synapses)")
            object.__setattr__(self, "mirror", m)
        lo, hi = torch.as_tensor(self.w_min), torch.as_tensor(self.w_max)
        if lo.ndim and hi.ndim and lo.shape != hi.shape:
            raise ValueError(f"STDP.w_min and w_max have {lo.numel()} and {hi.numel()} values; "
                             "give one per presynaptic neuron in both")
        if not bool((lo < hi).all()):
            raise ValueError(f"STDP: need w_min < w_max (for every presynaptic neuron), got "
                             f"{self.w_min} and {self.w_max}")

    def bounds(self, weight: torch.Tensor):
        """``(w_min, w_max)`` as numbers, or both as tensors that broadcast over ``weight
        [out, in]`` when either is given per presynaptic neuron."""
        if not any(isinstance(b, torch.Tensor) for b in (self.w_min, self.w_max)):
            return self.w_min, self.w_max
        for b in (self.w_min, self.w_max):
            if isinstance(b, torch.Tensor) and b.numel() != weight.shape[-1]:
                raise ValueError(f"STDP: {b.numel()} bounds (one per presynaptic neuron) but the "
                                 f"weight has {weight.shape[-1]} presynaptic neurons")
        return tuple(torch.as_tensor(b).to(weight) for b in (self.w_min, self.w_max))

    @torch.no_grad()
    def apply(self, weight: torch.Tensor, dw: torch.Tensor, where: torch.Tensor | None = None):
        """``weight += dw`` in place, clipped to the bounds; returns ``weight``. With ``where``
        (bool ``[out, in]``) only those weights are clipped: a sparse engine clips only the
        synapses a spike touched, so a weight that starts out of bounds stays until then."""
        lo, hi = self.bounds(weight)
        weight.add_(dw.to(weight.dtype))
        clipped = torch.clamp(weight, lo, hi)
        if where is None:
            weight.copy_(clipped)
        else:
            weight.copy_(torch.where(where, clipped, weight))
        return weight

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
            lo, hi = self.bounds(w)
            ltp = ltp * (hi - w).clamp(min=0) ** self.mu
            ltd = ltd * (w - lo).clamp(min=0) ** self.mu
        a_plus, a_minus = self.a_plus, self.a_minus
        if modulator is not None and self.modulates in ("potentiation", "depression"):
            if self.modulates == "potentiation":
                a_plus = a_plus * modulator
            else:
                a_minus = a_minus * modulator
        dw = a_plus * ltp - a_minus * ltd
        if self.mirror is not None:
            if self.mirror.shape != (weight.shape[1],):
                raise ValueError(f"STDP.mirror has {self.mirror.numel()} values but the weight "
                                 f"has {weight.shape[1]} presynaptic neurons")
            dw = torch.where(self.mirror.to(dw.device), a_plus * ltd - a_minus * ltp, dw)
        if modulator is not None and self.modulates == "both":
            dw = dw * modulator
        inc = self.trace_increment
        if self.pairing == "all_to_all":
            x, y = (x + pre, y + post) if inc == 1.0 else (x + inc * pre, y + inc * post)
        else:
            x = torch.where(pre > 0, torch.full_like(x, inc), x)
            y = torch.where(post > 0, torch.full_like(y, inc), y)
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
