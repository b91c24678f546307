"""Sequence classifiers with long memory, and the baselines they are compared with.

All models take time-major input ``x [T, B, C]`` and return ``(out [T, B, K], state)``: one
output vector per step. ``reduce(out)`` turns that into logits ``[B, K]`` for whole-sequence
classification with the model's own readout (``readout`` attribute); per-step tasks (the copy
task) use ``out`` directly.

- :class:`L2MUClassifier` — spiking L2MU (Fra et al., ICANN 2024) with its output population;
  readout: output spike counts (snnTorch's ``ce_count_loss`` convention, core.md §1).
- :class:`LMUClassifier` — the non-spiking LMU (Voelker et al., 2019) with a linear readout
  on the hidden state at each step; readout: last step.
- :class:`ELMClassifier` — ELM or Branch-ELM neuron (Spieler et al., ICLR 2024) whose linear
  readout gives the class scores; readout: last step (as in the paper).
- :class:`SpikingRNNClassifier` — input layer -> recurrent population of LIF, adaptive LIF
  or astrocyte-modulated units (AM-SU, core.md §6) -> non-spiking leaky readout neurons;
  readout: last step of the readout membrane (the memory must be held in the network).
- :class:`LSTMClassifier` — LSTM baseline; :func:`lstm_hidden_for_budget` picks the hidden
  size whose parameter count matches another model's.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..functional import tau_from_decay
from ..metrics.synops import SynapticCount, register_synops_rule
from ..network import Temporal, apply_per_step
from ..neurons import LIF, AdaptiveLIF, CurrentBasedLIF, Recurrent
from ..neurons.astrocyte import AstrocyteLIF
from ..neurons.base import check_sequence
from ..neurons.elm import BranchELM, ExpressiveLeakyMemory
from ..neurons.l2mu import L2MU, LMU
from ..neurons.readout import LeakyIntegrator
from .registry import neuron_choice

__all__ = ["L2MUClassifier", "LMUClassifier", "ELMClassifier", "SpikingRNNClassifier", "LSTMClassifier",
           "count_parameters", "lstm_parameter_count", "lstm_hidden_for_budget",
           "reduce_output"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def reduce_output(out: torch.Tensor, readout: str) -> torch.Tensor:
    """``[T, B, K]`` -> ``[B, K]``: ``"last"`` step, ``"sum"`` over time (spike count), ``"mean"``."""
    if readout == "last":
        return out[-1]
    if readout == "sum":
        return out.sum(0)
    if readout == "mean":
        return out.mean(0)
    raise ValueError(f"readout must be 'last', 'sum' or 'mean', got {readout!r}")


class _SequenceModel(Temporal):
    """Base of the classifiers: ``readout`` ("last", "mean" or "sum") is how :meth:`reduce`
    turns per-step outputs into logits; each class has a default and takes ``readout=``."""

    readout = "last"

    def _set_readout(self, readout: str | None) -> None:
        if readout is not None:
            if readout not in ("last", "mean", "sum"):
                raise ValueError(f"readout must be 'last', 'mean' or 'sum', got {readout!r}")
            self.readout = readout

    def reduce(self, out: torch.Tensor) -> torch.Tensor:
        return reduce_output(out, self.readout)


#: the L2MU's populations are LIF or current-based LIF: catalog class -> the word
#: ``axonal.neurons.l2mu.L2MU(neuron=...)`` uses for it (drop once L2MU takes catalog names)
_L2MU_POPULATIONS = {LIF: "lif", CurrentBasedLIF: "cuba_lif"}


class L2MUClassifier(_SequenceModel):
    """L2MU with an output LIF population of ``n_classes`` neurons; logits = spike counts.

    ``L2MUClassifier(n_inputs, n_classes, hidden_size=64, memory_size=32, order=4, theta=16.,
    neuron="lif"|"cuba_lif", input_module=4)`` (``neuron``: a name of ``axonal.neurons.catalog``);
    other keyword arguments go to :class:`L2MU`.
    """

    #: the neurons an L2MU population can be made of
    NEURONS = tuple(_L2MU_POPULATIONS)
    readout = "sum"

    def __init__(self, n_inputs: int, n_classes: int, hidden_size: int = 64, memory_size: int = 32,
                 order: int = 4, theta: float = 16.0, neuron: str = "lif", input_module: float | None = 4,
                 readout: str | None = None, **kwargs):
        super().__init__()
        self._set_readout(readout)
        cls = neuron_choice(neuron, self.NEURONS, who="L2MUClassifier")
        self.neuron = neuron
        self.net = L2MU(n_inputs, hidden_size, memory_size, order, theta, output_size=n_classes,
                        neuron=_L2MU_POPULATIONS[cls], input_module=input_module, **kwargs)

    def forward(self, x, state=None):
        return self.net(x, state)


class LMUClassifier(_SequenceModel):
    """Non-spiking LMU + linear readout of the hidden state (the L2MU's upper reference)."""

    def __init__(self, n_inputs: int, n_classes: int, hidden_size: int = 64, memory_size: int = 32,
                 order: int = 4, theta: float = 16.0, readout: str | None = None):
        super().__init__()
        self._set_readout(readout)
        self.net = LMU(n_inputs, hidden_size, memory_size, order, theta)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x, state=None):
        h, st = self.net(x, state)
        return apply_per_step(self.head, h), st


