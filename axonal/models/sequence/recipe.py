"""The language models as a recipe architecture (``model: {architecture: language_model, ...}``).

Registered with the one model registry, so the generic :class:`axonal.train.Trainer` can train a
language model on the ``python_stdlib_text`` dataset's fixed-length chunks (``x [T, B, 1]`` ids as
floats, per-step targets): each chunk starts from a fresh state, as the Trainer's samples are
independent and shuffled. The recipe's encoder section is not applied (the model reads
character ids), and a standardised ``x`` (``data.standardize``, on by default) is mapped back
to ids with the training statistics the dataset records. The streaming, state-carrying loop with bits per character is
:mod:`axonal.train.language`.
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from ...config import Section
from ..registry import register_model
from .zoo import LANGUAGE_MODELS, build_language_model

__all__ = ["LanguageModelConfig", "ChunkLanguageModel"]


class LanguageModelConfig(Section):
    architecture: Literal["language_model"] = "language_model"
    name: str = "lstm"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        if v not in LANGUAGE_MODELS:
            raise ValueError(f"unknown language model {v!r}; known: {sorted(LANGUAGE_MODELS)}")
        return v


class ChunkLanguageModel(nn.Module):
    """``x [T, B, 1]`` (ids as floats) -> next-character scores ``[B, V, T]`` (fresh state)."""

    def __init__(self, lm: nn.Module, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.lm = lm
        self.mean, self.std = float(mean), float(std)   # undo a recipe's data standardisation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != 1:
            raise ValueError(f"language_model expects x [T, B, 1] character ids, got {tuple(x.shape)}")
        logits, _ = self.lm((x[..., 0] * self.std + self.mean).round().long())
        return logits.permute(1, 2, 0)


def _build(section: LanguageModelConfig, info, encoder) -> nn.Module:
    # the model reads character ids; the recipe's encoder (always built by the Trainer) is not applied
    mean = info.mean[0] if getattr(info, "mean", None) else 0.0
    std = info.std[0] if getattr(info, "std", None) else 1.0
    return ChunkLanguageModel(build_language_model(section.name, int(info.n_classes), **section.options), mean, std)


register_model("language_model", LanguageModelConfig, _build)
