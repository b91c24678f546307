"""Model zoo and the registry that builds a model from a recipe's ``model`` section.

``build_model(section, info, encoder)`` looks up ``section.architecture`` and calls its builder
with the validated section, the dataset's ``DatasetInfo`` (``n_channels``, ``n_classes`` ...)
and the encoder module (or None) that the model runs first.
A model built this way maps time-major input ``x [T, B, C]`` to class scores ``[B, K]`` (the
training loop applies cross-entropy to them). Register more architectures with
``register_model(name, schema)`` used as a decorator on a ``builder(section, info, encoder)``; the schema
(a pydantic model with ``extra="forbid"`` and an ``architecture`` field) validates the section.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .classifier import LeakyIntegrator, SpikingClassifier

__all__ = ["SpikingClassifier", "LeakyIntegrator", "build_model", "register_model", "MODEL_BUILDERS",
           "encoded_channels"]

MODEL_BUILDERS: dict[str, Callable[[Any, Any, Any], nn.Module]] = {}


def register_model(name: str, schema) -> Callable:
    """Decorator: ``@register_model("my_net", MyNetConfig)`` on ``def build(section, info, encoder) -> nn.Module``."""
    from ..config import register_model_schema

    def wrap(builder: Callable) -> Callable:
        register_model_schema(name, schema)
        MODEL_BUILDERS[name] = builder
        return builder

    return wrap


def build_model(section, info, encoder: nn.Module | None = None) -> nn.Module:
    """The model described by a validated ``model`` section, sized for the dataset ``info``."""
    arch = getattr(section, "architecture", None)
    if arch not in MODEL_BUILDERS:
        raise ValueError(f"no builder for architecture {arch!r}; registered: {', '.join(sorted(MODEL_BUILDERS))}")
    return MODEL_BUILDERS[arch](section, info, encoder)


@torch.no_grad()
def encoded_channels(encoder: nn.Module | None, info) -> int:
    """Width of the encoder's output for the dataset ``info`` (found by encoding a zero input)."""
    if encoder is None:
        return int(info.n_channels)
    shape = (1, info.n_channels) if info.n_steps is None else (min(int(info.n_steps), 2), 1, info.n_channels)
    out, _ = encoder(torch.zeros(shape))
    return int(out.shape[-1])


def _build_spiking_classifier(section, info, encoder) -> nn.Module:
    return SpikingClassifier.from_config(section, n_inputs=encoded_channels(encoder, info),
                                         n_classes=info.n_classes, encoder=encoder)


def _register_builtin() -> None:
    from ..config import SpikingClassifierConfig

    register_model("spiking_classifier", SpikingClassifierConfig)(_build_spiking_classifier)


_register_builtin()


def _register_delay_models() -> None:
    """Learnable / heterogeneous synaptic delays (issue 4): DCLS-Delays and the motif detector."""
    from .dcls_delays import DCLSDelaysConfig, _build_dcls
    from .heterogeneous_delays import HeterogeneousDelayConfig, _build_motif

    register_model("dcls_delays", DCLSDelaysConfig)(_build_dcls)
    register_model("heterogeneous_delays", HeterogeneousDelayConfig)(_build_motif)


_register_delay_models()


def _register_long_memory() -> None:
    from .long_memory_recipes import register_long_memory_models

    register_long_memory_models()


_register_long_memory()
