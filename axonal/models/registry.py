"""The one model registry: architecture name -> (schema of its ``model`` section, builder).

A model file defines its schema (a :class:`axonal.config.Section` with an ``architecture``
field) beside its builder and registers both::

    class MyNetConfig(Section):
        architecture: Literal["my_net"] = "my_net"
        hidden: int = 64

    def build_my_net(section: MyNetConfig, info, encoder) -> nn.Module: ...

    register_model("my_net", MyNetConfig, build_my_net)

``model_schema(section_dict)`` picks the schema for a raw section (by its ``architecture``,
default ``spiking_classifier``), ``build_model(section, info, encoder)`` calls the builder with
the validated section, the dataset's ``DatasetInfo`` and the encoder module (or None). An
unknown architecture is an error that lists the registered ones.

Neuron choices in model schemas use the names of :mod:`axonal.neurons.catalog`;
:func:`neuron_choice` resolves one (with the model's own restriction, if any) and turns a name
of the old vocabulary (``cuba``, ``alif``, ``amsu``) into an error that names its replacement.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch
from torch import nn

from ..config import Section, closest
from ..neurons.base import NeuronModule
from ..neurons.catalog import RENAMED_NEURONS, neuron_class, neuron_names, renamed_error
from ..surrogate import Surrogate

__all__ = ["ModelEntry", "MODELS", "DEFAULT_ARCHITECTURE", "register_model", "model_entry", "model_names",
           "model_schema", "build_model", "encoded_channels", "RENAMED_NEURONS", "neuron_choice",
           "configurable_population", "neuron_param_fields"]

#: the architecture of a ``model`` section that does not name one
DEFAULT_ARCHITECTURE = "spiking_classifier"


class ModelEntry(NamedTuple):
    name: str
    schema: type[Section]
    builder: Callable[[Any, Any, Any], nn.Module]


#: architecture name -> its schema and builder (filled by the model files on import)
MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, schema: type[Section], builder: Callable | None = None):
    """Register ``schema`` (validates ``model: {architecture: name, ...}``) and ``builder``
    (``builder(section, info, encoder) -> nn.Module``). Without ``builder`` it is a decorator
    for the builder function."""
    if not (isinstance(schema, type) and issubclass(schema, Section)):
        raise TypeError(f"register_model({name!r}): the schema must be a subclass of axonal.config.Section, "
                        f"got {schema!r}")
    arch = schema.model_fields.get("architecture")
    if arch is None or arch.default != name:
        raise ValueError(f"register_model({name!r}): {schema.__name__} needs a field "
                         f"architecture: Literal[{name!r}] = {name!r}")

    def wrap(fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"register_model({name!r}): the builder must be callable, got {fn!r}")
        old = MODELS.get(name)
        if old is not None and (old.schema, old.builder) != (schema, fn):
            raise ValueError(f"architecture {name!r} is already registered by {old.builder.__module__}")
        MODELS[name] = ModelEntry(name, schema, fn)
        return fn

    return wrap if builder is None else wrap(builder)


def model_names() -> tuple[str, ...]:
    """The registered architectures, sorted."""
    return tuple(sorted(MODELS))


def model_entry(name: Any) -> ModelEntry:
    """The registry entry of architecture ``name``; an unknown name lists the registered ones."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown architecture {name!r}{closest(name, list(MODELS))}; allowed values: "
                         f"{', '.join(model_names())}") from None


def model_schema(data: Any) -> type[Section]:
    """The schema that validates the raw ``model`` section ``data`` (a mapping)."""
    arch = data.get("architecture", DEFAULT_ARCHITECTURE) if isinstance(data, Mapping) else DEFAULT_ARCHITECTURE
    return model_entry(arch).schema.resolve(data)


def build_model(section, info, encoder: nn.Module | None = None) -> nn.Module:
    """The model described by a validated ``model`` section, sized for the dataset ``info``."""
    return model_entry(getattr(section, "architecture", None)).builder(section, info, encoder)


@torch.no_grad()
def encoded_channels(encoder: nn.Module | None, info) -> int:
    """Width of the encoder's output for the dataset ``info`` (found by encoding a zero input)."""
    if encoder is None:
        return int(info.n_channels)
    shape = (1, info.n_channels) if info.n_steps is None else (min(int(info.n_steps), 2), 1, info.n_channels)
    out, _ = encoder(torch.zeros(shape))
    return int(out.shape[-1])


# ----------------------------------------------------------------------------- neuron names
def neuron_choice(name: Any, supported: Sequence[type] | None = None, *,
                  accept: Callable[[type], bool] | None = None, who: str = "this model") -> type:
    """The neuron class that the catalog registers as ``name``.

    ``supported`` (exact classes) or ``accept`` (a test of the class) restrict the choice to the
    neurons a model can build; the error then lists the catalog names that qualify. An old name
    (:data:`RENAMED_NEURONS`) is an error that names the new one.
    """
    error = renamed_error(name)
    if error is not None:
        raise error
    allowed = [n for n in neuron_names() if _fits(neuron_class(n), supported, accept)]
    if name not in allowed:
        if isinstance(name, str) and name in neuron_names():
            raise ValueError(f"{who} cannot use neuron {name!r}; allowed values: {', '.join(allowed)}")
        raise ValueError(f"unknown neuron {name!r}{closest(name, allowed)}; allowed values: {', '.join(allowed)}")
    return neuron_class(name)


def _fits(cls: type, supported: Sequence[type] | None, accept: Callable[[type], bool] | None) -> bool:
    if supported is not None and cls not in tuple(supported):
        return False
    return accept is None or bool(accept(cls))


def configurable_population(cls: type) -> bool:
    """True for a neuron a recipe can configure as a population: a ``NeuronModule`` built as
    ``cls(size, learn=..., per_neuron=..., **constants)`` whose Params constants all have
    defaults (a recipe can then give any subset of them)."""
    params = getattr(cls, "Params", None)
    return (isinstance(cls, type) and issubclass(cls, NeuronModule) and isinstance(params, type)
            and dataclasses.is_dataclass(params)
            and all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
                    for f in dataclasses.fields(params) if f.init))


def neuron_param_fields(params_type: type) -> dict[str, tuple[type, Any]]:
    """Config fields for the constants of a neuron's Params dataclass: ``{name: (type, default)}``
    for ``pydantic.create_model``, derived from ``dataclasses.fields`` (never restated).

    Learnable constants are floats; other fields take the type of their default (a surrogate
    default becomes its name; a ``None`` default takes any value, which the Params checks).
    Fields whose default a recipe cannot write (tensors, objects, no default) are left out: the
    Params default applies.
    """
    out: dict[str, tuple[type, Any]] = {}
    for f in dataclasses.fields(params_type):
        if not f.init:
            continue
        default = f.default
        if default is None:
            out[f.name] = (Any, None)
        elif isinstance(default, Surrogate):
            out[f.name] = (str, default.name)
        elif isinstance(default, bool):
            out[f.name] = (bool, default)
        elif isinstance(default, (int, float)) and (f.metadata.get("learn") or isinstance(default, float)):
            out[f.name] = (float, float(default))
        elif isinstance(default, (int, str)):
            out[f.name] = (type(default), default)
    return out
