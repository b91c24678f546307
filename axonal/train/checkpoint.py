"""Checkpoints without pickle, written atomically.

A checkpoint named ``last`` in ``run/checkpoints/`` is two files:

- ``last-e00007-<random>.safetensors``: every tensor: model weights (``model.*``), optimiser state
  (``optim.<param index>.<key>``) and the torch RNG state (``rng.torch``); the safetensors
  header metadata holds, as JSON text, the non-tensor optimiser state (param groups, scalar
  entries) and the scheduler state;
- ``last.json``: format version, epoch, the recipe, numpy / python RNG states, the metrics
  history, trainer state (early stopping), the weights file's name and its SHA-256.

Every file is written to a temporary file in the same folder, flushed, fsynced and moved into
place with ``os.replace`` (atomic on POSIX and Windows); the JSON is written last and is the
commit point: the weights file carries the epoch in its name, so a new one never overwrites
the weights an existing JSON points to, and older weights are deleted only after the new JSON
is in place. An interruption at any moment therefore leaves the previous checkpoint whole.
Loading checks the hash, so a truncated or corrupted file is reported, never half-loaded.
Nothing here uses ``torch.load`` or pickle.

A checkpoint JSON is untrusted input (a run folder may come from elsewhere): every field is
checked before use (format, epoch, weights name, hash, RNG states), the weights file it names
must be a plain ``<name>-e<epoch>-<hex>.safetensors`` directly inside the checkpoint folder, and
anything wrong is a :class:`CheckpointError` that names the file and a fix that fits the case
(another checkpoint of the run only where one exists; a fresh run when resuming needs
``last.json``). Housekeeping deletes only files of this module's own naming inside the
checkpoint folder: after a new JSON is committed, the other weights of that checkpoint name and
temporary files a killed run left (``.<file>.<random>.tmp``); nothing named by a JSON is ever
deleted, and nothing outside the folder is ever written or deleted.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

__all__ = ["CheckpointError", "atomic_write", "save_checkpoint", "load_checkpoint", "checkpoint_exists", "remove_orphans",
           "remove_checkpoints",
           "optimizer_state_to_tensors", "optimizer_state_from_tensors", "rng_state", "set_rng_state",
           "FORMAT"]

FORMAT = "axonal-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read; the message names the file and what to do."""


