"""A report card of any classifier: accuracy, activity, SynOps, bit budget and estimated energy
(compute and memory access, two published cost tables), with plots, in Markdown.

    card = report_card(model, test_loader, name="my model", out_dir="card")   # writes card/report.md
    print(card.markdown)

``model(x)`` maps a batch ``x`` (time-major ``[T, B, ...]``; ``static=True`` for ``[B, ...]``) to
class scores ``[B, K]``; ``loader`` yields ``(x, y)``. The card holds:

- accuracy, trainable parameters, time steps, SynOps (ACs, MACs) and firing rate per sample;
- the bit budget (``axonal.metrics.bit_budget``) at the card's precision;
- estimated energy per sample in each cost table, split into compute and memory access (weights,
  neuron state, activity), and per layer (``axonal.metrics.energy_model``);
- plots: firing rate per layer, energy per layer split compute / memory, accuracy against the
  number of time steps T (the input cut to its first t steps) and accuracy against energy.

Every energy figure is an estimate from a published table (Horowitz 45 nm; Jouppi et al. 7 nm),
not a measurement. ``combine_cards`` puts several cards (a model and its baselines) in one page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .bit_budget import bit_budget
from .cost_tables import format_bits
from .energy_model import EnergyRecorder
from .monitor import SpikeMonitor

__all__ = ["ReportCard", "report_card", "combine_cards"]

DEFAULT_TABLES = ("horowitz_45nm", "jouppi_7nm")


@dataclass
class ReportCard:
    """``markdown`` (the card), ``data`` (every number, JSON-ready) and the ``files`` written."""

    name: str
    markdown: str
    data: dict
    files: list[Path] = field(default_factory=list)


def _batches(loader, max_batches):
    out = []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise TypeError("report_card: the loader must yield (x, y) batches")
        out.append((batch[0], batch[1]))
    if not out:
        raise ValueError("report_card: the loader yielded no batch")
    return out


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _run(model, batches, steps: int | None, static: bool, monitor: bool):
    """Accuracy, EnergyRecorder and (optionally) SpikeMonitor of one pass, inputs cut to ``steps``."""
    dev = _device(model)
    correct = n = 0
    rec = EnergyRecorder(model, static=static)
    mon = SpikeMonitor(model) if monitor else None
    with rec:
        if mon is not None:
            mon.attach()
        try:
            for x, y in batches:
                x = x if steps is None else x[:steps]
                scores = model(x.to(dev))
                if scores.ndim != 2:
                    raise ValueError(f"report_card needs class scores [B, K] from the model, got shape "
                                     f"{tuple(scores.shape)}")
                correct += int((scores.argmax(1).cpu() == y).sum())
                n += len(y)
        finally:
            if mon is not None:
                mon.detach()
    report = None
    if mon is not None:
        report = mon.report(samples=n, steps=1.0 if static else None)
    return correct / n, rec, report, n


def _steps_grid(t: int) -> list[int]:
    return sorted({max(1, round(t * f)) for f in (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)})


def report_card(model: nn.Module, loader, *, name: str = "model", out_dir: str | Path | None = None,
                tables: Sequence[str] = DEFAULT_TABLES, precision: str = "fp32", static: bool = False,
                steps_grid: Sequence[int] | None = None, max_batches: int | None = None,
                description: str = "", sram: str = "32KB") -> ReportCard:
    """Measure ``model`` on ``loader`` and write its card (``report.md``, ``report.json``, plots)
    into ``out_dir`` (no files when None). See the module docstring."""
    was_training = model.training
    model.eval()
    try:
        batches = _batches(loader, max_batches)
        acc, rec, report, n = _run(model, batches, None, static, monitor=True)
        energies = {t: rec.breakdown(table=t, precision=precision, sram=sram) for t in tables}
        bits = format_bits(precision)
        bb = bit_budget(report, weight_bits=bits, activation_bits=bits)
        t_full = 1 if static else int(batches[0][0].shape[0])
        grid = [] if static or t_full < 2 else list(steps_grid or _steps_grid(t_full))
        curve = []
        for t in grid:
            a, r, _, _ = _run(model, batches, t, static, monitor=False)
            e = r.breakdown(table=tables[0], precision=precision, sram=sram)
            curve.append({"steps": t, "accuracy": a, "energy_j": e.total_j, "memory_j": e.memory_j})
    finally:
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    data = {
        "name": name, "description": description, "samples": n, "steps": t_full, "accuracy": acc,
        "trainable_parameters": params, "precision": precision, "sram": sram,
        "activity": report.to_dict(), "bit_budget": bb.to_dict(),
        "energy": {t: e.to_dict() for t, e in energies.items()}, "accuracy_vs_steps": curve,
    }
    files: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = _plots(out, name, report, energies[tables[0]], curve)
        data["plots"] = [f.name for f in files]
        (out / "report.json").write_text(json.dumps(data, indent=1, default=float))
        files.append(out / "report.json")
    md = _markdown(data, energies, report, bb, [f.name for f in files if f.suffix == ".png"])
    if out_dir is not None:
        (Path(out_dir) / "report.md").write_text(md)
        files.append(Path(out_dir) / "report.md")
    return ReportCard(name, md, data, files)


# ----------------------------------------------------------------------------- plots
def _plots(out: Path, name: str, report, energy, curve) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    layers = [l for l in report.layers if l.binary and not l.nested]
    fig, ax = plt.subplots(figsize=(5, 3))
    if layers:
        ax.bar(range(len(layers)), [l.firing_rate for l in layers], color="tab:blue")
        ax.set_xticks(range(len(layers)), [l.name.replace("net.layers.", "") for l in layers], rotation=30, ha="right")
        ax.set_ylabel("spikes / neuron / step")
    else:
        ax.text(0.5, 0.5, "no spiking layer", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
    ax.set_title(f"{name}: firing rate per layer", fontsize=9)
    files.append(_save(fig, out / "firing_rate.png"))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    shown = [l for l in energy.layers if l.total_j > 0]
    names = [f"{l.name.replace('net.layers.', '')} {l.kind}" for l in shown]
    parts = [("compute", [l.compute_j for l in shown], "tab:green"),
             ("weights", [l.weight_memory_j for l in shown], "tab:red"),
             ("state", [l.state_memory_j for l in shown], "tab:orange"),
             ("activity", [l.activation_memory_j for l in shown], "tab:purple")]
    bottom = [0.0] * len(names)
    for label, vals, color in parts:
        vals_nj = [v * 1e9 for v in vals]
        ax.bar(range(len(names)), vals_nj, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, vals_nj)]
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("nJ / sample (estimated)")
    ax.set_title(f"{name}: energy per layer, {energy.table} "
                 f"(memory {100 * energy.memory_share:.0f} %)", fontsize=9)
    ax.legend(fontsize=7)
    files.append(_save(fig, out / "energy_breakdown.png"))

    if curve:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.plot([c["steps"] for c in curve], [100 * c["accuracy"] for c in curve], "o-")
        ax.set_xlabel("time steps T (input cut to its first T steps)")
        ax.set_ylabel("accuracy %")
        ax.set_title(f"{name}: accuracy vs T", fontsize=9)
        files.append(_save(fig, out / "accuracy_vs_steps.png"))

        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.plot([c["energy_j"] * 1e9 for c in curve], [100 * c["accuracy"] for c in curve], "o-")
        ax.set_xlabel(f"estimated energy per sample, nJ ({energy.table})")
        ax.set_ylabel("accuracy %")
        ax.set_title(f"{name}: accuracy vs energy", fontsize=9)
        files.append(_save(fig, out / "accuracy_vs_energy.png"))
    return files


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- markdown
def _j(v: float) -> str:
    if v == 0:
        return "0"
    for unit, scale in (("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v / 1e-12:.3g} pJ"


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _markdown(data, energies, report, bb, pngs) -> str:
    name = data["name"]
    lines = [f"## {name}", ""]
    if data["description"]:
        lines += [data["description"], ""]
    lines += ["| measure | value |", "|---|---|",
              f"| accuracy | {100 * data['accuracy']:.2f} % ({data['samples']} samples) |",
              f"| trainable parameters | {data['trainable_parameters']:,} |",
              f"| time steps | {data['steps']} |",
              f"| SynOps / sample | {_num(report.synops)} (ACs {_num(report.acs)}, MACs {_num(report.macs)}) |",
              f"| dense MACs / sample | {_num(report.dense_macs)} |",
              f"| firing rate | {report.firing_rate:.4f} |" if any(l.binary for l in report.layers)
              else "| firing rate | - (no spiking layer) |",
              "| bit budget per op (b_w x b_in x T) | " + ", ".join(
                  sorted({f"{bb.weight_bits} x {l.input_bits} x {bb.steps:g} = {l.per_op:g}"
                          + (" (spike input)" if l.input_bits == bb.spike_bits else " (real-valued input)")
                          for l in bb.layers})) + " |",
              f"| bit operations / sample (dense / event-driven) | {_num(bb.dense_bit_ops)} / {_num(bb.event_bit_ops)} |"]
    for t, e in energies.items():
        lines.append(f"| energy / sample, {t} (estimated) | {_j(e.total_j)}: compute {_j(e.compute_j)}, "
                     f"memory {_j(e.memory_j)} ({100 * e.memory_share:.1f} %) |")
    lines += ["", f"Precision {data['precision']} (weights, state and non-spike activations), spikes 1 bit, "
              f"{data['sram']} SRAM; one weight read per operation; estimated energies from published tables, "
              "not measurements (`axonal.metrics.energy_model`).", ""]
    first = next(iter(energies.values()))
    lines += [f"Per layer ({first.table}, pJ per sample):", "",
              "| layer | type | ACs | MACs | compute | weights | state | activity | total |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for l in first.layers:
        if l.total_j == 0 and l.acs == 0 and l.macs == 0:
            continue  # e.g. an encoder that passes its input through
        lines.append(f"| {l.name} | {l.kind} | {_num(l.acs)} | {_num(l.macs)} | {l.compute_j * 1e12:,.1f} | "
                     f"{l.weight_memory_j * 1e12:,.1f} | {l.state_memory_j * 1e12:,.1f} | "
                     f"{l.activation_memory_j * 1e12:,.1f} | {l.total_j * 1e12:,.1f} |")
    spiking = [l for l in report.layers if l.binary and not l.nested]
    if spiking:
        lines += ["", "| spiking layer | neurons | firing rate |", "|---|---:|---:|"]
        lines += [f"| {l.name} | {l.neurons} | {l.firing_rate:.4f} |" for l in spiking]
    if data["accuracy_vs_steps"]:
        lines += ["", "| T | accuracy | energy / sample |", "|---:|---:|---:|"]
        lines += [f"| {c['steps']} | {100 * c['accuracy']:.2f} % | {_j(c['energy_j'])} |"
                  for c in data["accuracy_vs_steps"]]
    if pngs:
        lines.append("")
        lines += [f"![{p[:-4].replace('_', ' ')}]({p})" for p in pngs]
    return "\n".join(lines) + "\n"


def combine_cards(cards: Sequence[ReportCard], title: str, *, prefixes: Sequence[str] | None = None,
                  intro: str = "") -> str:
    """One Markdown page: a comparison table of ``cards`` and then each card. ``prefixes`` are the
    folders (relative to the page) holding each card's images."""
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    lines += ["| model | accuracy | params | T | SynOps / sample | energy / sample (45 nm) | memory share |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cards:
        e = next(iter(c.data["energy"].values()))["totals"]
        syn = c.data["activity"]["totals"]["synops"]
        lines.append(f"| {c.name} | {100 * c.data['accuracy']:.2f} % | {c.data['trainable_parameters']:,} | "
                     f"{c.data['steps']} | {_num(syn)} | {_j(e['total_j'])} | {100 * e['memory_share']:.1f} % |")
    lines.append("")
    for i, c in enumerate(cards):
        md = c.markdown
        if prefixes is not None:
            for p in c.data.get("plots", []):
                md = md.replace(f"]({p})", f"]({prefixes[i]}/{p})")
        lines += [md, ""]
    return "\n".join(lines)
