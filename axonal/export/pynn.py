"""Export of axonal's sparse spiking networks to PyNN, and import back.

PyNN (Davison et al., Front. Neuroinform. 2009) is the simulator-independent API of
computational neuroscience; through it a network runs on NEST (threads here; MPI on a cluster),
on SpiNNaker (sPyNNaker) and others. axonal hands large simulations to those engines instead of
growing its own distributed simulator.

* :func:`network_spec` turns a :class:`axonal.reservoir.SparseNetwork` (+ its initial
  :class:`NetworkState`, inputs and recorders) into plain arrays in PyNN's units.
* :func:`build_pynn` builds that spec with any PyNN backend module (``pyNN.nest``, ``pyNN.spiNNaker``).
  It imports nothing from axonal, so :func:`write_script` copies it into a standalone script
  that a user runs on a cluster (``mpirun -n P python script.py`` with an MPI build of NEST).
* :func:`simulate_nest` runs the spec on NEST with ``threads`` threads and returns the spikes as
  axonal's :class:`~axonal.reservoir.SimulationResult` (``axonal simulate --backend nest``).
* :func:`from_pynn` reads a PyNN network (populations and projections) back into a
  ``SparseNetwork`` where the models map.

**Mapping** (units: PyNN nF, nA, uS, ms, mV; axonal mV and leak units, ms):

==========================================  ===============================================
axonal                                      PyNN
==========================================  ===============================================
``ConductanceLIFParams`` (COBA neuron)      ``IF_cond_exp`` (NEST ``iaf_cond_exp``)
``RefractoryLIFParams`` + current channels  ``IF_curr_exp`` (NEST ``iaf_psc_exp``)
membrane resistance (no capacitance)        ``cm`` chosen (``cm_nf``); ``g_L = cm / tau_m``
conductance weight ``w`` (leak units)       ``w * g_L`` uS, receptor by channel (0 exc, 1 inh)
current weight ``w`` (mV)                   ``w * g_L`` nA, receptor by sign (NEST routes so)
``bias`` (mV)                               ``i_offset = bias * g_L`` nA
``t_ref`` (``r = round(t_ref / dt)`` steps)   ``tau_refrac = (r - 1) * dt`` (see below)
delay ``d >= 1`` steps                      ``d * dt`` ms (exact)
delay ``0`` (acts on the next step)         ``dt`` ms, NEST's minimum: one step later
input spike at step ``t``                   ``SpikeSourceArray`` time ``(t + 1) * dt``
``input_rates`` (Hz)                        ``SpikeSourcePoisson``
``axonal.learning.STDP`` additive,          ``STDPMechanism(SpikePairRule,
all-to-all, ``w_min = 0``, no modulator     AdditiveWeightDependence)`` (NEST ``stdp_synapse``)
``record_v``                                ``record("v")`` of those neurons
==========================================  ===============================================

Step conventions: a spike in axonal's step ``t`` is NEST's spike at ``(t + 1) dt`` (NEST stamps a
spike at the end of its step); a synapse of delay ``d`` in axonal reaches the membrane at step
``t + d + 1``, and so does NEST's delay ``d dt``. NEST has no delay below one step, so axonal's
delay 0 (Brian2's default, used by the COBA network) becomes one step (0.1 ms) longer in NEST.
axonal's refractory count includes the spike's own step (the membrane integrates again at step
``t + r``); NEST counts ``tau_refrac / dt`` steps after the spike's step, so ``r`` steps in axonal
are ``(r - 1) dt`` in NEST.

What does not map raises :class:`PyNNMappingError` naming the part and why: one-step-pulse
channels (``tau = 0``), more than two current time constants, a current channel whose weights
have both signs under different time constants, negative conductance weights, a refractory or
in-flight initial state, STDP with a modulator, mirrored sources, ``w_min != 0`` or other forms.

Integration differs by design and is part of the comparison (``docs/distributed.md``): NEST
integrates ``iaf_cond_exp`` with adaptive Runge-Kutta (GSL RKF45), axonal's COBA runs forward
Euler (Brian's choice), so COBA agrees in statistics, not spike by spike. ``iaf_psc_exp`` is
integrated exactly (exponential propagators, Rotter & Diesmann 1999); axonal's ``exp_euler`` is
exact for a drive *held* over the step, so the two agree exactly for constant drive and part
once synaptic currents, which NEST lets decay within the step, move the membrane.
"""
from __future__ import annotations

