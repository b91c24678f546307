"""The ``axonal`` command: train a recipe, evaluate a checkpoint, list datasets and recipes.

    axonal train basic_motions                         # a built-in recipe
    axonal train my_recipe.yaml --set optimiser.lr=0.01 --set model.hidden=[128] --out runs/a
    axonal train --resume runs/a                       # continue an interrupted run
    axonal train my_recipe.yaml --import mymodels      # a model of the user's own module
    axonal train smoke --nproc 2                       # data-parallel on 2 local processes (torchrun)
    torchrun --nproc-per-node 4 -m axonal train smoke  # the same under torchrun (several machines too)
    axonal eval runs/a                                 # re-test the best checkpoint
    axonal report runs/a                               # report card (Markdown + plots) of the run and its baselines
    axonal simulate coba --backend nest --threads 2     # the COBA network on NEST (through PyNN)
    axonal datasets / axonal recipes
    axonal generate runs/lm --prompt "def " --tokens 200   # sample text from a trained language model

``--import MODULE`` imports a module of the user's (which registers models with
``axonal.models.register_model``) from the Python path or the current folder, as ``python -m``
would. Importing runs the module's code, so axonal imports only what the user names: ``--import``
or the ``imports:`` of a recipe file given on the command line; a run folder (``--resume``,
``eval``, ``report``) never makes it import anything.

A run folder that holds a run of another recipe is not overwritten unless ``--overwrite``.

Errors (bad recipe, missing or corrupt checkpoint, ...) print one line ``error: ...`` and exit
with code 2; set ``AXONAL_DEBUG=1`` to see the traceback instead.

Each command imports what it needs when it runs (the training stack loads torch, the model zoo
and the datasets), so ``axonal --help`` and the listings answer without that start-up cost.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="axonal: train and measure spiking neural networks.")


def _fail(exc: BaseException) -> None:
    if os.environ.get("AXONAL_DEBUG"):
        raise exc
    msg = " ".join(str(exc).split()) or type(exc).__name__
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code=2)


def _fmt_energy(joules: float) -> str:
    for unit, scale in (("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9)):
        if abs(joules) >= scale:
            return f"{joules / scale:.3g} {unit}"
    return f"{joules / 1e-12:.3g} pJ"


def _summary(test: dict) -> str:
    return (f"test accuracy {test['accuracy']:.4f} ({test['samples']} samples)  |  "
            f"SynOps/sample {test['synops']:,.0f} (ACs {test['acs']:,.0f}, MACs {test['macs']:,.0f})  |  "
            f"energy/sample {_fmt_energy(test['energy_j'])} (dense ANN same shape "
            f"{_fmt_energy(test['energy_dense_j'])}; 45 nm table)  |  firing rate {test['firing_rate']:.4f}")


_IMPORT_HELP = ("import this module of yours first, e.g. one that registers your model (repeatable); "
                "importing runs its code, so name only modules you trust")


def _import(modules: Optional[List[str]]) -> None:
    """Import the user's modules named with --import, from the Python path or the current folder."""
    if not modules:
        return
    from .recipes import import_modules  # lazy: see the module docstring

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())   # as `python -m` does: the user's own folder
    import_modules(modules, "--import")


