"""Measuring networks: accuracy and readouts, spike activity, synaptic operations, energy.

    with SpikeMonitor(model) as mon:          # hooks on every Temporal layer and connection layer
        out, _ = model(x)                     # x: [T, B, ...]
    acc = accuracy(readout(out, "sum"), y)
    summary = summarize(mon.report(), accuracy=acc)   # .to_dict() for JSON, .table() to print

Evaluation platform: ``energy_breakdown`` (compute + memory access per layer, source-tagged cost
tables, ``.energy_model``/``.cost_tables``), ``bit_budget`` (``.bit_budget``), dynamic-confidence
early exit (``.dynamic_confidence``), attacks through surrogate gradients (``fgsm``, ``pgd``,
``with_surrogate``, PDSG, ``sda``; ``.robustness``) and a Markdown report card of any model
(``report_card``; ``.report_card``).

Reservoir scores: ``memory_capacity``, ``nrmse``, ``ridge_fit`` (``.reservoir``); branching ratio of
spiking activity: ``mr_branching_ratio``, ``network_branching_factor`` (``.criticality``).
"""
from .criticality import (MREstimate, branching_process, branching_ratio_regression, mr_branching_ratio,
                          network_branching_factor, population_activity)
from .bit_budget import BitBudget, bit_budget
from .cost_tables import COST_TABLES, CostTable, get_cost_table
from .dynamic_confidence import calibrate_threshold, early_exit, latency_curve, oracle_exit, running_scores
from .energy_model import EnergyBreakdown, LayerEnergy, energy_breakdown
from .robustness import PotentialDependentSurrogate, fgsm, pgd, sda, success_rate, with_surrogate
from .energy import ENERGY_TABLES, EnergyEstimate, EnergyTable, Summary, energy, get_energy_table, summarize
from .monitor import SpikeMonitor, synaptic_operations
from .readout import (
    READOUTS,
    accuracy,
    last_step,
    max_over_time,
    mean_over_time,
    predictions,
    readout,
    spike_count,
)
from .report import LayerActivity, LayerSynOps, MonitorReport
from .spike_statistics import firing_rates, isi_cv
from .reservoir import memory_capacity, nrmse, ridge_fit, ridge_predict
from .synops import (
    SynapticCount,
    conv_synops,
    is_binary,
    linear_synops,
    recurrent_synops,
    register_synops_rule,
    synops_rule,
)

__all__ = [name for name in dir() if not name.startswith("_")]