import inspect
import json
import math
import time
from pathlib import Path

import numpy as np

__all__ = ["PyNNMappingError", "network_spec", "build_pynn", "simulate_nest", "write_script", "from_pynn",
           "spikes_from_pynn"]



class PyNNMappingError(ValueError):
    """A part of the network has no PyNN counterpart (the message names it)."""


# ----------------------------------------------------------------------------- axonal -> spec
def network_spec(net, state=None, *, duration_ms: float, input_spikes=None, input_rates=None,
                 record_v=(), cm_nf: float = 0.2, seed: int = 0, match_steps: bool = False) -> dict:
    """The PyNN description of ``net`` (a ``SparseNetwork``) as plain numbers and arrays.

    ``state``: the initial ``NetworkState`` (default the network's fresh state); only a state
    with nothing in flight and no neuron refractory maps. ``input_spikes`` ``[T, n_in]`` drive
    the input connectivity through ``SpikeSourceArray``; or ``input_rates`` (Hz, one value or
    ``[n_in]``) through ``SpikeSourcePoisson``. ``record_v``: neurons whose membrane is recorded.
    ``cm_nf``: the capacitance to give the neurons (nF; axonal's equations need none, PyNN's do;
    the dynamics do not depend on it since every current is scaled by ``g_L = cm / tau_m``).
    ``match_steps`` (current-based, ``exp_euler``): scale each synaptic weight so that NEST's exact
    propagator moves the membrane per step as much as axonal's drive held over the step does
    (factor ``(1 - e^{-h/tau_m}) / (tau_s / (tau_m - tau_s) (e^{-h/tau_m} - e^{-h/tau_s}))``,
    about 1.01 at h = 0.1, tau_m = 20, tau_s = 5 ms): NEST then reproduces axonal's discrete
    network step for step. Without it the export is the same continuous-time model.
    """
    from ..neurons.conductance import ConductanceLIFParams
    from ..reservoir.components import neuron_arrays

    dt, n = float(net.dt), int(net.n)
    state = net.initial_state() if state is None else state
    arrays = neuron_arrays(net.neurons, n)
    conductance = isinstance(net.neurons, ConductanceLIFParams)
    if net.modulator is not None and not (isinstance(net.modulator, (int, float)) and net.modulator == 1):
        raise PyNNMappingError("the network's STDP modulator (a global third factor) has no PyNN rule; "
                               "export without it (modulator=None)")
    for c, ch in enumerate(net.channels):
        if ch.tau == 0:
            raise PyNNMappingError(f"synaptic channel {c} is a one-step pulse (tau = 0), which PyNN's "
                                   "exponential synapses cannot express; give it a time constant")
    if state.t != 0 or np.any(state.ring) or np.any(state.last_spike > -(1 << 39)):
        raise PyNNMappingError("the initial state holds spikes in flight or refractory neurons, which PyNN "
                               "cannot initialise; export a fresh state (net.initial_state(v) with g set)")
    g_l = np.asarray(cm_nf, float) / arrays["tau_m"]   # uS
    cell = {"cm": np.full(n, float(cm_nf)), "tau_m": arrays["tau_m"], "v_rest": arrays["v_rest"],
            "v_thresh": arrays["v_thresh"], "v_reset": arrays["v_reset"],
            "tau_refrac": np.maximum(arrays["ref_steps"] - 1, 0) * dt, "i_offset": arrays["i_bias"] * g_l}
    init = {"v": np.asarray(state.v, float)}
    projections = []
    if conductance:
        ch = net.channels
        cell.update(tau_syn_E=ch[0].tau, tau_syn_I=ch[1].tau, e_rev_E=ch[0].e_rev, e_rev_I=ch[1].e_rev)
        init.update(gsyn_exc=state.g[0] * g_l, gsyn_inh=state.g[1] * g_l)
        celltype = "IF_cond_exp"
    else:
        celltype = "IF_curr_exp"
        taus = _current_taus(net)
        cell.update(tau_syn_E=taus["excitatory"], tau_syn_I=taus["inhibitory"])
        # which initial channel values go to which PyNN current: by the channel's time constant
        isyn = {"excitatory": np.zeros(n), "inhibitory": np.zeros(n)}
        for c, chan in enumerate(net.channels):
            if np.any(state.g[c]):
                target = [r for r, tau in taus.items() if tau == chan.tau]
                if not target:
                    raise PyNNMappingError(f"initial value of channel {c} (tau {chan.tau} ms) has no PyNN current")
                isyn[target[0]] += state.g[c] * g_l
        init.update(isyn_exc=isyn["excitatory"], isyn_inh=isyn["inhibitory"])
    for name, conn, rule in (("recurrent", net.recurrent, net.plasticity), ("input", net.input, net.input_plasticity)):
        if conn is None or conn.nnz == 0:
            continue
        gain = None
        if match_steps:
            if conductance or net.integrator != "exp_euler":
                raise ValueError("match_steps applies to current-based networks with integrator='exp_euler'")
            gain = {c: _step_gain(arrays["tau_m"], ch.tau, dt) for c, ch in enumerate(net.channels)}
        projections += _projections(name, conn, rule, net, g_l, conductance, dt, gain)
    spec = {"format": "axonal-pynn/1", "dt": dt, "duration_ms": float(duration_ms), "seed": int(seed),
            "n": n, "celltype": celltype, "cell": cell, "init": init, "projections": projections,
            "record_v": [int(i) for i in record_v], "source": None}
    n_in = net.n_inputs
    if input_spikes is not None and input_rates is not None:
        raise ValueError("give input_spikes or input_rates, not both")
    if input_spikes is not None:
        s = np.asarray(input_spikes.detach().cpu() if hasattr(input_spikes, "detach") else input_spikes)
        if s.ndim != 2 or s.shape[1] != n_in:
            raise ValueError(f"input_spikes must be [T, {n_in}] (steps x the input connectivity's sources), "
                             f"got shape {s.shape}")
        steps, idx = np.nonzero(s)
        spec["source"] = {"kind": "array", "n": n_in,
                          "times": [np.round((steps[idx == j] + 1) * dt, 9).tolist() for j in range(n_in)]}
    elif input_rates is not None:
        rates = np.broadcast_to(np.asarray(input_rates, float), (n_in,)).copy()
        if np.any(rates < 0):
            raise ValueError("input_rates must be >= 0 Hz")
        spec["source"] = {"kind": "poisson", "n": n_in, "rates": rates}
    elif n_in and net.input.nnz:
        raise ValueError("the network has an input connectivity: give input_spikes [T, n_in] or input_rates (Hz)")
    return spec


