"""``SpikeMonitor``: activity and synaptic operations of any PyTorch model, through hooks.

The monitor walks ``model.named_modules()`` once and registers forward hooks on

- every ``axonal.network.Temporal`` module (neurons, recurrent populations, any later temporal
  layer: their forward returns ``(out, state)``; ``out`` is recorded), plus modules the user
  names in ``record=``, to count spikes, neurons and firing rates;
- every connection layer with a SynOps rule (``nn.Linear``, ``nn.Conv1d/2d/3d``,
  ``axonal.neurons.Recurrent``, layers with a ``fan_out`` / ``synaptic_operations`` hook; see
  ``axonal.metrics.synops``) to count synaptic operations from the tensors they receive.

It works however the model is driven: ``axonal.network.Sequential``, a plain ``nn.Sequential``
or a user's own loop calling the layers, streaming calls that pass state back. Counts are
accumulated as small on-device tensors (no host synchronisation per call, no spike tensors kept
alive) unless ``keep=True``, which also stores every recorded output on the CPU for rasters.
Hooks are removed on exit from the ``with`` block, also when the body raises.

Samples and time steps (for per-sample numbers) are inferred from the first top-level
``Temporal`` layer that ran: its input is time-major ``[T, B, ...]``, or, when that layer creates
the time axis from static ``[B, ...]`` input (an encoder with ``num_steps``), its output is; a call with ``state=None``
starts ``B`` new samples, a call given a state continues them (streaming). Without any
``Temporal`` layer the model's own input is taken as ``[T, B, ...]``. ``report(samples=...,
steps=...)`` overrides both.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

import torch
from torch import nn

from ..network import Temporal
from ..neurons.base import NeuronModule
from .report import LayerActivity, LayerSynOps, MonitorReport
from .synops import _acc_dtype, _count_and_binary, _first_tensor, _primary, synops_rule


def _add(acc: dict, key, value) -> None:
    if not isinstance(value, torch.Tensor):
        value = torch.tensor(float(value), dtype=torch.float64)
    prev = acc.get(key)
    if prev is None:
        acc[key] = value.detach().clone()
    else:
        acc[key] = prev + value.detach().to(device=prev.device, dtype=prev.dtype)


def _value(acc: dict, key) -> float:
    v = acc.get(key)
    return 0.0 if v is None else float(v)


def _state_arg(args: tuple, kwargs: dict):
    if len(args) > 1:
        return args[1]
    for k in ("state", "states"):
        if k in kwargs:
            return kwargs[k]
    return None


def _time_and_batch(x, out: torch.Tensor) -> tuple[int, int] | None:
    """``(T, B)`` of a ``Temporal`` layer's call: from its input ``x`` when that is time-major
    ``[T, B, ...]``, from its output when the layer created the time axis from static ``[B, ...]``
    input (an encoder with ``num_steps``: the output is ``[T, B, ...]`` with one more axis, whose
    second size is the input's first)."""
    static = (isinstance(x, torch.Tensor) and x.ndim >= 1 and out.ndim == x.ndim + 1
              and out.shape[1] == x.shape[0])
    if static or not isinstance(x, torch.Tensor) or x.ndim < 2:
        return (int(out.shape[0]), int(out.shape[1])) if out.ndim >= 2 else None
    return int(x.shape[0]), int(x.shape[1])


class SpikeMonitor:
    """Record spikes, firing rates and SynOps of ``model`` while it runs.

    ``with SpikeMonitor(model) as mon: model(x)`` then ``mon.report()`` (a ``MonitorReport``,
    counts per sample). ``record`` names (as in ``named_modules``) or module objects whose
    output is recorded besides the ``Temporal`` ones; ``synops=False`` skips the connection
    layers; ``keep=True`` stores each recorded output (detached, on CPU) in ``mon.recorded``.
    """

    def __init__(self, model: nn.Module, *, record: Iterable[str | nn.Module] = (), synops: bool = True,
                 keep: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"SpikeMonitor needs an nn.Module, got {type(model).__name__}")
        self.model = model
        self.synops = synops
        self.keep = keep
        self._record = list(record)
        self._handles: list = []
        self.recorded: dict[str, list[torch.Tensor]] = defaultdict(list)
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Forget everything measured so far (hooks stay attached)."""
        self._act: dict = {}
        self._syn: dict = {}
        self._meta: dict[str, dict] = {}
        self._order: list[str] = []
        self._act_depth = 0
        self._syn_depth = 0
        self._nested_stack: dict[str, list[bool]] = defaultdict(list)
        self._called_uncounted: set[str] = set()
        self._root = {"samples": 0, "sample_steps": 0}
        self.recorded.clear()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> "SpikeMonitor":
        self.attach()
        return self

    def __exit__(self, *exc) -> None:
        self.detach()

    def _resolve_record(self) -> dict[nn.Module, str]:
        names = {m: n for n, m in self.model.named_modules()}
        by_name = dict(self.model.named_modules())
        out = {}
        for r in self._record:
            if isinstance(r, str):
                if r not in by_name:
                    known = [n for n in by_name if n][:20]
                    raise KeyError(f"record={r!r} is not a submodule name of the model; known names include {known}")
                out[by_name[r]] = r
            elif isinstance(r, nn.Module):
                if r not in names:
                    raise ValueError(f"record: module {type(r).__name__} is not part of the model")
                out[r] = names[r]
            else:
                raise TypeError(f"record entries must be module names or modules, got {type(r).__name__}")
        return out

    def attach(self) -> "SpikeMonitor":
        """Register the hooks (``__enter__`` does this)."""
        if self._handles:
            raise RuntimeError("SpikeMonitor is already attached; use one `with` block at a time")
        extra = self._resolve_record()
        root_name = type(self.model).__name__
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._root_pre, with_kwargs=True))
            for name, m in self.model.named_modules():
                label = name or root_name
                if isinstance(m, Temporal) or m in extra:
                    self._hook(m, label, self._act_pre, self._act_post)
                rule = synops_rule(m) if self.synops else None
                if rule is not None:
                    self._hook(m, label, self._syn_pre, self._make_syn_post(rule))
                elif self.synops and not isinstance(m, NeuronModule) and any(
                        p.ndim >= 2 for p in m.parameters(recurse=False)):
                    self._handles.append(m.register_forward_hook(
                        lambda mod, a, o, label=label: self._called_uncounted.add(label)))
        except BaseException:
            self.detach()
            raise
        return self

    def detach(self) -> None:
        """Remove every hook this monitor registered; measurements are kept."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._act_depth = 0
        self._syn_depth = 0
        self._nested_stack.clear()

    def _hook(self, m, label, pre, post) -> None:
        self._handles.append(m.register_forward_pre_hook(
            lambda mod, a, k, label=label: pre(label, mod, a, k), with_kwargs=True))
        self._handles.append(m.register_forward_hook(
            lambda mod, a, k, o, label=label: post(label, mod, a, k, o), with_kwargs=True, always_call=True))

    # ------------------------------------------------------------------ hooks
    def _root_pre(self, mod, args, kwargs):
        x = _first_tensor(args, kwargs)
        if x is None or x.ndim < 2:
            return
        if _state_arg(args, kwargs) is None:
            self._root["samples"] += int(x.shape[1])
        self._root["sample_steps"] += int(x.shape[0]) * int(x.shape[1])

    def _meta_for(self, label, mod, kind) -> dict:
        key = (kind, label)
        if key not in self._meta:
            self._meta[key] = {"kind": type(mod).__name__, "calls": 0, "nested": False,
                               "samples": 0, "sample_steps": 0, "neurons": 0}
            self._order.append(key)
        return self._meta[key]

    def _act_pre(self, label, mod, args, kwargs):
        self._nested_stack[("act", label)].append(self._act_depth > 0)
        self._act_depth += 1

    def _act_post(self, label, mod, args, kwargs, output):
        self._act_depth = max(self._act_depth - 1, 0)
        stack = self._nested_stack[("act", label)]
        nested = stack.pop() if stack else False
        out = _primary(output)
        if not isinstance(out, torch.Tensor):
            return  # the forward raised (output None) or returned no tensor
        meta = self._meta_for(label, mod, "act")
        meta["calls"] += 1
        meta["nested"] |= nested
        with torch.no_grad():
            o = out.detach()
            if o.ndim >= 3:
                neurons = math.prod(o.shape[2:])
            else:
                neurons = o.shape[-1] if o.ndim else 1
            if neurons == 0:
                return
            meta["neurons"] = neurons
            meta["neuron_steps"] = meta.get("neuron_steps", 0) + o.numel()  # neurons x T x B
            acc = self._act.setdefault(label, {})
            dtype = _acc_dtype(o.device)
            _add(acc, "spikes", o.sum(dtype=dtype) if o.dtype != torch.bool else o.sum().to(dtype))
            events, binary = _count_and_binary(o)
            _add(acc, "events", events)
            _add(acc, "nonbinary", (~binary).to(dtype))
            tb = _time_and_batch(_first_tensor(args, kwargs), o)
            if not nested and tb is not None:
                if _state_arg(args, kwargs) is None:
                    meta["samples"] += tb[1]
                meta["sample_steps"] += tb[0] * tb[1]
            if self.keep:
                self.recorded[label].append(o.to("cpu", copy=True))

    def _syn_pre(self, label, mod, args, kwargs):
        self._nested_stack[("syn", label)].append(self._syn_depth > 0)
        self._syn_depth += 1

    def _make_syn_post(self, rule):
        def post(label, mod, args, kwargs, output):
            self._syn_depth = max(self._syn_depth - 1, 0)
            stack = self._nested_stack[("syn", label)]
            nested = stack.pop() if stack else False
            if output is None:
                return  # the forward raised
            with torch.no_grad():
                count = rule(mod, args, kwargs, output)
                meta = self._meta_for(label, mod, "syn")
                meta["calls"] += 1
                meta["nested"] |= nested
                ops = torch.as_tensor(count.ops, dtype=torch.float64) if not isinstance(
                    count.ops, torch.Tensor) else count.ops
                binary = torch.as_tensor(bool(count.binary)) if not isinstance(
                    count.binary, torch.Tensor) else count.binary
                binary = binary.to(ops.device)
                zero = torch.zeros((), dtype=ops.dtype, device=ops.device)
                acc = self._syn.setdefault(label, {})
                _add(acc, "acs", torch.where(binary, ops, zero))
                _add(acc, "macs", torch.where(binary, zero, ops))
                _add(acc, "dense", count.dense_macs)
        return post

    # ------------------------------------------------------------------ results
    def _inferred(self) -> tuple[int, int]:
        firsts = [self._meta[k] for k in self._order if k[0] == "act"
                  and not self._meta[k]["nested"] and self._meta[k]["samples"] > 0]
        if firsts:
            return firsts[0]["samples"], firsts[0]["sample_steps"]
        return self._root["samples"], self._root["sample_steps"]

    def report(self, samples: int | None = None, steps: float | None = None) -> MonitorReport:
        """Per-sample numbers so far. ``samples``/``steps`` override the inferred ones."""
        inf_samples, inf_sample_steps = self._inferred()
        if samples is None:
            samples = inf_samples
        if samples is None or samples <= 0:
            raise ValueError(
                "SpikeMonitor could not tell how many samples ran (no time-major [T, B, ...] input "
                "seen, or nothing ran inside the `with` block); pass report(samples=batch_size)"
            )
        if steps is None:
            steps = inf_sample_steps / inf_samples if inf_samples else 0.0
        layers, synapses = [], []
        for key in self._order:
            kind, label = key
            meta = self._meta[key]
            if kind == "act":
                acc = self._act.get(label, {})
                total = _value(acc, "spikes")
                ns = meta.get("neuron_steps", 0)
                layers.append(LayerActivity(
                    name=label, kind=meta["kind"], neurons=meta["neurons"], spikes=total / samples,
                    events=_value(acc, "events") / samples, neuron_steps=ns,
                    firing_rate=total / ns if ns else 0.0, binary=_value(acc, "nonbinary") == 0,
                    calls=meta["calls"], nested=meta["nested"]))
            else:
                acc = self._syn.get(label, {})
                acs, macs = _value(acc, "acs") / samples, _value(acc, "macs") / samples
                synapses.append(LayerSynOps(
                    name=label, kind=meta["kind"], synops=acs + macs, acs=acs, macs=macs,
                    dense_macs=_value(acc, "dense") / samples, calls=meta["calls"], nested=meta["nested"]))
        return MonitorReport(samples=int(samples), steps=float(steps), layers=layers, synapses=synapses,
                             uncounted=sorted(self._called_uncounted))

    def spikes(self, name: str) -> list[torch.Tensor]:
        """The outputs recorded for layer ``name`` (one tensor per call; needs ``keep=True``).

        For streaming calls concatenate them over time: ``torch.cat(mon.spikes(name), 0)``.
        """
        if not self.keep:
            raise RuntimeError("spike tensors are only stored with SpikeMonitor(model, keep=True)")
        if name not in self.recorded:
            raise KeyError(f"no recorded output for {name!r}; recorded layers: {sorted(self.recorded)}")
        return self.recorded[name]


def synaptic_operations(model: nn.Module, x: torch.Tensor, *args, **kwargs) -> MonitorReport:
    """Run ``model(x, *args, **kwargs)`` once without gradients and return its ``MonitorReport``.

    The model's train/eval mode is left as it is (call ``model.eval()`` first to measure
    inference with dropout off).
    """
    with torch.no_grad(), SpikeMonitor(model) as mon:
        model(x, *args, **kwargs)
    return mon.report()
