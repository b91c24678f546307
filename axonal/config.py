"""Validated training recipes: one schema for the CLI and the Python API.

A recipe has six sections (and an optional list of baselines)::

    data:      {name, options, seed, val_fraction, batch_size, standardize}
    encoder:   {name, options}
    model:     {architecture, ...}      # keys depend on the architecture (see axonal.models)
    baselines: [{architecture, ...}]    # optional: models compared on the same splits
    optimiser: {name, lr, weight_decay, momentum, scheduler: {...}}
    training:  {epochs, seed, device, grad_clip, early_stopping: {metric, patience, min_delta}}
    output:    {dir, raster, curves}

Sources: a YAML or JSON file, a built-in recipe name (``available_recipes()``), a dict or a
``Recipe``. ``load_config(source, overrides=["optimiser.lr=0.01"])`` applies dotted overrides,
whose values are parsed as YAML scalars/lists (``true``, ``3``, ``1e-3``, ``[64, 64]``) unless the
schema says the key holds a string. Every error is a :class:`ConfigError` with a readable
message: an unknown key names its location and lists the known keys; a bad value names the
allowed ones.
"""
from __future__ import annotations

import difflib
import inspect
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ConfigError", "Recipe", "DataConfig", "EncoderConfig", "SpikingClassifierConfig",
    "OptimiserConfig", "SchedulerConfig", "TrainingConfig", "EarlyStoppingConfig", "OutputConfig",
    "load_config", "apply_overrides", "available_recipes", "register_model_schema", "MODEL_SCHEMAS",
]



def check_layer_sizes(sizes: list[int]) -> list[int]:
    """Validator body shared by the model schemas: every hidden layer size must be positive."""
    if any(n <= 0 for n in sizes):
        raise ValueError(f"hidden layer sizes must be positive integers, got {sizes}")
    return sizes

