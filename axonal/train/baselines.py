"""Baselines of a recipe: the models a user would pick instead, trained on the same splits.

A recipe may list ``baselines`` (model sections, e.g. ``{architecture: lstm, parameter_budget:
match}`` and ``{architecture: minirocket}``). After the main model, :func:`run_baselines` trains
each one with the recipe's data, encoder, optimiser and training settings (without the main
model's firing-rate regulariser) — the same split
seed, so the same train / validation / test samples — in ``<run>/baselines/<i>_<architecture>``,
and returns one comparison row per model (the main model first): test accuracy, trainable
parameters, SynOps, energy per sample and firing rate, so the result table always shows the
alternatives beside the model of interest.

``parameter_budget: match`` sizes an LSTM to the main model's trainable-parameter count.
"""
from __future__ import annotations

__all__ = ["run_baselines", "comparison_row", "describe_model"]


def describe_model(section) -> str:
    """Short label of a model section: the architecture and what tells its variants apart."""
    arch = getattr(section, "architecture", "?")
    if arch in ("l2mu", "spiking_rnn"):
        return f"{arch}/{section.neuron}"
    if arch == "elm":
        return f"{'branch_elm' if section.branch else 'elm'}(tau_max={section.tau_max:g})"
    return arch


def _trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def comparison_row(name: str, architecture: str, results: dict, trainable: int, run_dir: str) -> dict:
    """One row of the comparison table from a run's ``results.json`` content."""
    test = results["test"]
    return {"name": name, "architecture": architecture, "test_accuracy": test["accuracy"],
            "trainable_parameters": trainable, "synops": test.get("synops"), "macs": test.get("macs"),
            "energy_j": test.get("energy_j"), "firing_rate": test.get("firing_rate"),
            "epochs_run": results.get("epochs_run"), "run_dir": run_dir}


def run_baselines(trainer, results: dict) -> list[dict]:
    """Train every baseline of ``trainer.config`` (whose main model is trained) and return the
    comparison rows, main model first. Each baseline is trained by a trainer of the same class
    as ``trainer`` (``type(trainer)(recipe, run_dir=..., quiet=..., overwrite=...)``); a baseline's folder
    of an overwritten run is overwritten with it."""
    cfg = trainer.config
    main_params = _trainable(trainer.model)
    rows = [comparison_row("main", describe_model(cfg.model), results, main_params,
                           str(trainer.run_dir))]
    for i, section in enumerate(cfg.baselines):
        section = section.model_copy()
        arch = section.architecture
        if getattr(section, "parameter_budget", None) == "match":
            section.parameter_budget = main_params
        data = cfg.to_dict()
        data.pop("baselines", None)
        # the firing-rate regulariser is tuned to the main model's spiking layers; a baseline
        # (an LSTM, MiniRocket, another neuron) trains without it, as a user would pick it
        data.get("training", {}).pop("rate_regulariser", None)
        data["name"] = f"{cfg.name}:{arch}"
        data["model"] = section.model_dump(mode="json")
        run_dir = trainer.run_dir / "baselines" / f"{i}_{arch}"
        sub = type(trainer)(data, run_dir=run_dir, quiet=trainer.quiet, overwrite=getattr(trainer, "overwrite", False))
        trainer._log(f"baseline {i + 1}/{len(cfg.baselines)}: {arch}")
        res = sub.fit()
        rows.append(comparison_row(f"baseline {i}", describe_model(section), res, _trainable(sub.model), str(run_dir)))
    return rows
