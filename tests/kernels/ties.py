"""Exact ties for the kernel-equals-reference tests (issue 24): constants on a dyadic grid.

With a zero initial state, inputs (or weights) in quarters and decays of 1/2, every current,
membrane and adaptation is exact in float32 and float64, so membranes land exactly on the
threshold and the rule at a tie decides the spike: the reference fires on
``v - threshold >= 0``, and a kernel that fired on ``>`` passed every test with random inputs,
which never land on the threshold. ``STRICT``, one float32 ulp above the threshold 1, is a
threshold no quarter-grid membrane reaches: a neuron with it fires exactly where one with
threshold 1 would fire on ``>``, which lets each test check that its input really ties.
"""
from __future__ import annotations

import math

import torch

#: keyword arguments giving each LIF-family class decays of exactly 1/2 (IF: none)
TIE_KW = {"lif": dict(decay=0.5), "cuba_lif": dict(decay=0.5, tau_syn=1 / math.log(2)),
          "adaptive_lif": dict(decay=0.5, tau_adapt=1 / math.log(2), adaptation=0.5),
          "if": {}, "plif": dict(inv_tau=0.5)}
STRICT = 1 + 2.0 ** -23


def tie_input(T, B, N, seed, dtype=torch.float64):
    """Inputs in quarters in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 5, (T, B, N), generator=gen).to(dtype) / 4