class ConfigError(ValueError):
    """A recipe that cannot be used; the message says what is wrong and how to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _closest(value: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ----------------------------------------------------------------------------- data / encoder
class DataConfig(_Section):
    """Which dataset and how it is split and batched (``axonal.data.load_dataset``)."""

    name: str = "basic_motions"
    options: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None          # split seed; None -> training.seed
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    batch_size: int = Field(8, gt=0)
    standardize: bool = True

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        from .data.registry import DATASETS, _BY_KEY, _key

        if _key(v) not in _BY_KEY:
            raise ValueError(f"unknown dataset {v!r}{_closest(v, list(DATASETS))}; allowed values: "
                             f"{', '.join(sorted(DATASETS))}")
        return _BY_KEY[_key(v)]

    @model_validator(mode="after")
    def _known_options(self):
        from .data.registry import DATASETS

        known = DATASETS[self.name].options
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            raise ValueError(f"dataset {self.name!r} does not take option(s) {unknown}; its options are: "
                             f"{', '.join(known) or 'none'}")
        return self


class EncoderConfig(_Section):
    """Raw signal -> network input (``axonal.encoding.get_encoder``); ``direct`` feeds it as current."""

    name: Literal["direct", "delta", "rate", "latency"] = "direct"
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_options(self):
        from .encoding import ENCODERS

        params = [p for p in inspect.signature(ENCODERS[self.name].__init__).parameters if p != "self"]
        unknown = sorted(set(self.options) - set(params))
        if unknown:
            raise ValueError(f"encoder {self.name!r} does not take option(s) {unknown}; its options are: "
                             f"{', '.join(params) or 'none'}")
        return self


# ----------------------------------------------------------------------------- model
NEURON_PARAMS = {
    "lif": ("tau_mem", "threshold"),
    "cuba_lif": ("tau_mem", "tau_syn", "threshold"),
    "adaptive_lif": ("tau_mem", "tau_adapt", "adaptation", "threshold"),
}


class SpikingClassifierConfig(_Section):
    """``axonal.models.SpikingClassifier``: encoder -> [Linear -> (recurrent) LIF-family] x len(hidden)
    -> Linear -> readout. ``tau_syn`` only for ``cuba_lif``; ``tau_adapt``/``adaptation`` only for
    ``adaptive_lif``; ``learn`` lists constants trained with the weights."""

    architecture: Literal["spiking_classifier"] = "spiking_classifier"
    hidden: list[int] = Field(default_factory=lambda: [128], min_length=1)
    neuron: Literal["lif", "cuba_lif", "adaptive_lif"] = "lif"
    recurrent: bool = True
    recurrent_scale: float = Field(1.0, gt=0)   # recurrent weights ~ U(-s/sqrt(N), s/sqrt(N))
    tau_mem: float = Field(10.0, gt=0)
    tau_syn: float | None = Field(None, gt=0)
    tau_adapt: float | None = Field(None, gt=0)
    adaptation: float | None = Field(None, ge=0)
    threshold: float = Field(1.0, gt=0)
    reset: Literal["subtract", "zero", "none"] = "subtract"
    surrogate: Literal["atan", "fast_sigmoid", "triangle", "gaussian", "straight_through"] = "atan"
    surrogate_width: float | None = Field(None, gt=0)
    learn: list[Literal["tau_mem", "tau_syn", "tau_adapt", "adaptation", "threshold"]] = Field(default_factory=list)
    per_neuron: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    readout: Literal["membrane_mean", "last_membrane", "membrane_max", "spike_count"] = "membrane_mean"
    readout_tau: float = Field(10.0, gt=0)

    @field_validator("hidden")
    @classmethod
    def _positive_sizes(cls, v):
        return check_layer_sizes(v)

    @model_validator(mode="after")
    def _params_fit_neuron(self):
        allowed = NEURON_PARAMS[self.neuron]
        for name in ("tau_syn", "tau_adapt", "adaptation"):
            if getattr(self, name) is not None and name not in allowed:
                users = [n for n, ps in NEURON_PARAMS.items() if name in ps]
                raise ValueError(f"{name} applies to neuron {' / '.join(users)} only, not {self.neuron!r}; "
                                 f"remove it or set neuron to {users[0]!r}")
        bad = [n for n in self.learn if n not in allowed]
        if bad:
            raise ValueError(f"neuron {self.neuron!r} cannot learn {bad}; allowed values: {', '.join(allowed)}")
        return self


#: architecture name -> schema of its ``model`` section (``axonal.models.register_model`` adds more)
MODEL_SCHEMAS: dict[str, type[BaseModel]] = {"spiking_classifier": SpikingClassifierConfig}


def register_model_schema(name: str, schema: type[BaseModel]) -> None:
    """Make ``model: {architecture: name, ...}`` validate against ``schema``."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError("register_model_schema needs a pydantic BaseModel subclass")
    MODEL_SCHEMAS[name] = schema


def _model_schema(data: Any) -> type[BaseModel]:
    from . import models  # noqa: F401  (registers the zoo's schemas)

    arch = data.get("architecture", "spiking_classifier") if isinstance(data, Mapping) else "spiking_classifier"
    if arch not in MODEL_SCHEMAS:
        raise ValueError(f"unknown architecture {arch!r}{_closest(arch, list(MODEL_SCHEMAS))}; allowed values: "
                         f"{', '.join(sorted(MODEL_SCHEMAS))}")
    return MODEL_SCHEMAS[arch]


# ----------------------------------------------------------------------------- optimiser / training
class SchedulerConfig(_Section):
    """Learning-rate schedule stepped once per epoch: ``cosine`` to 0 over the epochs, ``step``
    (multiply by ``gamma`` every ``step_size`` epochs) or ``none``."""

    name: Literal["none", "cosine", "step"] = "none"
    step_size: int = Field(10, gt=0)
    gamma: float = Field(0.5, gt=0, le=1)


class OptimiserConfig(_Section):
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(5e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)   # sgd only
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)


class EarlyStoppingConfig(_Section):
    """Stop after ``patience`` epochs without improvement of ``metric`` (None: never stop early).
    The best epoch by ``metric`` is the checkpoint used for the final test either way."""

    metric: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: int | None = Field(None, gt=0)
    min_delta: float = Field(0.0, ge=0)


class TrainingConfig(_Section):
    epochs: int = Field(40, gt=0)
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    grad_clip: float | None = Field(None, gt=0)
    threads: int | None = Field(None, gt=0)   # torch intra-op threads; None leaves torch's default
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)