def _current_taus(net) -> dict:
    """PyNN's IF_curr_exp has two currents and NEST routes a synapse to one by its weight's sign
    (>= 0 excitatory, < 0 inhibitory): the time constant of each sign must be unique."""
    seen = {"excitatory": set(), "inhibitory": set()}
    for conn in (net.recurrent, net.input):
        if conn is None or conn.nnz == 0:
            continue
        for c in np.unique(conn.channels):
            w = conn.weights[conn.channels == c]
            if np.any(w >= 0):
                seen["excitatory"].add(net.channels[c].tau)
            if np.any(w < 0):
                seen["inhibitory"].add(net.channels[c].tau)
    out = {}
    for role, taus in seen.items():
        if len(taus) > 1:
            raise PyNNMappingError(
                f"PyNN's IF_curr_exp has one {role} current, but {'positive' if role == 'excitatory' else 'negative'}"
                f" weights sit on channels with time constants {sorted(taus)} ms (NEST routes a current synapse "
                "by the sign of its weight); use one time constant per sign")
        out[role] = taus.pop() if taus else None
    fallback = out["excitatory"] or out["inhibitory"] or net.channels[0].tau
    return {r: (t if t is not None else fallback) for r, t in out.items()}


def _step_gain(tau_m: np.ndarray, tau_s: float, dt: float) -> np.ndarray:
    """Per-step membrane response to a synaptic current: axonal's held drive over NEST's exact
    propagator (Rotter & Diesmann 1999), per neuron."""
    held = -np.expm1(-dt / tau_m)
    exact = tau_s / (tau_m - tau_s) * (np.exp(-dt / tau_m) - np.exp(-dt / tau_s))
    return held / exact


