"""NeuroBench-compatible metrics of axonal models, and an adapter that runs NeuroBench on them.

axonal's own measures, defined as NeuroBench 2.3 defines them (Yik et al., "The neurobench
framework for benchmarking neuromorphic computing algorithms and systems", Nature Comms 2025),
and checked against NeuroBench itself (tests/metrics/test_neurobench.py):

- ``footprint(model)``: bytes of parameters and buffers;
- ``connection_sparsity(model)``: share of zero weights in Linear/Conv layers (NeuroBench counts
  no weights of a layer that has sub-modules, so ``axonal.neurons.Recurrent`` weights are left
  out unless ``include_recurrent=True``), rounded to 4 decimals as NeuroBench does;
- ``activation_sparsity(model, x)``: share of zero outputs of the neuron layers over all
  neurons, steps and samples;
- ``membrane_updates(model, x)``: per sample, each neuron's first step plus every later step
  where its membrane changed (NeuroBench's count for snnTorch neurons, from the pre- and
  post-step membrane);
- ``synaptic_operations(model, x, convention="neurobench")``: ``Effective_ACs``,
  ``Effective_MACs`` and ``Dense`` per sample; ``convention="axonal"`` gives axonal's rule
  (zero weights counted, {-1, 0, 1} inputs as MACs: see ``axonal.metrics.synops``).

``NeuroBenchAdapter(model)`` is a ``neurobench.models.NeuroBenchModel`` for any axonal model
(time-major, ``(out, state)`` outputs): it takes NeuroBench's batch-first ``[B, T, ...]`` data,
runs the model time-major and returns ``[B, T, ...]``; it registers axonal's neuron layers as
activation layers and records their *spikes* (NeuroBench's generic hook stores the whole
``(spikes, state)`` tuple, and without the adapter finds no activation layer at all and reports
activation sparsity 0.0), and their membranes before and after each step for
``MembraneUpdates``. NeuroBench counts connection layers by forward hooks on ``nn.Linear`` /
``nn.Conv``; it does not see the recurrent weights inside ``axonal.neurons.Recurrent``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..network import Temporal
from ..neurons.base import NeuronModule
from ..neurons.lif import Recurrent
from .monitor import SpikeMonitor
from .synops import synops_convention

__all__ = ["footprint", "connection_sparsity", "activation_sparsity", "membrane_updates",
           "synaptic_operations", "NeuroBenchAdapter", "neuron_layers"]

_CONNECTIONS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def footprint(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers (NeuroBench's ``Footprint``)."""
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


def connection_sparsity(model: nn.Module, include_recurrent: bool = False) -> float:
    """Zero weights / all weights of the connection layers (NeuroBench's ``ConnectionSparsity``:
    leaf Linear/Conv layers only), rounded to 4 decimals; ``include_recurrent=True`` also counts
    the recurrent weights of ``axonal.neurons.Recurrent`` (NeuroBench skips them)."""
    zeros = total = 0
    for m in model.modules():
        weights = []
        if isinstance(m, _CONNECTIONS) and not list(m.children()):
            weights.append(m.weight)
        elif include_recurrent and isinstance(m, Recurrent):
            weights.append(m.recurrent_weight())
        for w in weights:
            zeros += int((w == 0).sum())
            total += w.numel()
    if total == 0:
        raise ValueError("connection_sparsity: the model has no Linear or Conv layer")
    return round(zeros / total, 4)


