"""Long-memory neuron models against the baselines a user would pick instead (issue 6).

Tables (mean ± std over seeds):

1. ``har``: test accuracy on BasicMotions and JapaneseVowels (aeon, offline) of L2MU (LIF and
   CuBa), the non-spiking LMU, ELM, an AM-SU recurrent SNN, a LIF recurrent SNN, an LSTM of
   matched parameter count (matched to the L2MU-LIF) and MiniRocket (aeon, optional), with
   parameters, SynOps and energy per sample for the spiking models.
2. ``adding``: spike-coded digit adding (label = sum of two digits) with a settable silent gap:
   accuracy vs gap for ELM with long memory time constants, ELM with short ones, an LSTM of
   matched size, and a LIF recurrent SNN (plus AM-SU).
3. ``copy``: delayed recall of 5 symbols after 10 / 50 / 200 blank steps: per-symbol accuracy of
   LIF, adaptive LIF, AM-SU, ELM and LSTM.

Every model is trained with Adam, early stopping on a validation split (best validation
accuracy restored), and evaluated once on the test split. Inputs of the HAR sets are
z-normalised per channel with training statistics and fed raw (no spike encoding).

    python -m experiments.long_memory [--seeds 0 1 2] [--tables har adding copy] [--quick]
        [--epochs-scale 1.0] [--out results/long_memory.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from axonal.data.long_horizon import IGNORE_INDEX, DelayedRecall, DigitsAdding
from axonal.models.long_memory import (
    ELMClassifier,
    L2MUClassifier,
    LMUClassifier,
    LSTMClassifier,
    SpikingRNNClassifier,
    count_parameters,
    lstm_hidden_for_budget,
)
from axonal.train import environment

SPIKING = {"l2mu_lif", "l2mu_cuba", "amsu", "lif", "alif"}
PARTIAL: Path | None = None   # where finished runs are written as they come (set by main)


def save_partial(table: str, rows: list) -> None:
    """Write the runs finished so far (``{table: {"runs": rows}}``), so that an interrupted run
    keeps its results; ``--merge`` reads these files like final ones."""
    if PARTIAL is None:
        return
    data = json.loads(PARTIAL.read_text()) if PARTIAL.exists() else {}
    data[table] = {"runs": rows}
    tmp = PARTIAL.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(PARTIAL)


# ============================================================================ data
def _zscore(train: np.ndarray, *others: np.ndarray):
    mu = train.mean(axis=(0, 2), keepdims=True)
    sd = train.std(axis=(0, 2), keepdims=True) + 1e-8
    return [(a - mu) / sd for a in (train, *others)]


def _pad_left(xs: list, length: int) -> np.ndarray:
    """Unequal-length [C, T_i] series -> [N, C, length], zeros before each series (so the last
    step of every sample is real data for last-step readouts)."""
    c = xs[0].shape[0]
    out = np.zeros((len(xs), c, length), dtype=np.float32)
    for i, a in enumerate(xs):
        a = np.asarray(a, dtype=np.float32)[:, -length:]
        out[i, :, length - a.shape[1]:] = a
    return out


def load_uea(name: str, seed: int, val_fraction: float = 0.2):
    """Train/val/test arrays ``x [N, T, C]`` (float32, z-normalised) and int labels from aeon.

    The validation split is stratified and drawn from the training set with ``seed``.
    """
    try:
        from aeon.datasets import load_classification
    except ImportError as exc:  # pragma: no cover
        raise ImportError("the HAR recipes load aeon's bundled UEA sets: pip install aeon") from exc
    xtr, ytr = load_classification(name, split="train")
    xte, yte = load_classification(name, split="test")
    if isinstance(xtr, list) or isinstance(xte, list):
        length = max(max(a.shape[1] for a in xtr), max(a.shape[1] for a in xte))
        # z-normalise on the real values only, then pad
        cat = np.concatenate([np.asarray(a, dtype=np.float64) for a in xtr], axis=1)
        mu, sd = cat.mean(1, keepdims=True), cat.std(1, keepdims=True) + 1e-8
        xtr = _pad_left([(a - mu) / sd for a in xtr], length)
        xte = _pad_left([(a - mu) / sd for a in xte], length)
    else:
        xtr, xte = _zscore(xtr.astype(np.float64), xte.astype(np.float64))
    classes = sorted(set(ytr.tolist()))
    enc = {c: i for i, c in enumerate(classes)}
    ytr = np.array([enc[v] for v in ytr])
    yte = np.array([enc[v] for v in yte])
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in range(len(classes)):
        idx = np.flatnonzero(ytr == c)
        rng.shuffle(idx)
        val_idx.extend(idx[: max(1, int(round(len(idx) * val_fraction)))])
    val_mask = np.zeros(len(ytr), dtype=bool)
    val_mask[val_idx] = True
    t = lambda a: torch.tensor(np.transpose(a, (0, 2, 1)), dtype=torch.float32).contiguous()
    return {
        "train": (t(xtr[~val_mask]), torch.tensor(ytr[~val_mask])),
        "val": (t(xtr[val_mask]), torch.tensor(ytr[val_mask])),
        "test": (t(xte), torch.tensor(yte)),
        "raw": (xtr, ytr, xte, yte, val_mask),
        "n_classes": len(classes),
    }


# ============================================================================ training
def batches(x, y, batch, shuffle, gen=None):
    n = len(x)
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for i in range(0, n, batch):
        idx = order[i:i + batch]
        xb = x[idx].transpose(0, 1)  # [T, B, C]
        yb = y[idx]
        yield xb, (yb.t() if yb.ndim == 2 else yb)


def loss_and_correct(model, xb, yb, per_step: bool):
    out, _ = model(xb)
    if per_step:  # yb [T, B] with IGNORE_INDEX outside the recall window
        logits = out.reshape(-1, out.shape[-1])
        target = yb.reshape(-1)
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
        mask = target != IGNORE_INDEX
        correct = (logits.argmax(-1)[mask] == target[mask]).sum().item()
        return loss, correct, int(mask.sum())
    logits = model.reduce(out)
    loss = F.cross_entropy(logits, yb)
    return loss, (logits.argmax(-1) == yb).sum().item(), len(yb)


@torch.no_grad()
def evaluate(model, x, y, per_step, batch=256):
    model.eval()
    tot_loss, correct, n = 0.0, 0, 0
    for xb, yb in batches(x, y, batch, False):
        loss, c, k = loss_and_correct(model, xb, yb, per_step)
        tot_loss += float(loss) * k
        correct += c
        n += k
    return tot_loss / n, correct / n


def train(model, data, *, epochs, lr, batch, patience, seed, per_step=False, clip=1.0, log=None):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    best = (-1.0, float("inf"))
    best_state, best_epoch, bad = None, 0, 0
    xtr, ytr = data["train"]
    for epoch in range(epochs):
        model.train()
        for xb, yb in batches(xtr, ytr, batch, True, gen):
            loss, _, _ = loss_and_correct(model, xb, yb, per_step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        sched.step()
        vloss, vacc = evaluate(model, *data["val"], per_step)
        if (vacc, -vloss) > (best[0], -best[1]):
            best, best_state, best_epoch, bad = (vacc, vloss), copy.deepcopy(model.state_dict()), epoch, 0
        else:
            bad += 1
        if log:
            log(f"    epoch {epoch:3d} val_acc {vacc:.3f} val_loss {vloss:.3f}")
        if bad >= patience:
            break
    model.load_state_dict(best_state)
    return {"best_epoch": best_epoch, "val_acc": best[0], "epochs_run": epoch + 1}


@torch.no_grad()
def measure_ops(model, x, batch=256):
    """SynOps (ACs + MACs) and energy per sample from ``axonal.metrics.SpikeMonitor``."""
    from axonal.metrics import SpikeMonitor, energy

    model.eval()
    n = len(x)
    with SpikeMonitor(model) as mon:
        for xb, _ in batches(x, torch.zeros(n), batch, False):
            model(xb)
    rep = mon.report(samples=n, steps=float(x.shape[1]))
    e = energy(rep)
    return {"synops": rep.synops, "acs": rep.acs, "macs": rep.macs, "energy_J": e.snn, "dense_energy_J": e.ann}


def lstm_macs(model: LSTMClassifier, steps: int) -> float:
    h, n = model.lstm.hidden_size, model.lstm.input_size
    return float(steps) * (4 * h * (n + h) + h * model.head.out_features)


# ============================================================================ model zoo
def build(name: str, n_in: int, n_out: int, cfg: dict):
    ro = cfg.get("readout")  # None: each model's default readout ("last"; L2MU: spike count)
    if name == "l2mu_lif":
        return L2MUClassifier(n_in, n_out, neuron="lif", **cfg["l2mu"])
    if name == "l2mu_cuba":
        return L2MUClassifier(n_in, n_out, neuron="cuba_lif", **cfg["l2mu"])
    if name == "lmu":
        kw = {k: v for k, v in cfg["l2mu"].items() if k in ("hidden_size", "memory_size", "order", "theta")}
        return LMUClassifier(n_in, n_out, readout=ro, **kw)
    if name in ("elm", "elm_long"):
        return ELMClassifier(n_in, n_out, readout=ro, **cfg["elm_long"])
    if name == "elm_short":
        return ELMClassifier(n_in, n_out, readout=ro, **cfg["elm_short"])
    if name == "branch_elm":
        return ELMClassifier(n_in, n_out, branch=True, readout=ro, **cfg["elm_long"])
    if name in ("lif", "alif", "amsu"):  # result labels; the neurons' catalog names:
        neuron = {"lif": "lif", "alif": "adaptive_lif", "amsu": "astrocyte_lif"}[name]
        return SpikingRNNClassifier(n_in, n_out, neuron=neuron, readout=ro, **cfg["snn"])
    if name == "lstm":
        ref = build(cfg["lstm_match"], n_in, n_out, cfg)
        return LSTMClassifier(n_in, n_out, lstm_hidden_for_budget(n_in, n_out, count_parameters(ref)), readout=ro)
    raise ValueError(name)


def run_model(name, data, n_in, n_out, cfg, seed, per_step=False, log=None):
    torch.manual_seed(seed)
    model = build(name, n_in, n_out, cfg)
    tr = cfg["train"].get(name, cfg["train"]["default"])
    t0 = time.time()
    info = train(model, data, seed=seed, per_step=per_step, log=log, **tr)
    _, acc = evaluate(model, *data["test"], per_step)
    res = {"model": name, "seed": seed, "test_acc": acc, "params": count_parameters(model),
           "train_s": time.time() - t0, **info}
    if name in SPIKING or name.startswith("elm") or name == "branch_elm":
        res.update(measure_ops(model, data["test"][0]))
    elif name == "lstm":
        macs = lstm_macs(model, data["test"][0].shape[1])
        res.update({"synops": macs, "acs": 0.0, "macs": macs, "energy_J": macs * 4.6e-12})
    return res


def run_minirocket(data, seed):
    """aeon's MiniRocket (Dempster et al., KDD 2021) on the same train (train+val) / test split."""
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError as exc:
        raise ImportError("the MiniRocket baseline needs aeon (optional dependency): pip install aeon") from exc
    xtr, ytr, xte, yte, _ = data["raw"]
    t0 = time.time()
    clf = MiniRocketClassifier(random_state=seed, n_jobs=1)
    clf.fit(np.asarray(xtr, dtype=np.float32), ytr)
    acc = float((clf.predict(np.asarray(xte, dtype=np.float32)) == yte).mean())
    return {"model": "minirocket", "seed": seed, "test_acc": acc, "params": None, "train_s": time.time() - t0}


