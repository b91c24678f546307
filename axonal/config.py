"""The generic sections of a training recipe and the one base class of every config section.

A recipe (``axonal.recipes``) is made of the sections defined here, which do not depend on the
model::

    data:      {name, options, seed, val_fraction, batch_size, standardize}
    encoder:   {name, options}
    optimiser: {name, lr, weight_decay, momentum, scheduler: {...}}
    training:  {epochs, seed, device, grad_clip, threads, early_stopping: {metric, patience, min_delta}}
    output:    {dir, raster, curves}

plus a ``model`` section whose schema lives beside the model's builder in ``axonal.models``
(one registry: ``axonal.models.registry``). Every section derives from :class:`Section`: unknown
keys are errors and assignments are validated. Model schemas use the same base, so a section is
a section wherever it is defined.

This module imports nothing from ``axonal.models`` or ``axonal.recipes``: they build on it, never
the other way round, so there is no import cycle.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .data.registry import DATASETS, _BY_KEY, _key
from .encoding import ENCODERS

__all__ = [
    "ConfigError", "Section", "closest", "check_layer_sizes", "DataConfig", "EncoderConfig",
    "OptimiserConfig", "SchedulerConfig", "TrainingConfig", "EarlyStoppingConfig", "OutputConfig",
    "RateRegulariserConfig",
]


class ConfigError(ValueError):
    """A recipe that cannot be used; the message says what is wrong and how to fix it."""


class Section(BaseModel):
    """Base of every config section (generic ones here, model schemas in ``axonal.models``).

    Unknown keys are errors (``extra="forbid"``), assignments are validated and float fields
    refuse ``inf`` and ``nan`` (a YAML ``.inf`` learning rate is a typo, never a setting; the
    whole recipe, free-form options included, is checked in ``axonal.recipes``). A schema whose
    fields depend on a value of the section (a model section whose constants are those of the
    chosen neuron) overrides :meth:`resolve`.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @classmethod
    def resolve(cls, data: Any) -> type["Section"]:
        """The schema that validates the raw section ``data`` (``cls`` itself unless a subclass
        picks a more specific one, e.g. per neuron)."""
        return cls

    @classmethod
    def key_hint(cls, key: str) -> str:
        """Extra text for the error of an unknown ``key`` (e.g. which other choice takes it)."""
        return ""


def closest(value: Any, allowed: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the allowed value closest to ``value``, or ``""``."""
    close = difflib.get_close_matches(str(value), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_layer_sizes(sizes: list[int]) -> list[int]:
    """Validator body shared by the model schemas: every hidden layer size must be positive."""
    if any(n <= 0 for n in sizes):
        raise ValueError(f"hidden layer sizes must be positive integers, got {sizes}")
    return sizes


# ----------------------------------------------------------------------------- data / encoder
class DataConfig(Section):
    """Which dataset and how it is split and batched (``axonal.data.load_dataset``)."""

    name: str = "basic_motions"
    options: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, lt=2 ** 63)   # split seed; None -> training.seed
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    batch_size: int = Field(8, gt=0)
    standardize: bool = True

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if _key(v) not in _BY_KEY:
            raise ValueError(f"unknown dataset {v!r}{closest(v, list(DATASETS))}; allowed values: "
                             f"{', '.join(sorted(DATASETS))}")
        return _BY_KEY[_key(v)]

    @model_validator(mode="after")
    def _known_options(self):
        known = DATASETS[self.name].options
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            raise ValueError(f"dataset {self.name!r} does not take option(s) {unknown}; its options are: "
                             f"{', '.join(known) or 'none'}")
        return self


class EncoderConfig(Section):
    """Raw signal -> network input (``axonal.encoding.get_encoder``); ``direct`` feeds it as current.
    ``name`` is a key of ``axonal.encoding.ENCODERS``; ``options`` its constructor's arguments."""

    name: str = "direct"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known_encoder(cls, v: str) -> str:
        if v not in ENCODERS:
            raise ValueError(f"unknown encoder {v!r}{closest(v, list(ENCODERS))}; allowed values: "
                             f"{', '.join(sorted(ENCODERS))}")
        return v

    @model_validator(mode="after")
    def _known_options(self):
        params = [p for p in inspect.signature(ENCODERS[self.name].__init__).parameters if p != "self"]
        unknown = sorted(set(self.options) - set(params))
        if unknown:
            raise ValueError(f"encoder {self.name!r} does not take option(s) {unknown}; its options are: "
                             f"{', '.join(params) or 'none'}")
        return self


# ----------------------------------------------------------------------------- optimiser / training
class SchedulerConfig(Section):
    """Learning-rate schedule stepped once per epoch: ``cosine`` to 0 over the epochs, ``step``
    (multiply by ``gamma`` every ``step_size`` epochs) or ``none``."""

    name: Literal["none", "cosine", "step"] = "none"
    step_size: int = Field(10, gt=0)
    gamma: float = Field(0.5, gt=0, le=1)


class OptimiserConfig(Section):
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(5e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)   # sgd only
    eps: float = Field(1e-8, gt=0)              # adam/adamw: added to sqrt(v); larger damps steps once gradients are tiny
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)


