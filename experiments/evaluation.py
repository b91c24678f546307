"""Evaluation platform (issue 17): memory share of energy, dynamic confidence, attacks, bit budget.

Models (small, CPU, minutes in all):

- ``basicmotions``: the built-in recipe (``axonal train basicmotions``: recurrent LIF, T = 100,
  direct standardised input), seeds 0-2, and its matched-size LSTM baseline (seed 0);
- ``digits_mlp``: sklearn 8x8 digits, pixels binarised (> 8/16) and repeated over T = 16 steps
  as binary input spikes -> Linear(64, 128) -> LIF -> Linear -> leaky-integrator readout;
- ``digits_conv``: the same binary frames over T = 8 -> Conv2d(1, 8, 3) -> LIF -> AvgPool(2) ->
  Linear -> leaky integrator (the "vision" model).

Measures, each written to ``experiments/results/evaluation.json``:

1. energy per sample, compute vs memory access (``energy_breakdown``), both cost tables, both
   weight-reuse assumptions, and the bit budget beside SynOps;
2. dynamic confidence: threshold calibrated on the validation split (at most 1 point below the
   full-length validation accuracy), applied to the test split; accuracy-latency and
   accuracy-energy curves and the oracle bound;
3. attacks on the test split: FGSM and PGD (10 steps of eps/4, random start) through the
   victim's own surrogate (atan, white box), a swapped fixed surrogate (triangle) and PDSG;
   success rate against eps; SDA (L0) on the binary-input digits models;
4. the report card of the basicmotions seed-0 run and its LSTM (``docs/report-card.md``).

    python -m experiments.evaluation [--seeds 0 1 2] [--quick] [--no-docs]
    python -m experiments.evaluation --plots-only       # redraw docs/evaluation/*.png from the JSON
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from axonal.data import make_loader
from axonal.metrics import SpikeMonitor, bit_budget, energy_breakdown
from axonal.metrics.dynamic_confidence import calibrate_threshold, early_exit, energy_profile, latency_curve, \
    oracle_exit, running_scores
from axonal.metrics.robustness import fgsm, pgd, sda, with_surrogate
from axonal.models import SpikingClassifier
from axonal.network import Sequential
from axonal.neurons import LIF
from axonal.neurons.readout import LeakyIntegrator
from axonal.provenance import environment
from axonal.train import Trainer
from axonal.train.report import load_run, report_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "evaluation.json"
RUNS = Path("/tmp/axonal-evaluation-runs")


# ----------------------------------------------------------------------------- models
class ConvSNN(nn.Module):
    """Binary 8x8 frames [T, B, 1, 8, 8] -> conv -> LIF -> pool -> linear -> leaky integrator."""

    readout = "membrane_mean"

    def __init__(self, channels: int = 8):
        super().__init__()
        self.net = Sequential(nn.Conv2d(1, channels, 3, padding=1), LIF(tau_mem=5.0), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Linear(channels * 16, 10), LeakyIntegrator(10, tau=10.0))

    def forward_sequence(self, x):
        return self.net(x)[0]

    def forward(self, x):
        return self.forward_sequence(x).mean(0)


def digits_data(seed: int, steps: int, image: bool):
    d = load_digits()
    x = (d.data / 16.0 > 0.5).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, random_state=seed, stratify=d.target)
    xtr, xva, ytr, yva = train_test_split(xtr, ytr, test_size=0.15, random_state=seed, stratify=ytr)

    def frames(a):
        t = torch.tensor(a)
        t = t.view(-1, 1, 8, 8) if image else t
        return t.unsqueeze(0).expand(steps, *t.shape).contiguous()

    return {k: (frames(a), torch.tensor(b)) for k, a, b in
            (("train", xtr, ytr), ("val", xva, yva), ("test", xte, yte))}


def train_digits(kind: str, seed: int, epochs: int):
    steps = 16 if kind == "mlp" else 8
    data = digits_data(seed, steps, image=kind == "conv")
    torch.manual_seed(seed)
    model = (SpikingClassifier(64, 10, hidden=(128,), recurrent=False, readout="membrane_mean",
                               neuron_params={"tau_mem": 5.0}) if kind == "mlp" else ConvSNN())
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    x, y = data["train"]
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(x[:, idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model, data


@torch.no_grad()
def accuracy(model, x, y, chunk: int = 128) -> float:
    return float(sum(int((model(x[:, i:i + chunk]).argmax(1) == y[i:i + chunk]).sum())
                     for i in range(0, len(y), chunk)) / len(y))


def stack_split(split):
    xs, ys = zip(*[(x, y) for x, y in make_loader(split, batch_size=256)])
    return torch.cat(xs, 1), torch.cat(ys)


# ----------------------------------------------------------------------------- 1. energy
def energy_rows(model, x, static=False) -> dict:
    out = {}
    for table in ("horowitz_45nm", "jouppi_7nm"):
        for reuse in ("none", "per_step"):
            b = energy_breakdown(model, x, table=table, weight_reuse=reuse, static=static)
            t = b.totals()
            out[f"{table}/{reuse}"] = {k: t[k] for k in ("total_j", "compute_j", "memory_j", "weight_memory_j",
                                                        "state_memory_j", "activation_memory_j", "memory_share")}
    # sensitivity: memory size, and an int8 deployment of the same network (weights, state, activations)
    for label, kw in (("horowitz_45nm/none/sram8KB", {"sram": "8KB"}), ("horowitz_45nm/none/sram1MB", {"sram": "1MB"}),
                      ("horowitz_45nm/none/int8", {"precision": "int8"}), ("jouppi_7nm/none/int8", {"precision": "int8",
                                                                                                 "table": "jouppi_7nm"})):
        kw = {"table": "horowitz_45nm", **kw}
        t = energy_breakdown(model, x, static=static, **kw).totals()
        out[label] = {k: t[k] for k in ("total_j", "compute_j", "memory_j", "memory_share")}
    with torch.no_grad(), SpikeMonitor(model) as mon:
        model(x)
    rep = mon.report()
    out["synops"] = rep.synops
    out["firing_rate"] = rep.firing_rate
    out["bit_budget_fp32"] = {k: v for k, v in bit_budget(rep).to_dict().items() if k != "layers"}
    out["bit_budget_w8_a8"] = {k: v for k, v in bit_budget(rep, weight_bits=8, activation_bits=8).to_dict().items()
                               if k != "layers"}
    return out


# ----------------------------------------------------------------------------- 2. dynamic confidence
def dynamic_confidence(model, val, test, energy_j: float, train=None) -> dict:
    rv, rt = running_scores(model, val[0]), running_scores(model, test[0])
    t_len = rt.shape[0]
    grid = range(1, t_len + 1) if t_len <= 20 else sorted({1, *range(5, t_len + 1, 5), t_len})
    profile = energy_profile(model, test[0], grid)       # measured energy of running the first t steps
    c = calibrate_threshold(rv, val[1], max_drop=0.01)
    extra = {}
    if train is not None:  # a second calibration on train + validation (more samples, but seen in training)
        rtr = torch.cat([running_scores(model, train[0]), rv], 1)
        c2 = calibrate_threshold(rtr, torch.cat([train[1], val[1]]), max_drop=0.01)
        r2 = early_exit(rt, c2)
        extra = {"train_val_calibrated": {"threshold": c2, "exit_accuracy": r2.accuracy(test[1]),
                                          "mean_steps": r2.mean_steps, "latency_reduction": r2.latency_reduction}}
    res = early_exit(rt, c)
    full = float((rt[-1].argmax(-1) == test[1]).float().mean())
    oracle = oracle_exit(rt, test[1])
    return {"threshold": c, "full_accuracy": full, "exit_accuracy": res.accuracy(test[1]),
            "accuracy_drop_points": 100 * (full - res.accuracy(test[1])), "mean_steps": res.mean_steps,
            "steps": rt.shape[0], "latency_reduction": res.latency_reduction,
            "energy_full_j": energy_j, "energy_exit_linear_j": energy_j * res.mean_steps / rt.shape[0],
            "energy_exit_measured_j": float(np.mean(np.interp(res.steps.numpy(), *zip(*profile)))),
            "energy_profile": profile,
            "oracle": {"accuracy": oracle.accuracy(test[1]), "mean_steps": oracle.mean_steps},
            "val_samples": len(val[1]), **extra,
            "curve": latency_curve(rt, test[1], energy_profile=profile,
                                   thresholds=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995,
                                               0.999])}


# ----------------------------------------------------------------------------- 3. attacks
SURROGATES = {"own (atan)": None, "swapped (triangle)": "triangle", "pdsg": "pdsg"}


def attacks(model, x, y, eps_grid, clamp, pgd_steps: int = 10, seed: int = 0) -> dict:
    with torch.no_grad():
        clean = model(x).argmax(1)
    ok = clean == y
    out = {"clean_accuracy": float(ok.float().mean()), "samples": len(y), "eps": list(eps_grid)}
    for label, sg in SURROGATES.items():
        for attack in ("fgsm", "pgd"):
            rates = []
            for eps in eps_grid:
                g = torch.Generator().manual_seed(seed)
                with (with_surrogate(model, sg) if sg else _null()):
                    if attack == "fgsm":
                        adv = fgsm(model, x, y, eps, clamp=clamp)
                    else:
                        adv = pgd(model, x, y, eps, steps=pgd_steps, clamp=clamp, generator=g)
                with torch.no_grad():
                    pred = model(adv).argmax(1)
                rates.append(float(((pred != y) & ok).sum()) / max(int(ok.sum()), 1))
            out[f"{attack}/{label}"] = rates
    return out


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def sda_stats(model, x, y, n: int, max_iter: int) -> dict:
    with torch.no_grad():
        ok = model(x).argmax(1) == y
    idx = torch.nonzero(ok)[:n, 0]
    t0 = time.perf_counter()
    res = sda(model, x[:, idx], y[idx], k_init=10, max_iter=max_iter, batch_limit=128)
    bits = x[:, 0].numel()
    l0 = res.l0[res.success].float()
    budgets = [1, 2, 4, 8, 16, 32, 64]
    return {"samples": len(idx), "input_bits": bits, "success_rate": float(res.success.float().mean()),
            "l0_mean": float(l0.mean()) if len(l0) else None, "l0_median": float(l0.median()) if len(l0) else None,
            "l0_mean_percent_of_bits": float(100 * l0.mean() / bits) if len(l0) else None,
            "success_within_l0": {b: float(((res.l0 <= b) & res.success).float().mean()) for b in budgets},
            "queries": res.queries, "time_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--plots-only", action="store_true")
    args = ap.parse_args()
    if args.plots_only:
        plots(json.loads(args.out.read_text()))
        return
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    digits_epochs = 3 if args.quick else 15
    result = {"environment": environment(), "seeds": args.seeds, "quick": args.quick,
              "command": "python -m experiments.evaluation" + (" --quick" if args.quick else ""),
              "energy": {}, "dynamic_confidence": {}, "attacks": {}, "sda": {}, "accuracy": {}}
    for seed in args.seeds:
        t0 = time.perf_counter()
        # --- basicmotions (the built-in recipe; LSTM baseline of matched size for seed 0)
        overrides = [f"training.seed={seed}", "output.raster=false", "output.curves=false"]
        if seed == args.seeds[0]:
            overrides.append("baselines=[{architecture: lstm, parameter_budget: match, readout: mean}]")
        if args.quick:
            overrides.append("training.epochs=5")
        run = RUNS / f"basicmotions_s{seed}"
        if run.exists():
            shutil.rmtree(run)
        trainer = Trainer("basicmotions", overrides=overrides, run_dir=run, quiet=True)
        trainer.fit()
        bm = trainer.model.eval()
        val, test = stack_split(trainer.splits.val), stack_split(trainer.splits.test)
        key = f"seed{seed}"
        e_bm = energy_rows(bm, test[0])
        result["energy"].setdefault("basicmotions_snn", {})[key] = e_bm
        result["accuracy"].setdefault("basicmotions_snn", {})[key] = accuracy(bm, *test)
        if seed == args.seeds[0]:
            lstm = load_run(run / "baselines" / "0_lstm").model.eval()
            result["energy"]["basicmotions_lstm"] = {key: energy_rows(lstm, test[0])}
            result["accuracy"]["basicmotions_lstm"] = {key: accuracy(lstm, *test)}
        result["dynamic_confidence"].setdefault("basicmotions_snn", {})[key] = dynamic_confidence(
            bm, val, test, e_bm["horowitz_45nm/none"]["total_j"], train=stack_split(trainer.splits.train))
        result["attacks"].setdefault("basicmotions_snn", {})[key] = attacks(
            bm, test[0], test[1], [0.05, 0.1, 0.2, 0.5], clamp=None, seed=seed)
        # --- digits (binary frames)
        for kind in ("mlp", "conv"):
            model, data = train_digits(kind, seed, digits_epochs)
            name = f"digits_{kind}"
            xt, yt = data["test"]
            result["accuracy"].setdefault(name, {})[key] = accuracy(model, xt, yt)
            e = energy_rows(model, xt)
            result["energy"].setdefault(name, {})[key] = e
            result["dynamic_confidence"].setdefault(name, {})[key] = dynamic_confidence(
                model, data["val"], data["test"], e["horowitz_45nm/none"]["total_j"], train=data["train"])
            n_att = 120 if args.quick else 240
            if kind == "mlp":
                result["attacks"].setdefault(name, {})[key] = attacks(
                    model, xt[:, :n_att], yt[:n_att], [0.05, 0.1, 0.2, 0.3], clamp=(0.0, 1.0), seed=seed)
            result["sda"].setdefault(name, {})[key] = sda_stats(model, xt, yt, n=10 if args.quick else 30,
                                                               max_iter=40)
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        if seed == args.seeds[0] and not args.no_docs:
            docs_report(run)
    result["time_s"] = time.perf_counter() - t_start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out} ({result['time_s']:.0f} s)")
    if not args.no_docs:
        plots(json.loads(args.out.read_text()))


def plots(r: dict, folder: Path = ROOT / "docs" / "evaluation") -> None:
    """Dynamic-confidence curves, attack success against eps and SDA success against L0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, runs in r["dynamic_confidence"].items():
        d = runs[sorted(runs)[0]]
        pts = sorted(d["curve"], key=lambda c: c["mean_steps"])
        frac = [c["mean_steps"] / d["steps"] for c in pts]
        line, = axes[0].plot(frac, [100 * c["accuracy"] for c in pts], "o-", ms=3, label=name)
        axes[0].plot(d["oracle"]["mean_steps"] / d["steps"], 100 * d["oracle"]["accuracy"], "*", ms=10,
                     color=line.get_color())
        axes[1].plot([c["energy_j"] * 1e9 for c in pts], [100 * c["accuracy"] for c in pts], "o-", ms=3, label=name)
    axes[0].set_xlabel("mean steps / T (star: oracle exit)")
    axes[1].set_xlabel("estimated energy per sample, nJ (Horowitz 45 nm)")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylabel("test accuracy %")
        ax.legend(fontsize=7)
    fig.suptitle("dynamic confidence (max-prob threshold swept; seed 0)", fontsize=9)
    _save(fig, folder / "dynamic_confidence.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, (name, runs) in zip(axes, r["attacks"].items()):
        first = runs[sorted(runs)[0]]
        for key in [k for k in first if "/" in k]:
            mean = np.mean([runs[s][key] for s in runs], 0)
            ax.plot(first["eps"], 100 * mean, "o-" if key.startswith("pgd") else "s--", ms=3, label=key)
        ax.set_title(f"{name} ({len(runs)} seeds)", fontsize=9)
        ax.set_xlabel("eps (L-inf)")
        ax.set_ylabel("attack success %")
        ax.legend(fontsize=6)
    _save(fig, folder / "attacks.png")

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name, runs in r["sda"].items():
        budgets = list(runs[sorted(runs)[0]]["success_within_l0"])
        mean = np.mean([[runs[s]["success_within_l0"][b] for b in budgets] for s in runs], 0)
        ax.plot([int(b) for b in budgets], 100 * mean, "o-", label=f"{name} ({runs[sorted(runs)[0]]['input_bits']} bits)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("L0 budget (input spikes flipped)")
    ax.set_ylabel("SDA success %")
    ax.legend(fontsize=7)
    _save(fig, folder / "sda.png")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def docs_report(run: Path) -> None:
    """docs/report-card.md and its images from the report card of ``run``."""
    folder = ROOT / "docs" / "report-card"
    if folder.exists():
        shutil.rmtree(folder)
    page = report_run(run, folder)
    text = page.read_text()
    page.unlink()
    for sub in ("model", "baseline_0_lstm"):
        text = text.replace(f"]({sub}/", f"](report-card/{sub}/")
        for f in (folder / sub).glob("report.*"):
            f.unlink()  # the page holds the cards; only the images stay beside it
    text = text.replace(f"`axonal report {run}`", "`axonal train basicmotions --set 'baselines=[{architecture: lstm, "
                        "parameter_budget: match, readout: mean}]' --out runs/basicmotions` then "
                        "`axonal report runs/basicmotions`")
    text = text.replace(f"run folder `{run}/baselines/0_lstm`", "run folder `runs/basicmotions/baselines/0_lstm`")
    text = text.replace(f"run folder `{run}`", "run folder `runs/basicmotions`")
    text += CARD_CHECK
    (ROOT / "docs" / "report-card.md").write_text(text)


CARD_CHECK = '''
## Regenerating this page

`python -m experiments.evaluation` trains the run (seed 0) and rewrites this page and its images.
The images are committed beside the page; `tests/test_docs.py` runs this check:

```python
import re
from pathlib import Path

page = Path(__file__)
images = re.findall(r"\\]\\((report-card/[^)]+[.]png)\\)", page.read_text())
assert len(images) == 8, images          # four plots for the model, four for its LSTM baseline
assert all((page.parent / image).is_file() for image in images)
```
'''


if __name__ == "__main__":
    main()
