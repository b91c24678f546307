"""Training recipes: the validated whole (generic sections + a model section), loading and the
built-in recipes (the YAML files of this folder, listed by ``axonal recipes``).

A recipe has six sections (and an optional list of baselines)::

    data:      {name, options, seed, val_fraction, batch_size, standardize}
    encoder:   {name, options}
    model:     {architecture, ...}      # validated by the schema registered for the architecture
    baselines: [{architecture, ...}]    # optional: models compared on the same splits
    optimiser: {name, lr, weight_decay, momentum, scheduler: {...}}
    training:  {epochs, seed, device, grad_clip, threads, early_stopping: {metric, patience, min_delta}}
    output:    {dir, raster, curves}

The generic sections are in :mod:`axonal.config`; each ``model`` schema lives beside its builder
in :mod:`axonal.models` (one registry, :mod:`axonal.models.registry`). Sources: a YAML or JSON
file, a built-in recipe name (``available_recipes()``), a dict or a ``Recipe``.
``load_config(source, overrides=["optimiser.lr=0.01"])`` applies dotted overrides, whose values
are parsed as YAML scalars/lists (``true``, ``3``, ``1e-3``, ``[64, 64]``) unless the schema says
the key holds a string. Every error is a :class:`ConfigError` with a readable message: an
unknown key names its location and lists the known keys; a bad value names the allowed ones.
The CLI (``axonal train``) and the Python API (``axonal.train.Trainer``) take the same recipe.

Built-in recipe names match like dataset names: case, ``_`` and ``-`` are ignored, so
``basicmotions`` finds ``basic_motions`` (the dataset's name, the canonical one).

A user's own model: a module of the user's that calls ``axonal.models.register_model`` is named
in the recipe's ``imports: [mymodels]`` (or given as ``axonal train --import mymodels``) and the
model section names its architecture. Importing a module runs its code, so modules are imported
only when the user names them: in a recipe passed to :func:`load_config` or on the command line.
A recipe read back from a run folder or checkpoint (``allow_imports=False``) never imports
anything; it asks the user to import the module first.
"""
from __future__ import annotations

import importlib
import json
import math
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ..config import (ConfigError, DataConfig, EncoderConfig, OptimiserConfig, OutputConfig, Section,
                      TrainingConfig, closest)
from ..data.registry import _key
from ..models import model_schema  # the package: importing it registers the whole zoo
from ..neurons.catalog import RENAMED_NEURONS

__all__ = ["Recipe", "ConfigError", "load_config", "apply_overrides", "available_recipes", "upgrade_recipe",
           "import_modules"]

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _check_module_names(names: Any, where: str) -> list[str]:
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ConfigError(f"{where} must be a list of module names, e.g. [mymodels], got {names!r}")
    for name in names:
        if not isinstance(name, str) or not _MODULE_NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not a module name (dotted Python identifiers such as "
                              "mymodels or lab.models; a file path is not accepted: put the file's folder "
                              "on the Python path)")
    return list(names)


def import_modules(names: Sequence[str], where: str = "--import") -> None:
    """Import the user's modules ``names`` (each may register models with
    ``axonal.models.register_model``). Importing runs the module's code: call this only with
    names the user gave (command line, their own recipe), never with names read from a run
    folder. Any failure is a :class:`ConfigError` naming the module."""
    for name in _check_module_names(names, where):
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"cannot import module {name!r} named in {where} ({type(exc).__name__}: {exc}); "
                              "the module must be importable from the Python path (the `axonal` command "
                              "also looks in the current folder); set AXONAL_DEBUG=1 for the traceback") from exc


