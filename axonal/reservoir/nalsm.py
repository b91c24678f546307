"""NALSM: the neuron-astrocyte liquid state machine (Ivanov & Michmizos, NeurIPS 2021).

A 3-D spatial liquid of LIF neurons whose synapses are trained, before the readout, by STDP in
which the depression rate is set by one global astrocyte. The astrocyte integrates the liquid's
spike count minus the input layer's spike count,

    A_{t+1} = A_t + (w_a (sum_liquid s_t - sum_input s_t) + b_a - A_t) / tau_a,

so depression grows when the liquid is more active than its drive, which holds the liquid near
the critical branching factor of 1 (core.md §8; code ``combra-lab/NALSM``: ``NALSM_ASTRO.py``,
``NALSM_STDP.py``, ``NALSM_LIF_v2.py``, ``generate_spatial_network.py``). Built on the sparse
engine :class:`axonal.reservoir.SparseNetwork` (dt = 1 ms):

- **Liquid**: ``10 x 10 x 10`` grid, 80 % excitatory (placed at random), connection probability
  ``C_{pre,post} exp(-(d / 3)^2)`` with ``C_EE, C_EI, C_IE, C_II = 0.2, 0.1, 0.3, 0.05``, no
  autapses; weights start at +1 (E) / -1 (I). Input -> liquid: density 0.15, weights +-1 at
  random. Bounds: E in [0, 3], I in [-3, 0], input in [-3, 3].
- **Neuron**: ``V <- V - V / 64 + I_syn``, spike at ``V >= 20``, reset to 0, refractory 2 ms.
  The engine's Euler step divides the synaptic drive by ``tau_m``; the engine's weights are
  therefore NALSM's weights times ``tau_v / dt = 64`` (and so are the STDP amplitudes and
  bounds); :attr:`SpatialLiquid.weight_scale` converts, the public weights are in NALSM units.
- **Synapse**: a presynaptic spike at ``t`` adds ``w exp(-(t' - t - 1) / tau_u) / tau_u`` from
  ``t' = t + 1`` on. Deviations from the code, forced by the engine and named here: one
  ``tau_u = 1 ms`` for every synapse (the code draws 1 or 2 ms), kernels of successive spikes add
  up (the code keeps only the latest; with a 2 ms refractory period the residue is below 5 %),
  and membranes are clamped while refractory (the code integrates but forbids spikes).
- **Input layer**: :func:`input_layer_spikes` — LIF neurons of the same kind receiving 100 per
  Poisson event (``INPUT_CURRENT``); their spikes drive the liquid and enter the astrocyte.
- **Plasticity** (:meth:`SpatialLiquid.plasticity_phase`): trace STDP on recurrent and input
  synapses, traces ``+0.1`` per spike decaying with 10 ms, potentiation ``eta+ = 0.15``;
  depression ``A_t`` (astrocyte, ``mode="astrocyte"``), fixed ``eta+`` (unregulated,
  ``mode="stdp"``, the repository's LSM+STDP baseline), or none (LSM). Inhibitory presynapses
  get the mirrored rule. Neuron states restart for every sample; the astrocyte carries over.
- **Readout**: per-neuron spike counts of the frozen liquid (:mod:`axonal.reservoir.lsm`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .connectivity import Connectivity, distance_connectivity, excitatory_mask, grid_positions
from ..learning.stdp import STDP
from ..neurons.lif import RefractoryLIFParams
from .engine import ActivityModulator, SparseNetwork, SynapseChannel

__all__ = ["NALSMConfig", "SpatialLiquid", "input_layer_spikes", "PLASTICITY_MODES"]

PLASTICITY_MODES = ("none", "stdp", "astrocyte")


@dataclass(frozen=True)
class NALSMConfig:
    """Constants of the NALSM liquid and its plasticity (defaults: core.md §8, MNIST branch)."""

    grid: tuple = (10, 10, 10)
    frac_exc: float = 0.8
    lam: float = 3.0
    c: tuple = ((0.2, 0.1), (0.3, 0.05))      # [pre][post] with 0 = E, 1 = I
    input_density: float = 0.15
    w_exc: float = 1.0
    w_inh: float = -1.0
    w_input: float = 1.0                       # magnitude; the sign is random per synapse
    w_max: float = 3.0
    tau_v: float = 64.0
    v_thresh: float = 20.0
    t_ref: float = 2.0
    tau_u: float = 1.0
    input_current: float = 100.0
    stdp_potentiation: float = 0.15           # eta+
    trace_increment: float = 0.1
    trace_tau: float = 10.0
    astro_tau: float = 100.0
    astro_weight: float = 0.015               # w_a: 0.015 for 1000 neurons, 0.0075 for 8000
    astro_initial: float | None = None        # A_0 = b_a; default eta+

    def __post_init__(self):
        if len(self.grid) != 3 or min(self.grid) < 1:
            raise ValueError(f"NALSMConfig.grid must be three positive sizes, got {self.grid}")
        if not 0 < self.frac_exc < 1:
            raise ValueError(f"NALSMConfig.frac_exc must lie in (0, 1), got {self.frac_exc}")
        if not 0 < self.input_density <= 1:
            raise ValueError(f"NALSMConfig.input_density must lie in (0, 1], got {self.input_density}")
        for name in ("lam", "tau_v", "v_thresh", "tau_u", "trace_tau", "astro_tau", "w_max", "input_current"):
            if not getattr(self, name) > 0:
                raise ValueError(f"NALSMConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.t_ref < 0 or self.astro_weight < 0 or self.stdp_potentiation < 0:
            raise ValueError("NALSMConfig: t_ref, astro_weight and stdp_potentiation must be >= 0")

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.grid))


def input_layer_spikes(poisson, cfg: NALSMConfig = NALSMConfig()) -> torch.Tensor:
    """Spikes ``[T, B, C]`` of NALSM's LIF input neurons driven by Poisson events ``[T, B, C]``.

    ``V <- V - V / tau_v + input_current * x``; spike at ``V >= v_thresh`` outside the refractory
    period (``t_ref`` steps after a spike, during which ``V`` still integrates), reset to 0.
    """
    x = torch.as_tensor(poisson)
    if x.ndim != 3:
        raise ValueError(f"input_layer_spikes expects Poisson events [T, B, C], got shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    v = torch.zeros(x.shape[1:], dtype=torch.float64)
    ref = torch.zeros(x.shape[1:], dtype=torch.int64)
    ref_steps = int(round(cfg.t_ref))
    out = torch.zeros_like(x, dtype=torch.bool)
    for t in range(x.shape[0]):
        v = v - v / cfg.tau_v + cfg.input_current * x[t]
        s = (v >= cfg.v_thresh) & (ref == 0)
        ref = torch.where(s, torch.full_like(ref, ref_steps), (ref - 1).clamp(min=0))
        v = torch.where(s, torch.zeros_like(v), v)
        out[t] = s
    return out


class SpatialLiquid:
    """The NALSM liquid on the sparse engine; ``liquid(x [T, B, C] 0/1) -> spikes [T, B, N]``.

    ``x`` are the input layer's spikes (:func:`input_layer_spikes` of Poisson events). Every
    sample starts from a fresh neuron state. ``mode`` selects the plasticity used by
    :meth:`plasticity_phase`; calling the liquid never changes the weights.
    """

    def __init__(self, n_inputs: int, cfg: NALSMConfig = NALSMConfig(), *, mode: str = "astrocyte",
                 seed: int = 0):
        if mode not in PLASTICITY_MODES:
            raise ValueError(f"SpatialLiquid: mode must be one of {PLASTICITY_MODES}, got {mode!r}")
        if not isinstance(n_inputs, int) or n_inputs < 1:
            raise ValueError(f"SpatialLiquid: n_inputs must be an int >= 1, got {n_inputs!r}")
        self.cfg, self.mode, self.seed, self.n_inputs = cfg, mode, seed, n_inputs
        n = cfg.n_neurons
        self.weight_scale = cfg.tau_v  # engine weight = NALSM weight * tau_v / dt (dt = 1)
        self.exc = excitatory_mask(n, cfg.frac_exc, seed=seed)
        pos = grid_positions(cfg.grid)
        ws = self.weight_scale
        w_pre = np.where(self.exc, cfg.w_exc, cfg.w_inh) * ws
        self.recurrent = distance_connectivity(pos, pos, cfg.lam, np.asarray(cfg.c), w_pre, seed=seed + 1,
                                               pre_groups=self.exc, post_groups=self.exc)
        rng = np.random.default_rng(seed + 2)
        mask = rng.random((n_inputs, n)) < cfg.input_density
        pre, post = np.nonzero(mask)
        signs = rng.choice([-1.0, 1.0], size=pre.size)
        self.input = Connectivity.from_coo(pre, post, signs * cfg.w_input * ws, n_inputs, n)
        self.astro_initial = cfg.stdp_potentiation if cfg.astro_initial is None else cfg.astro_initial
        self.modulator_value = self.astro_initial
        self.network = SparseNetwork(
            RefractoryLIFParams(tau_mem=cfg.tau_v, v_rest=0.0, v_reset=0.0, threshold=cfg.v_thresh,
                                t_ref=cfg.t_ref, dt=1.0),
            channels=(SynapseChannel(cfg.tau_u),), recurrent=self.recurrent, input=self.input,
            **self._plasticity())

    # ------------------------------------------------------------------ plasticity
    def _plasticity(self) -> dict:
        cfg, ws = self.cfg, self.weight_scale
        if self.mode == "none":
            return {}
        a_minus = ws if self.mode == "astrocyte" else ws * cfg.stdp_potentiation
        common = dict(a_plus=ws * cfg.stdp_potentiation, a_minus=a_minus, tau_plus=cfg.trace_tau,
                      tau_minus=cfg.trace_tau, trace_increment=cfg.trace_increment, modulates="depression",
                      dt=1.0, reduce="sum")
        lo_rec = np.where(self.exc, 0.0, -cfg.w_max) * ws
        hi_rec = np.where(self.exc, cfg.w_max, 0.0) * ws
        rec = STDP(w_min=lo_rec, w_max=hi_rec, mirror=~self.exc, **common)
        inp = STDP(w_min=-cfg.w_max * ws, w_max=cfg.w_max * ws, **common)
        out = dict(plasticity=rec, input_plasticity=inp)
        if self.mode == "astrocyte":
            out["modulator"] = ActivityModulator(tau=cfg.astro_tau, w_rec=cfg.astro_weight,
                                                 w_in=-cfg.astro_weight, bias=self.astro_initial,
                                                 initial=self.astro_initial)
        return out

    def plasticity_phase(self, x) -> np.ndarray:
        """Present each sample of ``x [T, B, C]`` (input-layer spikes) once, in order, with
        plasticity on (weights change in place). Returns the modulator (astrocyte ``A``) at the
        end of every sample ``[B]`` (constant for ``mode="stdp"``; empty for ``"none"``)."""
        xs = self._check(x)
        if self.mode == "none":
            return np.zeros(0)
        trace = np.empty(xs.shape[1])
        net = self.network
        for b in range(xs.shape[1]):
            st = net.initial_state()
            if self.mode == "astrocyte":
                st = st._replace(modulator=self.modulator_value)
            res = net.run(input_spikes=xs[:, b], state=st, plastic=True)
            if self.mode == "astrocyte":
                self.modulator_value = res.state.modulator
            trace[b] = res.state.modulator if self.mode == "astrocyte" else 1.0
        return trace

    # ------------------------------------------------------------------ frozen liquid
    def _check(self, x) -> np.ndarray:
        a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if a.ndim != 3 or a.shape[2] != self.n_inputs:
            raise ValueError(f"SpatialLiquid: input must be spikes [T, B, {self.n_inputs}], got shape {a.shape}")
        return a.astype(bool)

    def __call__(self, x) -> torch.Tensor:
        """Frozen responses: spikes ``[T, B, N]`` (bool) of the liquid to ``x [T, B, C]``."""
        xs = self._check(x)
        T, B = xs.shape[:2]
        out = torch.zeros(T, B, self.cfg.n_neurons, dtype=torch.bool)
        for b in range(B):
            res = self.network.run(input_spikes=xs[:, b], plastic=False)
            out[res.spike_times, b, res.spike_neurons] = True
        return out

    # ------------------------------------------------------------------ views
    def weights(self, which: str = "recurrent") -> np.ndarray:
        """Synaptic weights in NALSM units (CSR order of the ``recurrent`` or ``input`` projection)."""
        conn = {"recurrent": self.recurrent, "input": self.input}.get(which)
        if conn is None:
            raise ValueError(f"weights(which={which!r}): use 'recurrent' or 'input'")
        return conn.weights / self.weight_scale

    def adjacency(self) -> np.ndarray:
        """Boolean ``[N, N]`` adjacency ``[pre, post]`` of the liquid (for the branching factor)."""
        return self.recurrent.to_dense("mask")
