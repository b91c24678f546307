"""Is the BasicMotions main recipe stable? Train it for 60 epochs on several seeds per variant
(recipe overrides) and record each run's largest loss rise.

A *blow-up* is a training-loss rise: ``rise = max_e (loss_e - min_{e' < e} loss_e')`` over the
epochs after the fifth; a run blows up when ``rise > 0.25`` (cross-entropy nats; the baseline's
spikes are 0.4-1.0). Early stopping is off so every run sees all 60 epochs.

    python -m experiments.basicmotions_stability --seeds 0 1 2 3 4 --variant base --variant shipped
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from axonal.provenance import environment
from axonal.train import Trainer

#: overrides per variant, on top of the shipped recipe
VARIANTS = {
    # the recipe as it was before issue 16 (no regulariser, constant lr)
    "base": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.lr=0.005"],
    "shipped": [],
    "cosine": ["training.rate_regulariser=null", "optimiser.scheduler.name=cosine", "optimiser.lr=0.005"],
    "rate_reg": ["training.rate_regulariser={lower: 0.01, upper: 0.3, weight: 1.0}", "optimiser.scheduler.name=none", "optimiser.lr=0.005"],
    "rate_reg_strong": ["training.rate_regulariser={lower: 0.01, upper: 0.2, weight: 10.0}",
                        "optimiser.scheduler.name=none", "optimiser.lr=0.005"],
    "adamw": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.name=adamw",
              "optimiser.weight_decay=0.01", "optimiser.lr=0.005"],
    "lr2e-3": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.lr=0.002"],
    "rate_reg_lr2e-3_cosine": ["training.rate_regulariser={lower: 0.01, upper: 0.3, weight: 1.0}",
                               "optimiser.scheduler.name=cosine", "optimiser.lr=0.002"],
    "eps1e-4": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.eps=1e-4", "optimiser.lr=0.005"],
    "eps1e-3": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.eps=1e-3", "optimiser.lr=0.005"],
    "sgd": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "optimiser.name=sgd",
            "optimiser.lr=0.05"],
    "lr1e-3_cosine": ["training.rate_regulariser=null", "optimiser.scheduler.name=cosine", "optimiser.lr=0.001"],
    "clip5": ["training.rate_regulariser=null", "optimiser.scheduler.name=none", "training.grad_clip=5.0", "optimiser.lr=0.005"],
}
BLOWUP = 0.25


def loss_rise(losses: list[float], skip: int = 5) -> float:
    """Largest rise of the loss above its running minimum, over the epochs after ``skip``."""
    best, rise = float("inf"), 0.0
    for i, v in enumerate(losses):
        if i >= skip:
            rise = max(rise, v - best)
        best = min(best, v)
    return rise


def run(variant: str, seed: int, epochs: int) -> dict:
    overrides = VARIANTS[variant] + [f"training.seed={seed}", f"training.epochs={epochs}",
                                     "training.early_stopping.patience=null", "output.raster=false",
                                     "output.curves=false"]
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = Trainer("basicmotions", overrides=overrides, run_dir=Path(d), quiet=True).fit()
    h = res["history"]
    losses = [r["train_loss"] for r in h]
    return {"variant": variant, "seed": seed, "epochs": len(h), "test_accuracy": res["test"]["accuracy"],
            "loss_rise": loss_rise(losses), "val_loss_rise": loss_rise([r["val_loss"] for r in h]),
            "blew_up": loss_rise(losses) > BLOWUP, "train_loss": losses,
            "val_loss": [r["val_loss"] for r in h], "val_rate": [r["val_firing_rate"] for r in h],
            "time_s": time.perf_counter() - t0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--out", default="experiments/results/basicmotions_stability.json")
    a = ap.parse_args(argv)
    rows = []
    for v in a.variant or ["base", "shipped"]:
        for s in a.seeds:
            r = run(v, s, a.epochs)
            rows.append(r)
            print(f"{v:9s} seed {s}: rise {r['loss_rise']:.3f} blew_up={r['blew_up']} test {r['test_accuracy']:.3f}",
                  flush=True)
    summary = {}
    for v in dict.fromkeys(r["variant"] for r in rows):
        rs = [r for r in rows if r["variant"] == v]
        summary[v] = {"blow_ups": sum(r["blew_up"] for r in rs), "runs": len(rs),
                      "max_rise": max(r["loss_rise"] for r in rs),
                      "mean_test_accuracy": sum(r["test_accuracy"] for r in rs) / len(rs),
                      "test_accuracy": [r["test_accuracy"] for r in rs]}
        print(v, json.dumps(summary[v]))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"blowup_threshold": BLOWUP, "summary": summary, "runs": rows,
                                       "environment": environment()}, indent=1))


if __name__ == "__main__":
    main()
