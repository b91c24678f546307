"""Feed-forward spiking network with learnable synaptic delays (DCLS-Delays).

Hammouamri, Khalfaoui-Hassani & Masquelier, "Learning Delays in Spiking Neural Networks using
Dilated Convolutions with Learnable Spacings", ICLR 2024 (arXiv 2306.17670).

Architecture: each hidden block is a delayed synapse layer (:class:`DelayedLinear`, no bias)
-> BatchNorm1d (per channel, statistics over batch and time) -> LIF (hard reset to 0, ATan
surrogate with alpha = 5, decay ``1 - 1/tau``) -> Dropout; a final delayed layer drives
non-spiking leaky readout neurons whose membrane is the output (``neurons.readout.LeakyIntegrator``,
the paper's decay converted by :func:`readout_tau`). The loss (``loss='sum'`` in
the paper) takes a softmax over classes at every step, sums it over time and applies
cross-entropy to that sum (:func:`summed_softmax_loss`); the prediction is the argmax of the
same sum.

The paper's convolution is right-padded by ``(K - 1) // 2`` steps per layer so that late input
spikes still reach the readout through long delays. Here each delay layer is strictly causal
and ``forward`` appends ``n_delay_layers * (max_delay // 2)`` zero steps to the input instead
(``pad_end=True``), which gives the same output length.

``delays``: ``"learn"`` (DCLS), ``"random"`` (fixed random integer delays: the paper's
``snn_delays_lr0`` baseline) or ``"none"`` (plain linear synapses: the paper's ``snn``).

Defaults are the paper's SHD configuration (``best_config_SHD.py``): 2 hidden layers of 256,
dropout 0.4, max delay 25 steps of 10 ms, tau = 10.05 ms / 10 ms, 140 inputs (700 SHD
channels summed in groups of 5, see :func:`axonal.data.neuromorphic.pool_channels`).
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn
from pydantic import Field, field_validator
from torch.nn import functional as F

from ..config import Section, check_layer_sizes
from ..kernels.registry import check_backend
from ..network import Sequential
from ..functional import tau_from_decay
from ..neurons import LIF
from ..neurons.readout import LeakyIntegrator
from ..surrogate import ATan
from ..synapses.delay import DelayedLinear, clamp_positions, delay_param_groups, set_sigma, sigma_schedule
from .registry import encoded_channels, register_model

__all__ = ["DCLSDelaySNN", "summed_softmax_loss", "summed_softmax_predict", "DCLS_SHD_DEFAULTS",
           "DCLS_SSC_DEFAULTS"]

#: The paper's SHD hyper-parameters (best_config_SHD.py), in the units of this library.
DCLS_SHD_DEFAULTS = dict(
    in_features=140, hidden=(256, 256), out_features=20, max_delay=25, tau=1.005, dropout=0.4,
    epochs=150, batch_size=256, lr_weights=1e-3, max_lr_weights=5e-3, lr_positions=0.1,
    weight_decay=1e-5, time_step_ms=10.0, channel_pool=5,
)
#: SSC (best_config_SSC.py): 3 x 512 was the paper's larger model; 2 x 512 also reported.
DCLS_SSC_DEFAULTS = dict(
    in_features=140, hidden=(512, 512, 512), out_features=35, max_delay=31, tau=1.5, dropout=0.25,
    epochs=60, batch_size=128, lr_weights=1e-3, max_lr_weights=5e-3, lr_positions=0.1,
    weight_decay=1e-5, time_step_ms=10.0, channel_pool=5,
)


def summed_softmax_loss(membrane: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's ``loss='sum'``: ``cross_entropy(sum_t softmax(v_t), y)`` for ``v`` [T, B, C]."""
    return F.cross_entropy(F.softmax(membrane, dim=-1).sum(0), target)


def summed_softmax_predict(membrane: torch.Tensor) -> torch.Tensor:
    """Class with the largest time-summed softmax, ``[B]``."""
    return F.softmax(membrane, dim=-1).sum(0).argmax(-1)