@app.command()
def train(
    config: Optional[str] = typer.Argument(None, help="recipe file (.yaml/.json) or built-in recipe name"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="override a key: section.key=value (repeatable)"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run in this folder"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default: the recipe's output.dir)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a run of another recipe in the run folder"),
    import_: Optional[List[str]] = typer.Option(None, "--import", help=_IMPORT_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    nproc: int = typer.Option(1, "--nproc", min=1,
                              help="data-parallel processes on this machine (started by torchrun; gloo on CPU, "
                                   "NCCL on CUDA); data.batch_size stays the global batch"),
    max_restarts: int = typer.Option(0, "--max-restarts", min=0,
                                     help="with --nproc: restart all processes this often after one fails; "
                                          "they resume from the last checkpoint"),
) -> None:
    """Train a recipe; writes checkpoints, metrics, plots and results.json into the run folder."""
    if nproc > 1 or max_restarts:
        _launch(nproc, max_restarts, config, set_, resume, out, overwrite, import_, quiet)
        return
    trainer = None
    try:
        from .recipes import load_config, upgrade_recipe  # lazy: see the module docstring
        from .train import CheckpointError, Trainer, load_checkpoint

        t0 = time.perf_counter()
        _import(import_)
        if resume is not None:
            if out is not None and Path(out) != Path(resume):
                raise ValueError("--out and --resume name different folders; a resumed run stays in its folder")
            if overwrite:
                raise ValueError("--overwrite and --resume contradict each other: a resume continues the run")
            recipe = load_config(config, set_ or ()) if config is not None else None
            if recipe is None and set_:
                record = load_checkpoint(Path(resume) / "checkpoints" / "last.json", resume=True)
                if not isinstance(record.get("config"), dict):
                    raise CheckpointError(f"checkpoint {record['path']} holds no recipe; train again")
                recipe = load_config(upgrade_recipe(record["config"]), set_, allow_imports=False)
            trainer = Trainer.resume(resume, quiet=quiet, config=recipe)
        else:
            if config is None:
                raise ValueError("give a recipe file or built-in recipe name (see: axonal recipes), "
                                 "or --resume RUN_DIR")
            recipe = load_config(config, set_ or ())
            run_dir = Path(out if out is not None else recipe.output.dir)
            if int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0) > 0 and (run_dir / "checkpoints" / "last.json").is_file():
                # torchrun --max-restarts started this process again after a failure: continue the run
                trainer = Trainer.resume(run_dir, quiet=quiet, config=recipe)
                results = trainer.fit()
                _report_train(results, trainer, t0)
                return
            if import_:   # the run records which modules its model needs (eval and resume ask for them)
                recipe.imports = list(dict.fromkeys([*recipe.imports, *import_]))
            trainer = Trainer(recipe, run_dir=out, quiet=quiet, overwrite=overwrite)
        results = trainer.fit()
    except KeyboardInterrupt:
        run_dir = trainer.run_dir if trainer is not None else (resume or out)
        if run_dir is not None and (Path(run_dir) / "checkpoints" / "last.json").is_file():
            typer.echo(f"interrupted; continue with: axonal train --resume {run_dir}", err=True)
        else:
            typer.echo("interrupted before the first checkpoint was written; nothing to resume: "
                       "run the same command again", err=True)
        raise typer.Exit(code=130)
    except typer.Exit:
        raise
    except Exception as exc:  # every failure becomes one readable line
        _fail(exc)
        return
    _report_train(results, trainer, t0)


def _report_train(results: dict, trainer, t0: float) -> None:
    if "test" not in results:   # a data-parallel rank other than 0: rank 0 reports
        return
    typer.echo(f"{results['recipe']}: {results['epochs_run']} epochs (best {results['best_epoch']}), "
               f"{time.perf_counter() - t0:.1f} s")
    typer.echo(_summary(results["test"]))
    if results.get("baselines"):
        typer.echo(_baseline_table(results["baselines"]))
    typer.echo(f"run folder: {trainer.run_dir}")


def _launch(nproc, max_restarts, config, set_, resume, out, overwrite, import_, quiet) -> None:
    """``axonal train --nproc N``: run the same command in N local processes under torchrun."""
    import subprocess

    from .train.distributed import launch_command  # lazy: imports torch

    if os.environ.get("WORLD_SIZE"):
        _fail(ValueError("--nproc inside a torchrun worker: give the process count to torchrun only"))
    args = ["train"] + ([config] if config is not None else [])
    for item in set_ or ():
        args += ["--set", item]
    for module in import_ or ():
        args += ["--import", module]
    if resume is not None:
        args += ["--resume", str(resume)]
    if out is not None:
        args += ["--out", str(out)]
    args += ["--overwrite"] * overwrite + ["--quiet"] * quiet
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    code = subprocess.call(launch_command(nproc, args, max_restarts=max_restarts), env=env)
    if code:
        typer.echo(f"error: the data-parallel run failed (exit code {code}); see the messages above", err=True)
        raise typer.Exit(code=2)


def _baseline_table(rows: list) -> str:
    """The recipe's main model beside its baselines (same splits), one line each."""
    lines = ["model vs baselines (same splits):",
             f"  {'model':<22}{'test acc':>9}{'params':>9}{'SynOps/sample':>15}{'energy/sample':>15}"]
    for r in rows:
        syn = f"{r['synops']:,.0f}" if r.get("synops") is not None else "-"
        en = _fmt_energy(r["energy_j"]) if r.get("energy_j") else "-"
        lines.append(f"  {r['architecture']:<22}{r['test_accuracy']:>9.4f}{r['trainable_parameters']:>9,}"
                     f"{syn:>15}{en:>15}")
    return "\n".join(lines)


@app.command("eval")
def eval_(
    checkpoint: Path = typer.Argument(..., help="run folder, its checkpoints/ folder, or a checkpoint .json"),
    split: str = typer.Option("test", help="train, val or test"),
    import_: Optional[List[str]] = typer.Option(None, "--import", help=_IMPORT_HELP),
) -> None:
    """Reload a run's recipe and weights and evaluate them (accuracy, SynOps, energy)."""
    try:
        from .train import evaluate_checkpoint  # lazy: see the module docstring

        _import(import_)
        result = evaluate_checkpoint(checkpoint, split=split)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(f"{result['recipe']}: checkpoint {result['checkpoint']} (epoch {result['epoch']}), split {split}")
    typer.echo(_summary(result).replace("test accuracy", f"{split} accuracy"))