# ============================================================================ configs
def config(quick: bool, scale: float):
    e = lambda n: max(2, int(round(n * scale * (0.25 if quick else 1.0))))
    return {
        "l2mu": dict(hidden_size=48, memory_size=16, order=4, theta=16.0, input_module=3),
        "elm_long": dict(num_memory=32, tau_min=1.0, tau_max=400.0),
        "elm_short": dict(num_memory=32, tau_min=1.0, tau_max=20.0),
        "snn": dict(hidden_size=64, tau_mem=10.0, tau_slow=200.0),
        "lstm_match": "l2mu_lif",
        "train": {
            "default": dict(epochs=e(40), lr=5e-3, batch=16, patience=12),
            "l2mu_lif": dict(epochs=e(40), lr=3e-3, batch=8, patience=12),
            "l2mu_cuba": dict(epochs=e(40), lr=3e-3, batch=8, patience=12),
        },
    }


def seq_config(quick: bool, scale: float, match: str):
    cfg = config(quick, scale)
    e = lambda n: max(2, int(round(n * scale * (0.25 if quick else 1.0))))
    cfg["lstm_match"] = match
    cfg["train"] = {"default": dict(epochs=e(20), lr=5e-3, batch=32, patience=6)}
    return cfg


# ============================================================================ tables
def summarize(rows, key_fields):
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in key_fields), []).append(r)
    out = []
    for key, rs in groups.items():
        accs = np.array([r["test_acc"] for r in rs]) * 100
        s = dict(zip(key_fields, key))
        s.update(n=len(rs), acc_mean=float(accs.mean()), acc_std=float(accs.std(ddof=1)) if len(rs) > 1 else 0.0,
                 params=rs[0].get("params"), train_s=float(np.mean([r["train_s"] for r in rs])))
        if "chance" in rs[0]:
            s["chance"] = float(np.mean([r["chance"] for r in rs])) * 100
        measured = [r for r in rs if r.get("synops") is not None]  # runs recovered from logs carry accuracy only
        if measured:
            s["synops"] = float(np.mean([r["synops"] for r in measured]))
            s["energy_nJ"] = float(np.mean([r["energy_J"] for r in measured])) * 1e9
            s["n_ops"] = len(measured)
        if s["params"] is None:
            s["params"] = next((r["params"] for r in rs if r.get("params") is not None), None)
        out.append(s)
    return out