def _projections(name, conn, rule, net, g_l, conductance, dt, gain=None) -> list[dict]:
    pre = np.repeat(np.arange(conn.n_pre), np.diff(conn.indptr))
    post = np.asarray(conn.indices, np.int64)
    w = np.asarray(conn.weights, float) * g_l[post]
    if gain is not None:
        for c, factor in gain.items():
            sel = conn.channels == c
            w[sel] *= factor[post[sel]]
    delay = np.maximum(np.asarray(conn.delays, np.int64), 1) * dt   # NEST's minimum delay is one step
    if gain is not None and np.any(conn.delays == 0):
        raise PyNNMappingError(f"match_steps: the {name} connectivity has delay-0 synapses, which NEST runs one "
                               "step later (its minimum delay is dt); give delays >= 1 step to match step for step")
    if conductance:
        if np.any(conn.weights < 0):
            raise PyNNMappingError(f"the {name} connectivity has negative conductance weights; conductances are "
                                   ">= 0 in PyNN (inhibition is the inhibitory channel's reversal potential)")
        groups = [("excitatory", conn.channels == 0), ("inhibitory", conn.channels == 1)]
    else:
        groups = [("excitatory", conn.weights >= 0), ("inhibitory", conn.weights < 0)]
    plastic = _stdp(rule, g_l, name) if rule is not None else None
    out = []
    for receptor, mask in groups:
        if np.any(mask):
            out.append({"name": f"{name}_{receptor}", "source": "population" if name == "recurrent" else "input",
                        "receptor": receptor, "pre": pre[mask], "post": post[mask], "weight": w[mask],
                        "delay": delay[mask], "stdp": plastic})
    return out


def _stdp(rule, g_l, name) -> dict:
    from ..learning.stdp import STDP

    if not isinstance(rule, STDP):
        raise PyNNMappingError(f"the {name} plasticity {type(rule).__name__} has no PyNN rule")
    if rule.form != "additive" or rule.pairing != "all_to_all":
        raise PyNNMappingError(f"{name} STDP form={rule.form!r}, pairing={rule.pairing!r}: the export maps "
                               "additive all-to-all STDP (PyNN SpikePairRule + AdditiveWeightDependence)")
    if rule.mirror is not None:
        raise PyNNMappingError(f"{name} STDP mirrors some sources (NALSM's inhibitory rule); PyNN has no such rule")
    if rule.trace_increment != 1.0:
        raise PyNNMappingError(f"{name} STDP trace_increment={rule.trace_increment}: PyNN's pair rule adds 1")
    lo, hi = np.asarray(rule.w_min, float), np.asarray(rule.w_max, float)
    if lo.size != 1 or hi.size != 1 or float(lo) != 0.0:
        raise PyNNMappingError(f"{name} STDP bounds must be one w_min = 0 and one w_max (NEST's stdp_synapse "
                               "clips at 0 and Wmax); got per-neuron or non-zero w_min")
    if np.ptp(g_l) > 1e-12 * abs(g_l[0]):
        raise PyNNMappingError(f"{name} STDP with per-neuron membrane time constants: the weight bound would "
                               "differ per target")
    w_max = float(hi) * float(g_l[0])
    # PyNN's additive rule changes a weight by A * w_max * trace: axonal's a_plus is absolute
    return {"tau_plus": rule.tau_plus, "tau_minus": rule.tau_minus, "A_plus": rule.a_plus / float(hi),
            "A_minus": rule.a_minus / float(hi), "w_min": 0.0, "w_max": w_max}


