"""The COBA benchmark network (Vogels & Abbott 2005; Brette et al., J. Comput. Neurosci. 2007).

4000 leaky integrate-and-fire neurons, 3200 excitatory and 800 inhibitory, every ordered pair
connected with probability 2 % (self-connections allowed, as Brian2's ``connect(p=0.02)``),
exponential conductance synapses in units of the leak conductance (E: +0.6 per spike, tau 5 ms,
reversal 0 mV; I: +6.7, tau 10 ms, reversal -80 mV), tau_m 20 ms, rest -60 mV, threshold
-50 mV, reset -60 mV, refractory 5 ms, forward Euler at dt = 0.1 ms, 1 s.

Two initialisations are documented, and both are presets here (``load_coba_config(name)``):

- ``"coba"`` / ``"brette2007"`` (default): the benchmark's own script (Brian's
  ``Brette_2007/COBA.py``): ``v ~ N(-65, 5) mV``, ``g_E ~ N(4, 1.5)``, ``g_I ~ N(20, 12)``, no
  external drive. The network sustains asynchronous irregular activity on its own.
- ``"brian2_benchmark"``: the version BrainPy times against Brian2 (``develop/benchmark/COBA``
  in the BrainPy repository): a constant drive ``I = 20 mV``, ``v ~ N(-55, 5) mV``, ``g = 0``.

The neuron is the library's conductance-based LIF (``axonal.neurons.ConductanceLIFParams``,
registered as ``"coba_lif"``). ``run_coba`` builds the network with :mod:`axonal.reservoir`, runs it and reports the mean
rates and the CV of the inter-spike intervals. The recipe is validated data: an unknown key is
an error that lists the known ones (``COBAConfig.from_dict``).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..metrics.spike_statistics import isi_cv
from ..neurons.conductance import ConductanceLIFParams
from .connectivity import excitatory_mask, random_connectivity
from .engine import NetworkState, SimulationResult, SparseNetwork

__all__ = ["COBAConfig", "COBAResult", "build_coba", "run_coba", "load_coba_config", "COBA_PRESETS"]


@dataclass(frozen=True)
class COBAConfig:
    """Parameters of the COBA network (module docstring). Times in ms, voltages in mV,
    conductances in units of the leak conductance."""

    n_exc: int = 3200
    n_inh: int = 800
    p: float = 0.02
    w_exc: float = 0.6
    w_inh: float = 6.7
    tau_exc: float = 5.0
    tau_inh: float = 10.0
    e_exc: float = 0.0
    e_inh: float = -80.0
    tau_m: float = 20.0
    v_rest: float = -60.0
    v_thresh: float = -50.0
    v_reset: float = -60.0
    t_ref: float = 5.0
    i_bias: float = 0.0
    dt: float = 0.1
    duration_ms: float = 1000.0
    v_init_mean: float = -65.0
    v_init_std: float = 5.0
    ge_init_mean: float = 4.0
    ge_init_std: float = 1.5
    gi_init_mean: float = 20.0
    gi_init_std: float = 12.0
    integrator: str = "euler"
    autapses: bool = True

    def __post_init__(self):
        if self.n_exc < 0 or self.n_inh < 0 or self.n_exc + self.n_inh < 1:
            raise ValueError(f"COBAConfig needs n_exc, n_inh >= 0 and at least one neuron, got "
                             f"{self.n_exc}, {self.n_inh}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"COBAConfig.p must lie in [0, 1], got {self.p}")
        for name in ("tau_exc", "tau_inh", "tau_m", "dt", "duration_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"COBAConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.integrator not in ("euler", "exp_euler"):
            raise ValueError(f"COBAConfig.integrator must be 'euler' or 'exp_euler', got {self.integrator!r}")

    @property
    def n(self) -> int:
        return self.n_exc + self.n_inh

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_ms / self.dt))

    @classmethod
    def from_dict(cls, d: dict) -> "COBAConfig":
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown COBA key(s) {unknown}; the known keys are: {', '.join(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


COBA_PRESETS = {
    "coba": {},
    "brette2007": {},
    "brian2_benchmark": dict(i_bias=20.0, v_init_mean=-55.0, v_init_std=5.0, ge_init_mean=0.0,
                             ge_init_std=0.0, gi_init_mean=0.0, gi_init_std=0.0),
}


def load_coba_config(source="coba", overrides: dict | None = None) -> COBAConfig:
    """A preset name (``COBA_PRESETS``), a YAML file path, a dict or a config; then ``overrides``.

    The shipped recipe ``axonal/reservoir/coba.yaml`` (``load_coba_config("coba.yaml")``) is the
    default preset written out. It lives beside this module, not in ``axonal/recipes``, whose
    files are training recipes of ``axonal.config``.
    """
    if isinstance(source, COBAConfig):
        base = source.to_dict()
    elif isinstance(source, dict):
        base = COBAConfig.from_dict(source).to_dict()
    elif isinstance(source, str) and source in COBA_PRESETS:
        base = COBAConfig.from_dict(COBA_PRESETS[source]).to_dict()
    elif isinstance(source, (str, Path)) and (Path(source).exists() or str(source).endswith(".yaml")):
        path = Path(source)
        if not path.exists():
            path = Path(str(resources.files("axonal.reservoir") / path.name))
        base = COBAConfig.from_dict(yaml.safe_load(path.read_text()) or {}).to_dict()
    else:
        raise ValueError(f"unknown COBA source {source!r}; use one of {sorted(COBA_PRESETS)}, a YAML "
                         "path, a dict or a COBAConfig")
    return COBAConfig.from_dict({**base, **(overrides or {})})


def build_coba(config: COBAConfig | None = None, seed: int = 0) -> tuple[SparseNetwork, NetworkState]:
    """The network and its initial state, all drawn from ``seed`` (connectivity: ``seed``;
    initial values: ``seed + 1``)."""
    cfg = config or COBAConfig()
    exc = excitatory_mask(cfg.n, cfg.n_exc / cfg.n)
    conn = random_connectivity(cfg.n, cfg.n, cfg.p, weight=np.where(exc, cfg.w_exc, cfg.w_inh),
                               channel=np.where(exc, 0, 1), seed=seed, autapses=cfg.autapses)
    neurons = ConductanceLIFParams(
        tau_mem=cfg.tau_m, v_rest=cfg.v_rest, v_reset=cfg.v_reset, threshold=cfg.v_thresh,
        t_ref=cfg.t_ref, bias=cfg.i_bias, tau_exc=cfg.tau_exc, tau_inh=cfg.tau_inh,
        e_exc=cfg.e_exc, e_inh=cfg.e_inh, dt=cfg.dt, integrator=cfg.integrator)
    net = SparseNetwork(neurons, recurrent=conn)
    rng = np.random.default_rng(seed + 1)
    state = net.initial_state(rng.normal(cfg.v_init_mean, cfg.v_init_std, cfg.n))
    state.g[0] = rng.normal(cfg.ge_init_mean, cfg.ge_init_std, cfg.n)
    state.g[1] = rng.normal(cfg.gi_init_mean, cfg.gi_init_std, cfg.n)
    return net, state


@dataclass
class COBAResult:
    """Summary of one COBA run. Rates in Hz; ``cv_isi``: mean CV over neurons with >= 3 spikes."""

    rate_hz: float
    rate_exc_hz: float
    rate_inh_hz: float
    cv_isi: float
    n_spikes: int
    build_s: float
    run_s: float
    result: SimulationResult

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("rate_hz", "rate_exc_hz", "rate_inh_hz", "cv_isi",
                                              "n_spikes", "build_s", "run_s")}


def run_coba(config: COBAConfig | None = None, seed: int = 0, n_steps: int | None = None) -> COBAResult:
    """Build and run the COBA network; ``n_steps`` defaults to the config's duration."""
    cfg = config or COBAConfig()
    t0 = time.perf_counter()
    net, state = build_coba(cfg, seed)
    t1 = time.perf_counter()
    res = net.run(cfg.n_steps if n_steps is None else n_steps, state=state)
    t2 = time.perf_counter()
    rates = res.rates_hz().numpy()
    cv = isi_cv(res.spike_times, res.spike_neurons, cfg.n)
    return COBAResult(float(rates.mean()), float(rates[:cfg.n_exc].mean()) if cfg.n_exc else float("nan"),
                      float(rates[cfg.n_exc:].mean()) if cfg.n_inh else float("nan"),
                      float(np.nanmean(cv)) if np.any(np.isfinite(cv)) else float("nan"),
                      int(res.spike_times.numel()), t1 - t0, t2 - t1, res)
