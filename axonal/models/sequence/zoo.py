"""Language models by name (a leaf of this package, so the recipe module can import it)."""
from __future__ import annotations

from typing import Any, Callable

from .astro_lm import AstroSNNLanguageModel
from .baselines import RNNLanguageModel, TransformerLanguageModel
from .common import LanguageModel
from .egru import EGRULanguageModel
from .rwkv import SpikeGPT
from .spiking_brain import SpikingLinearAttentionLM

__all__ = ["LANGUAGE_MODELS", "build_language_model"]

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