def _non_finite(data: Any, where: str = "") -> str | None:
    """The dotted key of the first non-finite number (inf, nan) in raw recipe data, or None."""
    if isinstance(data, float) and not math.isfinite(data):
        return where or "the recipe"
    if isinstance(data, Mapping):
        items = data.items()
    elif isinstance(data, (list, tuple)):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _non_finite(value, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _model_section(value: Any, where: str):
    """Validate one raw model section with the schema of its architecture."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping ({{architecture: ..., ...}}), got {type(value).__name__}")
    return model_schema(value).model_validate(dict(value))


class Recipe(Section):
    """A whole training recipe (see the module docstring)."""

    name: str = "custom"
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    model: Any = Field(default_factory=lambda: _model_section({}, "the model section"))
    optimiser: OptimiserConfig = Field(default_factory=OptimiserConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    #: models trained on the same splits after the main one, for comparison (``axonal.train.baselines``)
    baselines: list[Any] = Field(default_factory=list)
    #: the user's modules that register this recipe's model (imported by ``load_config``; see the module docstring)
    imports: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _finite(cls, data):
        key = _non_finite(data)
        if key is not None:
            raise ValueError(f"{key} is not a finite number; every number in a recipe must be finite "
                             "(inf and nan are not settings): give a finite value")
        return data

    @field_validator("imports", mode="before")
    @classmethod
    def _module_names(cls, v):
        try:
            return _check_module_names(v, "imports")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, v):
        return _model_section(v, "the model section")

    @field_validator("baselines", mode="before")
    @classmethod
    def _baseline_sections(cls, v):
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"baselines must be a list of model sections ({{architecture: ..., ...}}), "
                             f"got {type(v).__name__}")
        out = []
        for item in v:
            if isinstance(item, BaseModel):
                item = item.model_dump()
            if not isinstance(item, Mapping) or "architecture" not in item:
                raise ValueError("every baseline is a model section with an architecture key, e.g. "
                                 "{architecture: lstm, parameter_budget: match}")
            schema = model_schema(item)
            try:
                out.append(schema.model_validate(dict(item)))
            except ValidationError as exc:
                msgs = []
                for e in exc.errors(include_url=False):
                    key = ".".join(str(p) for p in e["loc"])
                    if e["type"] == "extra_forbidden":
                        msgs.append(f"unknown key {key!r}; known keys: {', '.join(schema.model_fields)}"
                                    f"{schema.key_hint(key)}")
                    else:
                        msgs.append(f"{key or 'section'}: {e['msg'].removeprefix('Value error, ')}")
                raise ValueError(f"baseline {len(out)} ({item['architecture']}): " + "; ".join(msgs)) from None
        return out

    @property
    def split_seed(self) -> int:
        return self.training.seed if self.data.seed is None else self.data.seed

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict; ``load_config(d)`` gives the recipe back."""
        d = self.model_dump(mode="json", exclude={"model", "baselines"})
        d["model"] = self.model.model_dump(mode="json")
        out = {k: d[k] for k in ("name", "description", "data", "encoder", "model", "optimiser", "training", "output")}
        if self.baselines:
            out["baselines"] = [b.model_dump(mode="json") for b in self.baselines]
        if self.imports:
            out["imports"] = list(self.imports)
        return out


# ----------------------------------------------------------------------------- error messages
def _schema_at(loc: Sequence, raw: Any) -> type[BaseModel] | None:
    """The section class at ``loc`` (following the raw data to pick the model's schema)."""
    schema: Any = Recipe
    data = raw
    for part in loc:
        if schema is Recipe and part == "model":
            try:
                schema = model_schema(data.get("model", {}) if isinstance(data, Mapping) else {})
            except ValueError:
                return None
        elif isinstance(schema, type) and issubclass(schema, BaseModel) and part in schema.model_fields:
            ann = schema.model_fields[part].annotation
            schema = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        else:
            return None
        data = data.get(part) if isinstance(data, Mapping) else None
        if schema is None:
            return None
    return schema


def _format_error(err: dict, raw: Any) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc and loc[-1].startswith(("function-after", "function-before")):
        loc = loc[:-1]
    where = ".".join(loc) or "the recipe"
    if not loc and err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        parent = _schema_at(err["loc"][:-1], raw)
        known = list(parent.model_fields) if parent else []
        hint = parent.key_hint(loc[-1]) if parent is not None and issubclass(parent, Section) else ""
        section = ".".join(loc[:-1]) or "top level"
        return (f"unknown key {loc[-1]!r} in section {section!r}{closest(loc[-1], known)}; "
                f"known keys: {', '.join(known)}{hint}")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        options = [s.strip(" '") for s in expected.replace(" or ", ",").split(",")]
        msg = f"got {got!r}{closest(str(got), options)}; allowed values: {expected}"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"] != "value_error" and "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    return f"{where}: {msg}"


def _validate(data: Mapping) -> Recipe:
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(e, data) for e in exc.errors(include_url=False)]
        raise ConfigError("invalid recipe: " + "; ".join(dict.fromkeys(lines))) from None


# ----------------------------------------------------------------------------- loading
def available_recipes() -> dict[str, str]:
    """``{name: description}`` of the recipes shipped in ``axonal/recipes``."""
    out = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".yaml", ".yml", ".json")):
            name = entry.name.rsplit(".", 1)[0]
            data = _parse_text(entry.read_text(), entry.name)
            out[name] = str(data.get("description", "")).strip().splitlines()[0] if data.get("description") else ""
    return out


def _parse_text(text: str, name: str) -> dict:
    try:
        data = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot parse {name}: {first}; fix the file's syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must hold a mapping of sections (data, encoder, model, ...), "
                          f"got {type(data).__name__}")
    return data


