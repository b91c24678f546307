"""Issue 16 experiments: SLTT memory vs T, IIR timestep annealing, ANN-to-SNN conversion,
continual learning (HLOP vs fine-tuning vs EWC). Small sizes for a 2-core CPU.

    python -m experiments.training_methods memory      # peak RSS of one training step vs T
    python -m experiments.training_methods iir --seeds 0 1 2
    python -m experiments.training_methods conversion --seeds 0 1 2
    python -m experiments.training_methods continual --seeds 0 1 2

Each writes experiments/results/training_methods_<name>.json. Data: scikit-learn's digits
(8x8, 10 classes; 1437 train / 360 test, stratified), standardised per pixel.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

RESULTS = Path("experiments/results")


def digits(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.2, random_state=seed, stratify=d.target)
    xtr, xte = torch.tensor(xtr, dtype=torch.float32), torch.tensor(xte, dtype=torch.float32)
    mean, std = xtr.mean(0), xtr.std(0) + 1e-3
    return (xtr - mean) / std, torch.tensor(ytr), (xte - mean) / std, torch.tensor(yte)


def snn(hidden=64, learn=("threshold", "tau_mem"), bias=True, n_in=64):
    from axonal.network import Sequential
    from axonal.neurons import LIF
    from axonal.neurons.readout import LeakyIntegrator

    return Sequential(nn.Linear(n_in, hidden, bias=bias), LIF(hidden, tau_mem=5.0, learn=learn),
                      nn.Linear(hidden, 10, bias=bias), LeakyIntegrator(10, tau=5.0))


# ----------------------------------------------------------------------------- memory
_MEM_CHILD = r"""
import resource, sys, torch
from axonal.models import SpikingClassifier
from axonal.train.online import backward_batch
torch.set_num_threads(1)
alg, T = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
m = SpikingClassifier(16, 4, (256,), recurrent=True)
x, y = torch.randn(T, 32, 16), torch.randint(0, 4, (32,))
backward_batch(m, x[:2], y, algorithm=alg)          # warm up allocator and kernels at tiny T
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
backward_batch(m, x, y, algorithm=alg)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak)
"""


def memory(args):
    rows = []
    for alg in ("bptt", "sltt"):
        for t in (25, 50, 100, 200, 400):
            out = subprocess.run([sys.executable, "-c", _MEM_CHILD, alg, str(t)], capture_output=True, text=True,
                                 check=True).stdout.split()
            base, peak = int(out[0]), int(out[1])
            rows.append({"algorithm": alg, "T": t, "peak_rss_mib": peak / 1024, "step_increase_mib": (peak - base) / 1024})
            print(rows[-1], flush=True)
    return {"network": "SpikingClassifier 16 -> RLIF(256) -> 4, batch 32, one training step", "rows": rows}


# ----------------------------------------------------------------------------- SLTT accuracy
def mnist1d_data(seed: int = 0):
    """MNIST-1D generated locally (``make_dataset(get_dataset_args())``; never the download)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = 42          # the package's default data seed: the standard split
    d = make_dataset(args)
    xtr, xte = torch.tensor(d["x"], dtype=torch.float32), torch.tensor(d["x_test"], dtype=torch.float32)
    mean, std = xtr.mean(), xtr.std()
    return (xtr - mean) / std, torch.tensor(d["y"]), (xte - mean) / std, torch.tensor(d["y_test"])