# ----------------------------------------------------------------------------- spec -> PyNN
def build_pynn(sim, spec):
    """Build ``spec`` (from :func:`network_spec`) with the PyNN backend ``sim`` (after
    ``sim.setup``). Plain PyNN and numpy only: :func:`write_script` copies this function into
    standalone scripts. Returns ``(population, source_or_None, {name: projection})``."""
    import numpy as np

    celltype = getattr(sim, spec["celltype"])(**{k: np.asarray(v) if np.ndim(v) else float(v)
                                                  for k, v in spec["cell"].items()})
    pop = sim.Population(spec["n"], celltype, label="network")
    init = {k: np.asarray(v, float) for k, v in spec["init"].items() if k == "v" or np.any(v)}
    if sim.__name__ == "pyNN.nest":
        # pyNN 0.13's NEST backend hands initial synaptic values to NEST unconverted (NEST takes
        # nS / pA, PyNN gives uS / nA): convert them here (tests/export/test_pynn.py checks)
        init = {k: v * (1000.0 if k != "v" else 1.0) for k, v in init.items()}
    pop.initialize(**init)
    pop.record("spikes")
    if spec["record_v"]:
        pop[list(spec["record_v"])].record("v")
    src = None
    source = spec.get("source")
    if source is not None and source["kind"] == "array":
        src = sim.Population(source["n"], sim.SpikeSourceArray(
            spike_times=[sim.Sequence(t) for t in source["times"]]), label="input")
    elif source is not None:
        src = sim.Population(source["n"], sim.SpikeSourcePoisson(rate=np.asarray(source["rates"])), label="input")
    projections = {}
    for p in spec["projections"]:
        pre_pop = pop if p["source"] == "population" else src
        if pre_pop is None:
            raise ValueError(f"projection {p['name']} needs an input population: give input spikes or rates")
        weight, delay = np.asarray(p["weight"], float), np.asarray(p["delay"], float)
        if p["receptor"] == "inhibitory" and spec["celltype"] == "IF_curr_exp":
            weight = weight   # negative: PyNN and NEST take inhibitory currents with their sign
        conn = np.column_stack([np.asarray(p["pre"], float), np.asarray(p["post"], float), weight, delay])
        if p["stdp"]:
            s = p["stdp"]
            synapse = sim.STDPMechanism(
                timing_dependence=sim.SpikePairRule(tau_plus=s["tau_plus"], tau_minus=s["tau_minus"],
                                                    A_plus=s["A_plus"], A_minus=s["A_minus"]),
                weight_dependence=sim.AdditiveWeightDependence(w_min=s["w_min"], w_max=s["w_max"]),
                weight=float(abs(weight).mean()), delay=float(delay.min()))
        else:
            synapse = sim.StaticSynapse()
        projections[p["name"]] = sim.Projection(
            pre_pop, pop, sim.FromListConnector(conn, column_names=["weight", "delay"]), synapse,
            receptor_type=p["receptor"], label=p["name"])
    return pop, src, projections


def spikes_from_pynn(pop, dt: float, n_steps: int):
    """A PyNN population's recorded spikes as axonal's ``SimulationResult`` (steps, neurons); a
    NEST spike at time ``(t + 1) dt`` is axonal's step ``t``."""
    import torch

    from ..reservoir.components import SimulationResult

    block = pop.get_data("spikes", clear=False)
    times, neurons = [], []
    for train in block.segments[0].spiketrains:
        k = int(train.annotations["source_index"])
        steps = np.round(np.asarray(train.magnitude, float) / dt).astype(np.int64) - 1
        times.append(steps)
        neurons.append(np.full(len(steps), k, np.int64))
    t = np.concatenate(times) if times else np.zeros(0, np.int64)
    i = np.concatenate(neurons) if neurons else np.zeros(0, np.int64)
    order = np.lexsort((i, t))
    return SimulationResult(torch.from_numpy(t[order]), torch.from_numpy(i[order]), 0, int(n_steps),
                            int(pop.size), float(dt), None)