# ----------------------------------------------------------------------------- atomic files
def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Create ``path`` through ``write(tmp_path)`` on a temporary file in the same folder, then
    fsync and ``os.replace``. If ``write`` raises, the temporary file is removed and any
    existing ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    text = json.dumps(data, indent=2, sort_keys=False)
    atomic_write(path, lambda p: p.write_text(text + "\n"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- optimiser state
def optimizer_state_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten ``optimizer.state_dict()`` into ``{"optim.<i>.<key>": tensor}`` and JSON metadata."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_state_from_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                                 meta: dict) -> None:
    """Inverse of :func:`optimizer_state_to_tensors`: load the flattened state into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for idx, entry in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    template = optimizer.state_dict()["param_groups"]
    groups = meta["param_groups"]
    if len(groups) != len(template):
        raise ValueError(f"the checkpoint's optimiser has {len(groups)} parameter groups, this one {len(template)}")
    restored = []
    for saved, current in zip(groups, template):
        restored.append({k: (tuple(v) if isinstance(current.get(k), tuple) and isinstance(v, list) else v)
                         for k, v in saved.items()})
    optimizer.load_state_dict({"state": state, "param_groups": restored})


# ----------------------------------------------------------------------------- RNG state
def rng_state() -> tuple[torch.Tensor, dict]:
    """(torch CPU RNG state as a uint8 tensor, JSON-serialisable numpy and python RNG states)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return torch.random.get_rng_state(), {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(torch_state: torch.Tensor, states: dict) -> None:
    torch.random.set_rng_state(torch_state)
    n = states["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = states["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


# ----------------------------------------------------------------------------- save / load
def _weights_name(name: str, epoch: int) -> str:
    # a fresh name each time: the file the current JSON points to is never overwritten
    return f"{name}-e{epoch:05d}-{secrets.token_hex(4)}.safetensors"


def save_checkpoint(folder: str | Path, name: str, *, model: torch.nn.Module, optimizer=None, scheduler=None,
                    epoch: int, meta: dict | None = None) -> Path:
    """Write checkpoint ``name`` (``last``, ``best`` ...) of ``model`` (+ optimiser, scheduler,
    RNG states) after ``epoch`` into ``folder``; ``meta`` (JSON-serialisable: config, history,
    trainer state) goes into ``<name>.json``. Returns the JSON's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header: dict[str, str] = {"format": FORMAT}
    if optimizer is not None:
        opt_tensors, opt_meta = optimizer_state_to_tensors(optimizer)
        tensors.update(opt_tensors)
        header["optimizer"] = json.dumps(opt_meta)
    if scheduler is not None:
        header["scheduler"] = json.dumps(scheduler.state_dict())
    torch_rng, other_rng = rng_state()
    tensors["rng.torch"] = torch_rng
    if not _CHECKPOINT_NAME.match(name):
        raise ValueError(f"checkpoint name {name!r}: use letters, digits and _ only (e.g. 'last', 'best')")
    weights = folder / _weights_name(name, epoch)
    json_path = folder / f"{name}.json"
    atomic_write(weights, lambda p: save_file(tensors, str(p), metadata=header))
    record = {"format": FORMAT, "name": name, "epoch": int(epoch), "weights": weights.name,
              "sha256": _sha256(weights), "rng": other_rng, **(meta or {})}
    try:
        write_json(json_path, record)
    except BaseException:
        weights.unlink(missing_ok=True)
        raise
    _remove_stale(folder, name, keep=weights.name)
    return json_path


_CHECKPOINT_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_WEIGHTS_NAME = re.compile(r"^[A-Za-z0-9_.-]+-e\d{5}-[0-9a-f]{8}\.safetensors$")


def _stale_pattern(name: str) -> re.Pattern:
    """Files of checkpoint ``name`` that only this module writes: its weights files and the
    temporary files of its weights and JSON (``atomic_write``'s ``.<file>.<random>.tmp``)."""
    n = re.escape(name)
    weights = rf"{n}-e\d{{5}}-[0-9a-f]{{8}}\.safetensors"
    return re.compile(rf"^(?:{weights}|\.(?:{weights}|{n}\.json)\.[A-Za-z0-9_]+\.tmp)$")


def _remove_stale(folder: Path, name: str, keep: str) -> list[str]:
    """Delete the files of checkpoint ``name`` in ``folder`` other than ``keep`` (the weights its
    committed JSON names): older weights and temporary files left by a killed run. Only plain
    files directly in ``folder`` whose names match :func:`_stale_pattern` are touched."""
    pattern = _stale_pattern(name)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name == keep or not pattern.match(entry.name):
            continue
        try:
            if entry.is_symlink() or not entry.is_file():
                continue
            entry.unlink()
            removed.append(entry.name)
        except OSError:
            pass  # housekeeping never fails a save
    return removed


def remove_checkpoints(folder: str | Path) -> None:
    """Delete the checkpoints ``last`` and ``best`` of ``folder`` (an overwritten run): their
    JSON files and every file of their naming (weights, temporary files). Nothing else."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    for name in ("last", "best"):
        _remove_stale(folder, name, keep="")
        target = folder / f"{name}.json"
        if target.is_file() and not target.is_symlink():
            target.unlink()


def remove_orphans(folder: str | Path) -> list[str]:
    """Housekeeping on resume: for each checkpoint of ``folder`` whose JSON is intact, delete the
    weights and temporary files of the same name that it does not point to (left by a run that
    was killed between writing and cleaning up). A JSON that cannot be read keeps its files.
    Returns the names deleted."""
    folder = Path(folder)
    removed: list[str] = []
    for name in ("last", "best"):
        keep = _previous_weights(folder / f"{name}.json")
        if keep is not None and (folder / keep).is_file():
            removed += _remove_stale(folder, name, keep)
    return removed


def _weights_file(folder: Path, name) -> Path | None:
    """The weights file that a checkpoint JSON names, or ``None`` when the name is not one this
    module writes: a checkpoint JSON is untrusted input, and the file it names is read, hashed
    and later deleted, so only a plain file name of ``_weights_name``'s form directly inside
    ``folder`` is accepted (no separator, no ``..``, no absolute path, no link out)."""
    if not isinstance(name, str) or not _WEIGHTS_NAME.match(name):
        return None
    path = folder / name
    try:
        if path.resolve().parent != folder.resolve():
            return None
    except OSError:
        return None
    return path


def _previous_weights(json_path: Path) -> str | None:
    """The weights file the existing JSON points to, when it is one of ours (else ``None``)."""
    try:
        name = json.loads(json_path.read_text()).get("weights")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return name if _weights_file(json_path.parent, name) is not None else None


def _fix(path: Path, resume: bool) -> str:
    """What to do about the broken checkpoint ``path``: another checkpoint of the run only when
    one is there (never the broken one itself), a fresh run when a resume needs ``last.json``."""
    other = {"last": "best", "best": "last"}.get(path.stem)
    sibling = path.with_name(f"{other}.json") if other else None
    sibling = sibling if sibling is not None and sibling.is_file() else None
    if resume:
        fix = ("a run resumes only from checkpoints/last.json: train again with the same command and "
               "--overwrite, or into another --out folder")
        if sibling is not None and other == "best":
            fix += f"; its best checkpoint can still be evaluated: axonal eval {sibling}"
        return fix
    if sibling is not None:
        what = "the best epoch" if other == "best" else "the latest epoch, which may not be the best"
        return f"point to {sibling} instead ({what}), or delete the run folder and train again"
    return "delete the run folder and train again, or point to a checkpoint of another run"


def _bad_rng(states: Any) -> str | None:
    """Why the JSON's numpy/python RNG states cannot be set (checked on scratch generators, so
    the process's own RNGs are untouched), or None."""
    if not isinstance(states, dict) or not isinstance(states.get("numpy"), list) \
            or not isinstance(states.get("python"), list):
        return "rng must be {numpy: [...], python: [...]}"
    n, p = states["numpy"], states["python"]
    def words(v, size):
        return (isinstance(v, list) and len(v) == size
                and all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w < 2 ** 32 for w in v))
    if not (len(n) == 5 and n[0] == "MT19937" and words(n[1], 624) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in n[2:4]) and isinstance(n[4], (int, float))):
        return "rng.numpy is not a numpy MT19937 state"
    if not (len(p) == 3 and words(p[1], 625) and (p[2] is None or isinstance(p[2], (int, float)))):
        return "rng.python is not a python random state"
    try:
        np.random.RandomState().set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
        random.Random().setstate((p[0], tuple(p[1]), p[2]))
    except (TypeError, ValueError, OverflowError, IndexError) as exc:
        return f"rng state is invalid ({exc})"
    return None


def _check_record(record: Any, path: Path, fix: str) -> None:
    """Every field of a checkpoint JSON that this module uses, checked before use."""
    if not isinstance(record, dict) or record.get("format") != FORMAT or "weights" not in record:
        raise CheckpointError(f"{path} is not an axonal checkpoint (expected format {FORMAT!r}); {fix}")
    problems = []
    epoch = record.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 10 ** 7:
        problems.append(f"epoch must be a whole number >= 0, got {epoch!r}")
    sha = record.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        problems.append("sha256 must be 64 hex digits")
    if "name" in record and not isinstance(record["name"], str):
        problems.append(f"name must be text, got {type(record['name']).__name__}")
    bad_rng = _bad_rng(record.get("rng"))
    if bad_rng:
        problems.append(bad_rng)
    if problems:
        raise CheckpointError(f"checkpoint file {path} is damaged: {'; '.join(problems)}; {fix}")


def checkpoint_exists(folder: str | Path, name: str) -> bool:
    return (Path(folder) / f"{name}.json").is_file()


def load_checkpoint(path: str | Path, *, resume: bool = False) -> dict:
    """Read a checkpoint from its ``<name>.json`` path (or a folder holding ``last.json``).

    Returns the JSON record plus ``"tensors"`` (all tensors, verified against the stored hash),
    ``"optimizer"`` and ``"scheduler"`` metadata. Raises :class:`CheckpointError` naming the file
    and what to do when anything is missing, damaged, truncated or corrupt (``resume=True``: the
    advice for a resume, which needs this very file).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "last.json"
    fix = _fix(path, resume)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist; give a run folder, its checkpoints/ "
                              "folder or a checkpoint's .json file")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint file {path} is corrupt or truncated ({type(exc).__name__}: {exc}); {fix}") from None
    _check_record(record, path, fix)
    weights = _weights_file(path.parent, record["weights"])
    if weights is None:
        raise CheckpointError(f"{path} names weights {record['weights']!r}, which is not a weights file of "
                              f"this checkpoint folder (a plain '<name>-e<epoch>-<hex>.safetensors' beside "
                              f"{path.name}); refusing to read it; {fix}")
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights {weights} (named in {path.name}) are missing; {fix}")
    if _sha256(weights) != record.get("sha256"):
        raise CheckpointError(f"checkpoint weights {weights} are corrupt or truncated (SHA-256 does not match "
                              f"{path.name}); {fix}")
    try:
        tensors = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"checkpoint weights {weights} cannot be read ({exc}); {fix}") from None
    try:
        record["optimizer"] = json.loads(header["optimizer"]) if "optimizer" in header else None
        record["scheduler"] = json.loads(header["scheduler"]) if "scheduler" in header else None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint weights {weights} hold unreadable optimiser metadata ({exc}); {fix}") from None
    record["tensors"] = tensors
    record["path"] = str(path)
    return record


def model_state(record: dict) -> dict[str, torch.Tensor]:
    """The model's ``state_dict`` from a loaded checkpoint record."""
    return {k[len("model."):]: v for k, v in record["tensors"].items() if k.startswith("model.")}


def restore(record: dict, model: torch.nn.Module, optimizer=None, scheduler=None, rng: bool = True) -> None:
    """Load weights (and optimiser, scheduler, RNG states when given) from a checkpoint record."""
    try:
        model.load_state_dict(model_state(record))
    except (RuntimeError, ValueError) as exc:  # ValueError: a neuron's fixed constants differ
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"checkpoint {record.get('path')} does not fit this model ({' '.join(first[:3])}); "
                              "was the recipe's model section changed?") from None
    where = f"checkpoint {record.get('path')}"
    try:
        if optimizer is not None and record.get("optimizer") is not None:
            opt = {k: v for k, v in record["tensors"].items() if k.startswith("optim.")}
            optimizer_state_from_tensors(optimizer, opt, record["optimizer"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"{where}: its optimiser state does not fit this optimiser ({exc}); was the "
                              "recipe's optimiser section changed?") from None
    try:
        if scheduler is not None and record.get("scheduler") is not None:
            scheduler.load_state_dict(record["scheduler"])
        if rng:
            set_rng_state(record["tensors"]["rng.torch"], record["rng"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError, OverflowError) as exc:
        raise CheckpointError(f"{where}: its scheduler or RNG state cannot be restored ({type(exc).__name__}: "
                              f"{exc}); the file is damaged: train again") from None
