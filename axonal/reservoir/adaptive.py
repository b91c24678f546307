"""Adaptive E/I rate reservoir: local homeostasis of inhibition towards per-neuron target rates.

After Srinivasan, Plenz & Girvan, "Boosting Reservoir Computing with Brain-inspired Adaptive
Dynamics" (2025; secondary.md §16). The paper's code was not available; the equations below are
this library's reading of its abstract, with every choice named:

    h_i(t)   = sum_{j in E} W_ij r_j(t-1) - g_i sum_{k in I} W_ik r_k(t-1) + w_i u(t) + b_i
    r_i(t)   = (1 - leak) r_i(t-1) + leak * sigmoid(h_i(t))                 rate in (0, 1)
    g_i     <- max(0, g_i + eta (r_i(t) - r*_i))                            adaptation phase only

- **Dale's law**: ``W >= 0`` elementwise; a presynaptic neuron is excitatory (first
  ``(1 - inhibitory_fraction) N``) or inhibitory (the rest), so the sign of its output is fixed.
  Connections are sparse (probability ``connectivity``) with uniform magnitudes.
- **Scale**: the signed matrix ``[W_E, -W_I]`` (at ``g = 1``) is rescaled to spectral radius
  ``spectral_radius`` (the usual echo-state knob).
- **Local adaptation**: each neuron adjusts only its own inhibitory gain ``g_i`` from its own
  rate error ``r_i - r*_i`` (more inhibition when it fires above target); :meth:`adapt` runs it
  on a driving input, then ``g`` is frozen and only a linear readout is trained.
- **Heterogeneity**: :func:`heterogeneous_targets` draws ``r*_i`` uniformly in
  ``mean * [1 - spread, 1 + spread]``; ``spread = 0`` is the homogeneous control.
- **Global tuning**, the baseline: all ``g_i`` equal to one scalar (:meth:`set_global_inhibition`)
  and/or the spectral radius, chosen by search on validation data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from ..neurons.base import check_sequence

__all__ = ["EIReservoirParams", "EIReservoirState", "ei_reservoir_step", "EIReservoir",
           "heterogeneous_targets", "homeostatic_inhibition_step"]


@dataclass(frozen=True)
class EIReservoirParams:
    w_exc: torch.Tensor        # [N, N_E] >= 0
    w_inh: torch.Tensor        # [N, N_I] >= 0
    w_in: torch.Tensor         # [N, C]
    bias: torch.Tensor         # [N]
    inh_gain: torch.Tensor     # g [N] >= 0
    leak: float = 1.0

    def __post_init__(self):
        if not 0 < self.leak <= 1:
            raise ValueError(f"EIReservoirParams.leak must lie in (0, 1], got {self.leak}")
        if (self.w_exc < 0).any() or (self.w_inh < 0).any():
            raise ValueError("EIReservoirParams: w_exc and w_inh are magnitudes and must be >= 0 (Dale's law; "
                             "the inhibitory sign is applied in the step)")
        if (self.inh_gain < 0).any():
            raise ValueError("EIReservoirParams.inh_gain must be >= 0")


class EIReservoirState(NamedTuple):
    rate: torch.Tensor   # [B, N]


def ei_reservoir_step(u_t: torch.Tensor, state: EIReservoirState, p: EIReservoirParams):
    """One step (equations in the module docstring): ``u_t [B, C] -> (rate [B, N], state)``."""
    n_e = p.w_exc.shape[1]
    r = state.rate
    h = r[:, :n_e] @ p.w_exc.T - p.inh_gain * (r[:, n_e:] @ p.w_inh.T) + u_t @ p.w_in.T + p.bias
    r_new = (1 - p.leak) * r + p.leak * torch.sigmoid(h)
    return r_new, EIReservoirState(r_new)


def homeostatic_inhibition_step(inh_gain: torch.Tensor, rate: torch.Tensor, target: torch.Tensor,
                                eta: float) -> torch.Tensor:
    """``g <- max(0, g + eta * (mean_batch(rate) - target))``: the local rule, one step."""
    return (inh_gain + eta * (rate.mean(0) - target)).clamp(min=0.0)


def heterogeneous_targets(n: int, mean: float = 0.2, spread: float = 0.5, seed: int = 0) -> torch.Tensor:
    """Target rates ``[n]`` uniform on ``mean * [1 - spread, 1 + spread]`` (``spread`` in [0, 1])."""
    if not 0 < mean < 1:
        raise ValueError(f"heterogeneous_targets: mean must lie in (0, 1) (rates are sigmoid outputs), got {mean}")
    if not 0 <= spread <= 1:
        raise ValueError(f"heterogeneous_targets: spread must lie in [0, 1], got {spread}")
    g = torch.Generator().manual_seed(seed)
    return mean * (1 + spread * (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1)).float()


class EIReservoir(nn.Module):
    """Sparse Dale's-law rate reservoir; ``forward(u [T, B, C]) -> (rates [T, B, N], state)``.

    ``EIReservoir(200, n_inputs=1, spectral_radius=0.9, seed=0)``; ``adapt(u, targets, eta)``
    runs the local inhibitory homeostasis; ``set_global_inhibition(g)`` the global baseline.
    The weights are buffers (a reservoir is not trained by gradient descent).
    """

    def __init__(self, n_neurons: int = 200, n_inputs: int = 1, *, inhibitory_fraction: float = 0.2,
                 connectivity: float = 0.1, spectral_radius: float = 0.9, input_scale: float = 1.0,
                 bias_scale: float = 0.5, leak: float = 1.0, inh_gain: float = 1.0, seed: int = 0):
        super().__init__()
        if not isinstance(n_neurons, int) or n_neurons < 2:
            raise ValueError(f"EIReservoir: n_neurons must be an int >= 2, got {n_neurons!r}")
        if not 0 < inhibitory_fraction < 1:
            raise ValueError(f"EIReservoir: inhibitory_fraction must lie in (0, 1), got {inhibitory_fraction}")
        if not 0 < connectivity <= 1:
            raise ValueError(f"EIReservoir: connectivity must lie in (0, 1], got {connectivity}")
        for name, v in (("spectral_radius", spectral_radius), ("input_scale", input_scale)):
            if not v > 0:
                raise ValueError(f"EIReservoir: {name} must be > 0, got {v}")
        if bias_scale < 0 or inh_gain < 0:
            raise ValueError("EIReservoir: bias_scale and inh_gain must be >= 0")
        n_i = max(1, int(round(inhibitory_fraction * n_neurons)))
        n_e = n_neurons - n_i
        g = torch.Generator().manual_seed(seed)
        mask = torch.rand(n_neurons, n_neurons, generator=g) < connectivity
        mask.fill_diagonal_(False)
        mag = torch.rand(n_neurons, n_neurons, generator=g, dtype=torch.float64) * mask
        # balance: scale the inhibitory columns so that E and I input are equal on average at g = 1
        e_sum, i_sum = mag[:, :n_e].sum(), mag[:, n_e:].sum()
        if i_sum > 0:
            mag[:, n_e:] *= e_sum / i_sum
        signed = torch.cat([mag[:, :n_e], -mag[:, n_e:]], 1)
        rho = torch.linalg.eigvals(signed).abs().max().item()
        mag = mag * (spectral_radius / rho if rho > 0 else 1.0)
        self.n_neurons, self.n_inputs, self.n_exc = n_neurons, n_inputs, n_e
        self.spectral_radius, self.leak = spectral_radius, leak
        self.register_buffer("w_exc", mag[:, :n_e].float().contiguous())
        self.register_buffer("w_inh", mag[:, n_e:].float().contiguous())
        self.register_buffer("w_in", (input_scale * (2 * torch.rand(n_neurons, n_inputs, generator=g) - 1)))
        self.register_buffer("bias", bias_scale * (2 * torch.rand(n_neurons, generator=g) - 1))
        self.register_buffer("inh_gain", torch.full((n_neurons,), float(inh_gain)))

    def params(self) -> EIReservoirParams:
        return EIReservoirParams(self.w_exc, self.w_inh, self.w_in, self.bias, self.inh_gain, self.leak)

    def initial_state(self, u_t: torch.Tensor) -> EIReservoirState:
        """Zero rates for one input step ``u_t [B, C]`` (the library's one signature)."""
        return EIReservoirState(torch.zeros(u_t.shape[0], self.n_neurons, device=u_t.device, dtype=u_t.dtype))

    def _check(self, u, state):
        check_sequence(u, (self.n_inputs,), "EIReservoir")
        if state is None:
            return self.initial_state(u.new_zeros(u.shape[1:]))
        if state.rate.shape != (u.shape[1], self.n_neurons):
            raise ValueError(f"EIReservoir: state has shape {tuple(state.rate.shape)}, expected "
                             f"[{u.shape[1]}, {self.n_neurons}]; pass state=None to start fresh")
        return state

    @torch.no_grad()
    def forward(self, u: torch.Tensor, state: EIReservoirState | None = None):
        """Run the frozen reservoir. Same arithmetic as :func:`ei_reservoir_step` (tested), with
        the signed matrix and the input drive of all steps formed once."""
        state = self._check(u, state)
        w = torch.cat([self.w_exc, -self.inh_gain[:, None] * self.w_inh], 1).T.contiguous()
        drive = u @ self.w_in.T + self.bias                     # [T, B, N]
        r, out, leak = state.rate, [], self.leak
        for d_t in drive.unbind(0):
            s = torch.sigmoid(torch.addmm(d_t, r, w))
            r = s if leak == 1.0 else (1 - leak) * r + leak * s
            out.append(r)
        return torch.stack(out), EIReservoirState(r)

    @torch.no_grad()
    def adapt(self, u: torch.Tensor, targets, eta: float = 0.01, state: EIReservoirState | None = None):
        """Local homeostatic adaptation of ``inh_gain`` on the drive ``u [T, B, C]``.

        ``targets``: a rate (homogeneous) or a tensor ``[N]``. Updates ``self.inh_gain`` after
        every step (:func:`homeostatic_inhibition_step`) and returns the rates ``[T, B, N]``.
        """
        state = self._check(u, state)
        if not eta > 0:
            raise ValueError(f"EIReservoir.adapt: eta must be > 0, got {eta}")
        target = torch.as_tensor(targets, dtype=torch.float32).expand(self.n_neurons).to(self.w_exc.device)
        if ((target <= 0) | (target >= 1)).any():
            raise ValueError("EIReservoir.adapt: target rates must lie in (0, 1) (sigmoid rates)")
        n_e, leak = self.n_exc, self.leak
        we, wi = self.w_exc.T.contiguous(), self.w_inh.T.contiguous()
        drive = u @ self.w_in.T + self.bias
        g, r, out = self.inh_gain.clone(), state.rate, []
        for d_t in drive.unbind(0):
            h = d_t + r[:, :n_e] @ we - g * (r[:, n_e:] @ wi)
            s = torch.sigmoid(h)
            r = s if leak == 1.0 else (1 - leak) * r + leak * s
            g = homeostatic_inhibition_step(g, r, target, eta)
            out.append(r)
        self.inh_gain.copy_(g)
        return torch.stack(out)

    def set_global_inhibition(self, gain: float) -> None:
        """Give every neuron the same inhibitory gain (the globally tuned baseline)."""
        if not gain >= 0:
            raise ValueError(f"set_global_inhibition: gain must be >= 0, got {gain}")
        self.inh_gain.fill_(float(gain))

    def extra_repr(self) -> str:
        return (f"n_neurons={self.n_neurons}, n_inputs={self.n_inputs}, n_exc={self.n_exc}, "
                f"spectral_radius={self.spectral_radius}, leak={self.leak}")
