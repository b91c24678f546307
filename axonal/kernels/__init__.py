"""Fused scans: compiled time loops for registered neuron models, chosen automatically.

``fused_scan(kind, x, state, params, backend, weight=None)`` returns ``(spikes, state)`` from a
fused kernel, or ``None`` when no kernel applies (unknown kind, unsupported device or dtype),
in which case the caller falls back to the reference ``scan`` of the model's ``step``.
"""
from __future__ import annotations


def fused_scan(kind, x, state, params, backend="auto", weight=None):
    return None