def markdown(summary, key_fields, title):
    chance = any("chance" in s for s in summary) and "chance" not in key_fields
    lines = [f"### {title}", "", "| " + " | ".join(key_fields) + " | test acc % (mean ± std, n) | "
             + ("chance % | " if chance else "") + "params | SynOps/sample | energy/sample (nJ) | train s/run |",
             "|" + "---|" * (len(key_fields) + 5 + chance)]
    for s in summary:
        syn = f"{s['synops']:.3g}" if s.get("synops") is not None else "-"
        en = f"{s['energy_nJ']:.3g}" if s.get("energy_nJ") is not None else "-"
        lines.append("| " + " | ".join(str(s[k]) for k in key_fields) +
                     f" | {s['acc_mean']:.1f} ± {s['acc_std']:.1f} ({s['n']}) | "
                     + (f"{s.get('chance', float('nan')):.1f} | " if chance else "")
                     + f"{s['params'] or '-'} | {syn} | {en} |"
                     f" {s['train_s']:.0f} |")
    return "\n".join(lines)


HAR_MODELS = ("l2mu_lif", "l2mu_cuba", "lmu", "elm", "amsu", "lif", "lstm", "minirocket")


def table_har(seeds, quick, scale, log, datasets=("BasicMotions", "JapaneseVowels"), models=HAR_MODELS,
              readout="mean"):
    """HAR / speech table. Whole-sequence labels of stationary activities: the non-L2MU models
    read out the time-average of their output (``readout="mean"``; the L2MU counts output spikes,
    which is the same up to a scale). With ``readout="last"`` (each model's own default) the LMU,
    LSTM and recurrent SNNs lose 20-40 points on BasicMotions (seed 0, 40 epochs: LMU 57.5 vs 97.5,
    LSTM 67.5 vs 82.5): their gradient then comes from the last step only."""
    rows = []
    for ds in datasets:
        for seed in seeds:
            data = load_uea(ds, seed)
            n_in, n_out = data["train"][0].shape[2], data["n_classes"]
            cfg = config(quick, scale)
            cfg["readout"] = readout
            if ds == "JapaneseVowels":  # 216 training series: larger batches keep the epoch cost of BasicMotions
                for k in ("l2mu_lif", "l2mu_cuba"):
                    cfg["train"][k] = dict(cfg["train"][k], batch=16)
            for m in models:
                if m == "minirocket":
                    continue
                r = run_model(m, data, n_in, n_out, cfg, seed)
                r["dataset"] = ds
                rows.append(r)
                save_partial("har", rows)
                log(f"[har] {ds} seed {seed} {m}: acc {r['test_acc']:.3f} ({r['train_s']:.0f}s, "
                    f"{r['epochs_run']} ep)")
            if "minirocket" not in models:
                continue
            try:
                r = run_minirocket(data, seed)
                r["dataset"] = ds
                rows.append(r)
                save_partial("har", rows)
                log(f"[har] {ds} seed {seed} minirocket: acc {r['test_acc']:.3f}")
            except ImportError as exc:
                log(f"[har] skipping MiniRocket: {exc}")
    return rows


