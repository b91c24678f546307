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

# physical-unit neurons of the reservoir engine (ms, mV): refractory LIF and conductance LIF
from .lif import RefractoryLIF, RefractoryLIFParams, RefractoryLIFState, refractory_lif_step  # noqa: E402
from .conductance import (ConductanceLIF, ConductanceLIFParams, ConductanceLIFState,  # noqa: E402
                          conductance_lif_step)
# Izhikevich neurons and the probabilistic meta neuron (issue 5)
from .izhikevich import (  # noqa: E402
    IZHIKEVICH_PRESETS,
    Izhikevich,
    IzhikevichParams,
    IzhikevichState,
    izhikevich_step,
)
from .astrocyte import AstrocyteLIF, AstrocyteParams, AstrocyteState, astrocyte_lif_step  # noqa: E402
from .readout import LeakyIntegrator, LeakyIntegratorParams, LeakyIntegratorState, leaky_integrator_step  # noqa: E402
from .elm import BranchELM, ELMParams, ELMState, ExpressiveLeakyMemory, elm_step  # noqa: E402
from .meta import (  # noqa: E402
    MetaNeuron,
    MetaNeuronLayer,
    MetaNeuronParams,
    MetaNeuronState,
    StochasticSynapse,
    meta_neuron_step,
)

__all__ = [name for name in dir() if not name.startswith("_")]
