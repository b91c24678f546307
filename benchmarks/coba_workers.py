"""One COBA run per process, for axonal, Brian2 (cython) or BrainPy: used by ``coba.py``.

    python -m benchmarks.coba_workers LIBRARY CONFIG_JSON SEED OUT_NPZ   # from the repository root

Builds the COBA network of ``CONFIG_JSON`` (the fields of ``axonal.reservoir.coba.COBAConfig``)
in LIBRARY, runs it twice for the configured duration (the first run includes any code
generation / compilation / JIT, not the import of the library, timed apart; the second, continuing from where the first stopped, is the
steady-state simulation cost) and writes the spikes of the first run (times in steps, neuron
ids; neurons 0..n_exc-1 excitatory) and the timings to OUT_NPZ. Only numpy and the library are
imported, so each library runs in its own venv (``setup_coba.sh``). Every library draws its own
connectivity and initial values from the same distributions; the statistics are compared, not
the spikes.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def _initial(cfg, seed):
    rng = np.random.default_rng(seed + 1)
    n = cfg["n_exc"] + cfg["n_inh"]
    return (rng.normal(cfg["v_init_mean"], cfg["v_init_std"], n),
            rng.normal(cfg["ge_init_mean"], cfg["ge_init_std"], n),
            rng.normal(cfg["gi_init_mean"], cfg["gi_init_std"], n))


def run_axonal(cfg, seed):
    t_imp = time.perf_counter()
    import axonal
    import axonal.reservoir.kernel  # noqa: F401 - numba, as `import brian2` for Brian2
    from axonal.reservoir.coba import COBAConfig, build_coba

    import_s = time.perf_counter() - t_imp

    c = COBAConfig.from_dict(cfg)
    t0 = time.perf_counter()
    net, state = build_coba(c, seed)
    t1 = time.perf_counter()
    r1 = net.run(c.n_steps, state=state)
    t2 = time.perf_counter()
    net.run(c.n_steps, state=r1.state)
    t3 = time.perf_counter()
    return dict(import_s=import_s, build_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2, version=axonal.__version__,
                times=r1.spike_times.numpy(), neurons=r1.spike_neurons.numpy(),
                nnz=net.recurrent.nnz)


def run_brian2(cfg, seed):
    t_imp = time.perf_counter()
    import brian2 as b2
    from brian2 import ms, mV

    import_s = time.perf_counter() - t_imp
    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = cfg["dt"] * ms
    b2.seed(seed)
    ne, ni = cfg["n_exc"], cfg["n_inh"]
    ns = dict(taum=cfg["tau_m"] * ms, taue=cfg["tau_exc"] * ms, taui=cfg["tau_inh"] * ms,
              El=cfg["v_rest"] * mV, Ee=cfg["e_exc"] * mV, Ei=cfg["e_inh"] * mV,
              Ib=cfg["i_bias"] * mV, Vt=cfg["v_thresh"] * mV, Vr=cfg["v_reset"] * mV,
              we=cfg["w_exc"], wi=cfg["w_inh"])
    eqs = """
    dv/dt = (ge*(Ee-v) + gi*(Ei-v) - (v-El) + Ib)/taum : volt (unless refractory)
    dge/dt = -ge/taue : 1
    dgi/dt = -gi/taui : 1
    """
    t0 = time.perf_counter()
    P = b2.NeuronGroup(ne + ni, eqs, threshold="v>Vt", reset="v=Vr", refractory=cfg["t_ref"] * ms,
                       method="euler", namespace=ns)
    if not cfg["autapses"]:
        raise SystemExit("the Brian2 worker implements the benchmark's autapses=True only")
    Ce = b2.Synapses(P[:ne], P, on_pre="ge += we", namespace=ns)
    Ci = b2.Synapses(P[ne:], P, on_pre="gi += wi", namespace=ns)
    Ce.connect(p=cfg["p"])
    Ci.connect(p=cfg["p"])
    v0, ge0, gi0 = _initial(cfg, seed)
    P.v = v0 * mV
    P.ge = ge0
    P.gi = gi0
    mon = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, mon)
    t1 = time.perf_counter()
    dur = cfg["duration_ms"] * ms
    net.run(dur)
    t2 = time.perf_counter()
    times = np.round(np.asarray(mon.t / ms) / cfg["dt"]).astype(np.int64)
    neurons = np.asarray(mon.i).astype(np.int64)
    net.run(dur)
    t3 = time.perf_counter()
    return dict(import_s=import_s, build_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2, version=b2.__version__,
                times=times, neurons=neurons, nnz=len(Ce) + len(Ci))


def run_brainpy(cfg, seed):
    t_imp = time.perf_counter()
    import brainpy as bp
    import brainpy.math as bm

    import_s = time.perf_counter() - t_imp
    bm.set_platform("cpu")
    bm.set_dt(cfg["dt"])
    bm.random.seed(seed)
    ne, ni = cfg["n_exc"], cfg["n_inh"]
    v0, ge0, gi0 = _initial(cfg, seed)
    lif = dict(V_rest=cfg["v_rest"], V_th=cfg["v_thresh"], V_reset=cfg["v_reset"], tau=cfg["tau_m"],
               tau_ref=cfg["t_ref"], method="euler")

    class EINet(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.E = bp.dyn.LifRef(ne, V_initializer=bm.asarray(v0[:ne]), **lif)
            self.I = bp.dyn.LifRef(ni, V_initializer=bm.asarray(v0[ne:]), **lif)

            def proj(pre, post, w, tau, e):
                return bp.dyn.ProjAlignPostMg2(
                    pre=pre, delay=None,
                    comm=bp.dnn.EventCSRLinear(bp.conn.FixedProb(cfg["p"], pre=pre.num, post=post.num,
                                                                 allow_multi_conn=True), w),
                    syn=bp.dyn.Expon.desc(post.varshape, tau=tau), out=bp.dyn.COBA.desc(E=e), post=post)

            self.E2E = proj(self.E, self.E, cfg["w_exc"], cfg["tau_exc"], cfg["e_exc"])
            self.E2I = proj(self.E, self.I, cfg["w_exc"], cfg["tau_exc"], cfg["e_exc"])
            self.I2E = proj(self.I, self.E, cfg["w_inh"], cfg["tau_inh"], cfg["e_inh"])
            self.I2I = proj(self.I, self.I, cfg["w_inh"], cfg["tau_inh"], cfg["e_inh"])

        def update(self):
            self.E2E()
            self.E2I()
            self.I2E()
            self.I2I()
            self.E(cfg["i_bias"])
            self.I(cfg["i_bias"])
            return self.E.spike.value, self.I.spike.value

    t0 = time.perf_counter()
    net = EINet()
    # initial conductances: the E projections share one Expon per target (merged), as do the I ones
    for p_, g0 in ((net.E2E, ge0[:ne]), (net.E2I, ge0[ne:]), (net.I2E, gi0[:ne]), (net.I2I, gi0[ne:])):
        p_.refs["syn"].g.value = bm.asarray(g0)
    nsteps = int(round(cfg["duration_ms"] / cfg["dt"]))
    indices = np.arange(nsteps)

    def step(i):
        return net.step_run(i)

    t1 = time.perf_counter()
    se, si = bm.for_loop(step, indices, progress_bar=False)
    se = np.asarray(se)
    si = np.asarray(si)
    t2 = time.perf_counter()
    bm.for_loop(step, indices + nsteps, progress_bar=False)[0].block_until_ready()
    t3 = time.perf_counter()
    te, ie = np.nonzero(se)
    ti, ii = np.nonzero(si)
    times = np.concatenate([te, ti]).astype(np.int64)
    neurons = np.concatenate([ie, ii + ne]).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return dict(import_s=import_s, build_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2, version=bp.__version__,
                times=times[order], neurons=neurons[order], nnz=-1)


if __name__ == "__main__":
    lib, cfg_json, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    cfg = json.loads(cfg_json)
    res = {"axonal": run_axonal, "brian2": run_brian2, "brainpy": run_brainpy}[lib](cfg, seed)
    np.savez(out, **{k: np.asarray(v) for k, v in res.items()})
    print(json.dumps({k: v for k, v in res.items() if k not in ("times", "neurons")}))
    sys.stdout.flush()
    os._exit(0)
