"""From a trained ReLU network to a spiking one: conversion and pretraining as a bridge.

Two routes, both for an ``nn.Sequential`` of ``Linear`` / ``Conv2d`` / ``Flatten`` layers with
``ReLU`` or :class:`QCFS` activations (the last layer a ``Linear`` without activation):

- **conversion** (:func:`convert_to_snn`): every activation becomes integrate-and-fire neurons
  (``axonal.neurons.IF``, reset by subtraction) whose firing rate approximates the ReLU. The
  weights are rescaled layer by layer so every threshold is 1 (*threshold balancing*; Diehl et
  al., IJCNN 2015; Rueckauer et al., Frontiers in Neuroscience 2017): ``W_l <- W_l lambda_{l-1}
  / lambda_l``, ``b_l <- b_l / lambda_l``, with ``lambda_l`` the layer's activation scale,
  a high percentile of its activations on calibration data, or the learned clip ``lambda`` of
  a :class:`QCFS` activation. ``QCFS`` is the quantisation-clip-floor-shift activation of Bu et
  al. (ICLR 2022), ``h(x) = lambda/L * clip(floor(x L / lambda + 1/2), 0, L)``, trained in the
  ANN; with the membrane starting at half the threshold an IF layer driven by a constant input
  for ``T = L`` steps emits exactly ``L h(x) / lambda`` spikes, so conversion is exact at the
  first layer and near-exact with few steps overall;
- **pretraining as a bridge** (:func:`transfer_ann_to_snn`; Lin et al., IEEE TNNLS 2024): the
  same topology with each activation replaced by a spiking population (LIF by default), the
  ANN's weights copied unchanged; the SNN is then fine-tuned briefly with BPTT.

:func:`run_converted` runs a converted network on static input repeated for ``T`` steps and
returns the output layer's mean input current over time (the class scores).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..network import Sequential
from ..neurons import IF, LIF
from ..neurons.lif import IFState

__all__ = ["QCFS", "activation_scales", "convert_to_snn", "run_converted", "transfer_ann_to_snn"]

_WEIGHTED = (nn.Linear, nn.Conv2d)
_PASS = (nn.Flatten, nn.Dropout, nn.Identity)


class QCFS(nn.Module):
    """Quantisation-clip-floor-shift activation (Bu et al., ICLR 2022) with a learned clip.

    ``h(x) = lam / L * clip(floor(x L / lam + 1/2), 0, L)``; the floor passes its gradient
    straight through, so ``x`` gets the gradient of the clip and ``lam`` learns.
    """

    def __init__(self, levels: int = 8, lam: float = 4.0):
        super().__init__()
        if not isinstance(levels, int) or levels < 1:
            raise ValueError(f"QCFS: levels must be a positive int, got {levels!r}")
        if lam <= 0:
            raise ValueError(f"QCFS: lam must be > 0, got {lam}")
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor(float(lam)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = self.lam.abs() + 1e-6
        z = x * self.levels / lam + 0.5
        z = z + (torch.floor(z) - z).detach()          # straight-through floor
        return torch.clamp(z, 0, self.levels) * lam / self.levels


def _check_ann(ann: nn.Module) -> list[nn.Module]:
    if not isinstance(ann, nn.Sequential):
        raise TypeError(f"conversion takes an nn.Sequential of Linear/Conv2d/Flatten and ReLU/QCFS layers, "
                        f"got {type(ann).__name__}")
    layers = list(ann)
    for m in layers:
        if not isinstance(m, _WEIGHTED + _PASS + (nn.ReLU, QCFS)):
            raise TypeError(f"conversion cannot map a {type(m).__name__} layer; allowed: Linear, Conv2d, Flatten, "
                            "Dropout, ReLU, QCFS (fold batch normalisation into the weights first)")
    if not layers or not isinstance(layers[-1], nn.Linear):
        raise TypeError("the network must end in a Linear layer without activation (the class scores)")
    return layers


@torch.no_grad()
def activation_scales(ann: nn.Sequential, x: torch.Tensor, percentile: float = 99.9) -> list[float]:
    """Per activation layer, its scale ``lambda``: the learned clip of a QCFS activation, else
    the ``percentile`` of its (positive) outputs on calibration inputs ``x`` [N, ...]."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    scales, h = [], x
    for m in _check_ann(ann):
        h = m(h)
        if isinstance(m, QCFS):
            scales.append(float(m.lam.abs()))
        elif isinstance(m, nn.ReLU):
            pos = h[h > 0]
            scales.append(float(torch.quantile(pos.float()[:2_000_000], percentile / 100)) if pos.numel() else 1.0)
    return scales