def simulate_nest(spec: dict, threads: int = 1, *, quiet: bool = True) -> dict:
    """Run ``spec`` on NEST through ``pyNN.nest`` with ``threads`` threads (in this process).

    Returns ``{"result": SimulationResult, "v": array or None, "build_s", "run_s", "threads"}``.
    NEST's kernel is global: each call resets it (``sim.setup``)."""
    try:
        import pyNN.nest as sim
    except ImportError as exc:   # pragma: no cover - depends on the environment
        raise ImportError("the NEST backend needs nest-simulator and PyNN: pip install nest-simulator pynn "
                          f"(or the project's dev extra); {exc}") from None
    import warnings

    if not (isinstance(threads, int) and threads >= 1):
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    dt = spec["dt"]
    max_delay = max([float(np.max(p["delay"])) for p in spec["projections"]] + [dt])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        sim.setup(timestep=dt, min_delay=dt, max_delay=max_delay + dt, threads=threads,
                  rng_seed=int(spec["seed"]) + 1, spike_precision="on_grid", verbosity="error" if quiet else "info")
        pop, _, projections = build_pynn(sim, spec)
        t1 = time.perf_counter()
        sim.run(spec["duration_ms"])
        t2 = time.perf_counter()
        n_steps = int(round(spec["duration_ms"] / dt))
        result = spikes_from_pynn(pop, dt, n_steps)
        v = None
        if spec["record_v"]:
            sig = pop[list(spec["record_v"])].get_data("v").segments[0].analogsignals[0]
            v = np.asarray(sig.magnitude)
        out = {"result": result, "v": v, "build_s": t1 - t0, "run_s": t2 - t1, "threads": threads,
               "projections": projections, "population": pop}
    return out


# ----------------------------------------------------------------------------- standalone script
_SCRIPT = '''"""{title}

Exported by axonal ({when}). Runs with PyNN on any backend; on a cluster with an MPI build of NEST:

    mpirun -n P python {script} [--threads K] [--backend nest]

It reads {data} (the network: cell parameters, initial values, synapses as lists) and writes
the spikes of every neuron to {out} (one process writes; PyNN gathers them).
"""
import argparse
import importlib
import json

import numpy as np

{build}

def load(path):
    flat = np.load(path, allow_pickle=False)
    spec = json.loads(str(flat["spec"]))
    for p in spec["projections"]:
        for key in ("pre", "post", "weight", "delay"):
            p[key] = flat[p["name"] + "." + key]
    return spec


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="nest", help="pyNN backend module: nest, spiNNaker, neuron, brian2")
    ap.add_argument("--threads", type=int, default=1, help="threads per MPI process (NEST)")
    ap.add_argument("--data", default={data!r})
    ap.add_argument("--out", default={out!r})
    args = ap.parse_args()
    spec = load(args.data)
    sim = importlib.import_module("pyNN." + args.backend)
    extra = dict(threads=args.threads, spike_precision="on_grid") if args.backend == "nest" else {{}}
    max_delay = max([float(np.max(p["delay"])) for p in spec["projections"]] + [spec["dt"]])
    sim.setup(timestep=spec["dt"], min_delay=spec["dt"], max_delay=max_delay + spec["dt"],
              rng_seed=spec["seed"] + 1, **extra)
    pop, source, projections = build_pynn(sim, spec)
    sim.run(spec["duration_ms"])
    pop.write_data(args.out, variables="spikes")
    if sim.rank() == 0:
        n_spikes = sum(len(s) for s in pop.get_data("spikes").segments[0].spiketrains)
        print(f"{{pop.size}} neurons, {{spec['duration_ms']}} ms: spikes written to {{args.out}}")
    sim.end()
'''