class OutputConfig(_Section):
    dir: str = "runs/run"
    raster: bool = True
    curves: bool = True


class Recipe(_Section):
    """A whole training recipe (see the module docstring)."""

    name: str = "custom"
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    model: Any = Field(default_factory=SpikingClassifierConfig)
    optimiser: OptimiserConfig = Field(default_factory=OptimiserConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    #: models trained on the same splits after the main one, for comparison (``axonal.train.baselines``)
    baselines: list[Any] = Field(default_factory=list)

    @field_validator("model", mode="before")
    @classmethod
    def _model_section(cls, v):
        if isinstance(v, BaseModel):
            v = v.model_dump()
        if not isinstance(v, Mapping):
            raise ValueError(f"the model section must be a mapping, got {type(v).__name__}")
        return _model_schema(v).model_validate(dict(v))

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
            schema = _model_schema(item)
            try:
                out.append(schema.model_validate(dict(item)))
            except ValidationError as exc:
                msgs = []
                for e in exc.errors(include_url=False):
                    key = ".".join(str(p) for p in e["loc"])
                    if e["type"] == "extra_forbidden":
                        msgs.append(f"unknown key {key!r}; known keys: {', '.join(schema.model_fields)}")
                    else:
                        msgs.append(f"{key or 'section'}: {e['msg'].removeprefix('Value error, ')}")
                raise ValueError(f"baseline {len(out)} ({item['architecture']}): " + "; ".join(msgs)) from None
        return out

    @property
    def split_seed(self) -> int:
        return self.training.seed if self.data.seed is None else self.data.seed

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict; ``Recipe.model_validate(d)`` gives the recipe back."""
        d = self.model_dump(mode="json", exclude={"model", "baselines"})
        d["model"] = self.model.model_dump(mode="json")
        out = {k: d[k] for k in ("name", "description", "data", "encoder", "model", "optimiser", "training", "output")}
        if self.baselines:
            out["baselines"] = [b.model_dump(mode="json") for b in self.baselines]
        return out


# ----------------------------------------------------------------------------- error messages
def _schema_at(loc: Sequence, raw: Any) -> type[BaseModel] | None:
    """The section class at ``loc`` (following the raw data to pick the model's architecture)."""
    schema: Any = Recipe
    data = raw
    for part in loc:
        if schema is Recipe and part == "model":
            try:
                schema = _model_schema(data.get("model", {}) if isinstance(data, Mapping) else {})
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
    if err["type"] == "extra_forbidden":
        parent = _schema_at(err["loc"][:-1], raw)
        known = list(parent.model_fields) if parent else []
        section = ".".join(loc[:-1]) or "top level"
        return (f"unknown key {loc[-1]!r} in section {section!r}{_closest(loc[-1], known)}; "
                f"known keys: {', '.join(known)}")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        options = [s.strip(" '") for s in expected.replace(" or ", ",").split(",")]
        msg = f"got {got!r}{_closest(str(got), options)}; allowed values: {expected}"
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
    for entry in sorted(resources.files("axonal.recipes").iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".yaml", ".yml", ".json")):
            name = entry.name.rsplit(".", 1)[0]
            data = _parse_text(entry.read_text(), entry.name)
            out[name] = str(data.get("description", "")).strip().splitlines()[0] if data.get("description") else ""
    return out


def _parse_text(text: str, name: str) -> dict:
    try:
        if name.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
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
        return _parse_text(path.read_text(), str(path))
    recipes = available_recipes()
    name = str(source)
    if name in recipes:
        for ext in (".yaml", ".yml", ".json"):
            entry = resources.files("axonal.recipes").joinpath(name + ext)
            if entry.is_file():
                return _parse_text(entry.read_text(), name + ext)
    hint = _closest(name, list(recipes))
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
    import yaml

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


def load_config(source: str | Path | Mapping | Recipe | None = None, overrides: Sequence[str] = ()) -> Recipe:
    """A validated :class:`Recipe` from a file path, built-in recipe name, dict or Recipe
    (``None``: all defaults), with dotted ``overrides`` applied."""
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
    return _validate(data)
