"""Composing layers over time: the ``Temporal`` protocol and a ``Sequential`` that carries state.

Two kinds of layer make a spiking network:

- stateless layers (``nn.Linear``, ``nn.Conv2d``, pooling, normalisation, dropout): applied to
  every time step at once by folding time into the batch, ``[T, B, ...] -> [T*B, ...]``;
- temporal layers (neurons, recurrent populations, delays): subclasses of ``Temporal`` that see
  the whole sequence, ``forward(x [T, B, ...], state=None) -> (y [T, B, ...], state)``.

``Sequential`` chains both and returns ``(output, states)`` where ``states`` is a tuple with
one entry per temporal layer (``None`` for stateless ones), so passing it back streams;
``Sequential.trace`` also records every layer's output and state over time, and
``detach_state`` cuts the graph of any state for truncated backpropagation through time.

A stateless layer may offer ``fused_forward(next_layer, x, state)``: ``Sequential`` then asks
it to run together with the temporal layer that follows (``EventLinear`` followed by a LIF-family
neuron runs as one event-driven kernel); it returns ``None`` when fusion does not apply, and
the two layers run one after the other. The result is the same either way. Layers with
forward hooks (``axonal.metrics.SpikeMonitor``) are never fused, so the hooks see both layers.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch
from torch import nn
from torch.nn.modules import module as torch_module


class Temporal(nn.Module):
    """Marker base: a layer that consumes ``[T, B, ...]`` and returns ``(output, state)``."""


def _has_hooks(module: nn.Module) -> bool:
    """True when a forward (pre-)hook would observe ``module``: fusing it would hide its call."""
    return bool(module._forward_hooks or module._forward_pre_hooks
                or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks)


def apply_per_step(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless layer to every time step by folding time into the batch."""
    t, b = x.shape[:2]
    y = layer(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class LayerRecord(NamedTuple):
    """What ``Sequential.trace`` records of one layer: its ``output`` over time ``[T, B, ...]``
    and, for a layer with a ``trace`` method (neurons, ``Recurrent``), its ``states`` over time
    (the layer's State with each field stacked to ``[T, B, ...]``); ``None`` otherwise."""

    output: torch.Tensor
    states: Any


def detach_state(state: Any) -> Any:
    """``state`` with every tensor detached from the graph, whatever its nesting (NamedTuples,
    tuples, lists, dicts, ``None``): the cut of truncated backpropagation through time::

        for chunk in x.split(50):           # x [T, B, ...], time-major
            out, state = net(chunk, state)
            loss(out).backward(); opt.step(); opt.zero_grad()
            state = detach_state(state)     # keep the values, drop the graph
    """
    if isinstance(state, torch.Tensor):
        return state.detach()
    if state is None:
        return None
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    raise TypeError(f"detach_state: cannot detach a {type(state).__name__}; states are tensors, "
                    "(named) tuples, lists or dicts of them")


#: torch layers that return tuples or keep their own recurrence: not per-step layers
_NOT_PER_STEP = (nn.RNNBase, nn.MultiheadAttention, nn.Transformer)


def _check_layer(i: int, layer: Any) -> None:
    if not isinstance(layer, nn.Module):
        raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not an nn.Module")
    if isinstance(layer, _NOT_PER_STEP):
        raise TypeError(
            f"Sequential: layer {i} is {type(layer).__name__}, which returns a tuple (output and its "
            "own state) and runs its own recurrence. Sequential takes stateless per-step layers "
            "(Linear, Conv, pooling, normalisation, dropout: applied to every step) and Temporal "
            "layers (forward(x [T, B, ...], state) -> (y, state): neurons, Recurrent, delays). Wrap "
            "it in a Temporal subclass that returns (output, state), or use a spiking Recurrent layer")
    if isinstance(layer, Temporal) and (getattr(layer, "output", "spikes_and_state") != "spikes_and_state"
                                        or getattr(layer, "batch_first", False)):
        raise ValueError(
            f"Sequential: layer {i} ({type(layer).__name__}) has output={getattr(layer, 'output', None)!r}"
            f"{' and batch_first=True' if getattr(layer, 'batch_first', False) else ''}; those are for "
            "a plain torch.nn.Sequential. axonal.Sequential carries every layer's state and runs "
            "time-major [T, B, ...]: build the layer with the defaults")


def _step_ndim(layer: nn.Module) -> tuple[int, str] | None:
    """(dims of one batched step, its layout) a per-step layer needs, when it has a fixed one."""
    if isinstance(layer, nn.modules.conv._ConvNd):
        n = len(layer.kernel_size)
        return n + 2, "[B, C, " + ", ".join("HWD"[:n] if n > 1 else "L") + "]"
    if isinstance(layer, (nn.BatchNorm2d, nn.BatchNorm3d)):
        n = 2 if isinstance(layer, nn.BatchNorm2d) else 3
        return n + 2, "[B, C, " + ", ".join("HWD"[:n]) + "]"
    return None


def _check_step_input(i: int, layer: nn.Module, x: torch.Tensor) -> None:
    """Clear errors for input a per-step layer cannot take: no time axis, or another dtype."""
    name = type(layer).__name__
    need = _step_ndim(layer)
    if need is not None and x.ndim != need[0] + 1:
        ndim, layout = need
        hint = (f" It looks like one batch {layout} without the time axis: add one (x.unsqueeze(0) "
                "for a single step, or an encoder that makes T steps)." if x.ndim == ndim else "")
        raise ValueError(f"Sequential: layer {i} ({name}) needs time-major input [T, {layout[1:]} "
                         f"({ndim + 1} dims), got shape {tuple(x.shape)}.{hint}")
    if isinstance(layer, nn.Linear) and x.ndim < 3:
        raise ValueError(f"Sequential: layer {i} ({name}) needs time-major input [T, B, "
                         f"{layer.in_features}], got shape {tuple(x.shape)}. Add the time axis "
                         "(x.unsqueeze(0) for a single step).")
    if x.is_floating_point() and not torch.is_autocast_enabled(x.device.type):
        weight = next(layer.parameters(), None)
        if weight is not None and weight.is_floating_point() and weight.dtype != x.dtype:
            raise TypeError(
                f"Sequential: layer {i} ({name}) has {weight.dtype} weights but its input is {x.dtype}; "
                f"convert the input (x.to({weight.dtype})) or the model (model.to({x.dtype}))")


class Sequential(nn.Module):
    """``Sequential(nn.Linear(6, 64), LIF(64), nn.Linear(64, 4), LIF(4))``.

    ``forward(x [T, B, ...], states=None) -> (y, states)``. Keeps no state between calls itself:
    pass the returned ``states`` back to stream. ``trace(x)`` also records every layer's output
    and state over time. Layers are stateless per-step modules (``nn.Linear``, ``nn.Conv2d``,
    pooling, normalisation, dropout; applied to every step at once) or ``Temporal`` layers
    (neurons, ``Recurrent``, delays); ``nn.LSTM`` and other layers that return tuples are not
    (wrap them in a ``Temporal``).
    """

    def __init__(self, *layers: nn.Module):
        super().__init__()
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            _check_layer(i, layer)
        self.layers = nn.ModuleList(layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def _check(self, x, states):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Sequential: input must be a torch.Tensor [T, B, ...], got {type(x).__name__}")
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"Sequential: input has shape {tuple(x.shape)}; expected time-major "
                             "[T, B, ...] with T >= 1 (x.unsqueeze(0) for a single step)")
        if states is not None and len(states) != len(self.layers):
            raise ValueError(
                f"states has {len(states)} entries but the network has {len(self.layers)} layers; "
                "pass the states returned by the previous call, or None to start fresh"
            )

    def _stateless(self, i: int, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        _check_step_input(i, layer, x)
        t, b = x.shape[:2]
        y = layer(x.reshape(t * b, *x.shape[2:]))
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"Sequential: layer {i} ({type(layer).__name__}) returned a "
                            f"{type(y).__name__}, not a tensor; a per-step layer must return one "
                            "tensor (make it a Temporal layer returning (output, state))")
        return y.reshape(t, b, *y.shape[1:])

    def forward(self, x: torch.Tensor, states: Sequence | None = None):
        self._check(x, states)
        new_states = []
        layers = self.layers
        i = 0
        while i < len(layers):
            layer = layers[i]
            fuse = getattr(layer, "fused_forward", None)
            if fuse is not None and i + 1 < len(layers) and not (
                    _has_hooks(layer) or _has_hooks(layers[i + 1])):
                # a stateless layer that can run fused with the temporal layer after it (the
                # event-driven Linear + LIF kernel): ``None`` when it does not apply
                result = fuse(layers[i + 1], x, None if states is None else states[i + 1])
                if result is not None:
                    x, st = result
                    new_states += [None, st]
                    i += 2
                    continue
            if isinstance(layer, Temporal):
                x, st = layer(x, None if states is None else states[i])
            else:
                x, st = self._stateless(i, layer, x), None
            new_states.append(st)
            i += 1
        return x, tuple(new_states)

    def trace(self, x: torch.Tensor, states: Sequence | None = None):
        """Run the network and record every layer over time: ``(y, records)`` with one
        ``LayerRecord(output, states)`` per layer, ``output`` its output ``[T, B, ...]`` and
        ``states`` its State stacked over time (neurons and ``Recurrent``: ``records[1].states.v``
        is the membrane of layer 1, ``[T, B, N]``) or ``None`` for stateless layers and temporal
        layers without ``trace``. Runs each neuron's reference scan (no fused kernels): for
        inspection, not for speed."""
        self._check(x, states)
        records = []
        for i, layer in enumerate(self.layers):
            st = None if states is None else states[i]
            if isinstance(layer, Temporal):
                if hasattr(layer, "trace"):
                    x, stacked = layer.trace(x, st)
                else:
                    x, _ = layer(x, st)
                    stacked = None
            else:
                x, stacked = self._stateless(i, layer, x), None
            records.append(LayerRecord(x, stacked))
        return x, tuple(records)
