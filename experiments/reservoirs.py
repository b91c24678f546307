"""Reservoir experiments: NALSM vs LSM vs LSM+STDP on digits; adaptive vs globally tuned E/I reservoir.

Part ``nalsm`` (core.md §8, offline reproduction): scikit-learn digits (1347 train / 450 test,
stratified split 0), pixels/16 x ``gain`` as Bernoulli (Poisson) events per 1 ms step into 64
NALSM LIF input neurons, a 10x10x10 liquid (:class:`axonal.reservoir.nalsm.SpatialLiquid`).
Plasticity phase: one pass over the shuffled training set with 20 ms presentations (the paper:
50,000 MNIST samples), then the liquid is frozen and each digit is presented for ``T`` steps.
Readout: logistic regression (C fixed) on standardised per-neuron spike counts. Branching factor
on the frozen responses to test digits (steps 10..T): NALSM's descendants/ancestors ratio (window
4 ms) and the MR estimator (Wilting & Priesemann 2018) of the population activity.

Part ``adaptive`` (secondary.md §16): a 200-neuron Dale's-law sigmoid rate reservoir
(:class:`axonal.reservoir.adaptive.EIReservoir`). Global tuning: one inhibitory gain ``g`` for
every neuron and the spectral radius, grid-searched on validation data. Adaptive: per-neuron
``g_i`` set by the local homeostatic rule towards target rates (homogeneous or heterogeneous),
with the same spectral-radius grid and a grid of mean target rates (same number of
configurations). Tasks: memory capacity (uniform input, delays 1..60) and NARMA-10 (NRMSE);
the readout is ridge regression; validation picks the configuration, test data scores it.

    python -m experiments.reservoirs nalsm --seeds 0 1 2 [--steps 100] [--out nalsm.json]
    python -m experiments.reservoirs nalsm-convergence --seeds 0 1 2 --astro-weight 0.015 --passes 5
    python -m experiments.reservoirs adaptive --seeds 0 1 2 [--out adaptive.json]
    python -m experiments.reservoirs summarize nalsm_seed0.json nalsm_seed1.json ...
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from axonal.data.reservoir_tasks import as_time_major, memory_capacity_task, narma10
from axonal.data.shipped import digits
from axonal.encoding.rate import rate_encode
from axonal.metrics.criticality import mr_branching_ratio, network_branching_factor, population_activity
from axonal.metrics.reservoir import memory_capacity, nrmse, ridge_fit, ridge_predict
from axonal.reservoir.adaptive import EIReservoir, heterogeneous_targets
from axonal.reservoir.lsm import LiquidStateMachine, liquid_features
from axonal.reservoir.nalsm import NALSMConfig, SpatialLiquid, input_layer_spikes
from axonal.train import environment


def provenance(args) -> dict:
    env = environment()
    return dict(args=vars(args), commit=env["git_commit"], environment=env, machine=platform.machine())


def mean_std(values):
    a = np.asarray(values, dtype=float)
    return float(np.nanmean(a)), float(np.nanstd(a))


# ============================================================================ NALSM
def nalsm_conditions(astro_weights):
    yield "LSM", "none", None
    yield "LSM+STDP", "stdp", None
    for w in astro_weights:
        yield f"NALSM(w_a={w})", "astrocyte", w


def run_nalsm(args):
    tr, te = digits()
    rows = []
    for seed in args.seeds:
        g = torch.Generator().manual_seed(1000 + seed)
        order = torch.randperm(len(tr.x), generator=g)
        x_init = input_layer_spikes(rate_encode(tr.x[order], args.init_steps, gain=args.gain, generator=g))
        x_tr = input_layer_spikes(rate_encode(tr.x, args.steps, gain=args.gain, generator=g))
        x_te = input_layer_spikes(rate_encode(te.x, args.steps, gain=args.gain, generator=g))
        for name, mode, w_a in nalsm_conditions(args.astro_weights):
            t0 = time.time()
            cfg = NALSMConfig(input_density=args.input_density,
                              astro_weight=w_a if w_a is not None else NALSMConfig.astro_weight)
            liq = SpatialLiquid(64, cfg, mode=mode, seed=seed)
            a_trace = liq.plasticity_phase(x_init)
            s_tr, s_te = liq(x_tr), liq(x_te)
            lsm = LiquidStateMachine(liq, regularization=args.C)
            lsm.fit_features(liquid_features(s_tr), tr.y)
            acc = lsm.score_features(liquid_features(s_te), te.y)
            sub = s_te[10:, : args.bf_samples]
            bf = network_branching_factor(sub, liq.adjacency(), window=4)
            mr = mr_branching_ratio(population_activity(sub.float()), max_lag=10).m
            w = liq.weights()
            row = dict(seed=seed, condition=name, mode=mode, astro_weight=w_a, test_accuracy=acc,
                       branching_factor=bf, mr_branching_ratio=mr,
                       rate_hz=float(s_te.float().mean()) * 1000.0,
                       astro_final=float(a_trace[-1]) if mode == "astrocyte" else None,
                       w_exc_mean=float(w[w > 0].mean()) if (w > 0).any() else 0.0,
                       w_inh_mean=float(w[w < 0].mean()) if (w < 0).any() else 0.0,
                       seconds=time.time() - t0)
            rows.append(row)
            print(f"seed {seed} {name:18s} acc {acc:.4f} bf {bf:.3f} mr {mr:.3f} rate {row['rate_hz']:.1f} Hz"
                  f" A_end {row['astro_final']} ({row['seconds']:.0f} s)", flush=True)
    # raw-pixel reference (same readout)
    from sklearn.linear_model import LogisticRegression
    pix = LogisticRegression(C=args.C, max_iter=2000).fit(tr.x.numpy(), tr.y.numpy()).score(te.x.numpy(), te.y.numpy())
    print(f"\nraw pixels, logistic regression: {pix:.4f}")
    return dict(rows=rows, summary=summarize_nalsm(rows), raw_pixel_accuracy=pix)


NALSM_KEYS = ("test_accuracy", "branching_factor", "mr_branching_ratio", "rate_hz")


def summarize_nalsm(rows):
    """Mean and std over seeds per condition; prints the table."""
    names = list(dict.fromkeys(r["condition"] for r in rows))
    summary = {}
    for name in names:
        rs = [r for r in rows if r["condition"] == name]
        summary[name] = {k: mean_std([r[k] for r in rs]) for k in NALSM_KEYS}
        summary[name]["seeds"] = sorted(r["seed"] for r in rs)
    print(f"{'condition':20s} {'test accuracy':>18s} {'branching factor':>18s} {'MR m':>16s} {'rate Hz':>16s}")
    for name, s in summary.items():
        print(f"{name:20s} " + " ".join(f"{s[k][0]:9.4f} ± {s[k][1]:.4f}" for k in NALSM_KEYS)
              + f"  seeds {s['seeds']}")
    return summary


def run_nalsm_convergence(args):
    """Branching factor, rate and astrocyte value after each plasticity pass (does sigma settle?)."""
    tr, te = digits()
    rows = []
    for seed in args.seeds:
        g = torch.Generator().manual_seed(1000 + seed)
        x_te = input_layer_spikes(rate_encode(te.x[: args.bf_samples], args.steps, gain=args.gain, generator=g))
        cfg = NALSMConfig(input_density=args.input_density, astro_weight=args.astro_weight)
        liq = SpatialLiquid(64, cfg, mode=args.mode, seed=seed)
        for p in range(args.passes + 1):
            if p > 0:
                order = torch.randperm(len(tr.x), generator=g)
                liq.plasticity_phase(input_layer_spikes(rate_encode(tr.x[order], args.init_steps, gain=args.gain,
                                                                    generator=g)))
            s = liq(x_te)[10:]
            w = liq.weights()
            row = dict(seed=seed, passes=p, branching_factor=network_branching_factor(s, liq.adjacency(), window=4),
                       mr_branching_ratio=mr_branching_ratio(population_activity(s.float()), max_lag=10).m,
                       rate_hz=float(s.float().mean()) * 1000.0, astro=liq.modulator_value,
                       w_exc_mean=float(w[w > 0].mean()) if (w > 0).any() else 0.0,
                       w_inh_mean=float(w[w < 0].mean()) if (w < 0).any() else 0.0)
            rows.append(row)
            print(f"seed {seed} pass {p} bf {row['branching_factor']:.3f} mr {row['mr_branching_ratio']:.3f} "
                  f"rate {row['rate_hz']:.1f} Hz A {row['astro']:.3f} wE {row['w_exc_mean']:.3f} "
                  f"wI {row['w_inh_mean']:.3f}", flush=True)
    print()
    for p in range(args.passes + 1):
        rs = [r for r in rows if r["passes"] == p]
        print(f"passes {p}: " + "  ".join(f"{k} {mean_std([r[k] for r in rs])[0]:.3f} ± {mean_std([r[k] for r in rs])[1]:.3f}"
                                          for k in ("branching_factor", "mr_branching_ratio", "rate_hz", "astro")))
    return dict(rows=rows)


# ============================================================================ adaptive
def _splits(T, washout, n_train, n_val):
    a, b, c = washout, washout + n_train, washout + n_train + n_val
    return slice(a, b), slice(b, c), slice(c, T)


def _mc_score(x, u, sl_fit, sl_eval, max_delay):
    """Memory capacity: readouts fitted on sl_fit, correlations on sl_eval."""
    idx_fit = np.arange(sl_fit.start, sl_fit.stop)
    idx_ev = np.arange(sl_eval.start, sl_eval.stop)
    Y = lambda idx: np.stack([u[idx - k] for k in range(1, max_delay + 1)], 1)
    W = ridge_fit(x[idx_fit], Y(idx_fit), 1e-6)
    P, Yt = ridge_predict(x[idx_ev], W), Y(idx_ev)
    Pc, Yc = P - P.mean(0), Yt - Yt.mean(0)
    r2 = (Pc * Yc).sum(0) ** 2 / np.maximum((Pc ** 2).sum(0) * (Yc ** 2).sum(0), 1e-300)
    return float(r2.sum())


def _narma_score(x, y, sl_fit, sl_eval):
    W = ridge_fit(x[sl_fit], y[sl_fit], 1e-6)
    return nrmse(y[sl_eval], ridge_predict(x[sl_eval], W)[:, 0])


def run_adaptive(args):
    N = args.neurons
    rhos, gains, means = args.rhos, args.global_gains, args.target_means
    rows = []
    for seed in args.seeds:
        T = args.adapt_len
        tasks = {
            "memory_capacity": memory_capacity_task(args.task_len, args.max_delay, seed=10 + seed),
            "narma10": narma10(args.task_len, seed=20 + seed),
        }
        sl_tr, sl_va, sl_te = _splits(args.task_len, 200, args.task_len // 2, args.task_len // 4)
        for task, data in tasks.items():
            u = data.inputs
            # the adaptation phase sees a fresh input of the task's distribution (not the task data)
            adapt_u = as_time_major(memory_capacity_task(T, 1, seed=90 + seed).inputs) if task == "memory_capacity" \
                else as_time_major(narma10(T, seed=95 + seed).inputs)
            ut = as_time_major(u)

            def score(x, sl_fit, sl_eval):
                if task == "memory_capacity":
                    return _mc_score(x, u, sl_fit, sl_eval, args.max_delay)
                return _narma_score(x, data.targets, sl_fit, sl_eval)

            better = (lambda a, b: a > b) if task == "memory_capacity" else (lambda a, b: a < b)
            families = {
                "global": [dict(rho=r, g=g) for r, g in itertools.product(rhos, gains)],
                "adaptive_homogeneous": [dict(rho=r, mean=m, spread=0.0) for r, m in itertools.product(rhos, means)],
                "adaptive_heterogeneous": [dict(rho=r, mean=m, spread=args.spread)
                                           for r, m in itertools.product(rhos, means)],
                # a wider (56-point) search for the global baseline: more tuning than the others get
                "global_wide": [dict(rho=r, g=g) for r, g in itertools.product(
                    (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0), (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0))],
            }
            for fam in args.families:
                configs = families[fam]
                best = None
                for cfg in configs:
                    res = EIReservoir(N, 1, spectral_radius=cfg["rho"], seed=seed)
                    if fam.startswith("global"):
                        res.set_global_inhibition(cfg["g"])
                    else:
                        targets = heterogeneous_targets(N, cfg["mean"], cfg["spread"], seed=seed)
                        res.adapt(adapt_u, targets, eta=args.eta)
                    x = res(ut)[0][:, 0].double().numpy()
                    val = score(x, sl_tr, sl_va)
                    if best is None or better(val, best[0]):
                        best = (val, cfg, res, x)
                val, cfg, res, x = best
                test = score(x, sl_tr, sl_te)
                rows.append(dict(seed=seed, task=task, family=fam, config=cfg, validation=val, test=test,
                                 inh_gain_mean=float(res.inh_gain.mean()), inh_gain_std=float(res.inh_gain.std())))
                print(f"seed {seed} {task:16s} {fam:24s} val {val:.4f} test {test:.4f} config {cfg}", flush=True)
    return dict(rows=rows, summary=summarize_adaptive(rows))


def summarize_adaptive(rows):
    summary = {}
    for task in ("memory_capacity", "narma10"):
        for fam in ("global", "global_wide", "adaptive_homogeneous", "adaptive_heterogeneous"):
            rs = [r for r in rows if r["task"] == task and r["family"] == fam]
            if not rs:
                continue
            summary[f"{task}/{fam}"] = dict(zip(("mean", "std"), mean_std([r["test"] for r in rs])),
                                            seeds=sorted(r["seed"] for r in rs))
    print()
    for k, v in summary.items():
        print(f"{k:45s} {v['mean']:.4f} ± {v['std']:.4f}  seeds {v['seeds']}")
    return summary


def summarize_files(paths):
    """Pool the rows of several result files (e.g. one per seed) and print their summary."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    rows = [r for res in results for r in res["rows"]]
    if rows and "condition" in rows[0]:
        summarize_nalsm(rows)
        pix = [res.get("raw_pixel_accuracy") for res in results if res.get("raw_pixel_accuracy") is not None]
        if pix:
            print(f"raw pixels, logistic regression: {pix[0]:.4f}")
    else:
        summarize_adaptive(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="part", required=True)
    a = sub.add_parser("nalsm")
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a.add_argument("--steps", type=int, default=100, help="presentation length (ms) of the frozen liquid")
    a.add_argument("--init-steps", type=int, default=20, help="presentation length in the plasticity phase")
    a.add_argument("--gain", type=float, default=0.1, help="spike probability per ms of a white pixel")
    a.add_argument("--input-density", type=float, default=0.8)
    a.add_argument("--astro-weights", type=float, nargs="+", default=[0.005, 0.01, 0.015, 0.03])
    a.add_argument("--C", type=float, default=0.1, help="inverse regularisation of the logistic readout")
    a.add_argument("--bf-samples", type=int, default=200)
    a.add_argument("--out", type=str, default=None)
    v = sub.add_parser("nalsm-convergence")
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    v.add_argument("--mode", default="astrocyte", choices=["astrocyte", "stdp", "none"])
    v.add_argument("--astro-weight", type=float, default=0.015)
    v.add_argument("--passes", type=int, default=5)
    v.add_argument("--steps", type=int, default=100)
    v.add_argument("--init-steps", type=int, default=20)
    v.add_argument("--gain", type=float, default=0.1)
    v.add_argument("--input-density", type=float, default=0.8)
    v.add_argument("--bf-samples", type=int, default=150)
    v.add_argument("--out", type=str, default=None)
    b = sub.add_parser("adaptive")
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    b.add_argument("--neurons", type=int, default=200)
    b.add_argument("--task-len", type=int, default=4000)
    b.add_argument("--adapt-len", type=int, default=2000)
    b.add_argument("--max-delay", type=int, default=60)
    b.add_argument("--rhos", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0, 8.0])
    b.add_argument("--global-gains", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    b.add_argument("--target-means", type=float, nargs="+", default=[0.15, 0.25, 0.35, 0.45])
    b.add_argument("--spread", type=float, default=0.8)
    b.add_argument("--eta", type=float, default=0.05)
    b.add_argument("--families", nargs="+", default=["global", "adaptive_homogeneous", "adaptive_heterogeneous"],
                   choices=["global", "global_wide", "adaptive_homogeneous", "adaptive_heterogeneous"])
    b.add_argument("--out", type=str, default=None)
    c = sub.add_parser("summarize", help="pool result files (e.g. one per seed) and print the table")
    c.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    if args.part == "summarize":
        summarize_files(args.files)
        return
    torch.set_num_threads(1)
    t0 = time.time()
    run = {"nalsm": run_nalsm, "nalsm-convergence": run_nalsm_convergence, "adaptive": run_adaptive}[args.part]
    result = run(args)
    result["provenance"] = provenance(args)
    result["seconds"] = time.time() - t0
    print(f"total {result['seconds']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
