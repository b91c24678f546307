"""Write tests/fixtures/coba_brian2_small.npz: a small COBA-like network simulated by Brian2 2.9.

Run in the Brian2 venv (``bash benchmarks/setup_coba.sh brian2``)::

    .bench-venvs/brian2/bin/python -m benchmarks.coba_brian2_fixture

500 LIF neurons (400 E, 100 I) with p = 0.16 (the COBA in-degree of 80 at an eighth of the
size), the COBA equations and weights with the 20 mV drive of the Brian2/BrainPy benchmark
(this small network is silent without it), cython target, Euler, 200 ms at dt = 0.1 ms. The file
holds Brian2's synapses, initial values and spikes; ``tests/reservoir/test_coba.py`` runs the
same network in axonal (with the conductance decay Brian2's Euler step implies,
``g (1 - dt/tau)``) and requires the same spikes.
"""
from pathlib import Path

import brian2 as b2
import numpy as np
from brian2 import ms, mV

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "coba_brian2_small.npz"
NE, NI, P, T_MS = 400, 100, 0.16, 200.0

b2.prefs.codegen.target = "cython"
b2.defaultclock.dt = 0.1 * ms
b2.seed(0)
ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, El=-60 * mV, Ee=0 * mV, Ei=-80 * mV,
          Vt=-50 * mV, Vr=-60 * mV, Ib=20 * mV, we=0.6, wi=6.7)
eqs = """
dv/dt = (ge*(Ee-v) + gi*(Ei-v) - (v-El) + Ib)/taum : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""
G = b2.NeuronGroup(NE + NI, eqs, threshold="v>Vt", reset="v=Vr", refractory=5 * ms, method="euler",
                   namespace=ns)
Ce = b2.Synapses(G[:NE], G, on_pre="ge += we", namespace=ns)
Ci = b2.Synapses(G[NE:], G, on_pre="gi += wi", namespace=ns)
Ce.connect(p=P)
Ci.connect(p=P)
rng = np.random.default_rng(1)
v0 = rng.normal(-65, 5, NE + NI)
ge0 = rng.normal(4, 1.5, NE + NI)
gi0 = rng.normal(20, 12, NE + NI)
G.v, G.ge, G.gi = v0 * mV, ge0, gi0
mon = b2.SpikeMonitor(G)
b2.run(T_MS * ms)
OUT.parent.mkdir(parents=True, exist_ok=True)
np.savez_compressed(
    OUT, pre=np.r_[np.asarray(Ce.i), np.asarray(Ci.i) + NE].astype(np.int16),
    post=np.r_[np.asarray(Ce.j), np.asarray(Ci.j)].astype(np.int16), n_exc=NE, n_inh=NI,
    v0=v0, ge0=ge0, gi0=gi0, steps=int(round(T_MS / 0.1)),
    spike_steps=np.round(np.asarray(mon.t / ms) / 0.1).astype(np.int32),
    spike_neurons=np.asarray(mon.i).astype(np.int16), brian2_version=b2.__version__)
print(f"wrote {OUT}: {len(mon.t)} spikes ({len(mon.t) / (NE + NI) / (T_MS / 1000):.1f} Hz)")