def _read_source(source: str | Path) -> dict:
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise ConfigError(f"{path}: recipe files must end in .yaml, .yml or .json")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"recipe file {path} is not text (byte {exc.start} is not UTF-8); a recipe is a "
                              "YAML or JSON text file: check that the right file was given") from None
        except OSError as exc:
            raise ConfigError(f"cannot read recipe file {path} ({exc.strerror or exc}); check its permissions") from None
        return _parse_text(text, str(path))
    recipes = available_recipes()
    name = str(source)
    by_key = {_key(r): r for r in recipes}
    name = by_key.get(_key(name), name)   # basicmotions -> basic_motions, like dataset names
    if name in recipes:
        for ext in (".yaml", ".yml", ".json"):
            entry = resources.files(__name__).joinpath(name + ext)
            if entry.is_file():
                return _parse_text(entry.read_text(), name + ext)
    hint = closest(name, list(recipes))
    raise ConfigError(f"{name!r} is neither a recipe file nor a built-in recipe{hint}; built-in recipes: "
                      f"{', '.join(recipes)} (list them with `axonal recipes`)")


def _field_is_str(path: Sequence[str], data: Mapping) -> bool:
    schema = _schema_at(path[:-1], data)
    if schema is None or path[-1] not in schema.model_fields:
        return False
    ann = schema.model_fields[path[-1]].annotation
    args = [a for a in get_args(ann) if a is not type(None)] if get_origin(ann) is Union else [ann]
    if len(args) == 1 and get_origin(args[0]) is Literal:
        return all(isinstance(a, str) for a in get_args(args[0]))
    return args == [str]


def apply_overrides(data: Mapping, overrides: Sequence[str]) -> dict:
    """Apply ``"a.b.c=value"`` overrides to a recipe dict (a deep copy is returned).

    Values are YAML (``3``, ``1e-3``, ``true``, ``null``, ``[64, 64]``, ``{n_train: 20}``) except
    where the schema says the key is a string, which keeps the text as written. Types are then
    checked by the schema like any other value.
    """
    out = json.loads(json.dumps(dict(data)))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. optimiser.lr=0.01")
        key, text = item.split("=", 1)
        path = [p.strip() for p in key.strip().split(".")]
        if not all(path):
            raise ConfigError(f"override {item!r}: empty key part in {key!r}; write e.g. model.hidden=[64]")
        if _field_is_str(path, out):
            value: Any = text
        else:
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(path[:i + 1])} is a value, not a section")
            node = child
        node[path[-1]] = value
    return out


def upgrade_recipe(data: Mapping) -> dict:
    """A recipe dict recorded by an earlier axonal (a run folder's ``config.json`` or checkpoint)
    in today's vocabulary, so that old runs still resume and evaluate: old neuron names become
    the catalog's (:data:`axonal.neurons.catalog.RENAMED_NEURONS`) and unset keys (``null``) that
    the model's schema no longer has are dropped (the spiking classifier recorded ``tau_syn:
    null`` for every neuron). A user's recipe is never upgraded silently: ``load_config`` reports
    old names and unknown keys."""
    out = json.loads(json.dumps(dict(data)))
    baselines = out.get("baselines")
    sections = [out.get("model")] + (list(baselines) if isinstance(baselines, list) else [])
    for section in sections:
        if not isinstance(section, dict):
            continue   # load_config reports it
        if isinstance(section.get("neuron"), str) and section["neuron"] in RENAMED_NEURONS:
            section["neuron"] = RENAMED_NEURONS[section["neuron"]]
        try:
            known = model_schema(section).model_fields
        except (ValueError, TypeError):
            continue   # load_config reports it
        for key in [k for k, v in section.items() if v is None and k not in known]:
            del section[key]
    return out


def load_config(source: str | Path | Mapping | Recipe | None = None, overrides: Sequence[str] = (), *,
                allow_imports: bool = True) -> Recipe:
    """A validated :class:`Recipe` from a file path, built-in recipe name, dict or Recipe
    (``None``: all defaults), with dotted ``overrides`` applied.

    The recipe's ``imports`` (the user's modules that register its model) are imported first;
    with ``allow_imports=False`` (a recipe read back from a run folder) nothing is imported and
    a module not yet imported is an error asking the user to import it."""
    if isinstance(source, Recipe):
        data = source.to_dict()
    elif isinstance(source, Mapping):
        data = dict(source)
    elif source is None:
        data = {}
    elif isinstance(source, (str, Path)):
        data = _read_source(source)
    else:
        raise ConfigError(f"a recipe is a file path, recipe name, dict or Recipe, got {type(source).__name__}")
    if overrides:
        data = apply_overrides(data, list(overrides))
    if isinstance(data, Mapping) and data.get("imports"):
        names = _check_module_names(data["imports"], "the recipe's imports")
        if allow_imports:
            import_modules(names, "the recipe's imports")
        else:
            missing = [n for n in names if n not in sys.modules]
            if missing:
                raise ConfigError(
                    f"this run's model is registered by module(s) {', '.join(missing)} (the recipe's imports); "
                    "axonal never imports code named by a run folder or checkpoint: import them yourself "
                    f"first (`--import {missing[0]}` on the command line, `import {missing[0]}` in Python)")
    return _validate(data)