def write_script(spec: dict, path: str | Path) -> tuple[Path, Path]:
    """Write a standalone PyNN script ``path`` and its network data ``<path stem>_network.npz``
    (numpy arrays, no pickle). The script needs PyNN and numpy only (not axonal)."""
    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"the script path must end in .py, got {path}")
    data = path.with_name(path.stem + "_network.npz")
    arrays, meta = {}, json.loads(json.dumps(spec, default=_jsonable))
    for p, q in zip(spec["projections"], meta["projections"]):
        for key in ("pre", "post", "weight", "delay"):
            arrays[f"{p['name']}.{key}"] = np.asarray(p[key])
            q[key] = None
    from ..train.checkpoint import atomic_write

    atomic_write(data, lambda tmp: np.savez_compressed(open(tmp, "wb"), spec=json.dumps(meta), **arrays))
    text = _SCRIPT.format(title=f"PyNN network exported from axonal: {spec['n']} neurons, {spec['celltype']}",
                          when=time.strftime("%Y-%m-%d"), script=path.name, data=data.name,
                          out=path.stem + "_spikes.pkl", build=inspect.getsource(build_pynn))
    atomic_write(path, lambda tmp: tmp.write_text(text))
    return path, data


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot write {type(x).__name__} into the network file")


# ----------------------------------------------------------------------------- PyNN -> axonal
_CELLS = {"IF_cond_exp": "conductance", "IF_curr_exp": "current"}


