"""Local plasticity rules (no backprop): STDP, Tempotron, three-factor Hebbian, and a training loop.

    layer = PlasticLinear(64, 10, LIF(10), STDP(w_min=0, w_max=1))
    local_train(layer, batches, epochs=3, teacher=lambda y: 5.0 * one_hot(y, 10))
"""
from .local import PlasticLinear, local_train, plastic_layers
from .rule import LocalRule
from .stdp import STDP, STDPState, pair_stdp, stdp_window
from .tempotron import Tempotron, tempotron_kernel_traces, tempotron_update
from .three_factor import ThreeFactor, ThreeFactorState

__all__ = [
    "LocalRule", "STDP", "STDPState", "pair_stdp", "stdp_window", "Tempotron",
    "tempotron_kernel_traces", "tempotron_update", "ThreeFactor", "ThreeFactorState",
    "PlasticLinear", "local_train", "plastic_layers",
]
