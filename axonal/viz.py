"""Plots people would rather look at than tables: spike rasters, membrane traces, training curves.

Every function builds a ``matplotlib.figure.Figure`` on the Agg canvas (no display, no pyplot
global state, safe on servers and in threads), saves it as PNG when ``path`` is given and
returns the Figure. Inputs are torch tensors or numpy arrays, time-major like the rest of axonal.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PathLike = str | os.PathLike


def _numpy(x: Any, who: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu")
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    raise TypeError(f"{who}: expected a torch.Tensor or numpy array, got {type(x).__name__}")


def _new_figure(figsize) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike | None, dpi: int) -> Figure:
    if path is not None:
        path = Path(path)
        if path.suffix.lower() not in ("", ".png"):
            raise ValueError(f"plots are saved as PNG; give a path ending in .png, got {str(path)!r}")
        if path.suffix == "":
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    return fig


def _pick_sample(a: np.ndarray, sample: int, who: str, what: str) -> np.ndarray:
    if a.ndim == 3:
        if not -a.shape[1] <= sample < a.shape[1]:
            raise IndexError(f"{who}: sample={sample} out of range for batch size {a.shape[1]}")
        return a[:, sample]
    if a.ndim == 2:
        return a
    hint = (" Flatten the neuron dimensions first, e.g. x.flatten(2)." if a.ndim > 3
            else " Add a neuron axis, e.g. x[:, None]." if a.ndim == 1 else "")
    raise ValueError(f"{who}: {what} must be [T, N] or [T, B, N] (time-major), got shape {a.shape}.{hint}")


# ----------------------------------------------------------------------------- raster
def raster(
    spikes: Any,
    path: PathLike | None = None,
    *,
    sample: int = 0,
    title: str = "Spike raster",
    dt: float = 1.0,
    time_unit: str = "step",
    figsize: tuple[float, float] = (8.0, 4.0),
    dpi: int = 120,
) -> Figure:
    """Spike raster: a mark at (time, neuron) for every nonzero entry of ``spikes``.

    ``spikes`` is ``[T, N]`` or ``[T, B, N]`` (then sample ``sample`` is drawn). Only the
    nonzero events are drawn (one scatter of their coordinates), so thousands of neurons over
    long runs stay cheap; time on x (``t * dt`` in ``time_unit``), neuron index on y.
    """
    a = _pick_sample(_numpy(spikes, "raster"), sample, "raster", "spikes")
    t_idx, n_idx = np.nonzero(a)
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    n_steps, n_neurons = a.shape
    # marker height about one neuron row, bounded so that dense plots stay readable
    size = float(np.clip(2000.0 / max(n_neurons, 1), 1.0, 40.0))
    ax.scatter(t_idx * dt, n_idx, marker="|", s=size, linewidths=max(0.3, min(1.5, 300.0 / max(n_steps, 1))),
               color="black")
    ax.set_xlim(-0.5 * dt, (n_steps - 0.5) * dt)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("neuron")
    rate = len(t_idx) / a.size if a.size else 0.0
    ax.set_title(f"{title}  ({len(t_idx)} events, rate {rate:.3f}/neuron/step)" if title else "")
    return _save(fig, path, dpi)


# ----------------------------------------------------------------------------- membrane
def _membrane_array(v: Any) -> np.ndarray:
    # a State NamedTuple stacked over time (NeuronModule.trace): take its membrane field
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        if "v" in v._fields:
            v = v.v
        elif "neuron" in v._fields:  # RecurrentState(neuron=State, spikes)
            return _membrane_array(v.neuron)
        else:
            v = v[0]
    return _numpy(v, "membrane_trace")


def membrane_trace(
    v: Any,
    spikes: Any = None,
    threshold: float | Sequence[float] | Any = None,
    neurons: Iterable[int] | None = None,
    path: PathLike | None = None,
    *,
    sample: int = 0,
    dt: float = 1.0,
    time_unit: str = "step",
    title: str = "Membrane potential",
    max_neurons: int = 5,
    figsize: tuple[float, float] | None = None,
    dpi: int = 120,
) -> Figure:
    """Membrane traces, one panel per neuron, with the threshold and the spike times.

    ``v`` is ``[T, N]`` / ``[T, B, N]`` or the stacked states from ``module.trace(x)`` (its
    ``v`` field is used). ``spikes`` (same shape) marks spike times with ticks at the threshold level;
    ``threshold`` is a number or one value per neuron, drawn dashed. ``neurons`` picks which
    (default: the first ``max_neurons``).
    """
    a = _pick_sample(_membrane_array(v), sample, "membrane_trace", "v")
    n_steps, n_neurons = a.shape
    s = None
    if spikes is not None:
        s = _numpy(spikes, "membrane_trace")
        s = _pick_sample(s, sample, "membrane_trace", "spikes")
        if s.shape != a.shape:
            raise ValueError(f"membrane_trace: spikes have shape {s.shape} but v has {a.shape} (after picking the sample)")
    idx = list(range(min(n_neurons, max_neurons))) if neurons is None else [int(i) for i in neurons]
    if not idx:
        raise ValueError("membrane_trace: no neurons selected")
    bad = [i for i in idx if not -n_neurons <= i < n_neurons]
    if bad:
        raise IndexError(f"membrane_trace: neuron indices {bad} out of range for {n_neurons} neurons")
    thr = None
    if threshold is not None:
        t = np.asarray(threshold if isinstance(threshold, (int, float)) else _numpy(threshold, "membrane_trace"),
                       dtype=float).reshape(-1)
        if t.size not in (1, n_neurons):
            raise ValueError(f"membrane_trace: threshold must be a number or one value per neuron "
                             f"({n_neurons}), got {t.size} values")
        thr = np.broadcast_to(t, (n_neurons,))
    fig = _new_figure(figsize or (8.0, 1.2 + 1.3 * len(idx)))
    axes = fig.subplots(len(idx), 1, sharex=True, squeeze=False)[:, 0]
    time = np.arange(n_steps) * dt
    for ax, i in zip(axes, idx):
        ax.plot(time, a[:, i], color="C0", linewidth=1.0, label="v")
        if thr is not None:
            ax.axhline(thr[i], color="C3", linestyle="--", linewidth=0.8, label="threshold")
        if s is not None:
            ts = np.nonzero(s[:, i])[0]
            # recorded states are post-reset, so the spike is marked at the threshold (or the top
            # of the trace), not on the reset value
            level = thr[i] if thr is not None else (np.nanmax(a[:, i]) if n_steps else 0.0)
            ax.plot(ts * dt, np.full(len(ts), level), linestyle="none", marker="|", markersize=10,
                    markeredgewidth=1.5, color="C3", label="spike")
        ax.set_ylabel(f"n{i % n_neurons}")
    axes[0].set_title(title)
    axes[-1].set_xlabel(f"time ({time_unit})")
    if thr is not None or s is not None:
        axes[0].legend(loc="upper right", fontsize="small")
    return _save(fig, path, dpi)


# ----------------------------------------------------------------------------- training curves
def _load_history(source: Any) -> list[dict]:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            for name in ("metrics.csv", "metrics.jsonl", "metrics.json", "history.json"):
                if (p / name).exists():
                    p = p / name
                    break
            else:
                raise FileNotFoundError(f"training_curves: no metrics.csv / metrics.jsonl / metrics.json in {p}")
        if not p.exists():
            raise FileNotFoundError(f"training_curves: {p} does not exist")
        if p.suffix == ".csv":
            with open(p, newline="") as f:
                return [dict(r) for r in csv.DictReader(f)]
        if p.suffix == ".jsonl":
            with open(p) as f:
                return [json.loads(line) for line in f if line.strip()]
        if p.suffix == ".json":
            with open(p) as f:
                return _load_history(json.load(f))
        raise ValueError(f"training_curves: read .csv, .json or .jsonl files, got {p.name}")
    if isinstance(source, Mapping):
        if "history" in source:
            return _load_history(source["history"])
        lengths = {len(v) for v in source.values() if isinstance(v, (list, tuple))}
        if len(lengths) == 1 and all(isinstance(v, (list, tuple)) for v in source.values()):
            n = lengths.pop()
            return [{k: v[i] for k, v in source.items()} for i in range(n)]
        raise ValueError("training_curves: a dict history must be {'history': [...]} or {metric: [values per epoch]}")
    if isinstance(source, Sequence) and all(isinstance(r, Mapping) for r in source):
        return [dict(r) for r in source]
    raise TypeError(f"training_curves: history must be a list of dicts or a path, got {type(source).__name__}")


def _float(v) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _matches(column: str, metric: str) -> bool:
    if column == metric:
        return True
    for sep in ("_", "/", "-", "."):
        if column.endswith(sep + metric) or column.startswith(metric + sep):
            return True
    return False


def training_curves(
    history: Any,
    metrics: Sequence[str] = ("loss", "accuracy"),
    path: PathLike | None = None,
    *,
    x: str = "epoch",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 120,
) -> Figure:
    """Per-epoch curves, one panel per metric, one line per split.

    ``history`` is a list of dicts (one per epoch), ``{metric: [values]}``, or a path to a
    ``metrics.csv`` / ``.jsonl`` / ``.json`` file (or a run directory holding one). For each
    name in ``metrics`` every column equal to it or carrying it with a split prefix/suffix
    (``train_loss``, ``val_loss``, ``val/loss``, ``loss_test`` ...) is drawn against column ``x``
    (the row index when absent). Missing or non-numeric entries are skipped.
    """
    rows = _load_history(history)
    if not rows:
        raise ValueError("training_curves: the history is empty")
    if isinstance(metrics, str):
        metrics = (metrics,)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    fig = _new_figure(figsize or (5.0 * len(metrics), 3.6))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        cols = [c for c in columns if c != x and _matches(c, metric)]
        if not cols:
            raise ValueError(f"training_curves: no column for metric {metric!r}; columns are {columns}")
        for c in cols:
            xs, ys = [], []
            for i, r in enumerate(rows):
                y = _float(r.get(c))
                if y is None:
                    continue
                xv = _float(r.get(x)) if x in r else float(i)
                xs.append(float(i) if xv is None else xv)
                ys.append(y)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=c)
        ax.set_xlabel(x if x in columns else "row")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, path, dpi)