def from_pynn(population, projections=(), *, dt: float | None = None, source=None):
    """A PyNN network as ``(SparseNetwork, NetworkState)``: one population of ``IF_cond_exp`` or
    ``IF_curr_exp`` neurons, its projections (from itself, or from ``source``: an input population
    of spike sources whose spikes the caller gives to ``run(input_spikes=...)``), static or
    additive-STDP synapses. Other cell types, synapse types or receptor types raise
    :class:`PyNNMappingError` naming them. ``dt`` defaults to the simulator's time step."""
    from ..learning.stdp import STDP
    from ..neurons.conductance import ConductanceLIFParams
    from ..neurons.lif import RefractoryLIFParams
    from ..reservoir.components import SynapseChannel
    from ..reservoir.connectivity import Connectivity
    from ..reservoir.engine import SparseNetwork

    name = type(population.celltype).__name__
    if name not in _CELLS:
        raise PyNNMappingError(f"PyNN cell type {name} of population {population.label!r} has no axonal model; "
                               f"axonal maps {', '.join(_CELLS)}")
    if dt is None:
        dt = float(population._simulator.state.dt)
    n = population.size
    get = lambda key: np.asarray(population.get(key, gather=True, simplify=False), float)  # noqa: E731
    cm, tau_m = get("cm"), get("tau_m")
    g_l = cm / tau_m
    common = dict(tau_mem=_one_or_all(tau_m), v_rest=_one_or_all(get("v_rest")),
                  v_reset=_one_or_all(get("v_reset")), threshold=_one_or_all(get("v_thresh")),
                  t_ref=_one_or_all(get("tau_refrac") + dt), bias=_one_or_all(get("i_offset") / g_l), dt=dt,
                  integrator="exp_euler" if name == "IF_curr_exp" else "euler")
    tau_e, tau_i = _scalar(get("tau_syn_E"), "tau_syn_E"), _scalar(get("tau_syn_I"), "tau_syn_I")
    if _CELLS[name] == "conductance":
        neurons = ConductanceLIFParams(**common, tau_exc=tau_e, tau_inh=tau_i,
                                       e_exc=_scalar(get("e_rev_E"), "e_rev_E"),
                                       e_inh=_scalar(get("e_rev_I"), "e_rev_I"))
        channels = None
    else:
        neurons = RefractoryLIFParams(**common)
        channels = (SynapseChannel(tau_e), SynapseChannel(tau_i))
    conns = {"recurrent": [], "input": []}
    plastic = {"recurrent": None, "input": None}
    for proj in projections:
        if proj.post is not population:
            raise PyNNMappingError(f"projection {proj.label!r} targets another population; export one population")
        role = "recurrent" if proj.pre is population else "input"
        if role == "input" and source is not None and proj.pre is not source:
            raise PyNNMappingError(f"projection {proj.label!r} comes from {proj.pre.label!r}, not from the source given")
        if proj.receptor_type not in ("excitatory", "inhibitory"):
            raise PyNNMappingError(f"receptor type {proj.receptor_type!r} of projection {proj.label!r} has no axonal "
                                   "channel (excitatory / inhibitory map)")
        syn = proj.synapse_type
        rule = None
        if type(syn).__name__ == "STDPMechanism":
            td, wd = type(syn.timing_dependence).__name__, type(syn.weight_dependence).__name__
            if td != "SpikePairRule" or wd != "AdditiveWeightDependence":
                raise PyNNMappingError(f"projection {proj.label!r}: STDP {td} + {wd} has no axonal rule "
                                       "(SpikePairRule + AdditiveWeightDependence maps)")
            tp = syn.timing_dependence.parameter_space
            wp = syn.weight_dependence.parameter_space
            tp.evaluate(simplify=True)
            wp.evaluate(simplify=True)
            w_max = float(wp["w_max"]) / float(g_l[0])
            rule = STDP(a_plus=float(tp["A_plus"]) * w_max, a_minus=float(tp["A_minus"]) * w_max,
                        tau_plus=float(tp["tau_plus"]), tau_minus=float(tp["tau_minus"]),
                        w_min=float(wp["w_min"]) / float(g_l[0]), w_max=w_max, dt=dt)
        elif type(syn).__name__ != "StaticSynapse":
            raise PyNNMappingError(f"projection {proj.label!r}: synapse type {type(syn).__name__} has no axonal "
                                   "counterpart (StaticSynapse and STDPMechanism map)")
        if rule is not None:
            if plastic[role] is not None and plastic[role] != rule:
                raise PyNNMappingError(f"two {role} projections with different STDP rules; axonal has one per projection")
            plastic[role] = rule
        rows = np.asarray(proj.get(["weight", "delay"], format="list", gather=True), float).reshape(-1, 4)
        pre, post, w, d = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2], rows[:, 3]
        steps = np.round(d / dt).astype(np.int64)
        if np.any(np.abs(steps - d / dt) > 1e-6) or np.any(steps < 1):
            raise PyNNMappingError(f"projection {proj.label!r}: delays must be whole multiples of dt = {dt} ms")
        channel = 0 if proj.receptor_type == "excitatory" else 1
        conns[role].append((pre, post, w / g_l[post], steps, np.full(len(pre), channel), proj.pre.size))
    built = {}
    for role, parts in conns.items():
        if not parts:
            continue
        pre = np.concatenate([p[0] for p in parts])
        post = np.concatenate([p[1] for p in parts])
        order = np.lexsort((post, pre))
        n_pre = parts[0][5]
        counts = np.bincount(pre[order], minlength=n_pre)
        built[role] = Connectivity(n_pre, n, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                                   post[order], np.concatenate([p[2] for p in parts])[order],
                                   np.concatenate([p[3] for p in parts])[order],
                                   np.concatenate([p[4] for p in parts])[order].astype(np.int64))
    net = SparseNetwork(neurons, channels=channels, recurrent=built.get("recurrent"), input=built.get("input"),
                        plasticity=plastic["recurrent"], input_plasticity=plastic["input"], n=n)
    state = net.initial_state(np.asarray(population.initial_values["v"].evaluate(simplify=False), float)
                              if "v" in population.initial_values else None)
    for c, key in enumerate(("gsyn_exc", "gsyn_inh") if _CELLS[name] == "conductance" else ("isyn_exc", "isyn_inh")):
        if key in population.initial_values:
            state.g[c] = np.broadcast_to(np.asarray(population.initial_values[key].evaluate(simplify=False),
                                                    float), (n,)) / g_l
    return net, state


def _one_or_all(a: np.ndarray):
    import torch

    return float(a[0]) if np.all(a == a[0]) else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _scalar(a: np.ndarray, name: str) -> float:
    if not np.all(a == a[0]):
        raise PyNNMappingError(f"{name} differs between neurons; axonal's synaptic channels have one time constant "
                               "and reversal potential per population")
    return float(a[0])
