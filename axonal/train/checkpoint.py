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

__all__ = ["CheckpointError", "atomic_write", "save_checkpoint", "load_checkpoint", "checkpoint_exists",
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
    weights = folder / _weights_name(name, epoch)
    json_path = folder / f"{name}.json"
    previous = _previous_weights(json_path)
    atomic_write(weights, lambda p: save_file(tensors, str(p), metadata=header))
    record = {"format": FORMAT, "name": name, "epoch": int(epoch), "weights": weights.name,
              "sha256": _sha256(weights), "rng": other_rng, **(meta or {})}
    try:
        write_json(json_path, record)
    except BaseException:
        weights.unlink(missing_ok=True)
        raise
    if previous and previous != weights.name:
        (folder / previous).unlink(missing_ok=True)
    return json_path


_WEIGHTS_NAME = re.compile(r"^[A-Za-z0-9_.-]+-e\d{5}-[0-9a-f]{8}\.safetensors$")


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
    """The weights file the existing JSON points to, when it is one of ours (else ``None``, so
    that a crafted JSON can never make a save delete a file outside the checkpoint folder)."""
    try:
        name = json.loads(json_path.read_text()).get("weights")
    except (OSError, ValueError, AttributeError):
        return None
    return name if _weights_file(json_path.parent, name) is not None else None


def checkpoint_exists(folder: str | Path, name: str) -> bool:
    return (Path(folder) / f"{name}.json").is_file()


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint from its ``<name>.json`` path (or a folder holding ``last.json``).

    Returns the JSON record plus ``"tensors"`` (all tensors, verified against the stored hash),
    ``"optimizer"`` and ``"scheduler"`` metadata. Raises :class:`CheckpointError` naming the file
    and what to do when anything is missing, truncated or corrupt.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "last.json"
    fix = ("delete the run folder and train again, or point to another checkpoint "
           "(e.g. checkpoints/best.json instead of last.json)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist; give a run folder, its checkpoints/ "
                              "folder or a checkpoint's .json file")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path} is corrupt or truncated ({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or "weights" not in record:
        raise CheckpointError(f"{path} is not an axonal checkpoint (expected format {FORMAT!r}); {fix}")
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
    record["tensors"] = tensors
    record["optimizer"] = json.loads(header["optimizer"]) if "optimizer" in header else None
    record["scheduler"] = json.loads(header["scheduler"]) if "scheduler" in header else None
    record["path"] = str(path)
    return record


def model_state(record: dict) -> dict[str, torch.Tensor]:
    """The model's ``state_dict`` from a loaded checkpoint record."""
    return {k[len("model."):]: v for k, v in record["tensors"].items() if k.startswith("model.")}


def restore(record: dict, model: torch.nn.Module, optimizer=None, scheduler=None, rng: bool = True) -> None:
    """Load weights (and optimiser, scheduler, RNG states when given) from a checkpoint record."""
    try:
        model.load_state_dict(model_state(record))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"checkpoint {record.get('path')} does not fit this model ({' '.join(first[:3])}); "
                              "was the recipe's model section changed?") from None
    if optimizer is not None and record.get("optimizer") is not None:
        opt = {k: v for k, v in record["tensors"].items() if k.startswith("optim.")}
        optimizer_state_from_tensors(optimizer, opt, record["optimizer"])
    if scheduler is not None and record.get("scheduler") is not None:
        scheduler.load_state_dict(record["scheduler"])
    if rng:
        set_rng_state(record["tensors"]["rng.torch"], record["rng"])
