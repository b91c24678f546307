"""Operations per token of a language model, counted from the tensors each weight layer sees.

Every call of a connection layer that :func:`axonal.metrics.synops.synops_rule` knows
(``nn.Linear``, ``axonal.neurons.Recurrent``'s recurrent weights, ...) is counted by that rule (nonzero
inputs x fan-out; accumulates when the input is binary, multiply-accumulates otherwise; dense MACs
for comparison). A module with ``lm_cost() -> (acs, macs, dense_macs)`` counts itself (the
spike-count layers of SpikingBrain: ``|n|`` accumulates per spike count) and its inner layers are
not counted again. Weight products that are not ``nn.Linear`` calls are added by the model's
``lm_extra_macs(steps, batch)`` (LSTM / GRU cells, attention). Embedding lookups are free (a
table read), and elementwise work (gates, WKV, neuron updates, layer norms) is not counted, as in
the SynOps convention of the SNN literature. Energy uses :func:`axonal.metrics.energy`'s table
(0.9 pJ per AC, 4.6 pJ per MAC, 45 nm; Horowitz 2014): a compute-only proxy.
"""
from __future__ import annotations

import torch

from ...metrics.energy import get_energy_table
from ...metrics.synops import synops_rule
from .common import LanguageModel, activity_sparsity

__all__ = ["count_operations"]


@torch.no_grad()
def count_operations(model: LanguageModel, x: torch.Tensor, state=None, table=None) -> dict:
    """Run ``model`` on ``x [T, B]`` and return operations and energy **per token**, plus the
    activity sparsity seen on this input."""
    totals = {"acs": 0.0, "macs": 0.0, "dense_macs": 0.0}
    self_counting = [m for m in model.modules() if hasattr(m, "lm_cost")]
    inner = {id(c) for m in self_counting for c in m.modules() if c is not m}
    hooks = []

    def rule_hook(layer, args, kwargs, out):
        c = synops_rule(layer)(layer, args, kwargs, out)
        ops = float(c.ops)
        totals["acs" if bool(c.binary) else "macs"] += ops
        totals["dense_macs"] += float(c.dense_macs)

    def self_hook(layer, args, out):
        acs, macs, dense = layer.lm_cost()
        totals["acs"] += acs
        totals["macs"] += macs
        totals["dense_macs"] += dense

    for m in model.modules():
        if id(m) in inner:
            continue
        if hasattr(m, "lm_cost"):
            hooks.append(m.register_forward_hook(self_hook))
        elif synops_rule(m) is not None:
            hooks.append(m.register_forward_hook(rule_hook, with_kwargs=True))
    was, model.recording = model.recording, True
    model.activity = {}
    try:
        model(x, state)
    finally:
        for h in hooks:
            h.remove()
        model.recording = was
    extra = model.lm_extra_macs(*x.shape) if hasattr(model, "lm_extra_macs") else 0.0
    totals["macs"] += extra
    totals["dense_macs"] += extra
    tokens = x.numel()
    t = get_energy_table(table)
    out = {k: v / tokens for k, v in totals.items()}
    out["synops"] = out["acs"] + out["macs"]
    out["energy_j"] = out["acs"] * t.ac + out["macs"] * t.mac
    out["dense_energy_j"] = out["dense_macs"] * t.mac
    out["energy_table"] = t.name
    out["activity_sparsity"] = activity_sparsity(model)
    return out