def table_adding(seeds, quick, scale, log, gaps=(0, 30, 90), models=("elm_long", "elm_short", "lstm", "lif"),
                 n_train=600, n_test=400, n_classes=5, label="sum"):
    rows = []
    for seed, gap in [(s, g) for s in seeds for g in gaps]:  # seed-major: every finished seed has all gaps
        kw = dict(gap=gap, repeat=1, n_classes=n_classes, label=label)
        full = DigitsAdding(n_train, split="train", seed=seed, **kw)
        test = DigitsAdding(n_test, split="test", seed=seed, **kw)
        n_val = n_train // 5
        data = {"train": (full.x[n_val:], full.y[n_val:]), "val": (full.x[:n_val], full.y[:n_val]),
                "test": (test.x, test.y)}
        chance = float(torch.bincount(test.y).max()) / len(test.y)
        cfg = seq_config(quick, scale, "elm_long")
        for m in models:
            r = run_model(m, data, 16, full.n_classes, cfg, seed)
            r.update(gap=gap, chance=chance)
            rows.append(r)
            save_partial("adding", rows)
            log(f"[adding] gap {gap} seed {seed} {m}: acc {r['test_acc']:.3f} (chance {chance:.3f}, "
                f"{r['train_s']:.0f}s, {r['epochs_run']} ep)")
    return rows


