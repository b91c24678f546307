"""AstroSNN-style language model from astrocyte-modulated spiking units, and its plain LIF twin.

After Shen, Zhao, Dong, Li, Li, Sun & Zeng, "Astrocyte-Enabled Advancements in Spiking Neural
Networks for Large Language Modeling" (arXiv 2312.07625; ``shared/papers/core.md`` section 6).
The model follows the block core.md proposes: character embedding -> [linear -> recurrent AM-SU
population] x L -> linear readout of the last layer's spikes, trained with next-character
cross-entropy (BPTT within a window, state carried across windows). The AM-SU is
:class:`axonal.neurons.AstrocyteLIF` (its module docstring gives the equations and says which
parts are this library's interpretation: the paper's own equations could not be retrieved here,
see ``docs/language.md``), wrapped in :class:`axonal.neurons.Recurrent`.

``astrocyte=False`` gives the plain spiking baseline of the same shape and parameter count: the
astrocyte couplings are fixed at 0 (an AM-SU with ``current_gain = threshold_gain = 0`` is a LIF
neuron), so any difference comes from the astrocyte alone.
"""
from __future__ import annotations

from torch import nn

from ...neurons import Recurrent
from ...neurons.astrocyte import AstrocyteLIF
from .common import LanguageModel

__all__ = ["AstroSNNLanguageModel"]


class AstroSNNLanguageModel(LanguageModel):
    """``AstroSNNLanguageModel(98, d_embed=32, hidden=128, n_layers=1, astrocyte=True)``."""

    spiking = True

    def __init__(self, vocab_size: int, d_embed: int = 32, hidden: int = 128, n_layers: int = 1,
                 astrocyte: bool = True, tau_mem: float = 4.0, tau_astro: float = 100.0,
                 current_gain: float = 0.5, threshold_gain: float = 0.2):
        super().__init__(vocab_size)
        self.astrocyte = astrocyte
        self.embed = nn.Embedding(vocab_size, d_embed)
        sizes = [d_embed] + [hidden] * n_layers
        self.inputs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        learn = ("tau_mem", "threshold") + (("tau_astro", "current_gain", "threshold_gain") if astrocyte else ())
        self.populations = nn.ModuleList(
            Recurrent(AstrocyteLIF(hidden, tau_mem=tau_mem, tau_astro=tau_astro,
                                   current_gain=current_gain if astrocyte else 0.0,
                                   threshold_gain=threshold_gain if astrocyte else 0.0,
                                   detach_reset=False, learn=learn, per_neuron=True, backend="reference"))
            for _ in range(n_layers))
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        self.check_input(x)
        h = self.embed(x)
        state = state or [None] * len(self.populations)
        new = []
        for i, (lin, pop, s) in enumerate(zip(self.inputs, self.populations, state)):
            h, s = pop(lin(h), s)
            self.record(f"spikes{i}", h)
            new.append(s)
        return self.head(h), new