def sltt_accuracy(args):
    """BPTT vs SLTT: the BasicMotions recipe through the Trainer, and MNIST-1D read as a
    40-step sequence of one channel (RLIF 128, membrane-mean readout)."""
    import tempfile

    from axonal.models import SpikingClassifier
    from axonal.train import Trainer
    from axonal.train.online import backward_batch

    out = []
    for seed in args.seeds:
        for alg in ("bptt", "sltt"):
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                res = Trainer("basicmotions", overrides=[f"training.seed={seed}", f"training.algorithm={alg}",
                                                         "output.raster=false", "output.curves=false"],
                              run_dir=d, quiet=True).fit()
            out.append({"task": "basicmotions", "algorithm": alg, "seed": seed,
                        "test_accuracy": res["test"]["accuracy"], "time_s": time.perf_counter() - t0})
            print(out[-1], flush=True)
    xtr, ytr, xte, yte = mnist1d_data()
    for seed in args.seeds:
        for alg in ("bptt", "sltt"):
            torch.manual_seed(seed)
            model = SpikingClassifier(1, 10, (128,), recurrent=True, neuron_params=dict(tau_mem=10.0))
            opt = torch.optim.Adam(model.parameters(), lr=2e-3)
            g = torch.Generator().manual_seed(seed)
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                order = torch.randperm(len(xtr), generator=g)
                for i in range(0, len(xtr), 64):
                    idx = order[i:i + 64]
                    opt.zero_grad(set_to_none=True)
                    backward_batch(model, xtr[idx].T.unsqueeze(-1), ytr[idx], algorithm=alg)
                    opt.step()
            with torch.no_grad():
                acc = float((model(xte.T.unsqueeze(-1)).argmax(1) == yte).float().mean())
            out.append({"task": "mnist1d_sequence", "algorithm": alg, "seed": seed, "test_accuracy": acc,
                        "epochs": args.epochs, "time_s": time.perf_counter() - t0})
            print(out[-1], flush=True)
    return {"runs": out}


# ----------------------------------------------------------------------------- IIR
def iir(args):
    from axonal.train.annealing import anneal_timesteps, fit_static, static_accuracy

    out = []
    for seed in args.seeds:
        xtr, ytr, xte, yte = digits(seed)
        torch.manual_seed(seed)
        model = snn()
        ev = lambda m, t: {"test_accuracy": static_accuracy(m, xte, yte, t)}
        fit = lambda m, t, opt: fit_static(m, xtr, ytr, t, epochs=args.epochs, lr=2e-3, seed=seed, optimizer=opt)
        annealed = anneal_timesteps(model, fit, [8, 4, 2, 1], evaluate=ev)
        direct = {}
        for t in (8, 4, 2, 1):   # control: trained from scratch at that T for the same total epochs as annealing
            torch.manual_seed(seed)
            m = snn()
            fit_static(m, xtr, ytr, t, epochs=args.epochs * (1 + (8, 4, 2, 1).index(t)), lr=2e-3, seed=seed)
            direct[t] = static_accuracy(m, xte, yte, t)
        out.append({"seed": seed, "annealed": annealed, "direct": direct})
        print(out[-1], flush=True)
    return {"epochs_per_stage": args.epochs, "runs": out}


