"""Learned intrinsic neuron parameters, the probabilistic meta neuron, and the LZC readout (core.md §3).

Tasks (two classes): Poisson 10 vs 14 Hz (50 channels, T = 200, 1 ms bins); two-state Markov
trains with equal mean rate and different burstiness (p = 0.05, lag-1 correlation 0 vs 0.6);
scikit-learn digits 0 vs 1, rate-coded (p = 0.3 pixel/16, T = 50).
Models: a layer of 10 neurons (LIF or probabilistic meta neuron), intrinsic parameters fixed or
learned (LIF: tau_mem, threshold; meta: transmission, inhibition, threshold, beta), then:

- bptt: surrogate-gradient training of weights (+ intrinsics) with a linear readout on counts;
- stdp (LIF only): supervised STDP of the weights (teacher current drives neurons 0-4 for
  class 0, 5-9 for class 1; class = group with more spikes); "learned" adds gradient steps on
  the intrinsics through the same forward pass (local + gradient mixing).
Readouts of the trained layer's spike trains: rate (nearest centroid on rates) vs LZC (nearest
centroid on normalised LZ76 complexity), and the same two on the raw inputs.

    python experiments/meta_neuron.py [--seeds 0 1 2] [--quick] [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from axonal import LIF, Sequential  # noqa: E402
from axonal.data.spike_trains import bernoulli_rate_code, markov_task, poisson_task  # noqa: E402
from axonal.learning import STDP, PlasticLinear, local_train  # noqa: E402
from axonal.metrics.complexity import LZCClassifier  # noqa: E402
from axonal.neurons.meta import MetaNeuronLayer  # noqa: E402

H = 10


def task(name, seed, n_train, n_test):
    if name == "poisson":
        tr, te = poisson_task(n_train, seed=seed), poisson_task(n_test, seed=10_000 + seed)
    elif name == "markov":
        tr, te = markov_task(n_train, seed=seed), markov_task(n_test, seed=10_000 + seed)
    else:
        from sklearn.datasets import load_digits
        d = load_digits()
        keep = d.target < 2
        x, y = torch.tensor(d.data[keep] / 16.0, dtype=torch.float32), torch.tensor(d.target[keep])
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(y), generator=g)
        x, y = x[perm], y[perm]
        cut = int(0.67 * len(y))
        enc = lambda v, s: bernoulli_rate_code(v, 50, max_prob=0.3, seed=s)
        tr, te = (enc(x[:cut], seed), y[:cut]), (enc(x[cut:], seed + 1), y[cut:])
    return tr, te


def init_weight(w, input_rate, gain=1.0):
    """Positive-mean init scaled to the inputs' spike density, so every task starts near threshold
    (mean drive per step ~ 0.15 x threshold, plus as much spread) and surrogate gradients flow."""
    mu = 0.15 * gain / (w.shape[1] * input_rate)
    with torch.no_grad():
        w.normal_(mu, mu)


class Net(nn.Module):
    def __init__(self, kind, learned, n_in, seed, input_rate):
        super().__init__()
        torch.manual_seed(seed)
        if kind == "lif":
            self.layer = Sequential(nn.Linear(n_in, H, bias=False),
                                    LIF(H, tau_mem=10.0, threshold=1.0, learn=("tau_mem", "threshold") if learned else (),
                                        per_neuron=True, surrogate="fast_sigmoid", backend="scan"))
            init_weight(self.layer[0].weight, input_rate)
        else:
            self.layer = MetaNeuronLayer(n_in, H, transmission=0.8, inhibition=1.0, threshold=1.0, beta=0.9,
                                         weight_scale=3.0,
                                         learn=MetaNeuronLayer.INTRINSIC if learned else ())
            init_weight(self.layer.weight, input_rate, gain=1 / (0.8 * 0.5))   # s E[Q] = 0.4
        self.norm = nn.BatchNorm1d(H)     # rates differ by task; standardise before the readout
        self.readout = nn.Linear(H, 2)

    def spikes(self, x):
        return self.layer(x)[0]

    def forward(self, x):
        return self.readout(self.norm(self.spikes(x).mean(0)))


def train_bptt(net, x, y, epochs, bs=16):
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[1])
        for i in range(0, len(perm), bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:          # batch norm needs two samples; drop a last singleton batch
                continue
            loss = F.cross_entropy(net(x[:, idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def stdp_run(learned, xtr, ytr, xte, yte, seed, epochs):
    torch.manual_seed(seed)
    neuron = LIF(H, tau_mem=10.0, threshold=1.0, learn=("tau_mem", "threshold") if learned else (),
                 per_neuron=True, surrogate="fast_sigmoid", backend="scan")
    layer = PlasticLinear(xtr.shape[2], H, neuron, STDP(a_plus=0.002, a_minus=0.001, w_min=0.0, w_max=0.5),
                          seed=seed)
    group = torch.tensor([0] * (H // 2) + [1] * (H // 2))
    mask = lambda y: (group[None, :] == y[:, None]).float()
    teacher = lambda y: 2.0 * mask(y) - 10.0 * (1 - mask(y))
    score = lambda out: torch.stack([out[..., group == c].sum((0, 2)) for c in (0, 1)], 1)
    kw = {}
    if learned:
        kw = dict(loss_fn=lambda out, y: F.cross_entropy(score(out) * 0.2, y),
                  optimizer=torch.optim.Adam(neuron.parameters(), lr=2e-2))
    batches = [(xtr[:, i:i + 50], ytr[i:i + 50]) for i in range(0, xtr.shape[1], 50)]
    local_train(layer, batches, epochs=epochs, teacher=teacher, **kw)
    with torch.no_grad():
        out, _ = layer(xte)
    return float((score(out).argmax(1) == yte).float().mean())


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tasks", nargs="+", default=["poisson", "markov", "digits01"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    n_train, n_test, epochs = (40, 40, 1) if args.quick else (100, 100, 3)   # default fits ~10 min on 2 cores
    rows = []
    for task_name in args.tasks:
        for seed in args.seeds:
            t0 = time.time()
            (xtr, ytr), (xte, yte) = task(task_name, seed, n_train, n_test)
            row = dict(task=task_name, seed=seed)
            for kind in ("lif", "meta"):
                for learned in (False, True):
                    net = Net(kind, learned, xtr.shape[2], seed, float(xtr.mean()))
                    train_bptt(net, xtr, ytr, epochs)
                    net.eval()
                    with torch.no_grad():
                        row[f"bptt/{kind}/{'learned' if learned else 'fixed'}"] = float((net(xte).argmax(1) == yte).float().mean())
                        if learned:
                            s_tr, s_te = net.spikes(xtr), net.spikes(xte)
                            for feat in ("rate", "lzc"):
                                row[f"readout/{kind}-layer/{feat}"] = LZCClassifier(feat).fit(s_tr, ytr).score(s_te, yte)
            for learned in (False, True):
                row[f"stdp/lif/{'learned' if learned else 'fixed'}"] = stdp_run(learned, xtr, ytr, xte, yte, seed,
                                                                               max(1, epochs // 3))
            for feat in ("rate", "lzc"):
                row[f"readout/input/{feat}"] = LZCClassifier(feat).fit(xtr, ytr).score(xte, yte)
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for task_name in args.tasks:
        sub = [r for r in rows if r["task"] == task_name]
        keys = [k for k in sub[0] if "/" in k]
        summary[task_name] = {k: {"mean": float(np.mean([r[k] for r in sub])),
                                  "std": float(np.std([r[k] for r in sub], ddof=1)) if len(sub) > 1 else 0.0}
                              for k in keys}
        print(f"\n{task_name} (n={len(sub)} seeds)")
        for k, v in summary[task_name].items():
            print(f"  {k:<28} {100 * v['mean']:5.1f} +- {100 * v['std']:4.1f} %")
    result = {"experiment": "meta_neuron", "seeds": args.seeds, "quick": args.quick, "n_train": n_train,
              "n_test": n_test, "epochs": epochs, "runs": rows, "summary": summary, "torch": torch.__version__}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
