"""A generic spiking sequence classifier: encoder -> spiking hidden layers -> readout -> class scores.

    x [T, B, C] -> encoder -> [Linear -> (recurrent) LIF-family (-> Dropout)] x len(hidden)
                -> Linear -> readout neurons -> scores [B, K]

The readout neurons are either non-spiking leaky integrators whose membrane is summarised over
time (``membrane_mean``, ``last_membrane``, ``membrane_max``; the readout of Cramer et al.,
"The Heidelberg Spiking Data Sets", IEEE TNNLS 2020, and Zenke & Vogels, Neural Computation
2021), or spiking LIF neurons whose spike counts are the scores (``spike_count``; rate-coded
output as in Neftci, Mostafa & Zenke, IEEE Signal Processing Magazine 2019). Scores go to a
cross-entropy loss. Hidden layers are built from ``axonal.neurons`` and use the fused kernels
automatically when they apply.
"""
from __future__ import annotations

import functools
from typing import Any, ClassVar, Literal, Mapping, Sequence

import torch
from pydantic import Field, create_model, field_validator, model_validator
from torch import nn

from ..config import Section, check_layer_sizes
from ..network import Sequential, Temporal
from ..neurons import Recurrent
from ..neurons.catalog import neuron_class, neuron_names
from ..neurons.readout import LeakyIntegrator
from ..surrogate import get_surrogate
from .registry import (configurable_population, encoded_channels, neuron_choice, neuron_param_fields,
                       register_model)

__all__ = ["SpikingClassifier", "SpikingClassifierConfig", "LeakyIntegrator", "READOUTS"]

READOUTS = ("membrane_mean", "last_membrane", "membrane_max", "spike_count")


def _make_neuron(kind: str, size: int, recurrent: bool, params: dict, learn: Sequence[str],
                 per_neuron: bool, recurrent_scale: float = 1.0) -> nn.Module:
    cls = neuron_choice(kind, accept=configurable_population, who="SpikingClassifier")
    neuron = cls(size, learn=tuple(learn), per_neuron=per_neuron, **params)
    return Recurrent(neuron, weight_scale=recurrent_scale) if recurrent else neuron


