"""Character-level language models on the Python standard-library corpus: the results table.

Same corpus (``axonal.data.text``), same token budget and same evaluation for every model: one
pass over the first ``--train-chars`` characters of the training split (8 contiguous rows, 64-step
truncated BPTT windows, Adam with one-cycle learning rate), test bits per character over the first
``--eval-chars`` characters of the test split (state carried), operations per token counted on a
test window (:mod:`axonal.models.sequence.cost`). Sizes are chosen near 100 k parameters each.

    python -m experiments.language_models --seeds 0 1 2 --out experiments/results/language_models.json

Each finished run is appended to the JSON at once (the file is rewritten atomically), so a long run
that is stopped keeps what it finished; ``--models`` picks a subset.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from axonal.provenance import environment
from axonal.train.checkpoint import write_json
from axonal.train.language import LanguageRunConfig, train_language_model

#: name -> (model name, options): about 100 k parameters each
MODELS = {
    "SpikeGPT": ("spikegpt", dict(d_model=64, n_layers=2, ffn_mult=3)),
    "RWKV (SpikeGPT without spikes)": ("rwkv", dict(d_model=64, n_layers=2, ffn_mult=3)),
    "EGRU": ("egru", dict(d_embed=32, hidden=144)),
    "SpikingBrain-style": ("spiking_brain", dict(d_model=72, n_layers=2, heads=4, ffn_mult=2)),
    "AstroSNN": ("astrosnn", dict(d_embed=32, hidden=256)),
    "LIF-SNN (AstroSNN without astrocytes)": ("lif_snn", dict(d_embed=32, hidden=256)),
    "LSTM": ("lstm", dict(d_embed=32, hidden=128)),
    "GRU": ("gru", dict(d_embed=32, hidden=144)),
    "Transformer": ("transformer", dict(d_model=64, n_layers=2, heads=4, ffn_mult=4, max_len=64)),
}


def summarize(runs: list[dict]) -> list[dict]:
    rows = []
    for label, (name, _) in MODELS.items():
        rs = [r for r in runs if r["model"] == name]
        if not rs:
            continue

        def ms(f):
            v = [f(r) for r in rs]
            v = [x for x in v if x is not None]
            if not v:
                return None, None
            return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

        rows.append({"label": label, "model": name, "seeds": [r["seed"] for r in rs],
                     "test_bpc": ms(lambda r: r["test_bpc"]), "parameters": rs[0]["parameters"],
                     "synops_per_token": ms(lambda r: r["cost_per_token"]["synops"]),
                     "acs_per_token": ms(lambda r: r["cost_per_token"]["acs"]),
                     "macs_per_token": ms(lambda r: r["cost_per_token"]["macs"]),
                     "energy_per_token_j": ms(lambda r: r["cost_per_token"]["energy_j"]),
                     "activity_sparsity": ms(lambda r: r["cost_per_token"]["activity_sparsity"]),
                     "train_tokens_per_s": ms(lambda r: r["train_tokens_per_s"])})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=None, help="model names (e.g. egru lstm); default all")
    ap.add_argument("--train-chars", type=int, default=250_000)
    ap.add_argument("--eval-chars", type=int, default=50_000)
    ap.add_argument("--out", default="experiments/results/language_models.json")
    ap.add_argument("--runs", default=None, help="folder for the run folders (checkpoints, for `axonal generate`)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.is_file() else {"runs": []}
    for seed in args.seeds:                     # all models of one seed before the next seed
        for label, (name, options) in MODELS.items():
            if args.models and name not in args.models:
                continue
            if any(r["model"] == name and r["seed"] == seed and r["train_tokens"] >= args.train_chars * 0.9
                   and r["config"]["train_chars"] == args.train_chars for r in data["runs"]):
                continue
            cfg = LanguageRunConfig(model=name, model_options=options, seed=seed, train_chars=args.train_chars,
                                    eval_chars=args.eval_chars)
            run_dir = Path(args.runs) / f"{name}-s{seed}" if args.runs else None
            r = train_language_model(cfg, run_dir)
            r.pop("environment")
            data["runs"].append(r)
            data["table"] = summarize(data["runs"])
            data["environment"] = environment()
            write_json(out, data)
            print(f"{label:40s} seed {seed}: test bpc {r['test_bpc']:.3f}  params {r['parameters']:,}  "
                  f"{r['train_tokens_per_s']:.0f} tok/s  synops/token {r['cost_per_token']['synops']:.0f}", flush=True)
    return data


if __name__ == "__main__":
    main()


def _fmt(ms, digits=3, scale=1.0):
    m, s = ms
    if m is None:
        return "—"
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}" if s else f"{m * scale:.{digits}f}"


def render_table(data: dict) -> str:
    """The Markdown table of a results file (mean ± sample std over the seeds listed)."""
    lines = ["| model | seeds | test bpc | params | SynOps/token (ACs / MACs) | energy/token (nJ) | activity sparsity | train tokens/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in data["table"]:
        lines.append(f"| {r['label']} | {len(r['seeds'])} | {_fmt(r['test_bpc'])} | {r['parameters']:,} | "
                     f"{r['synops_per_token'][0]:,.0f} ({r['acs_per_token'][0]:,.0f} / {r['macs_per_token'][0]:,.0f}) | "
                     f"{_fmt(r['energy_per_token_j'], 3, 1e9)} | {_fmt(r['activity_sparsity'], 2)} | "
                     f"{_fmt(r['train_tokens_per_s'], 0)} |")
    return "\n".join(lines)


def render_samples(data: dict, seed: int = 0) -> str:
    out = []
    for label, (name, _) in MODELS.items():
        r = [r for r in data["runs"] if r["model"] == name and r["seed"] == seed]
        if r:
            out.append(f"**{label}** (test bpc {r[0]['test_bpc']:.2f}):\n\n```text\n{r[0]['sample']}\n```\n")
    return "\n".join(out)
