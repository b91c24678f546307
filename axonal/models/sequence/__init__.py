"""Sequence and language models built from spiking, event-based or neuron-level units.

Language models (``forward(x [T, B] ids, state) -> (logits [T, B, V], state)``; see
:mod:`.common`), by name for :func:`build_language_model`:

- ``spikegpt`` / ``rwkv`` (:mod:`.rwkv`): SpikeGPT (Zhu et al. 2024) and the non-spiking RWKV of the same size;
- ``egru`` (:mod:`.egru`): event-based GRU (Subramoney et al. 2023);
- ``spiking_brain`` (:mod:`.spiking_brain`): spike-count-coded linear attention (SpikingBrain, Pan et al. 2025);
- ``astrosnn`` / ``lif_snn`` (:mod:`.astro_lm`): astrocyte-modulated spiking units (Shen et al. 2023) and
  the same network without astrocytes;
- ``lstm``, ``gru``, ``transformer`` (:mod:`.baselines`).

Continuous Thought Machines (Darlow et al. 2025) are in :mod:`.ctm`.
"""
from __future__ import annotations

from typing import Any, Callable

from .astro_lm import AstroSNNLanguageModel
from .baselines import RNNLanguageModel, TransformerLanguageModel
from .common import LanguageModel, activity_sparsity, detach_state
from .cost import count_operations
from .egru import EGRULanguageModel
from .rwkv import SpikeGPT
from .spiking_brain import SpikingLinearAttentionLM

__all__ = ["LANGUAGE_MODELS", "build_language_model", "LanguageModel", "detach_state", "activity_sparsity",
           "count_operations", "SpikeGPT", "EGRULanguageModel", "SpikingLinearAttentionLM", "AstroSNNLanguageModel",
           "RNNLanguageModel", "TransformerLanguageModel"]

#: name -> (builder(vocab_size, **options), one-line description)
LANGUAGE_MODELS: dict[str, tuple[Callable[..., LanguageModel], str]] = {
    "spikegpt": (lambda v, **o: SpikeGPT(v, spiking=True, **o), "SpikeGPT: spiking RWKV (Zhu et al., TMLR 2024)"),
    "rwkv": (lambda v, **o: SpikeGPT(v, spiking=False, **o), "RWKV-v4 of the same shape without spikes"),
    "egru": (EGRULanguageModel, "event-based GRU (Subramoney et al., ICLR 2023)"),
    "spiking_brain": (SpikingLinearAttentionLM, "spike-count-coded linear attention (SpikingBrain, Pan et al. 2025)"),
    "astrosnn": (lambda v, **o: AstroSNNLanguageModel(v, astrocyte=True, **o),
                 "recurrent astrocyte-modulated spiking units (AstroSNN, Shen et al. 2023)"),
    "lif_snn": (lambda v, **o: AstroSNNLanguageModel(v, astrocyte=False, **o),
                "the AstroSNN network with astrocyte coupling off (plain recurrent LIF)"),
    "lstm": (lambda v, **o: RNNLanguageModel(v, kind="lstm", **o), "LSTM"),
    "gru": (lambda v, **o: RNNLanguageModel(v, kind="gru", **o), "GRU"),
    "transformer": (TransformerLanguageModel, "small causal transformer (window context)"),
}


def build_language_model(name: str, vocab_size: int, **options: Any) -> LanguageModel:
    """The language model ``name`` (a key of :data:`LANGUAGE_MODELS`) with its ``options``."""
    if name not in LANGUAGE_MODELS:
        raise ValueError(f"unknown language model {name!r}; known: {sorted(LANGUAGE_MODELS)}")
    try:
        return LANGUAGE_MODELS[name][0](vocab_size, **options)
    except TypeError as exc:
        raise TypeError(f"language model {name!r}: {exc}") from None