class ELMClassifier(_SequenceModel):
    """ELM (``branch=False``) or Branch-ELM (``branch=True``) with ``n_classes`` outputs.

    ``ELMClassifier(n_inputs, n_classes, num_memory=50, tau_min=1., tau_max=200., branch=False,
    **elm_kwargs)``. ``input_scale`` multiplies the input (spike inputs of the paper's SHD
    setup are 0/1; z-normalised sensor values can be passed as they are).
    """

    def __init__(self, n_inputs: int, n_classes: int, num_memory: int = 50, tau_min: float = 1.0,
                 tau_max: float = 200.0, branch: bool = False, readout: str | None = None, **kwargs):
        super().__init__()
        self._set_readout(readout)
        cls = BranchELM if branch else ExpressiveLeakyMemory
        self.net = cls(n_inputs, n_classes, num_memory=num_memory, tau_min=tau_min, tau_max=tau_max, **kwargs)

    def forward(self, x, state=None):
        return self.net(x, state)


def _readout(size: int, decay: float) -> LeakyIntegrator:
    """Leaky readout of per-step decay ``decay`` in [0, 1) and unit DC gain."""
    if not (isinstance(decay, (int, float)) and 0 <= decay < 1):
        raise ValueError(f"readout decay must lie in [0, 1), got {decay!r}")
    # decay 0 (no memory): tau = 1e-3, whose decay exp(-1000) underflows to exactly 0
    return LeakyIntegrator(size, tau=1e-3 if decay == 0 else tau_from_decay(decay), unit_gain=True)