@torch.no_grad()
def convert_to_snn(ann: nn.Sequential, x_calib: torch.Tensor | None = None, *, percentile: float = 99.9,
                   half_threshold_init: bool | None = None) -> "ConvertedSNN":
    """A spiking copy of ``ann`` (module docstring). ``x_calib`` is needed for ReLU layers;
    ``half_threshold_init`` (default: on when the ANN uses QCFS) starts membranes at 0.5."""
    layers = _check_ann(ann)
    has_relu = any(isinstance(m, nn.ReLU) for m in layers)
    if has_relu and x_calib is None:
        raise ValueError("convert_to_snn: ReLU layers need calibration inputs x_calib to set thresholds "
                         "(or train the ANN with QCFS activations)")
    scales = activation_scales(ann, x_calib if x_calib is not None else torch.zeros(1), percentile) \
        if has_relu else [float(m.lam.abs()) for m in layers if isinstance(m, QCFS)]
    if half_threshold_init is None:
        half_threshold_init = any(isinstance(m, QCFS) for m in layers)
    out, prev, k = [], 1.0, 0
    pending = None
    for m in layers:
        if isinstance(m, _WEIGHTED):
            pending = _copy(m)
            out.append(pending)
        elif isinstance(m, (nn.ReLU, QCFS)):
            lam = scales[k]
            k += 1
            pending.weight.mul_(prev / lam)
            if pending.bias is not None:
                pending.bias.div_(lam)
            prev = lam
            out.append(IF(threshold=1.0, reset="subtract"))
        elif not isinstance(m, (nn.Dropout, nn.Identity)):
            out.append(_copy(m))
    out[-1].weight.mul_(prev)      # output layer: back to the ANN's units (rates are in [0, 1])
    return ConvertedSNN(Sequential(*out), half_threshold_init)


def _copy(m: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(m)


class ConvertedSNN(nn.Module):
    """A converted network: ``forward(x_static [B, ...], T) -> scores [B, K]``."""

    def __init__(self, net: Sequential, half_threshold_init: bool):
        super().__init__()
        self.net = net
        self.half_threshold_init = half_threshold_init

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        return run_converted(self, x, steps)


def run_converted(snn: ConvertedSNN, x: torch.Tensor, steps: int) -> torch.Tensor:
    """Mean over ``steps`` of the output layer's current for ``x`` repeated every step."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    seq = x.unsqueeze(0).expand(steps, *x.shape)
    states = None
    if snn.half_threshold_init:
        # membranes start at half the threshold: run one zero step to learn the shapes
        probe = snn.net(seq[:1] * 0)[1]
        states = tuple(IFState(torch.full_like(s.v, 0.5)) if isinstance(s, IFState) else s for s in probe)
    out, _ = snn.net(seq, states)
    return out.mean(0)


def transfer_ann_to_snn(ann: nn.Sequential, neuron: Callable[[int | None], nn.Module] | None = None) -> Sequential:
    """Same topology with each ReLU/QCFS replaced by ``neuron(width)`` (default ``LIF(width)``)
    and the ANN's weights copied: the start of the pretraining-as-a-bridge fine-tune. The
    output is the last Linear's current at every step ``[T, B, K]`` (average it for scores)."""
    layers = _check_ann(ann)
    make = neuron or (lambda n: LIF(n, tau_mem=10.0, threshold=1.0))
    out, width = [], None
    for m in layers:
        if isinstance(m, nn.Linear):
            width = m.out_features
        elif isinstance(m, nn.Conv2d):
            width = None
        out.append(make(width) if isinstance(m, (nn.ReLU, QCFS)) else _copy(m))
    return Sequential(*out)
