"""Model zoo: one file per architecture, each with its recipe schema beside its builder.

Every model file registers its architecture with the one registry
(:mod:`axonal.models.registry`): ``register_model(name, schema, builder)``. Importing this
package imports the zoo, so every architecture below is registered:

- ``spiking_classifier`` (:mod:`.classifier`): encoder -> spiking hidden layers of any catalog neuron -> readout;
- ``dcls_delays`` (:mod:`.dcls_delays`) and ``heterogeneous_delays`` (:mod:`.heterogeneous_delays`): learnable
  and heterogeneous synaptic delays;
- ``l2mu``, ``lmu``, ``elm``, ``spiking_rnn``, ``lstm``, ``minirocket`` (:mod:`.long_memory_recipes`): long-memory
  models and the baselines they are compared with;
- ``language_model`` (:mod:`.sequence`): the character-level language models (SpikeGPT, EGRU, SpikingBrain-style,
  AstroSNN, LSTM, GRU, transformer) on the ``python_stdlib_text`` chunks.

``build_model(section, info, encoder)`` builds the model of a validated ``model`` section for the
dataset ``info`` (``n_channels``, ``n_classes`` ...) behind the encoder (or None). A model built
this way maps time-major input ``x [T, B, C]`` to class scores ``[B, K]`` (or ``[B, K, T]`` for
per-step targets), which the training loop gives to cross-entropy.
"""
from __future__ import annotations

from . import classifier, dcls_delays, heterogeneous_delays, long_memory_recipes, sequence  # noqa: F401  (register the zoo)
from .classifier import LeakyIntegrator, SpikingClassifier, SpikingClassifierConfig
from .registry import (DEFAULT_ARCHITECTURE, MODELS, ModelEntry, build_model, encoded_channels, model_entry,
                       model_names, model_schema, neuron_choice, register_model)

__all__ = ["SpikingClassifier", "SpikingClassifierConfig", "LeakyIntegrator", "build_model", "register_model",
           "model_entry", "model_names", "model_schema", "encoded_channels", "neuron_choice", "MODELS", "ModelEntry",
           "DEFAULT_ARCHITECTURE"]
