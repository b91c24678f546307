"""Learned vs fixed random vs no synaptic delays on the procedural timing task.

Reproduces the ablation of Hammouamri, Khalfaoui-Hassani & Masquelier (ICLR 2024, arXiv
2306.17670) offline: learned DCLS delays > fixed random delays > no delays. The task
(:mod:`axonal.data.timing_task`) has classes that differ only in the relative timing of
spikes across channels, so the no-delay network should sit near chance.

Each model is the paper's architecture (:class:`axonal.models.dcls_delays.DCLSDelaySNN`) with
one hidden layer of 64 LIF neurons, the paper's optimiser split (Adam, positions at 100x the
weight learning rate, cosine schedule on positions, OneCycle on weights) and its Gaussian-width
schedule. Test accuracy is always measured with integer delays (``model.eval()``); for learned
delays the accuracy with the final Gaussian form is reported too (the rounding cost).

The task follows the reproduction spec (T = 100, 10 classes, offsets 0..24, start in 0..60,
+-1 jitter, 10 % dropped spikes, 2 % background noise per step and channel, max delay 25, one
hidden layer of 64 LIF) except for its channels: 8 channels that all fire once per sample, on
offsets 3 steps apart, instead of 20 channels of which 6 fire per class (which channels fire would
give the class away to spike counts; see :mod:`axonal.data.timing_task`). Training is shorter than
the paper's (25 epochs of 1000 samples; positions at 30x the weights' learning rate instead of
100x over 150 epochs).

Usage::

    python -m experiments.delays_timing_task --seeds 0 1 2 --out results.json

Writes a JSON file with every run and prints mean +- std per model. The three seeds take about
5 minutes of CPU (one thread); on the shared 2-core machine, under a load average of 20-33, they
took 25 minutes of wall time (results in experiments/RESULTS.md).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from axonal.data.timing_task import TimingTaskConfig, timing_task_splits
from axonal.models.dcls_delays import DCLSDelaySNN
from axonal.synapses.delay import delayed_layers
from axonal.train import environment


def evaluate(model, x, y, batch_size=500, integer=True):
    model.eval()
    saved = [m.mode for m in delayed_layers(model)]
    for m in delayed_layers(model):
        m.mode = "integer" if integer else "gaussian"
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[1], batch_size):
            out = model(x[:, i:i + batch_size])
            correct += int((model.predict(out) == y[i:i + batch_size]).sum())
    for m, mode in zip(delayed_layers(model), saved):
        m.mode = mode
    return correct / x.shape[1]


def delay_spread(model):
    """Mean absolute deviation of the first layer's (rounded) delays: grows when delays spread."""
    layers = delayed_layers(model)
    if not layers:
        return 0.0
    d = layers[0].clamped_position().detach()
    return float((d - d.mean()).abs().mean())


def run(delays, seed, args, data):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    cfg = data_config(args)
    model = DCLSDelaySNN(cfg.n_channels, cfg.n_classes, hidden=(args.hidden,), max_delay=args.max_delay,
                         delays=delays, tau=args.tau, dropout=args.dropout, backend=args.backend,
                         generator=g)
    groups = model.param_groups(args.lr, args.lr * args.position_lr_factor, args.weight_decay)
    opt_w = torch.optim.Adam([gr for gr in groups if gr["name"] != "positions"])
    pos_groups = [gr for gr in groups if gr["name"] == "positions"]
    opt_p = torch.optim.Adam(pos_groups) if pos_groups else None
    sched_w = torch.optim.lr_scheduler.OneCycleLR(opt_w, max_lr=args.lr * 5, total_steps=args.epochs)
    sched_p = (torch.optim.lr_scheduler.CosineAnnealingLR(opt_p, T_max=args.epochs)
               if opt_p else None)
    spread0 = delay_spread(model)
    n = xtr.shape[1]
    t_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.start_epoch(epoch, args.epochs)
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, args.batch_size):
            idx = perm[i:i + args.batch_size]
            out = model(xtr[:, idx])
            loss = model.loss(out, ytr[idx])
            opt_w.zero_grad()
            if opt_p:
                opt_p.zero_grad()
            loss.backward()
            opt_w.step()
            if opt_p:
                opt_p.step()
            model.after_step()
        sched_w.step()
        if sched_p:
            sched_p.step()
        if args.verbose:
            print(f"  [{delays} seed {seed}] epoch {epoch + 1}/{args.epochs} loss {float(loss.detach()):.3f} "
                  f"test {evaluate(model, xte, yte):.3f}", flush=True)
    result = dict(
        delays=delays, seed=seed, train_seconds=time.perf_counter() - t_start,
        test_acc=evaluate(model, xte, yte, integer=True),
        train_acc=evaluate(model, xtr, ytr, integer=True),
        delay_spread_start=spread0, delay_spread_end=delay_spread(model),
    )
    if delays == "learn":
        result["test_acc_gaussian"] = evaluate(model, xte, yte, integer=False)
    return result


def data_config(args):
    return TimingTaskConfig(n_channels=args.channels, n_classes=args.classes, noise_rate=args.noise)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--noise", type=float, default=0.02,
                   help="background spikes per step and channel (the reproduction spec: 2%%)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--max-delay", type=int, default=25)
    p.add_argument("--tau", type=float, default=1.005)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--position-lr-factor", type=float, default=30.0,
                   help="positions lr = factor x weights lr (paper: 100 over 150 epochs)")
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--models", nargs="+", default=["none", "random", "learn"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--backend", default="auto", help="LIF backend: auto (fused kernel if any) or scan")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--verbose", action="store_true", help="print the test accuracy after every epoch")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = []
    for seed in args.seeds:
        data = timing_task_splits(args.n_train, args.n_test, data_config(args), seed=seed,
                                  pattern_seed=seed)
        for delays in args.models:
            r = run(delays, seed, args, data)
            runs.append(r)
            print(json.dumps(r), flush=True)
    summary = {}
    for delays in args.models:
        accs = torch.tensor([r["test_acc"] for r in runs if r["delays"] == delays])
        summary[delays] = dict(mean=float(accs.mean()), std=float(accs.std()) if len(accs) > 1 else 0.0,
                               n=len(accs))
        extra = ""
        if delays == "learn":
            ga = torch.tensor([r["test_acc_gaussian"] for r in runs if r["delays"] == delays])
            summary[delays]["gaussian_mean"] = float(ga.mean())
            extra = f"   (Gaussian form {100 * ga.mean():.1f}%)"
        print(f"{delays:>7}: test accuracy {100 * accs.mean():.1f} +- {100 * summary[delays]['std']:.1f}% "
              f"over {len(accs)} seeds{extra}")
    print(f"chance: {100 / args.classes:.1f}%")
    if args.out:
        env = environment()
        record = dict(args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                      runs=runs, summary=summary, torch=env["torch"], python=env["python"],
                      commit=env["git_commit"], environment=env)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return summary


if __name__ == "__main__":
    main()
