"""Composing layers over time: the ``Temporal`` protocol and a ``Sequential`` that carries state.

Two kinds of layer make a spiking network:

- stateless layers (``nn.Linear``, ``nn.Conv2d``, pooling, normalisation, dropout): applied to
  every time step at once by folding time into the batch, ``[T, B, ...] -> [T*B, ...]``;
- temporal layers (neurons, recurrent populations, delays): subclasses of ``Temporal`` that see
  the whole sequence, ``forward(x [T, B, ...], state=None) -> (y [T, B, ...], state)``.

``Sequential`` chains both and returns ``(output, states)`` where ``states`` is a tuple with
one entry per temporal layer (``None`` for stateless ones), so passing it back streams.

A stateless layer may offer ``fused_forward(next_layer, x, state)``: ``Sequential`` then asks
it to run together with the temporal layer that follows (``EventLinear`` followed by a LIF-family
neuron runs as one event-driven kernel); it returns ``None`` when fusion does not apply, and
the two layers run one after the other. The result is the same either way. Layers with
forward hooks (``axonal.metrics.SpikeMonitor``) are never fused, so the hooks see both layers.
"""
from __future__ import annotations

from typing import Sequence

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


class Sequential(nn.Module):
    """``Sequential(nn.Linear(6, 64), LIF(64), nn.Linear(64, 4), LIF(4))``.

    ``forward(x, states=None) -> (y, states)``. Keeps no state between calls itself.
    """

    def __init__(self, *layers: nn.Module):
        super().__init__()
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        self.layers = nn.ModuleList(layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def forward(self, x: torch.Tensor, states: Sequence | None = None):
        if states is not None and len(states) != len(self.layers):
            raise ValueError(
                f"states has {len(states)} entries but the network has {len(self.layers)} layers; "
                "pass the states returned by the previous call, or None to start fresh"
            )
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
                x, st = apply_per_step(layer, x), None
            new_states.append(st)
            i += 1
        return x, tuple(new_states)
