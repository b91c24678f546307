"""Recipe schemas and builders for the long-memory models and their baselines (issue 6).

Registered architectures (``model: {architecture: NAME, ...}`` in a recipe):

- ``l2mu`` — spiking L2MU (Fra et al., ICANN 2024), ``lif`` or ``cuba_lif`` populations, spike-count readout;
- ``lmu`` — the non-spiking LMU (Voelker et al., NeurIPS 2019), the L2MU's reference;
- ``elm`` — ELM / Branch-ELM neuron (Spieler et al., ICLR 2024), last-step readout;
- ``spiking_rnn`` — recurrent ``lif``, ``adaptive_lif`` or ``astrocyte_lif`` (AM-SU) population;
- ``lstm`` — LSTM baseline; ``parameter_budget: match`` inside a recipe's ``baselines`` list
  sizes it to the recipe's main model;
- ``minirocket`` — aeon's MiniRocket (:mod:`axonal.models.minirocket`), fitted without gradients.

Every builder returns a module ``x [T, B, C] -> scores``: ``[B, K]`` for one label per sequence,
or ``[B, K, T]`` when the dataset has per-step targets (``info.per_step``, the copy task), the
layout ``torch.nn.functional.cross_entropy`` takes with targets ``y [B, T]``.

Neurons are named as in ``axonal.neurons.catalog``; each schema accepts the catalog names of the
neurons its model can build (``L2MUClassifier.NEURONS``, ``SpikingRNNClassifier.NEURONS``).
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from ..config import Section
from .long_memory import (ELMClassifier, L2MUClassifier, LMUClassifier, LSTMClassifier, SpikingRNNClassifier,
                          lstm_hidden_for_budget)
from .minirocket import MiniRocketBaseline
from .registry import encoded_channels, neuron_choice, register_model

__all__ = ["SequenceScores", "L2MUConfig", "LMUConfig", "ELMConfig", "SpikingRNNConfig", "LSTMConfig",
           "MiniRocketConfig"]


class L2MUConfig(Section):
    """:class:`~axonal.models.long_memory.L2MUClassifier`; ``input_module`` is the width factor of
    the encoding-free spiking input module (0: raw values straight into the cell)."""

    architecture: Literal["l2mu"] = "l2mu"
    readout: Literal["last", "mean", "sum"] | None = None   # None: the model's default
    neuron: str = "lif"                       # L2MUClassifier.NEURONS: lif or cuba_lif
    hidden_size: int = Field(48, gt=0)
    memory_size: int = Field(16, gt=0)
    order: int = Field(4, ge=1, le=32)
    theta: float = Field(16.0, gt=0)
    input_module: float = Field(3.0, ge=0)
    input_layers: int = Field(3, ge=1)
    syn_decay: float = Field(0.5, gt=0, lt=1)

    @field_validator("neuron")
    @classmethod
    def _population(cls, v):
        neuron_choice(v, L2MUClassifier.NEURONS, who="l2mu")
        return v


class LMUConfig(Section):
    architecture: Literal["lmu"] = "lmu"
    readout: Literal["last", "mean", "sum"] | None = None   # None: the model's default
    hidden_size: int = Field(48, gt=0)
    memory_size: int = Field(16, gt=0)
    order: int = Field(4, ge=1, le=32)
    theta: float = Field(16.0, gt=0)


class ELMConfig(Section):
    """ELM (``branch: false``) or Branch-ELM; memory time constants log-spaced on ``[tau_min, tau_max]``."""

    architecture: Literal["elm"] = "elm"
    readout: Literal["last", "mean", "sum"] | None = None   # None: the model's default
    branch: bool = False
    num_memory: int = Field(32, gt=0)
    tau_min: float = Field(1.0, gt=0)
    tau_max: float = Field(400.0, gt=0)
    learn_tau: bool = False
    lambda_value: float = Field(5.0, gt=0)
    mlp_layers: int = Field(1, ge=0)
    tau_syn: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _range(self):
        if self.tau_max <= self.tau_min:
            raise ValueError(f"tau_max ({self.tau_max}) must exceed tau_min ({self.tau_min})")
        return self


class SpikingRNNConfig(Section):
    """Input Linear -> recurrent ``neuron`` population -> Linear -> leaky readout (last step)."""

    architecture: Literal["spiking_rnn"] = "spiking_rnn"
    readout: Literal["last", "mean", "sum"] | None = None   # None: the model's default
    neuron: str = "lif"                     # SpikingRNNClassifier.NEURONS: lif, adaptive_lif, astrocyte_lif
    hidden_size: int = Field(64, gt=0)
    tau_mem: float = Field(10.0, gt=0)
    tau_slow: float = Field(200.0, gt=0)     # adaptive_lif adaptation / astrocyte_lif astrocyte time constant
    readout_decay: float = Field(0.8, ge=0, lt=1)
    current_gain: float = 0.5               # astrocyte_lif: astrocyte -> membrane current
    threshold_gain: float = 0.0             # astrocyte_lif: astrocyte -> threshold

    @field_validator("neuron")
    @classmethod
    def _population(cls, v):
        neuron_choice(v, SpikingRNNClassifier.NEURONS, who="spiking_rnn")
        return v


class LSTMConfig(Section):
    """One-layer LSTM: give ``hidden_size``, or ``parameter_budget`` (an int, or ``match`` in a
    recipe's ``baselines`` list: the main model's trainable-parameter count)."""

    architecture: Literal["lstm"] = "lstm"
    readout: Literal["last", "mean", "sum"] | None = None   # None: the model's default
    hidden_size: int | None = Field(None, gt=0)
    parameter_budget: int | Literal["match"] | None = None

    @model_validator(mode="after")
    def _one_size(self):
        if (self.hidden_size is None) == (self.parameter_budget is None):
            raise ValueError("give exactly one of hidden_size or parameter_budget (an int, or 'match' to match "
                             "the recipe's main model when used as a baseline)")
        if isinstance(self.parameter_budget, int) and self.parameter_budget < 1:
            raise ValueError(f"parameter_budget must be a positive int, got {self.parameter_budget}")
        return self


class MiniRocketConfig(Section):
    architecture: Literal["minirocket"] = "minirocket"
    n_kernels: int = Field(10000, ge=84)
    max_dilations_per_kernel: int = Field(32, gt=0)
    random_state: int | None = None          # None: the recipe's training.seed
    n_jobs: int = Field(1, gt=0)


class SequenceScores(nn.Module):
    """``x [T, B, C] -> scores`` for the trainer: the encoder (if any), then a sequence model's
    per-step output reduced by its own readout (``[B, K]``), or kept per step as ``[B, K, T]``."""

    def __init__(self, net: nn.Module, encoder: nn.Module | None = None, per_step: bool = False):
        super().__init__()
        self.net, self.encoder, self.per_step = net, encoder, bool(per_step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            x, _ = self.encoder(x)
        out, _ = self.net(x)
        return out.permute(1, 2, 0) if self.per_step else self.net.reduce(out)


def _inputs(encoder, info) -> int:
    return encoded_channels(encoder, info)


def _wrap(net, encoder, info):
    return SequenceScores(net, encoder, per_step=getattr(info, "per_step", False))


def _build_l2mu(s: L2MUConfig, info, encoder):
    net = L2MUClassifier(_inputs(encoder, info), info.n_classes, hidden_size=s.hidden_size,
                         memory_size=s.memory_size, order=s.order, theta=s.theta, neuron=s.neuron,
                         input_module=s.input_module or None, input_layers=s.input_layers, syn_decay=s.syn_decay,
                         readout=s.readout)
    return _wrap(net, encoder, info)


def _build_lmu(s: LMUConfig, info, encoder):
    net = LMUClassifier(_inputs(encoder, info), info.n_classes, hidden_size=s.hidden_size,
                        memory_size=s.memory_size, order=s.order, theta=s.theta, readout=s.readout)
    return _wrap(net, encoder, info)


def _build_elm(s: ELMConfig, info, encoder):
    net = ELMClassifier(_inputs(encoder, info), info.n_classes, num_memory=s.num_memory, tau_min=s.tau_min,
                        tau_max=s.tau_max, branch=s.branch, learn_tau=s.learn_tau, lambda_value=s.lambda_value,
                        mlp_layers=s.mlp_layers, tau_syn=s.tau_syn, readout=s.readout)
    return _wrap(net, encoder, info)


def _build_spiking_rnn(s: SpikingRNNConfig, info, encoder):
    net = SpikingRNNClassifier(_inputs(encoder, info), info.n_classes, hidden_size=s.hidden_size, neuron=s.neuron,
                               tau_mem=s.tau_mem, tau_slow=s.tau_slow, readout_decay=s.readout_decay,
                               current_gain=s.current_gain, threshold_gain=s.threshold_gain,
                               readout=s.readout)
    return _wrap(net, encoder, info)


def _build_lstm(s: LSTMConfig, info, encoder):
    n_in = _inputs(encoder, info)
    if s.parameter_budget == "match":
        raise ValueError("lstm: parameter_budget 'match' only works in a recipe's baselines list (it copies the "
                         "main model's parameter count); give an int or hidden_size here")
    hidden = s.hidden_size or lstm_hidden_for_budget(n_in, info.n_classes, int(s.parameter_budget))
    return _wrap(LSTMClassifier(n_in, info.n_classes, hidden, readout=s.readout), encoder, info)


def _build_minirocket(s: MiniRocketConfig, info, encoder):
    if encoder is not None and type(encoder).__name__ != "DirectEncoder":
        raise ValueError("minirocket works on the raw (standardised) series; use encoder 'direct'")
    if getattr(info, "per_step", False):
        raise ValueError(f"minirocket classifies whole sequences; dataset {info.name!r} has per-step targets")
    return MiniRocketBaseline(info.n_classes, n_kernels=s.n_kernels,
                              max_dilations_per_kernel=s.max_dilations_per_kernel,
                              random_state=(torch.initial_seed() % 2**31) if s.random_state is None else s.random_state,
                              n_jobs=s.n_jobs)


register_model("l2mu", L2MUConfig, _build_l2mu)
register_model("lmu", LMUConfig, _build_lmu)
register_model("elm", ELMConfig, _build_elm)
register_model("spiking_rnn", SpikingRNNConfig, _build_spiking_rnn)
register_model("lstm", LSTMConfig, _build_lstm)
register_model("minirocket", MiniRocketConfig, _build_minirocket)
