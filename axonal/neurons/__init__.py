"""Neuron models: each a Params dataclass, a State NamedTuple, a pure step and a module."""
from .base import NeuronModule, NeuronParams, constant, scan
from .catalog import NEURONS, neuron_class, neuron_names, register_neuron
from .lif import (
    IF,
    LIF,
    AdaptiveLIF,
    AdaptiveLIFParams,
    AdaptiveLIFState,
    CurrentBasedLIF,
    CurrentBasedLIFParams,
    CurrentBasedLIFState,
    IFParams,
    IFState,
    LIFParams,
    LIFState,
    ParametricLIF,
    ParametricLIFParams,
    ParametricLIFState,
    Recurrent,
    RecurrentLIF,
    RecurrentState,
    adaptive_lif_step,
    current_based_lif_step,
    if_step,
    lif_step,
    parametric_lif_step,
)

__all__ = [name for name in dir() if not name.startswith("_")]

# Izhikevich neurons and the probabilistic meta neuron (issue 5)
from .izhikevich import (  # noqa: E402
    IZHIKEVICH_PRESETS,
    Izhikevich,
    IzhikevichParams,
    IzhikevichState,
    izhikevich_step,
)
from .astrocyte import AstrocyteLIF, AstrocyteParams, AstrocyteState, astrocyte_lif_step  # noqa: E402
from .meta import MetaNeuronLayer, MetaNeuronParams, MetaNeuronState, meta_neuron_step  # noqa: E402

__all__ = [name for name in dir() if not name.startswith("_")]