def neuron_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The outermost neuron layers (``NeuronModule`` s and ``Recurrent`` populations), in order."""
    found, skip = [], set()
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in skip):
            continue
        if isinstance(m, (NeuronModule, Recurrent)):
            found.append((name, m))
            skip.add(name)
    return found


def _run(model, x):
    with torch.no_grad():
        return model(x)


def activation_sparsity(model: nn.Module, x: torch.Tensor) -> float:
    """Zero outputs / all outputs of the neuron layers on time-major ``x [T, B, ...]``."""
    outs = []
    hooks = [m.register_forward_hook(lambda mod, a, o: outs.append(o[0] if isinstance(o, tuple) else o))
             for _, m in neuron_layers(model)]
    try:
        _run(model, x)
    finally:
        for h in hooks:
            h.remove()
    total = sum(o.numel() for o in outs)
    if total == 0:
        return 0.0
    return (total - sum(int(torch.count_nonzero(o)) for o in outs)) / total


def _membrane_sequence(layer, inputs) -> torch.Tensor:
    """The membrane after every step ``[T, B, ...]`` (the first State field), by the reference
    scan on the same input and state."""
    x = inputs[0]
    state = inputs[1] if len(inputs) > 1 else None
    with torch.no_grad():
        _, states = layer.trace(x, state)
    if isinstance(states, tuple) and hasattr(states, "neuron"):   # RecurrentState
        states = states.neuron
    return states[0]


def _updates(v: torch.Tensor) -> int:
    """NeuroBench's count on a membrane sequence: the first step's neurons, then every change."""
    return v[0].numel() + int(torch.count_nonzero(v[1:] - v[:-1]))


def membrane_updates(model: nn.Module, x: torch.Tensor) -> float:
    """Membrane updates per sample on time-major ``x [T, B, ...]`` (NeuroBench's
    ``MembraneUpdates``): per neuron layer, the first step's neurons plus every later step where
    a membrane changed."""
    counts = []

    def hook(mod, args, out):
        counts.append(_updates(_membrane_sequence(mod, args)))

    hooks = [m.register_forward_hook(hook) for _, m in neuron_layers(model)]
    try:
        _run(model, x)
    finally:
        for h in hooks:
            h.remove()
    return sum(counts) / x.shape[1]


def synaptic_operations(model: nn.Module, x: torch.Tensor, convention: str = "neurobench") -> dict:
    """``{"Effective_MACs", "Effective_ACs", "Dense"}`` per sample on time-major ``x``, counted by
    ``SpikeMonitor`` under ``convention`` (``"neurobench"``: NeuroBench's numbers)."""
    with synops_convention(convention), SpikeMonitor(model) as mon:
        _run(model, x)
    rep = mon.report(samples=x.shape[1])
    return {"Effective_MACs": rep.macs, "Effective_ACs": rep.acs, "Dense": rep.dense_macs}


# ----------------------------------------------------------------------------- NeuroBench adapter
def _neurobench_model_base():
    try:
        from neurobench.models import NeuroBenchModel
    except ImportError as e:  # pragma: no cover - neurobench is installed by the Makefile
        raise ImportError("NeuroBenchAdapter needs neurobench: pip install --no-deps 'neurobench==2.3.0' "
                          "(plus its small dependencies; see the Makefile)") from e
    return NeuroBenchModel


def NeuroBenchAdapter(model: nn.Module, *, time_major_output: bool = False) -> Any:
    """A ``neurobench.models.NeuroBenchModel`` running ``model`` (see the module docstring).

    Input batches are NeuroBench's ``[B, T, ...]``; the output is ``[B, T, ...]`` (or the
    model's time-major ``[T, B, ...]`` with ``time_major_output=True``). Use it with
    ``neurobench.benchmarks.Benchmark(NeuroBenchAdapter(net), loader, [], [postprocess], metrics)``.
    """
    base = _neurobench_model_base()

    class _Adapter(base):
        def __init__(self):
            super().__init__()
            self.net = model
            self.net.eval()
            self.add_activation_module(NeuronModule)
            self.add_activation_module(Recurrent)
            self._axonal_hooks = []

        def __call__(self, batch):
            x = batch.transpose(0, 1)
            with torch.no_grad():
                out = self.net(x)
            out = out[0] if isinstance(out, tuple) else out
            return out if time_major_output else out.transpose(0, 1)

        def __net__(self):
            return self.net

        def register_hooks(self):
            super().register_hooks()
            for h in self.activation_hooks:
                if isinstance(h.layer, Temporal):
                    # NeuroBench's hook stores the (spikes, state) tuple: record the spikes, and
                    # the membrane before and after each step as it does for snnTorch neurons
                    h.hook.remove()
                    h.hook_pre.remove()
                    h.hook = h.layer.register_forward_hook(self._recorder(h))
                    h.hook_pre = None

        @staticmethod
        def _recorder(h):
            def record(layer, args, output):
                spikes = output[0] if isinstance(output, tuple) else output
                h.activation_outputs.append(spikes.detach())
                v = _membrane_sequence(layer, args)
                before = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
                h.pre_fire_mem_potential.extend(before.unbind(0))
                h.post_fire_mem_potential.extend(v.unbind(0))
            return record

    return _Adapter()
