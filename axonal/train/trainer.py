"""The training loop: a recipe in, a run folder out.

``Trainer(recipe).fit()`` trains the recipe's model on its dataset and writes, into the run
folder (``output.dir`` or ``run_dir=``)::

    config.json            the validated recipe
    checkpoints/           last.json + weights every epoch, best.json + weights (axonal.train.checkpoint)
    metrics.csv, .json     one row per epoch: loss, accuracy, firing rate, learning rate, time
    results.json           test accuracy, SynOps, energy per sample, seed, versions, git commit
    raster.png             spikes of a hidden layer for one test sample
    training_curves.png    loss and accuracy per epoch

Model hooks, used when the model has them: ``optimizer_groups(lr, weight_decay)`` (its own
optimiser parameter groups), ``start_epoch(epoch, epochs)`` (before each training epoch) and
``after_step()`` (after each optimiser step); ``axonal.models.dcls_delays`` uses all three.

Run folders are not overwritten by accident: training into a folder that holds a run of another
recipe is refused unless ``overwrite=True`` (``axonal train --overwrite``) or the run is resumed;
a folder path that is a file or cannot be written is reported before any work starts.
``load_model(run_dir, which="best")`` gives a trained model back with its weights.

Data-parallel: started by ``torchrun`` (or ``axonal train --nproc N``) each process trains its
shard of every global batch and the gradients are averaged over the global batch, so the run
follows the one-process trajectory; rank 0 alone writes the run folder (``axonal.train.distributed``).

Reproducibility: every seed comes from the recipe; each epoch's shuffling order is derived from
``(seed, epoch)`` alone, and the torch / numpy / python RNG states are saved with every
checkpoint, so ``Trainer.resume(run_dir).fit()`` after an interruption ends with the same
weights and metrics as a run that was never interrupted.
"""
from __future__ import annotations

import csv
import io
import json
import math
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..data import load_dataset, make_loader
from ..encoding import get_encoder
from ..metrics import SpikeMonitor, energy
from ..models import build_model
from ..provenance import environment
from ..recipes import ConfigError, Recipe, load_config, upgrade_recipe
from . import checkpoint as ckpt
from . import distributed
from .baselines import run_baselines
from .online import backward_batch
from .regularisers import FiringRateRegulariser

__all__ = ["Trainer", "evaluate_checkpoint", "load_model", "epoch_seed", "environment"]

#: the files ``Trainer.fit`` writes into a run folder (besides ``checkpoints/``); an overwrite removes these only
RUN_FILES = ("config.json", "metrics.csv", "metrics.json", "results.json", "raster.png", "training_curves.png")