# ----------------------------------------------------------------------------- conversion
def conversion(args):
    from axonal.network import Sequential
    from axonal.neurons import LIF
    from axonal.train.annealing import fit_static, static_accuracy
    from axonal.train.conversion import QCFS, convert_to_snn, run_converted, transfer_ann_to_snn

    out = []
    for seed in args.seeds:
        xtr, ytr, xte, yte = digits(seed)
        res = {"seed": seed}
        for kind in ("relu", "qcfs"):
            torch.manual_seed(seed)
            act = (lambda: nn.ReLU()) if kind == "relu" else (lambda: QCFS(levels=4, lam=2.0))
            ann = nn.Sequential(nn.Linear(64, 128), act(), nn.Linear(128, 64), act(), nn.Linear(64, 10))
            opt = torch.optim.Adam(ann.parameters(), lr=2e-3)
            g = torch.Generator().manual_seed(seed)
            for _ in range(args.epochs):
                order = torch.randperm(len(xtr), generator=g)
                for i in range(0, len(xtr), 64):
                    idx = order[i:i + 64]
                    loss = nn.functional.cross_entropy(ann(xtr[idx]), ytr[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                res[f"{kind}_ann"] = float((ann(xte).argmax(1) == yte).float().mean())
                conv = convert_to_snn(ann, xtr, percentile=99.9)
                res[f"{kind}_converted"] = {t: float((run_converted(conv, xte, t).argmax(1) == yte).float().mean())
                                            for t in (1, 2, 4, 8, 16, 32, 64)}
            if kind == "relu":   # pretraining as a bridge: copy into LIF, fine-tune 2 epochs at T=4
                torch.manual_seed(seed)
                bridge = transfer_ann_to_snn(ann, lambda n: LIF(n, tau_mem=5.0, threshold=0.5))
                res["bridge_before_finetune_T4"] = static_accuracy(bridge, xte, yte, 4)
                t0 = time.perf_counter()
                fit_static(bridge, xtr, ytr, 4, epochs=2, lr=1e-3, seed=seed)
                res["bridge_finetuned_T4"] = static_accuracy(bridge, xte, yte, 4)
                res["bridge_finetune_s"] = time.perf_counter() - t0
                torch.manual_seed(seed)
                scratch = Sequential(nn.Linear(64, 128), LIF(128, tau_mem=5.0, threshold=0.5), nn.Linear(128, 64),
                                     LIF(64, tau_mem=5.0, threshold=0.5), nn.Linear(64, 10))
                t0 = time.perf_counter()
                fit_static(scratch, xtr, ytr, 4, epochs=10, lr=1e-3, seed=seed)
                res["scratch_snn_10ep_T4"] = static_accuracy(scratch, xte, yte, 4)
                res["scratch_s"] = time.perf_counter() - t0
        out.append(res)
        print(res, flush=True)
    return {"ann_epochs": args.epochs, "runs": out}


# ----------------------------------------------------------------------------- perforated
def perforated(args):
    """Digits MLP 64 -> H -> 10 (ReLU) and its LIF version (T = 8): baseline trained to a plateau
    (same schedule, no dendrites), with dendrites (correlation mode and GD mode) and a wider
    baseline with at least the dendrite network's parameter count."""
    from axonal.models.perforated import PerforatedTrainer, add_dendrite_wrappers, wrappers
    from axonal.network import Sequential
    from axonal.neurons import LIF
    from torch.nn import functional as F

    def make(h, spiking):
        if spiking:
            return Sequential(nn.Linear(64, h), LIF(h, tau_mem=5.0, threshold=0.5), nn.Linear(h, 10))
        return nn.Sequential(nn.Linear(64, h), nn.ReLU(), nn.Linear(h, 10))

    def scores(m, x, spiking):
        return m(x.unsqueeze(0).expand(8, *x.shape))[0].mean(0) if spiking else m(x)

    out = []
    for seed in args.seeds:
        xtr, ytr, xte, yte = digits(seed)
        xv, yv, xt, yt = xtr[:300], ytr[:300], xtr[300:], ytr[300:]     # validation split for switching
        for spiking in (False, True):
            for h in ((8, 16) if not spiking else (16,)):
                rec = {"seed": seed, "spiking": spiking, "hidden": h}
                for variant in ("baseline", "correlation", "gd", "matched"):
                    width = h
                    if variant == "matched":   # 64 w + w + 10 w + 10 parameters
                        while 75 * width + 10 < rec["correlation_params"]:
                            width += 1
                    torch.manual_seed(seed)
                    m = add_dendrite_wrappers(make(width, spiking))   # baselines: wrappers that never grow
                    loss_fn = lambda mm, b: F.cross_entropy(scores(mm, b[0], spiking), b[1])
                    g = torch.Generator().manual_seed(seed)

                    def batches():
                        order = torch.randperm(len(xt), generator=g)
                        return [(xt[order[i:i + 64]], yt[order[i:i + 64]]) for i in range(0, len(xt), 64)]

                    def val(mm):
                        with torch.no_grad():
                            return float((scores(mm, xv, spiking).argmax(1) == yv).float().mean())
                    tr = PerforatedTrainer(m, loss_fn, batches, val, lr=3e-3, p_lr=1e-2, mode=(
                        "gd" if variant == "gd" else "correlation"), n_epochs_to_switch=8, p_epochs_max=10,
                        max_dendrite_tries=2, max_dendrites=3 if variant in ("correlation", "gd") else 0, seed=seed)
                    hist = tr.fit(args.epochs)
                    with torch.no_grad():
                        acc = float((scores(m, xte, spiking).argmax(1) == yte).float().mean())
                    n_params = sum(p.numel() for p in m.parameters())
                    rec[f"{variant}_test"] = acc
                    rec[f"{variant}_params"] = n_params
                    rec[f"{variant}_width"] = width
                    rec[f"{variant}_dendrites"] = wrappers(m)[0].n_dendrites     # kept at the end
                    rec[f"{variant}_epochs"] = len(hist)
                out.append(rec)
                print(rec, flush=True)
    return {"max_epochs": args.epochs, "runs": out}


# ----------------------------------------------------------------------------- delta activation
def delta(args):
    """BasicMotions (T = 100, 6 channels): Linear(6, 64) -> ReLU -> DeltaActivation(step 0.05, l1)
    -> Linear(64, 4), scores = mean over time. Accuracy and delta sparsity against the L1 weight."""
    from axonal.data import load_dataset, make_loader
    from axonal.synapses.delta_activation import DeltaActivation
    from torch.nn import functional as F

    def stack(split):
        xs, ys = zip(*[split[i] for i in range(len(split))])
        return torch.stack(xs, 1), torch.stack([torch.as_tensor(y) for y in ys])   # [T, N, C], [N]

    out = []
    for seed in args.seeds:
        splits = load_dataset("basic_motions", seed=seed, val_fraction=0.0, standardize=True)
        xtr, ytr = stack(splits.train)
        xte, yte = stack(splits.test)
        for l1 in (0.0, 1.0, 10.0, 100.0):
            torch.manual_seed(seed)
            pre, post, dal = nn.Linear(6, 64), nn.Linear(64, 4), DeltaActivation(step=0.05, l1=l1)
            params = list(pre.parameters()) + list(post.parameters())
            opt = torch.optim.Adam(params, lr=3e-3)
            g = torch.Generator().manual_seed(seed)

            def run(x):
                q, _ = dal(torch.relu(pre(x)))
                return post(q).mean(0)
            for _ in range(args.epochs):
                order = torch.randperm(xtr.shape[1], generator=g)
                for i in range(0, len(order), 8):
                    idx = order[i:i + 8]
                    loss = F.cross_entropy(run(xtr[:, idx]), ytr[idx]) + dal.penalty()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                acc = float((run(xte).argmax(1) == yte).float().mean())
                out.append({"seed": seed, "l1": l1, "test_accuracy": acc, "delta_sparsity": dal.sparsity()})
            print(out[-1], flush=True)
    return {"epochs": args.epochs, "step": 0.05, "runs": out}


# ----------------------------------------------------------------------------- continual
def continual(args):
    from axonal.train.continual import permuted_tasks, run_continual, split_tasks

    out = []
    for dataset in ("digits", "mnist1d"):
        n_in = 64 if dataset == "digits" else 40
        for seed in args.seeds:
            xtr, ytr, xte, yte = digits(seed) if dataset == "digits" else mnist1d_data()
            for bench, protocol in (("split", "task"), ("split", "class"), ("permuted", "domain")):
                tasks = (split_tasks(xtr, ytr, xte, yte, 5) if bench == "split"
                         else permuted_tasks(xtr, ytr, xte, yte, 5, seed=seed))
                dims = {("digits", "split"): [12, 20], ("digits", "permuted"): [10, 16],
                        ("mnist1d", "split"): [6, 20], ("mnist1d", "permuted"): [6, 16]}[dataset, bench]
                for method in ("finetune", "ewc", "hlop"):
                    torch.manual_seed(seed)
                    model = snn(hidden=128, learn=(), bias=False, n_in=n_in)
                    r = run_continual(model, tasks, method=method, protocol=protocol, steps=4, epochs=args.epochs,
                                      lr=1e-3, seed=seed, ewc_lambda=args.ewc_lambda, hlop_dims=dims)
                    r.update(seed=seed, benchmark=bench, dataset=dataset, hlop_dims=dims)
                    out.append(r)
                    print(f"{dataset} {bench}/{protocol} {method} seed {seed}: ACC {r['acc']:.3f} BWT {r['bwt']:.3f}",
                          flush=True)
    return {"epochs_per_task": args.epochs, "ewc_lambda": args.ewc_lambda, "runs": out}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["memory", "sltt_accuracy", "iir", "conversion", "continual", "perforated", "delta"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--ewc-lambda", type=float, default=1000.0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from axonal.provenance import environment

    res = globals()[a.what](a)
    res["environment"] = environment()
    res["command"] = "python -m experiments.training_methods " + " ".join(argv or sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"training_methods_{a.what}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