class SpikingRNNClassifier(_SequenceModel):
    """``Linear(n_inputs, hidden) -> Recurrent(neuron population) -> Linear(hidden, K) -> leaky readout``.

    ``neuron`` (a name of ``axonal.neurons.catalog``): ``"lif"`` (tau_mem 10),
    ``"adaptive_lif"`` (adaptive threshold, tau_adapt ``tau_slow``), or ``"astrocyte_lif"``
    (astrocyte-modulated spiking units, AM-SU: tau_astro log-spaced over ``[tau_slow/10,
    tau_slow]`` per neuron, learnable). Time constants and thresholds are learned per neuron.
    Logits: the readout membrane at the last step.
    """

    #: the neurons the recurrent population can be made of
    NEURONS = (LIF, AdaptiveLIF, AstrocyteLIF)

    def __init__(self, n_inputs: int, n_classes: int, hidden_size: int = 64, neuron: str = "lif",
                 tau_mem: float = 10.0, tau_slow: float = 200.0, readout_decay: float = 0.8,
                 current_gain: float = 0.5, threshold_gain: float = 0.0, input_gain: float = 1.0,
                 readout: str | None = None):
        super().__init__()
        self._set_readout(readout)
        cls = neuron_choice(neuron, self.NEURONS, who="SpikingRNNClassifier")
        if cls is LIF:
            pop = LIF(hidden_size, tau_mem=tau_mem, learn=("tau_mem", "threshold"), per_neuron=True)
        elif cls is AdaptiveLIF:
            pop = AdaptiveLIF(hidden_size, tau_mem=tau_mem, tau_adapt=tau_slow,
                              learn=("tau_mem", "tau_adapt", "threshold"), per_neuron=True)
        else:
            pop = AstrocyteLIF(hidden_size, tau_mem=tau_mem, tau_astro=tau_slow, current_gain=current_gain,
                               threshold_gain=threshold_gain,
                               learn=("tau_mem", "tau_astro", "threshold", "current_gain", "threshold_gain"),
                               per_neuron=True)
            with torch.no_grad():  # log-spaced astrocyte time constants, like the ELM's memory
                lo = max(tau_mem * 2, tau_slow / 10)
                pop.tau_astro_param.copy_(torch.linspace(math.log(lo), math.log(tau_slow), hidden_size))
        self.neuron = neuron
        self.inp = nn.Linear(n_inputs, hidden_size)
        with torch.no_grad():
            self.inp.weight.mul_(input_gain)
        self.rec = Recurrent(pop)
        self.out = nn.Linear(hidden_size, n_classes)
        # v_t = d v_{t-1} + (1 - d) x_t: the library's leaky integrator with unit DC gain
        self.read = _readout(n_classes, readout_decay)

    def forward(self, x, state=None):
        s_rec, s_read = (None, None) if state is None else state
        spikes, s_rec = self.rec(apply_per_step(self.inp, x), s_rec)
        v, s_read = self.read(apply_per_step(self.out, spikes), s_read)
        return v, (s_rec, s_read)


class LSTMClassifier(_SequenceModel):
    """One-layer LSTM + linear readout of the hidden state at each step."""

    def __init__(self, n_inputs: int, n_classes: int, hidden_size: int = 32, readout: str | None = None):
        super().__init__()
        self._set_readout(readout)
        self.lstm = nn.LSTM(n_inputs, hidden_size)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x, state=None):
        check_sequence(x, (self.lstm.input_size,), "LSTMClassifier")
        h, st = self.lstm(x, state)
        return apply_per_step(self.head, h), st


def lstm_parameter_count(n_inputs: int, n_classes: int, hidden_size: int) -> int:
    """Parameters of :class:`LSTMClassifier`: ``4h(n + h) + 8h`` (two bias vectors) ``+ h K + K``."""
    h = hidden_size
    return 4 * h * (n_inputs + h) + 8 * h + h * n_classes + n_classes


def lstm_hidden_for_budget(n_inputs: int, n_classes: int, budget: int) -> int:
    """Hidden size (>= 1) whose :class:`LSTMClassifier` parameter count is closest to ``budget``."""
    if budget < 1:
        raise ValueError(f"budget must be a positive parameter count, got {budget}")
    # 4h^2 + h (4n + 8 + K) + K = budget
    a, b, c = 4.0, 4.0 * n_inputs + 8 + n_classes, n_classes - budget
    h0 = max(1, int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    cands = [h for h in (h0 - 1, h0, h0 + 1, h0 + 2) if h >= 1]
    return min(cands, key=lambda h: abs(lstm_parameter_count(n_inputs, n_classes, h) - budget))


def _lstm_synops(m: nn.LSTM, args, kwargs, output):
    """SynOps of ``nn.LSTM``: every step multiplies the input and the previous hidden state into
    the four gates, ``4 h (n + h)`` real-valued MACs per sample and step and layer (the gate
    nonlinearities and element-wise products are not synaptic operations)."""
    x = args[0] if args else kwargs["input"]
    steps_batch = x.shape[0] * (x.shape[1] if x.ndim == 3 else 1)
    h, n = m.hidden_size, m.input_size
    per = 4 * h * (n + h) + sum(4 * h * (h + h) for _ in range(m.num_layers - 1))
    per *= 2 if m.bidirectional else 1
    macs = torch.tensor(float(steps_batch) * per, dtype=torch.float64)
    return SynapticCount(macs, macs, False)


register_synops_rule(nn.LSTM, _lstm_synops)