def table_copy(seeds, quick, scale, log, delays=(10, 50, 200), models=("lif", "alif", "amsu", "elm_long", "lstm"),
               n_train=600, n_test=300):
    rows = []
    for delay in delays:
        for seed in seeds:
            full = DelayedRecall(n_train, delay, seed=seed)
            test = DelayedRecall(n_test, delay, seed=10_000 + seed)
            n_val = n_train // 5
            data = {"train": (full.x[n_val:], full.y[n_val:]), "val": (full.x[:n_val], full.y[:n_val]),
                    "test": (test.x, test.y)}
            cfg = seq_config(quick, scale, "amsu")
            cfg["snn"] = dict(hidden_size=64, tau_mem=10.0, tau_slow=max(50.0, 2.0 * delay), readout_decay=0.0)
            for m in models:
                r = run_model(m, data, full.channels, full.n_symbols, cfg, seed, per_step=True)
                r.update(delay=delay)
                rows.append(r)
                save_partial("copy", rows)
                log(f"[copy] delay {delay} seed {seed} {m}: acc {r['test_acc']:.3f} ({r['train_s']:.0f}s, "
                    f"{r['epochs_run']} ep)")
    return rows


TABLES = {"har": (["dataset", "model"], "HAR / speech: test accuracy"),
          "adding": (["gap", "model"], "Two spike-coded digits separated by a gap"),
          "copy": (["delay", "model"], "Delayed recall (5 of 8 symbols), per-symbol accuracy (chance 12.5%)")}


