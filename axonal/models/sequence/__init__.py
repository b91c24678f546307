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

from .astro_lm import AstroSNNLanguageModel
from .baselines import RNNLanguageModel, TransformerLanguageModel
from .common import LanguageModel, activity_sparsity, detach_state
from .cost import count_operations
from .egru import EGRULanguageModel
from .rwkv import SpikeGPT
from .spiking_brain import SpikingLinearAttentionLM
from .zoo import LANGUAGE_MODELS, build_language_model

__all__ = ["LANGUAGE_MODELS", "build_language_model", "LanguageModel", "detach_state", "activity_sparsity",
           "count_operations", "SpikeGPT", "EGRULanguageModel", "SpikingLinearAttentionLM", "AstroSNNLanguageModel",
           "RNNLanguageModel", "TransformerLanguageModel"]

from . import recipe  # noqa: E402,F401  (registers the ``language_model`` architecture)
