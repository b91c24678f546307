"""Grid mode of ``meta_neuron.py``: learned vs fixed intrinsics from *untuned* initial values.

The paper's (Rudnicka et al. 2025, arXiv 2508.11674, v2) gains are "relative to baselines that
tune only network size and learning rate": the baseline keeps its intrinsic parameters at
whatever values the user started from. The main tables start both arms from the reference values
(the library defaults, for which the weight scales were set), where learning has nothing to fix.
Here both arms start from the SAME initial intrinsics, taken from a small grid of settings a user
could pick without tuning; "fixed" keeps them, "learned" learns them jointly with the weights.
Everything else (weight initialisation scaled for the reference, STDP step, Tempotron step,
teacher current, data, epochs, Adam lr of the weights) is identical to the main tables and is
not adapted to the grid point, as it would not be by a user who does not tune the intrinsics.

Grid (chosen a priori, before any grid result was seen; unlisted values stay at the reference
LIF tau_mem = 10, V_thr = 1; meta s = 0.8, b = 1, g = 1, beta = 0.9; Tempotron tau = 15, V_thr = 1):

    point              LIF              meta neuron        Tempotron
    default            (reference)      (reference)        (reference)
    leaky              tau_mem = 2      beta = 0.5         tau = 3
    sluggish           tau_mem = 50     beta = 0.98        tau = 60
    high_threshold     V_thr = 3        g = 3              V_thr = 3
    low_threshold      V_thr = 0.25     g = 0.25           V_thr = 0.25
    weak_transmission  -                s = 0.2            -
    strong_inhibition  -                b = 4              -

("-": the model has no such parameter; its grid mean is over its own points.) The reference is
also the library default of each model, so "default" is the existing tuned-init comparison.

Intrinsic learning rate (a priori, documented): Adam lr 0.1 for the intrinsic parameters (their
own parameter group), 2e-2 for the weights as in the main tables. At the shared 2e-2 the
intrinsics moved little in 64 steps (reference init, seed 0: under STDP the LIF threshold
1 -> 1.02 and the meta threshold 1 -> 1.03), and Adam moves a raw parameter by at most about
lr per step, so 2e-2 x 64 steps ~ 1.3 raw units cannot cross the grid's range (threshold 3 -> 1
is 2 units; the log tau range is 1.6). 0.1 allows about 6. ``--intrinsic-lr`` changes it.

    python -m experiments.meta_neuron --grid [--tasks ...] [--seeds 0 1 2] [--resume]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from axonal.train import environment

GRID = {
    "default": dict(lif={}, meta={}, tempotron={}),
    "leaky": dict(lif=dict(tau_mem=2.0), meta=dict(beta=0.5), tempotron=dict(tau=3.0)),
    "sluggish": dict(lif=dict(tau_mem=50.0), meta=dict(beta=0.98), tempotron=dict(tau=60.0)),
    "high_threshold": dict(lif=dict(threshold=3.0), meta=dict(threshold=3.0), tempotron=dict(threshold=3.0)),
    "low_threshold": dict(lif=dict(threshold=0.25), meta=dict(threshold=0.25), tempotron=dict(threshold=0.25)),
    "weak_transmission": dict(meta=dict(transmission=0.2)),
    "strong_inhibition": dict(meta=dict(inhibition=4.0)),
}
INTRINSIC_LR = 0.1
RULES = {"lif": ("bptt/lif", "stdp/lif"), "meta": ("bptt/meta", "stdp/meta"), "tempotron": ("tempotron",)}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "meta_neuron_grid.json"


def run_point(m, data, seed, point, epochs, bs, intrinsic_lr):
    """Every rule of every model defined at ``point``, fixed and learned; one result row."""
    row, intr = dict(point=point), {}
    for model, init in GRID[point].items():
        for rule in RULES[model]:
            for learned in (False, True):
                info = {}
                if rule.startswith("bptt"):
                    acc = m.run_bptt(model, learned, data, seed, epochs, bs, init, intrinsic_lr, info)[0]
                elif rule.startswith("stdp"):
                    acc = m.run_stdp(model, learned, data, seed, epochs, bs, init, intrinsic_lr, info)
                else:
                    acc = m.run_tempotron(learned, data, seed, epochs, 10, init, intrinsic_lr, info)
                tag = "learned" if learned else "fixed"
                row[f"{rule}/{tag}"] = acc
                if learned:
                    intr[rule] = info
    row["intrinsics"] = intr
    return row


def summarise(rows, tasks):
    """Per task, rule and point: fixed / learned mean, std, mean delta, seeds up; plus grid means."""
    out = {}
    for task_name in tasks:
        sub = [r for r in rows if r["task"] == task_name]
        out[task_name] = {}
        for model, rules in RULES.items():
            points = [p for p in GRID if model in GRID[p]]
            for rule in rules:
                res, per_seed = {}, {}
                for p in points:
                    rs = [r for r in sub if r["point"] == p and f"{rule}/fixed" in r]
                    if not rs:
                        continue
                    f = np.array([r[f"{rule}/fixed"] for r in rs])
                    lr = np.array([r[f"{rule}/learned"] for r in rs])
                    res[p] = _stats(f, lr)
                    for r in rs:
                        per_seed.setdefault(r["seed"], []).append((r[f"{rule}/fixed"], r[f"{rule}/learned"]))
                complete = [v for v in per_seed.values() if len(v) == len(points)]
                if complete:
                    gm = np.array([np.mean(v, 0) for v in complete])   # [seeds, 2] grid means
                    res["grid_mean"] = _stats(gm[:, 0], gm[:, 1])
                    res["grid_mean"]["points_up"] = sum(res[p]["delta"] > 0 for p in points)
                    res["grid_mean"]["points"] = len(points)
                out[task_name][rule] = res
    return out


def _stats(f, lr):
    sd = lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0
    return dict(fixed=float(f.mean()), fixed_std=sd(f), learned=float(lr.mean()), learned_std=sd(lr),
                delta=float((lr - f).mean()), seeds_up=int((lr > f).sum()), seeds=len(f))


def markdown(summary):
    """One table per task: rules as rows, grid points as columns (fixed / learned / delta)."""
    lines = []
    for task_name, rules in summary.items():
        lines += [f"\n{task_name}: fixed -> learned (delta, seeds where learned > fixed)\n",
                  "| rule | " + " | ".join(list(GRID) + ["grid mean"]) + " |",
                  "|---" * (len(GRID) + 2) + "|"]
        for rule, res in rules.items():
            cells = []
            for p in list(GRID) + ["grid_mean"]:
                v = res.get(p)
                cells.append("-" if v is None else
                             f"{100 * v['fixed']:.1f} -> {100 * v['learned']:.1f} "
                             f"({100 * v['delta']:+.1f}, {v['seeds_up']}/{v['seeds']})")
            lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(m, args, n_train, n_test, epochs, bs):
    out = args.out or DEFAULT_OUT
    rows = json.loads(out.read_text())["runs"] if args.resume and out.exists() else []
    done = {(r["task"], r["seed"], r["point"]) for r in rows}
    lr_i = args.intrinsic_lr
    for task_name in args.tasks:
        for seed in args.seeds:
            data = m.task(task_name, seed, n_train, n_test)
            for point in GRID:
                if (task_name, seed, point) in done:
                    continue
                t0 = time.time()
                row = dict(task=task_name, seed=seed, **run_point(m, data, seed, point, epochs, bs, lr_i))
                row["seconds"] = round(time.time() - t0, 1)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "intrinsics"}), flush=True)
                _write(out, rows, args, n_train, n_test, epochs, lr_i)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    summary = summarise(rows, tasks)
    print(markdown(summary))
    return _write(out, rows, args, n_train, n_test, epochs, lr_i, summary)


def _write(out, rows, args, n_train, n_test, epochs, lr_i, summary=None):
    """Rewrite the whole result file atomically (a temporary file, then rename)."""
    result = {"experiment": "meta_neuron_grid", "grid": GRID, "quick": args.quick, "n_train": n_train,
              "n_test": n_test, "epochs": epochs, "weight_lr": 2e-2, "intrinsic_lr": lr_i,
              "runs": rows, "summary": summary, "torch": torch.__version__, "git": environment()["git_commit"], "environment": environment()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)
    return result