def epoch_seed(seed: int, epoch: int) -> int:
    """Shuffling seed of ``epoch``: a function of ``(seed, epoch)`` only, never of run history."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch)]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device is 'cuda' but no CUDA device is available; set training.device=cpu or auto")
    return torch.device(name)


class Trainer:
    """Train, validate, checkpoint and test the model of a recipe.

    ``config``: a ``Recipe``, a recipe file / built-in name or a dict (``overrides`` are dotted
    ``key=value`` strings). ``run_dir`` overrides ``output.dir``. ``quiet`` silences progress
    output; the progress bar also stays off when stderr is not a terminal. ``callbacks`` are
    called as ``fn(trainer, row)`` after each epoch's checkpoint is written.
    """

    def __init__(self, config: Recipe | str | Path | dict, *, overrides: Sequence[str] = (),
                 run_dir: str | Path | None = None, quiet: bool = False,
                 callbacks: Sequence[Callable] = (), overwrite: bool = False):
        self.config = config if isinstance(config, Recipe) and not overrides else load_config(config, overrides)
        self.run_dir = Path(run_dir if run_dir is not None else self.config.output.dir)
        self.overwrite = overwrite
        self.quiet = quiet
        self.callbacks = list(callbacks)
        self.history: list[dict] = []
        self.state = {"best_value": None, "best_epoch": None, "bad_epochs": 0, "stopped_early": False}
        self._built = False

    # ------------------------------------------------------------------ set-up
    @classmethod
    def resume(cls, run_dir: str | Path, *, quiet: bool = False, callbacks: Sequence[Callable] = (),
               config: Recipe | None = None) -> "Trainer":
        """A trainer that continues the run in ``run_dir`` from its ``last`` checkpoint.

        ``config`` (optional) must equal the run's recipe except for ``training.epochs`` and
        ``output``; otherwise the run's own recipe is used.
        """
        folder = Path(run_dir) / "checkpoints"
        record = ckpt.load_checkpoint(folder / "last.json", resume=True)
        stored = recipe_of(record)
        history, state = _run_state(record)
        if config is not None and config.training.epochs < record["epoch"]:
            raise ValueError(
                f"{run_dir} has already run {record['epoch']} epochs, so training.epochs={config.training.epochs} "
                f"would train nothing (and record epochs: {config.training.epochs} beside epochs_run: "
                f"{record['epoch']}); give training.epochs above {record['epoch']} to train on, or test the "
                f"run as it is with: axonal eval {run_dir}")
        if config is not None:
            a, b = stored.to_dict(), config.to_dict()
            a["training"]["epochs"] = b["training"]["epochs"]
            a["output"] = b["output"]
            diff = _differences(a, b)
            if diff:
                raise ValueError(f"cannot resume {run_dir} with a different recipe (changed: {', '.join(diff)}); "
                                 "resume without a recipe, or only change training.epochs")
            stored = config
        if distributed.env_rank() == 0:
            ckpt.remove_orphans(folder)   # weights and temporary files a killed run left behind
        trainer = cls(stored, run_dir=run_dir, quiet=quiet, callbacks=callbacks)
        trainer._resume_record = record
        trainer.history, trainer.state = history, state
        return trainer

    def build(self) -> "Trainer":
        """Seed, load the data, build encoder, model, optimiser and scheduler; a resumed trainer
        (:meth:`resume`) also loads the checkpoint's weights, optimiser, scheduler and RNG states."""
        cfg = self.config
        if cfg.training.threads:
            torch.set_num_threads(cfg.training.threads)
        self.device = _device(self._join())
        seed_everything(cfg.training.seed)
        d = cfg.data
        self.splits = load_dataset(d.name, seed=cfg.split_seed, val_fraction=d.val_fraction,
                                   standardize=d.standardize, **d.options)
        self.info = self.splits.info
        encoder = get_encoder(cfg.encoder.name, **cfg.encoder.options)
        if getattr(encoder, "standardize", False) and hasattr(encoder, "fit"):
            train = self.splits.train
            encoder.fit(train.x, None if train.static else train.valid_mask())
        self.model = build_model(cfg.model, self.info, encoder).to(self.device)
        if hasattr(self.model, "fit_splits"):  # gradient-free baseline (MiniRocket): fitted here, deterministically
            self.model.fit_splits(self.splits)
        o = cfg.optimiser
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.trains_by_gradient:
            self.optimizer = self.scheduler = None
            return self._restored()
        if callable(getattr(self.model, "optimizer_groups", None)):
            # a model with its own parameter groups (e.g. DCLS delays: positions at another lr)
            params = [g for g in self.model.optimizer_groups(lr=o.lr, weight_decay=o.weight_decay)
                      if g["params"]]
        if o.name == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        else:
            cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
            self.optimizer = cls(params, lr=o.lr, weight_decay=o.weight_decay, eps=o.eps)
        s = o.scheduler
        if s.name == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.training.epochs)
        elif s.name == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=s.step_size, gamma=s.gamma)
        else:
            self.scheduler = None
        return self._restored()

    def _restored(self) -> "Trainer":
        record = getattr(self, "_resume_record", None)
        if record is not None:
            ckpt.restore(record, self.model, self.optimizer, self.scheduler, rng=True)
        self.dist.broadcast_module(self.model)
        self._built = True
        return self

    def _join(self) -> str:
        """Join torchrun's process group if there is one (once); returns the device name to train on."""
        if not hasattr(self, "dist"):
            self.dist, self._device_name = distributed.setup(self.config.training.device)
        return self._device_name

    @property
    def trains_by_gradient(self) -> bool:
        """False for models fitted in ``build`` (``trains_by_gradient = False``, e.g. MiniRocket):
        their epoch loop runs once and only measures."""
        return bool(getattr(self.model, "trains_by_gradient", True))

    def _loader(self, split, shuffle: bool, epoch: int = 0):
        seed = epoch_seed(self.config.training.seed, epoch) if shuffle else 0
        return make_loader(split, batch_size=self.config.data.batch_size, shuffle=shuffle, seed=seed)

    # ------------------------------------------------------------------ epochs
    def train_epoch(self, epoch: int) -> dict:
        if not self.trains_by_gradient:
            res = self.evaluate(self.splits.train)
            return {"train_loss": res["loss"], "train_accuracy": res["accuracy"]}
        self.model.train()
        if callable(getattr(self.model, "start_epoch", None)):  # per-epoch schedule (DCLS sigma)
            self.model.start_epoch(epoch, self.config.training.epochs)
        after_step = getattr(self.model, "after_step", None)    # e.g. clamp learned delays
        total_loss, correct, n = 0.0, 0, 0
        clip = self.config.training.grad_clip
        tc = self.config.training   # gradient algorithm and regulariser: axonal.train.online
        reg = None if tc.rate_regulariser is None else FiringRateRegulariser.from_config(self.model, tc.rate_regulariser)
        gen = torch.Generator().manual_seed(epoch_seed(tc.seed, epoch))   # SLTT-K's step draws
        params = [p for p in self.model.parameters() if p.requires_grad]
        for batch in self.dist.shard(self._loader(self.splits.train, True, epoch)):
            self.optimizer.zero_grad(set_to_none=True)
            k = 0
            if batch is not None:   # None: this rank's share of a short last batch is empty
                x, y = batch[0].to(self.device), batch[1].to(self.device)
                scores, loss = backward_batch(self.model, x, y, algorithm=tc.algorithm, sltt_k=tc.sltt_k,
                                              window=tc.tbptt_window, regulariser=reg, generator=gen)
                c, k = _correct(scores, y)
                total_loss += loss * k
                correct += c
                n += k
            self.dist.all_reduce_gradients(params, k)   # no-op in one process
            if clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
            if callable(after_step):
                after_step()
        total_loss, correct, n = self.dist.sum([total_loss, correct, n])
        return {"train_loss": total_loss / max(n, 1), "train_accuracy": correct / max(n, 1)}

    @torch.no_grad()
    def evaluate(self, split, monitor: bool = False) -> dict:
        """Loss and accuracy on ``split`` (``"train"``, ``"val"``, ``"test"`` or a dataset); with
        ``monitor=True`` also firing rates, SynOps and energy per sample (``axonal.metrics``)."""
        data = getattr(self.splits, split) if isinstance(split, str) else split
        self.model.eval()
        total_loss, correct, n = 0.0, 0, 0
        mon = SpikeMonitor(self.model) if monitor else None
        if mon is not None:
            mon.attach()
        try:
            for x, y in self._loader(data, False):
                x, y = x.to(self.device), y.to(self.device)
                scores = self.model(x)
                total_loss += float(F.cross_entropy(scores, y, reduction="sum"))
                c, k = _correct(scores, y)
                correct += c
                n += k
        finally:
            if mon is not None:
                mon.detach()
        out = {"loss": total_loss / n if n else float("nan"), "accuracy": correct / n if n else float("nan"),
               "samples": n}
        if mon is not None and n:
            rep = mon.report()
            e = energy(rep)
            out.update(steps=rep.steps, firing_rate=rep.firing_rate, synops=rep.synops, acs=rep.acs, macs=rep.macs,
                       dense_macs=rep.dense_macs, energy_j=e.snn, energy_dense_j=e.ann,
                       energy=e.to_dict(), layers=[asdict(layer) for layer in rep.layers],
                       synapses=[asdict(s) for s in rep.synapses])
        return out

    # ------------------------------------------------------------------ main loop
    def _improved(self, row: dict) -> bool:
        es = self.config.training.early_stopping
        value = row.get(es.metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return True  # no validation data: the latest epoch is the best
        best = self.state["best_value"]
        if best is None:
            return True
        return value < best - es.min_delta if es.metric == "val_loss" else value > best + es.min_delta

    def _save(self, name: str, epoch: int) -> None:
        meta = {"config": self.config.to_dict(), "history": self.history, "trainer_state": self.state,
                "environment": environment() if name == "best" else None}
        ckpt.save_checkpoint(self.run_dir / "checkpoints", name, model=self.model, optimizer=self.optimizer,
                             scheduler=self.scheduler, epoch=epoch, meta=meta)

    def _write_metrics(self) -> None:
        columns = list(dict.fromkeys(k for row in self.history for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.history)
        ckpt.atomic_write(self.run_dir / "metrics.csv", lambda p: p.write_text(buf.getvalue()))
        ckpt.write_json(self.run_dir / "metrics.json", {"history": self.history})

    def _log(self, text: str, bar=None) -> None:
        if self.quiet:
            return
        if bar is not None and not bar.disable:
            bar.write(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def _prepare_run_dir(self, resuming: bool) -> None:
        """Check the run folder before any work: a folder (not a file), writable, and not holding a
        run of another recipe unless ``overwrite`` (a resume continues its own run). Every rank
        checks; rank 0 alone clears, and the others wait for it."""
        self._join()
        self._clear_run_dir(resuming)
        self.dist.barrier()

    def _clear_run_dir(self, resuming: bool) -> None:
        d = self.run_dir
        where = f"run folder {d} (--out, or output.dir in the recipe)"
        if d.exists() and not d.is_dir():
            raise ValueError(f"{where} is a file, not a folder; give a folder path")
        try:
            d.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=d):
                pass
        except OSError as exc:
            raise ValueError(f"cannot write into {where} ({exc.strerror or exc}); choose a writable place "
                             "with --out") from None
        if resuming:
            return
        old = d / "config.json"
        if not (old.exists() or (d / "checkpoints").exists() or (d / "results.json").exists()):
            return
        try:
            previous = json.loads(old.read_text())
        except (OSError, ValueError, RecursionError):
            previous = None
        mine = self.config.to_dict()
        same = isinstance(previous, dict) and _differences(
            {k: v for k, v in previous.items() if k != "output"}, {k: v for k, v in mine.items() if k != "output"}) == []
        if not same and not self.overwrite:
            what = (f"a run of recipe {previous.get('name')!r} with other settings" if isinstance(previous, dict)
                    else "files of an earlier run")
            raise FileExistsError(f"{d} already holds {what}; train into another folder (--out), continue "
                                  f"it with --resume {d}, or replace it with --overwrite")
        if not self.dist.writer:
            return
        self._log(f"{'replacing' if not same else 'training again over'} the earlier run in {d}")
        for name in RUN_FILES:
            target = d / name
            if target.is_file() and not target.is_symlink():
                target.unlink()
        ckpt.remove_checkpoints(d / "checkpoints")

    def fit(self) -> dict:
        """Train (or continue) to ``training.epochs`` or early stop, then test. Returns the results dict."""
        record = getattr(self, "_resume_record", None)
        self._prepare_run_dir(resuming=record is not None)
        if not self._built:
            self.build()
        cfg = self.config
        start = 0
        if record is not None:
            start = int(record["epoch"])
            if self.dist.writer:
                self._log(f"resuming {self.run_dir} after epoch {start}")
            if self.state["stopped_early"] and start < cfg.training.epochs:
                self._log(f"this run stopped early after epoch {start}; it is tested again, not trained on")
        if self.dist.writer:
            ckpt.write_json(self.run_dir / "config.json", cfg.to_dict())
        has_val = len(self.splits.val) > 0
        es = cfg.training.early_stopping
        t_start = time.perf_counter()
        epochs = cfg.training.epochs if self.trains_by_gradient else min(1, cfg.training.epochs)
        bar = tqdm(total=epochs, initial=start, desc=cfg.name, unit="epoch", leave=False,
                   disable=self.quiet or not sys.stderr.isatty(), file=sys.stderr)
        try:
            for epoch in range(start, epochs):
                if self.state["stopped_early"]:
                    break
                t0, comm0 = time.perf_counter(), self.dist.comm_seconds
                row = {"epoch": epoch + 1, **self.train_epoch(epoch)}
                if self.dist.active:   # rank 0's time in the gradient all-reduce (waiting included)
                    row["comm_s"] = self.dist.comm_seconds - comm0
                if has_val:
                    val = self.evaluate(self.splits.val, monitor=True)
                    row.update(val_loss=val["loss"], val_accuracy=val["accuracy"], val_firing_rate=val["firing_rate"])
                    for layer in val["layers"]:
                        if layer["binary"] and not layer["nested"]:
                            row[f"val_rate.{layer['name']}"] = layer["firing_rate"]
                row["lr"] = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else 0.0
                if self.scheduler is not None:
                    self.scheduler.step()
                row["time_s"] = time.perf_counter() - t0
                self.history.append(row)
                if self._improved(row):
                    value = row.get(es.metric)
                    self.state.update(best_value=value, best_epoch=epoch + 1, bad_epochs=0)
                    if self.dist.writer:
                        self._save("best", epoch + 1)
                else:
                    self.state["bad_epochs"] += 1
                    if es.patience is not None and self.state["bad_epochs"] >= es.patience:
                        self.state["stopped_early"] = True
                if self.dist.writer:
                    self._save("last", epoch + 1)
                    self._write_metrics()
                self.dist.barrier()   # every rank sees this epoch's checkpoint before going on
                bar.update(1)
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row.get('val_accuracy', float('nan')):.3f}")
                if self.dist.writer:
                    self._log(_row_text(row, cfg.training.epochs), bar)
                for cb in self.callbacks:
                    cb(self, row)
        finally:
            bar.close()
        if not self.dist.writer:   # rank 0 tests, plots and writes results.json
            self.dist.close()
            return {"recipe": cfg.name, "rank": self.dist.rank, "epochs_run": len(self.history)}
        if self.state["stopped_early"]:
            self._log(f"early stop: no {es.metric} improvement for {es.patience} epochs "
                      f"(best epoch {self.state['best_epoch']})")
        results = self.finish(train_time_s=time.perf_counter() - t_start)
        if cfg.baselines:
            results["baselines"] = run_baselines(self, results)
            ckpt.write_json(self.run_dir / "results.json", results)
        self.dist.close()
        return results

    # ------------------------------------------------------------------ final test
    def finish(self, train_time_s: float | None = None) -> dict:
        """Test the best checkpoint, draw the plots and write ``results.json``."""
        cfg = self.config
        best = ckpt.load_checkpoint(self.run_dir / "checkpoints" / "best.json")
        ckpt.restore(best, self.model, rng=False)
        test = self.evaluate(self.splits.test, monitor=True)
        plots = {}
        if cfg.output.raster and len(self.splits.test):
            plots["raster"] = self._raster(self.run_dir / "raster.png")
        if cfg.output.curves and self.history:
            from ..viz import training_curves  # lazy: matplotlib only when curves are drawn

            training_curves(self.history, ("loss", "accuracy"), path=self.run_dir / "training_curves.png",
                            title=cfg.name)
            plots["training_curves"] = "training_curves.png"
        results = {
            "recipe": cfg.name, "seed": cfg.training.seed, "split_seed": cfg.split_seed,
            "environment": environment(), "config": cfg.to_dict(),
            "dataset": {k: v for k, v in asdict(self.info).items() if k not in ("mean", "std")},
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "epochs_run": len(self.history), "best_epoch": self.state["best_epoch"],
            "stopped_early": self.state["stopped_early"], "train_time_s": train_time_s,
            "test": test, "plots": plots, "history": self.history,
        }
        if getattr(self, "dist", None) is not None and self.dist.active:
            results["distributed"] = self.dist.summary()
        ckpt.write_json(self.run_dir / "results.json", results)
        return results

    @torch.no_grad()
    def _raster(self, path: Path) -> str | None:
        from ..viz import raster  # lazy: matplotlib only when a raster is drawn

        x, _ = next(iter(self._loader(self.splits.test, False)))
        x = x[:, :1] if x.ndim >= 3 else x[:1]
        self.model.eval()
        with SpikeMonitor(self.model, keep=True, synops=False) as mon:
            self.model(x.to(self.device))
        names = getattr(self.model, "hidden_layers", lambda: [])()
        names = [n for n in names if n in mon.recorded] or [l.name for l in mon.report().layers if l.binary]
        if not names:
            return None
        spikes = torch.cat(mon.spikes(names[0]), 0)
        raster(spikes, path=path, title=f"{self.config.name}: {names[0]}, test sample 0")
        return path.name


def _correct(scores: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    """``(correct, counted)`` predictions: scores ``[B, K]`` with labels ``y [B]``, or per-step
    scores ``[B, K, T]`` with ``y [B, T]`` where targets of -100 (cross-entropy's ignore index)
    are not counted."""
    valid = y != -100
    return int(((scores.argmax(1) == y) & valid).sum()), int(valid.sum())


def _row_text(row: dict, epochs: int) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['train_loss']:.4f}", f"acc {row['train_accuracy']:.3f}"]
    if "val_loss" in row:
        parts += [f"val_loss {row['val_loss']:.4f}", f"val_acc {row['val_accuracy']:.3f}",
                  f"rate {row['val_firing_rate']:.3f}"]
    parts.append(f"{row['time_s']:.1f}s")
    return "  ".join(parts)


def _differences(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in dict.fromkeys(list(a) + list(b)):
            out += _differences(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint's JSON from a run folder (its best), a checkpoints folder or the JSON itself."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.json", path / "checkpoints" / "last.json",
                          path / "best.json", path / "last.json"):
            if candidate.is_file():
                return candidate
        raise ckpt.CheckpointError(f"no checkpoint in {path}: expected checkpoints/best.json or last.json; "
                                   "give the run folder that `axonal train` wrote")
    if path.suffix == ".safetensors":
        raise ckpt.CheckpointError(f"{path} is a weights file; give its run folder or the matching .json "
                                   "(checkpoints/best.json) so the recipe can be read too")
    return path


def recipe_of(record: dict) -> Recipe:
    """The recipe a checkpoint record holds, validated; nothing named in it is imported (a run
    folder is untrusted: the user imports their model's module). Raises :class:`CheckpointError`."""
    where = record.get("path", "the checkpoint")
    config = record.get("config")
    if not isinstance(config, dict):
        raise ckpt.CheckpointError(f"checkpoint {where} holds no recipe (its 'config' is missing or not a mapping), "
                                   "so its model cannot be rebuilt; it was not written by axonal's Trainer or "
                                   "is damaged: train again")
    try:
        return load_config(upgrade_recipe(config), allow_imports=False)
    except ConfigError as exc:
        raise ckpt.CheckpointError(f"checkpoint {where}: {exc}") from None


def _run_state(record: dict) -> tuple[list[dict], dict]:
    """The metrics history and trainer state of a ``last`` checkpoint, checked (they drive the
    resumed loop: early stopping compares numbers, the epoch count must match the history)."""
    where = record.get("path", "the checkpoint")
    history, state = record.get("history"), record.get("trainer_state")
    problems = []
    if not (isinstance(history, list) and all(isinstance(r, dict) for r in history)):
        problems.append("history must be a list of per-epoch rows")
    elif len(history) != record["epoch"] or [r.get("epoch") for r in history] != list(range(1, len(history) + 1)):
        problems.append(f"history rows do not number epochs 1..{record['epoch']}")
    number = (int, float)
    if not (isinstance(state, dict) and {"best_value", "best_epoch", "bad_epochs", "stopped_early"} <= set(state)
            and (state.get("best_value") is None or (isinstance(state["best_value"], number)
                                                     and not isinstance(state["best_value"], bool)))
            and (state.get("best_epoch") is None or (type(state["best_epoch"]) is int))
            and type(state.get("bad_epochs")) is int and state["bad_epochs"] >= 0
            and isinstance(state.get("stopped_early"), bool)):
        problems.append("trainer_state must hold best_value (number or null), best_epoch, bad_epochs, stopped_early")
    if problems:
        raise ckpt.CheckpointError(f"checkpoint file {where} is damaged: {'; '.join(problems)}; "
                                   f"{ckpt._fix(Path(where), resume=True)}")
    return list(history), dict(state)


def load_model(run_dir: str | Path, which: str = "best", *, device: str | torch.device = "cpu") -> nn.Module:
    """The trained model of a run folder with its weights, ready for inference (``eval()`` mode).

    ``which``: ``"best"`` (the checkpoint the final test used) or ``"last"`` (the latest epoch);
    ``run_dir`` may also be a checkpoint's ``.json``. The model is rebuilt from the recipe the
    run recorded (its dataset is loaded to size it, as in training) and its weights are loaded
    by name, no prefix to strip. A model of the user's own module needs that module imported
    first (a run folder never makes axonal import code). The process's RNG states are left as
    they were. Raises :class:`CheckpointError` naming the file and the fix.
    """
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    path = Path(run_dir)
    if path.is_dir():
        path = path / "checkpoints" / f"{which}.json" if (path / "checkpoints").is_dir() else path / f"{which}.json"
    record = ckpt.load_checkpoint(resolve_checkpoint(path))
    recipe = recipe_of(record)
    torch_rng, other_rng = ckpt.rng_state()
    try:
        trainer = Trainer(recipe, run_dir=Path(record["path"]).parent.parent, quiet=True)
        trainer.build()
        ckpt.restore(record, trainer.model, rng=False)
    finally:
        ckpt.set_rng_state(torch_rng, other_rng)
    return trainer.model.to(device).eval()


def evaluate_checkpoint(path: str | Path, split: str = "test") -> dict:
    """Rebuild a run's model from a checkpoint (recipe + weights) and evaluate it on ``split``.

    Returns loss, accuracy, firing rate, SynOps and energy per sample, plus ``checkpoint`` and
    ``epoch``.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test, got {split!r}")
    record = ckpt.load_checkpoint(resolve_checkpoint(path))
    trainer = Trainer(recipe_of(record), run_dir=Path(record["path"]).parent.parent, quiet=True)
    trainer.build()
    ckpt.restore(record, trainer.model, rng=False)
    result = trainer.evaluate(split, monitor=True)
    result.update(checkpoint=record["path"], epoch=record["epoch"], recipe=trainer.config.name, split=split)
    return result