def merge(paths, out):
    """Concatenate the runs of several result files table by table and summarise them again."""
    merged = {"merged_from": list(paths), "commit": environment()["git_commit"]}
    md = []
    for table, (keys, title) in TABLES.items():
        rows, seen = [], set()
        for p in paths:  # a (setting, model, seed) measured twice counts once: the first file wins
            for r in json.loads(Path(p).read_text()).get(table, {}).get("runs", []):
                key = tuple(r.get(k) for k in keys) + (r.get("seed"),)
                if key not in seen:
                    seen.add(key)
                    rows.append(r)
        if rows:
            merged[table] = {"runs": rows, "summary": summarize(rows, keys)}
            md.append(markdown(merged[table]["summary"], keys, title))
    merged["markdown"] = "\n\n".join(md)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(merged, indent=1, default=float))
    print(merged["markdown"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tables", nargs="+", default=["har", "adding", "copy"], choices=["har", "adding", "copy"])
    ap.add_argument("--quick", action="store_true", help="a quarter of the epochs (smoke run)")
    ap.add_argument("--epochs-scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/long_memory.json")
    ap.add_argument("--adding-label", default="sum", choices=["first", "sum"],
                    help="digits task label: 'sum' of both digits (default, the task of the ELM paper) or "
                         "'first' (recall the first digit across the gap and a distractor digit)")
    ap.add_argument("--datasets", nargs="+", default=["BasicMotions", "JapaneseVowels"])
    ap.add_argument("--models", nargs="+", default=None, help="subset of the models of each table")
    ap.add_argument("--har-readout", default="mean", choices=["mean", "last"])
    ap.add_argument("--n-train", type=int, default=None, help="training sequences of the adding / copy tasks")
    ap.add_argument("--gaps", type=int, nargs="+", default=[0, 30, 90])
    ap.add_argument("--delays", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="combine result files of separate runs (e.g. one per seed) into one table; no training")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    torch.set_num_threads(args.threads)
    global PARTIAL
    PARTIAL = Path(args.out).with_suffix(".partial.json")
    log = lambda s: print(s, flush=True)
    t0 = time.time()
    results = {"seeds": args.seeds, "quick": args.quick, "epochs_scale": args.epochs_scale,
               "torch": torch.__version__, "python": platform.python_version(), "commit": environment()["git_commit"],
               "config": config(args.quick, args.epochs_scale)}
    md = []
    if "har" in args.tables:
        rows = table_har(args.seeds, args.quick, args.epochs_scale, log, datasets=tuple(args.datasets),
                         models=tuple(args.models or HAR_MODELS), readout=args.har_readout)
        results["har"] = {"runs": rows, "summary": summarize(rows, ["dataset", "model"])}
        md.append(markdown(results["har"]["summary"], ["dataset", "model"], "HAR / speech: test accuracy"))
    if "adding" in args.tables:
        kw = {"n_train": args.n_train} if args.n_train else {}
        if args.models:
            kw["models"] = tuple(args.models)
        rows = table_adding(args.seeds, args.quick, args.epochs_scale, log, gaps=tuple(args.gaps),
                            label=args.adding_label, **kw)
        results["adding"] = {"runs": rows, "summary": summarize(rows, ["gap", "model"])}
        md.append(markdown(results["adding"]["summary"], ["gap", "model"],
                           f"Two spike-coded digits separated by a gap, label = {args.adding_label} digit(s)"))
    if "copy" in args.tables:
        kw = {"n_train": args.n_train} if args.n_train else {}
        if args.models:
            kw["models"] = tuple(args.models)
        rows = table_copy(args.seeds, args.quick, args.epochs_scale, log, delays=tuple(args.delays), **kw)
        results["copy"] = {"runs": rows, "summary": summarize(rows, ["delay", "model"])}
        md.append(markdown(results["copy"]["summary"], ["delay", "model"],
                           "Delayed recall (5 of 8 symbols), per-symbol accuracy (chance 12.5%)"))
    results["wall_s"] = time.time() - t0
    results["markdown"] = "\n\n".join(md)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=float))
    tmp.replace(out)
    print(results["markdown"])
    print(f"\nwall time {results['wall_s']:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