def readout_tau(tau_dcls: float) -> float:
    """The library ``tau`` (decay ``exp(-1/tau)``) of DCLS's leak ``V <- (1 - 1/tau_dcls) V + I``.

    DCLS states the per-step decay as ``1 - 1/tau_dcls`` (SpikingJelly's convention); everything
    in ``axonal.neurons`` states it as ``exp(-dt/tau)``. The readout keeps the paper's dynamics
    with ``tau = -1 / log(1 - 1/tau_dcls)`` (the same decay to float rounding). ``tau_dcls = 1``
    (decay 0, a memory-less readout that passes its input through) maps to ``tau = 1e-3``, whose
    decay ``exp(-1000)`` underflows to exactly 0.
    """
    decay = 1.0 - 1.0 / tau_dcls
    return 1e-3 if decay <= 0 else tau_from_decay(decay)


class DCLSDelaySNN(nn.Module):
    """The DCLS-Delays network: ``forward(x [T, B, in]) -> readout membrane [T', B, out]``.

    Args:
        in_features, out_features: sizes.
        hidden: widths of the hidden LIF layers.
        max_delay: maximum synaptic delay in steps (each delayed layer).
        delays: ``"learn"`` | ``"random"`` | ``"none"``.
        tau: LIF time constant in steps; the paper's neuron is ``V <- (1 - 1/tau) V + I``.
        dropout: after every hidden LIF layer.
        surrogate_alpha: ATan steepness (paper: 5, i.e. width 1/5).
        batch_norm: BatchNorm1d after each delayed layer (paper: yes).
        pad_end: append ``n_layers * (max_delay // 2)`` zero steps (see module docstring).
        sigma: initial Gaussian width (default ``max_delay / 2``).
        backend: LIF backend (``"auto"`` picks the fused kernel when one is registered).
        generator: seeds the initial weights and delays.
    """

    def __init__(self, in_features: int = 140, out_features: int = 20,
                 hidden: Sequence[int] = (256, 256), max_delay: int = 25, *,
                 delays: str = "learn", tau: float = 1.005, dropout: float = 0.4,
                 surrogate_alpha: float = 5.0, batch_norm: bool = True, pad_end: bool = True,
                 sigma: float | None = None, backend: str = "auto",
                 generator: torch.Generator | None = None):
        super().__init__()
        if delays not in ("learn", "random", "none"):
            raise ValueError(f"DCLSDelaySNN: delays must be 'learn', 'random' or 'none', got {delays!r}")
        if not tau >= 1.0:
            raise ValueError(f"DCLSDelaySNN: tau must be >= 1 step (decay 1 - 1/tau), got {tau}")
        if not 0 <= dropout < 1:
            raise ValueError(f"DCLSDelaySNN: dropout must lie in [0, 1), got {dropout}")
        self.delays = delays
        self.max_delay = int(max_delay)
        decay = 1.0 - 1.0 / tau
        sizes = [in_features, *hidden, out_features]
        layers: list[nn.Module] = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(self._synapse(n_in, n_out, delays, sigma, generator))
            if k < len(sizes) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(n_out))
                # decay 0 (tau = 1) is a valid memory-less neuron; LIF needs 0 < decay < 1
                layers.append(LIF(n_out, decay=min(max(decay, 1e-6), 1 - 1e-6), reset="zero",
                                  surrogate=ATan(width=1.0 / surrogate_alpha), backend=backend))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = Sequential(*layers)
        # the paper's readout is a LIF that never fires (threshold 1e9): a leaky integrator whose
        # decay 1 - 1/tau is converted to the library's tau (readout_tau)
        self.readout = LeakyIntegrator(out_features, tau=readout_tau(tau))
        n_delay_layers = len(sizes) - 1
        self.pad_steps = n_delay_layers * (self.max_delay // 2) if (pad_end and delays != "none") else 0

    def _synapse(self, n_in, n_out, delays, sigma, generator):
        if delays == "none":
            lin = nn.Linear(n_in, n_out, bias=False)
            bound = math.sqrt(6.0 / n_in)
            with torch.no_grad():
                lin.weight.uniform_(-bound, bound, generator=generator)
            return lin
        return DelayedLinear(n_in, n_out, self.max_delay, delays=delays, sigma=sigma,
                             generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_steps:
            x = torch.cat([x, x.new_zeros(self.pad_steps, *x.shape[1:])], 0)
        h, _ = self.net(x)
        v, _ = self.readout(h)
        return v

    # -- training helpers (the paper's recipe) --------------------------------------------------
    def param_groups(self, lr_weights: float = 1e-3, lr_positions: float = 0.1,
                     weight_decay: float = 1e-5) -> list[dict]:
        """Weights (with weight decay, none on BatchNorm) and positions (lr 100x, no decay)."""
        groups = delay_param_groups(self, lr_weights, lr_positions, weight_decay)
        bn = {id(p) for m in self.modules() if isinstance(m, nn.BatchNorm1d) for p in m.parameters()}
        weights = groups[0]
        groups[0] = dict(weights, params=[p for p in weights["params"] if id(p) not in bn])
        groups.insert(1, {"params": [p for p in self.parameters() if id(p) in bn], "lr": lr_weights,
                          "weight_decay": 0.0, "name": "batchnorm"})
        return [g for g in groups if g["params"]]

    def start_epoch(self, epoch: int, epochs: int) -> float:
        """Set the Gaussian width for ``epoch`` following the paper's schedule; returns it."""
        sigma = sigma_schedule(epoch, epochs, sigma_start=max(self.max_delay // 2, 1))
        set_sigma(self, sigma)
        return sigma

    def after_step(self) -> None:
        """Clamp learned positions to ``[0, max_delay]`` (call after each optimiser step)."""
        clamp_positions(self)

    @staticmethod
    def loss(membrane: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return summed_softmax_loss(membrane, target)

    @staticmethod
    def predict(membrane: torch.Tensor) -> torch.Tensor:
        return summed_softmax_predict(membrane)


# ----------------------------------------------------------------------------- zoo entry (recipes)
class DCLSDelaysConfig(Section):
    """``model`` section of ``architecture: dcls_delays`` (:class:`DCLSDelayClassifier`).

    Defaults are the paper's SHD configuration (Hammouamri et al. 2024, ``best_config_SHD.py``):
    2 x 256 hidden LIF, dropout 0.4, max delay 25 steps, tau 1.005 steps, ATan alpha 5, BatchNorm,
    positions learned at ``positions_lr_factor = 100`` times the weights' learning rate
    (``optimiser.lr``), Gaussian width from ``max_delay // 2`` down to 0.23 over the first
    quarter of the epochs. ``delays``: ``learn`` | ``random`` (fixed, the paper's
    ``snn_delays_lr0``) | ``none`` (plain linear synapses, the paper's ``snn``).
    """

    architecture: Literal["dcls_delays"] = "dcls_delays"
    hidden: list[int] = Field(default_factory=lambda: [256, 256], min_length=1)
    max_delay: int = Field(25, ge=0)
    delays: Literal["learn", "random", "none"] = "learn"
    tau: float = Field(1.005, ge=1.0)
    dropout: float = Field(0.4, ge=0.0, lt=1.0)
    surrogate_alpha: float = Field(5.0, gt=0)
    batch_norm: bool = True
    pad_end: bool = True
    sigma_start: float | None = Field(None, gt=0)   # None: max_delay // 2 (the paper's K // 2)
    sigma_end: float = Field(0.23, gt=0)
    sigma_fraction: float = Field(0.25, gt=0, le=1)  # share of the epochs over which sigma shrinks
    positions_lr_factor: float = Field(100.0, ge=0)  # 0 freezes the positions (like delays=random)
    backend: str = "auto"                            # LIF backend: auto or one of axonal.kernels.registry.BACKENDS

    @field_validator("hidden")
    @classmethod
    def _positive_sizes(cls, v):
        return check_layer_sizes(v)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, v):
        check_backend(v)
        return v


class DCLSDelayClassifier(nn.Module):
    """:class:`DCLSDelaySNN` as a zoo classifier: ``forward(x [T, B, C]) -> scores [B, K]``.

    ``scores = sum_t softmax(v_t)`` of the readout membrane, so the training loop's
    ``cross_entropy(scores, y)`` *is* the paper's ``loss='sum'`` and ``argmax`` its prediction.
    The hooks the :class:`axonal.train.Trainer` calls when a model has them give the paper's
    recipe: :meth:`optimizer_groups` (positions at ``positions_lr_factor x lr`` without weight
    decay, none on BatchNorm), :meth:`start_epoch` (the Gaussian-width schedule) and
    :meth:`after_step` (clamp the positions). In ``eval()`` every delay is an integer.
    """

    def __init__(self, snn: DCLSDelaySNN, encoder: nn.Module | None = None, *,
                 positions_lr_factor: float = 100.0, sigma_start: float | None = None,
                 sigma_end: float = 0.23, sigma_fraction: float = 0.25):
        super().__init__()
        self.encoder = encoder
        self.snn = snn
        self.positions_lr_factor = float(positions_lr_factor)
        self.sigma_start = float(sigma_start) if sigma_start else float(max(snn.max_delay // 2, 1))
        self.sigma_end = float(sigma_end)
        self.sigma_fraction = float(sigma_fraction)

    @classmethod
    def from_config(cls, section: DCLSDelaysConfig, n_inputs: int, n_classes: int,
                    encoder: nn.Module | None = None, generator: torch.Generator | None = None):
        snn = DCLSDelaySNN(n_inputs, n_classes, hidden=tuple(section.hidden), max_delay=section.max_delay,
                           delays=section.delays, tau=section.tau, dropout=section.dropout,
                           surrogate_alpha=section.surrogate_alpha, batch_norm=section.batch_norm,
                           pad_end=section.pad_end, sigma=section.sigma_start, backend=section.backend,
                           generator=generator)
        return cls(snn, encoder, positions_lr_factor=section.positions_lr_factor,
                   sigma_start=section.sigma_start, sigma_end=section.sigma_end,
                   sigma_fraction=section.sigma_fraction)

    def membrane(self, x: torch.Tensor) -> torch.Tensor:
        """Readout membrane ``[T', B, K]`` (after the encoder, if any)."""
        if self.encoder is not None:
            x, _ = self.encoder(x)
        return self.snn(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.membrane(x), dim=-1).sum(0)

    def hidden_layers(self) -> list[str]:
        """Names of the hidden LIF populations (for rasters), input side first."""
        return [f"snn.net.layers.{i}" for i, m in enumerate(self.snn.net.layers) if isinstance(m, LIF)]

    # -- Trainer hooks --------------------------------------------------------------------------
    def optimizer_groups(self, lr: float, weight_decay: float = 0.0) -> list[dict]:
        groups = self.snn.param_groups(lr, lr * self.positions_lr_factor, weight_decay)
        enc = [p for p in (self.encoder.parameters() if self.encoder is not None else ()) if p.requires_grad]
        if enc:
            groups.append({"params": enc, "lr": lr, "weight_decay": weight_decay, "name": "encoder"})
        return groups

    def start_epoch(self, epoch: int, epochs: int) -> float:
        sigma = sigma_schedule(epoch, epochs, self.sigma_start, self.sigma_end, self.sigma_fraction)
        set_sigma(self, sigma)
        return sigma

    def after_step(self) -> None:
        clamp_positions(self)


def build_dcls(section: DCLSDelaysConfig, info, encoder) -> DCLSDelayClassifier:
    return DCLSDelayClassifier.from_config(section, n_inputs=encoded_channels(encoder, info),
                                           n_classes=info.n_classes, encoder=encoder)


register_model("dcls_delays", DCLSDelaysConfig, build_dcls)

__all__ += ["DCLSDelaysConfig", "DCLSDelayClassifier"]