@app.command()
def report(
    run: Path = typer.Argument(..., help="run folder written by axonal train"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder of the report (default: RUN/report)"),
    split: str = typer.Option("test", help="train, val or test"),
    import_: Optional[List[str]] = typer.Option(None, "--import", help=_IMPORT_HELP),
) -> None:
    """Write the report card of a run and its baselines: accuracy, SynOps, bit budget, estimated energy."""
    try:
        from .train.report import report_run  # lazy: see the module docstring

        _import(import_)
        path = report_run(run, out, split=split)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(f"report card: {path}")


@app.command()
def generate(
    run: Path = typer.Argument(..., help="language-model run folder (axonal.train.language.train_language_model)"),
    prompt: str = typer.Option("def ", "--prompt", help="text to continue"),
    tokens: int = typer.Option(200, "--tokens", min=1, help="characters to sample"),
    temperature: float = typer.Option(0.8, "--temperature", min=1e-3, help="softmax temperature"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
) -> None:
    """Sample text from a trained character-level language model."""
    try:
        from .train.language import generate as sample, load_language_run  # lazy: see the module docstring

        model, _ = load_language_run(run)
        text = sample(model, prompt, tokens, temperature=temperature, seed=seed)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(text)


@app.command()
def simulate(
    network: str = typer.Argument("coba", help="COBA preset (coba, brian2_benchmark) or a COBA YAML file"),
    backend: str = typer.Option("axonal", help="axonal (this process) or nest (NEST through PyNN)"),
    threads: int = typer.Option(1, "--threads", min=1, help="NEST threads (backend nest)"),
    seed: int = typer.Option(0, help="seed of connectivity and initial values"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="override a key: key=value (repeatable)"),
    script: Optional[Path] = typer.Option(None, "--script",
                                          help="write a standalone PyNN script (+ its network .npz) for a cluster "
                                               "(mpirun -n P python SCRIPT) instead of running"),
) -> None:
    """Simulate the COBA network here or on NEST; print rates, ISI CV and timings."""
    try:
        import yaml

        from .reservoir.coba import build_coba, load_coba_config, run_coba  # lazy: see the module docstring

        overrides = {}
        for item in set_ or ():
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set takes key=value, got {item!r}")
            overrides[key.strip()] = yaml.safe_load(value)
        cfg = load_coba_config(network, overrides)
        if backend not in ("axonal", "nest"):
            raise ValueError(f"--backend must be axonal or nest, got {backend!r}")
        if script is not None or backend == "nest":
            from .export.pynn import network_spec, simulate_nest, write_script
            from .metrics.spike_statistics import isi_cv

            net, state = build_coba(cfg, seed)
            spec = network_spec(net, state, duration_ms=cfg.duration_ms, seed=seed)
            if script is not None:
                path, data = write_script(spec, script)
                typer.echo(f"wrote {path} and {data}; run: mpirun -n P python {path.name} --threads K")
                return
            out = simulate_nest(spec, threads=threads)
            res = out["result"]
            rates = res.rates_hz().numpy()
            cv = isi_cv(res.spike_times, res.spike_neurons, cfg.n)
            import numpy as np

            summary = dict(rate_hz=float(rates.mean()), cv_isi=float(np.nanmean(cv)), n_spikes=int(res.spike_times.numel()),
                           build_s=out["build_s"], run_s=out["run_s"])
        else:
            summary = run_coba(cfg, seed=seed).to_dict()
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(f"COBA {cfg.n} neurons, {cfg.duration_ms:g} ms on {backend}"
               f"{f' ({threads} threads)' if backend == 'nest' else ''}: rate {summary['rate_hz']:.2f} Hz, "
               f"ISI CV {summary['cv_isi']:.3f}, {summary['n_spikes']} spikes; build {summary['build_s']:.2f} s, "
               f"run {summary['run_s']:.2f} s")


@app.command()
def datasets() -> None:
    """List the datasets that load_dataset knows, one line each."""
    from .data import available_datasets  # lazy: see the module docstring

    items = available_datasets()
    width = max(map(len, items))
    for name, desc in items.items():
        typer.echo(f"{name.ljust(width)}  {desc}")


@app.command()
def recipes() -> None:
    """List the built-in recipes (train one with: axonal train NAME)."""
    from .recipes import available_recipes  # lazy: see the module docstring

    items = available_recipes()
    width = max(map(len, items))
    for name, desc in items.items():
        typer.echo(f"{name.ljust(width)}  {desc}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