class SpikingClassifier(nn.Module):
    """Spiking classifier of time-major sequences; ``forward(x [T, B, C]) -> scores [B, K]``.

    ``neuron`` is a name of ``axonal.neurons.catalog`` (a ``NeuronModule`` population);
    ``neuron_params`` (fields of that neuron's Params: ``tau_mem``, ``threshold``, ``reset``,
    ``surrogate``, ...) go to every spiking layer and ``learn`` names its learnable constants. ``recurrent`` adds all-to-all recurrent weights to each hidden layer, initialised
    uniformly in ``±recurrent_scale / sqrt(N)``. ``encoder`` is
    any module ``x -> (encoded, state)`` run first (its output width must be ``n_inputs``).
    """

    def __init__(self, n_inputs: int, n_classes: int, hidden: Sequence[int] = (128,), *, neuron: str = "lif",
                 recurrent: bool = True, recurrent_scale: float = 1.0, neuron_params: dict | None = None,
                 learn: Sequence[str] = (), per_neuron: bool = False, dropout: float = 0.0, readout: str = "membrane_mean",
                 readout_tau: float = 10.0, encoder: nn.Module | None = None):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; allowed values: {', '.join(READOUTS)}")
        for name, v in (("n_inputs", n_inputs), ("n_classes", n_classes)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"SpikingClassifier: {name} must be a positive int, got {v!r}")
        params = dict(neuron_params or {})
        self.readout = readout
        self.encoder = encoder
        layers: list[nn.Module] = []
        n_in = n_inputs
        for h in hidden:
            layers += [nn.Linear(n_in, h), _make_neuron(neuron, h, recurrent, params, learn, per_neuron,
                                                           recurrent_scale)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = h
        layers.append(nn.Linear(n_in, n_classes))
        if readout == "spike_count":
            layers.append(_make_neuron(neuron, n_classes, False, params, (), False))
        else:
            layers.append(LeakyIntegrator(n_classes, tau=readout_tau))
        self.net = Sequential(*layers)

    @classmethod
    def from_config(cls, section, n_inputs: int, n_classes: int, encoder: nn.Module | None = None):
        """Build from a validated :class:`SpikingClassifierConfig` (the ``model`` section of a recipe)."""
        params = section.neuron_params()
        return cls(n_inputs, n_classes, tuple(section.hidden), neuron=section.neuron,
                   recurrent=section.recurrent, recurrent_scale=section.recurrent_scale,
                   neuron_params=params, learn=tuple(section.learn),
                   per_neuron=section.per_neuron, dropout=section.dropout, readout=section.readout,
                   readout_tau=section.readout_tau, encoder=encoder)

    def hidden_layers(self) -> list[str]:
        """Names (as in ``named_modules``) of the hidden spiking populations, input side first."""
        return [f"net.layers.{i}" for i, m in enumerate(self.net.layers[:-1]) if isinstance(m, Temporal)]

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """The readout's output over time, ``[T, B, K]`` (membrane or spikes)."""
        if self.encoder is not None:
            x, _ = self.encoder(x)
        out, _ = self.net(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.forward_sequence(x)
        if self.readout == "membrane_mean":
            return out.mean(0)
        if self.readout == "last_membrane":
            return out[-1]
        if self.readout == "membrane_max":
            return out.amax(0)
        return out.sum(0)


# ----------------------------------------------------------------------------- recipe schema
class SpikingClassifierConfig(Section):
    """``model`` section of ``architecture: spiking_classifier`` (:class:`SpikingClassifier`).

    ``neuron`` is any neuron of ``axonal.neurons.catalog`` that a recipe can configure as a
    population (``axonal.models.registry.configurable_population``: a ``NeuronModule`` whose
    constants all have defaults). The section's other keys are the fields of that neuron's
    Params dataclass, with its defaults (``tau_mem``, ``threshold``, ``reset``, ``surrogate``,
    ``tau_syn`` for ``cuba_lif``, ``tau_adapt`` / ``adaptation`` for ``adaptive_lif``, ...):
    :meth:`resolve` derives the schema of each neuron from ``dataclasses.fields`` of its Params,
    and the Params itself validates the values. ``learn`` lists constants trained with the weights (``Params.learn_rules()``);
    ``surrogate_width`` sets the width of the named surrogate.
    """

    architecture: Literal["spiking_classifier"] = "spiking_classifier"
    hidden: list[int] = Field(default_factory=lambda: [128], min_length=1)
    neuron: str = "lif"
    recurrent: bool = True
    recurrent_scale: float = Field(1.0, gt=0)   # recurrent weights ~ U(-s/sqrt(N), s/sqrt(N))
    surrogate_width: float | None = Field(None, gt=0)
    learn: list[str] = Field(default_factory=list)
    per_neuron: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    readout: Literal[READOUTS] = "membrane_mean"
    readout_tau: float = Field(10.0, gt=0)

    #: the neuron class whose Params fields this (resolved) schema carries; None on the base
    neuron_type: ClassVar[type | None] = None

    @classmethod
    def resolve(cls, data: Any) -> type["SpikingClassifierConfig"]:
        """The schema of the neuron that ``data["neuron"]`` names (the base class when the name
        is not a usable neuron: its ``neuron`` validator then reports the error in place)."""
        name = data.get("neuron", cls.model_fields["neuron"].default) if isinstance(data, Mapping) else None
        try:
            return cls.for_neuron(name)
        except ValueError:
            return cls

    @classmethod
    def for_neuron(cls, name: str) -> type["SpikingClassifierConfig"]:
        """The schema of the section for neuron ``name`` (built once per neuron class)."""
        return _schema_for(neuron_choice(name, accept=configurable_population, who="spiking_classifier"))

    @classmethod
    def key_hint(cls, key: str) -> str:
        """Names the neurons whose constant ``key`` is, when a section of another neuron has it."""
        users = [n for n in neuron_names() if configurable_population(neuron_class(n))
                 and key in neuron_param_fields(neuron_class(n).Params)]
        if not users:
            return ""
        return f"; {key} is a constant of neuron {' / '.join(users)}: set neuron to {users[0]!r} or remove it"

    @field_validator("hidden")
    @classmethod
    def _positive_sizes(cls, v):
        return check_layer_sizes(v)

    @field_validator("neuron")
    @classmethod
    def _known_neuron(cls, v):
        neuron_choice(v, accept=configurable_population, who="spiking_classifier")
        return v

    @model_validator(mode="after")
    def _fits_neuron(self):
        neuron = neuron_choice(self.neuron, accept=configurable_population, who="spiking_classifier")
        if self.neuron_type is None:
            raise ValueError(f"the spiking_classifier section takes the constants of its neuron: validate it with "
                             f"SpikingClassifierConfig.for_neuron({self.neuron!r}) or load_config")
        if self.neuron_type is not neuron:
            raise ValueError(f"this section holds the constants of neuron {self.neuron_type.neuron_name!r}; to use "
                             f"{self.neuron!r} build a new section (e.g. --set model.neuron={self.neuron})")
        rules = neuron.Params.learn_rules()
        bad = [n for n in self.learn if n not in rules]
        if bad:
            raise ValueError(f"neuron {self.neuron!r} cannot learn {bad}; allowed values: {', '.join(rules) or 'none'}")
        if self.surrogate_width is not None and "surrogate" not in type(self).model_fields:
            raise ValueError(f"surrogate_width: neuron {self.neuron!r} has no surrogate; remove it")
        try:   # the Params checks every value (its error names the field)
            neuron.Params(**self.neuron_params())
        except TypeError as err:
            raise ValueError(f"neuron {self.neuron!r}: {err}") from None
        return self

    def __reduce__(self):
        # the per-neuron schema is made at run time: pickle rebuilds it from the neuron's name
        return _rebuild_section, (self.neuron, self.model_dump())

    def neuron_params(self) -> dict[str, Any]:
        """The neuron's constants as keyword arguments of its module (surrogate as an object)."""
        if self.neuron_type is None:
            return {}
        params = {name: getattr(self, name) for name in neuron_param_fields(self.neuron_type.Params)}
        if "surrogate" in params:
            params["surrogate"] = get_surrogate(params["surrogate"], self.surrogate_width)
        return params


def _rebuild_section(neuron: str, data: dict) -> SpikingClassifierConfig:
    return SpikingClassifierConfig.for_neuron(neuron).model_validate(data)


@functools.cache
def _schema_for(neuron: type) -> type[SpikingClassifierConfig]:
    fields = neuron_param_fields(neuron.Params)
    clash = sorted(set(fields) & set(SpikingClassifierConfig.model_fields))
    if clash:
        raise ValueError(f"neuron {neuron.neuron_name!r}: Params fields {clash} clash with keys of the "
                         "spiking_classifier section; rename them")
    schema = create_model(f"SpikingClassifierConfig[{neuron.neuron_name}]", __base__=SpikingClassifierConfig,
                          __module__=__name__, **{name: (typ, default) for name, (typ, default) in fields.items()})
    schema.neuron_type = neuron
    return schema


def build_spiking_classifier(section: SpikingClassifierConfig, info, encoder) -> nn.Module:
    return SpikingClassifier.from_config(section, n_inputs=encoded_channels(encoder, info),
                                         n_classes=info.n_classes, encoder=encoder)


register_model("spiking_classifier", SpikingClassifierConfig, build_spiking_classifier)