class EarlyStoppingConfig(Section):
    """Stop after ``patience`` epochs without improvement of ``metric`` (None: never stop early).
    The best epoch by ``metric`` is the checkpoint used for the final test either way."""

    metric: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: int | None = Field(None, gt=0)
    min_delta: float = Field(0.0, ge=0)


class RateRegulariserConfig(Section):
    """``training.rate_regulariser``: firing-rate penalties on the hidden spiking layers
    (``axonal.train.regularisers.FiringRateRegulariser``). ``target``, ``lower`` and ``upper``
    are spike probabilities per step, one number for every layer or a list with one per layer;
    ``lower``/``upper`` bound each neuron's rate, ``target`` pulls each layer's mean rate."""

    weight: float = Field(1.0, ge=0)
    target: float | list[float] | None = None
    lower: float | list[float] | None = None
    upper: float | list[float] | None = None
    layers: list[str] | None = None   # module names (``named_modules``); None: every hidden spiking layer


class TrainingConfig(Section):
    epochs: int = Field(40, gt=0)
    seed: int = Field(0, ge=0, lt=2 ** 63)   # torch.manual_seed overflows beyond 64 bits
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    grad_clip: float | None = Field(None, gt=0)
    threads: int | None = Field(None, gt=0)   # torch intra-op threads; None leaves torch's default
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    #: how a batch's gradient is computed (``axonal.train.online``): full BPTT, SLTT (per-step
    #: backward, state detached between steps), SLTT-K (backward at ``sltt_k`` random steps) or
    #: truncated BPTT over windows of ``tbptt_window`` steps
    algorithm: Literal["bptt", "sltt", "sltt_k", "tbptt"] = "bptt"
    sltt_k: int | None = Field(None, gt=0)
    tbptt_window: int | None = Field(None, gt=0)
    rate_regulariser: RateRegulariserConfig | None = None

    @model_validator(mode="after")
    def _algorithm_options(self):
        if self.algorithm == "sltt_k" and self.sltt_k is None:
            raise ValueError("algorithm sltt_k needs sltt_k (the number of steps that backpropagate), e.g. sltt_k: 4")
        if self.algorithm == "tbptt" and self.tbptt_window is None:
            raise ValueError("algorithm tbptt needs tbptt_window (steps per truncated window), e.g. tbptt_window: 10")
        if self.sltt_k is not None and self.algorithm != "sltt_k":
            raise ValueError(f"sltt_k is only used by algorithm sltt_k (algorithm is {self.algorithm!r}); remove it")
        if self.tbptt_window is not None and self.algorithm != "tbptt":
            raise ValueError(f"tbptt_window is only used by algorithm tbptt (algorithm is {self.algorithm!r}); "
                             "remove it")
        return self


class OutputConfig(Section):
    dir: str = "runs/run"
    raster: bool = True
    curves: bool = True


# ----------------------------------------------------------------------------- moved names
#: names this module had before the model schemas moved beside their builders (issue 13)
_MOVED = {
    "Recipe": "axonal.recipes", "load_config": "axonal.recipes", "apply_overrides": "axonal.recipes",
    "available_recipes": "axonal.recipes", "SpikingClassifierConfig": "axonal.models",
    "register_model_schema": "axonal.models (register_model(name, schema, builder))",
    "MODEL_SCHEMAS": "axonal.models (MODELS: architecture -> schema and builder)",
}


def __getattr__(name: str):
    if name in _MOVED:
        raise ImportError(f"axonal.config.{name} moved to {_MOVED[name]}; axonal.config keeps the generic "
                          "sections only")
    raise AttributeError(f"module 'axonal.config' has no attribute {name!r}")
