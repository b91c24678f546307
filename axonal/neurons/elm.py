"""Expressive Leaky Memory (ELM) neuron and its Branch variant.

Spieler, Rahaman, Martius, Schölkopf & Levina, "The Expressive Leaky Memory Neuron: an
Efficient and Expressive Phenomenological Neuron Model Can Solve Long-Horizon Tasks", ICLR 2024
(arXiv 2306.16922). A non-spiking phenomenological neuron: synapses with leaky traces feed
dendritic branches, and a small MLP writes into memory units that leak with fixed time
constants spread log-uniformly over ``[tau_min, tau_max]``; a linear readout gives the output.

ELM (v1), per step (``kappa = exp(-dt / tau)``):

    s_t   = kappa_s * s_{t-1} + w_s * x_t                        synaptic traces (n_synapse)
    b_t   = sum of s_t over the synapses of each branch           (n_branch)
    dm_t  = 1.7159 tanh(2/3 MLP([b_t, kappa_m * m_{t-1}]))        (d_m)
    m_t   = kappa_m * m_{t-1} + lambda (1 - kappa_m) * dm_t
    y_t   = W_y m_t

Branch-ELM (v2): the branch sums are the leaky state instead of the synapses, and the memory
write uses ``kappa_lambda = exp(-dt lambda / tau_m)``:

    b_t = kappa_b * b_{t-1} + sum over the branch of (w_s * x_t)
    m_t = kappa_m * m_{t-1} + (1 - kappa_lambda) * dm_t

``w_s >= 0`` is stored through a ReLU (initial 0.5); the MLP has ``mlp_layers`` hidden ReLU
layers of width ``2 d_m``; ``tau_m`` is stored through a scaled sigmoid on
``[tau_min, tau_max]`` and is fixed unless ``learn_tau=True``. Without branches each input is
its own branch. ``routing="neuronio"`` reproduces the paper's NeuronIO input layout
(excitatory/inhibitory inputs interlaced, each branch a window of ``synapses_per_branch``
neighbouring inputs), ``routing="random"`` draws each synapse's input at random.

With the paper's NeuronIO configuration (1278 inputs, 45 branches x 100 synapses, 2 outputs)
the trainable parameter counts are 4,601 / 5,852 / 8,002 / 19,252 / 54,002 for d_m = 1 / 10 /
20 / 50 / 100 (the authors' README; ``tests/neurons/test_elm.py`` checks them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import nn

from ..network import Temporal
from .base import NeuronParams, check_sequence, constant, scan
from .catalog import register_neuron

__all__ = ["ExpressiveLeakyMemory", "BranchELM", "ELMParams", "ELMState", "ELMStepParams", "elm_step",
           "elm_gains", "log_spaced_taus", "scaled_sigmoid",
           "inverse_scaled_sigmoid", "scaled_tanh", "neuronio_routing_indices"]

ROUTINGS = (None, "random", "neuronio")


def scaled_sigmoid(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``low + (high - low) sigmoid(x)``: keeps a learned time constant inside ``[low, high]``."""
    return (high - low) * torch.sigmoid(x) + low


def inverse_scaled_sigmoid(y: torch.Tensor, low: float, high: float) -> torch.Tensor:
    y = y.clamp(low + 1e-6, high - 1e-6)
    return torch.log((y - low) / (high - y))


def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    """LeCun's scaled tanh ``1.7159 tanh(2x/3)`` (unit gain and variance near 0)."""
    return 1.7159 * torch.tanh(x * (2.0 / 3.0))


def log_spaced_taus(n: int, tau_min: float, tau_max: float) -> torch.Tensor:
    """``n`` time constants spaced uniformly in log between ``tau_min`` and ``tau_max``."""
    return torch.logspace(math.log10(tau_min), math.log10(tau_max), n, dtype=torch.float64).float()


def neuronio_routing_indices(num_input: int, num_branch: int, per_branch: int):
    """Input index of every synapse and a validity mask, for the NeuronIO branch layout.

    Inputs ``0..N/2-1`` (excitatory) and ``N/2..N-1`` (inhibitory) are interlaced
    (``0, N/2, 1, N/2+1, ...``); branch ``k`` takes ``per_branch`` consecutive interlaced inputs
    starting at ``k * ceil(N / num_branch)`` (windows overlap when ``per_branch`` exceeds the
    stride); positions past the end are masked out.
    """
    half = num_input // 2
    ar = torch.arange(num_input)
    interlaced = (ar % 2) * half + ar // 2
    stride = math.ceil(num_input / num_branch)
    if stride > per_branch:
        raise ValueError(f"neuronio routing: {num_branch} branches of {per_branch} synapses cannot cover "
                         f"{num_input} inputs; raise synapses_per_branch to >= {stride}")
    pos = torch.arange(num_branch)[:, None] * stride + torch.arange(per_branch)[None, :]
    valid = pos < num_input
    return interlaced[pos.clamp(max=num_input - 1)].flatten(), valid.flatten().float()


@dataclass(frozen=True)
class ELMParams(NeuronParams):
    """The constants of an ELM neuron (validated; none is learned through a learn rule).

    The unit's learned tensors are weights of its dendritic tree and memory (``w_s``, the MLP,
    the readout) and the memory time constants ``tau_m``; the module holds them as parameters
    and resolves them once per pass into ``ELMStepParams``. ``tau_m`` is kept inside
    ``[tau_min, tau_max]`` by a scaled sigmoid, as in the paper (an interval, which none of the
    library's learn rules expresses).
    """

    #: synaptic trace (v1) or branch (v2) time constant, in steps of dt; fixed
    tau_syn: float = constant(5.0, check="positive")
    tau_min: float = constant(1.0, check="positive")
    tau_max: float = constant(1000.0, check="positive")
    lambda_value: float = constant(5.0, check="positive")
    dt: float = constant(1.0, check="positive")
    variant: str = "v1"

    def __post_init__(self):
        super().__post_init__()
        if not self.tau_max > self.tau_min:
            raise ValueError(f"tau_max ({self.tau_max}) must exceed tau_min ({self.tau_min})")
        if self.variant not in ("v1", "v2"):
            raise ValueError(f"ELM variant must be 'v1' (ELM) or 'v2' (Branch-ELM), got {self.variant!r}")


class ELMState(NamedTuple):
    trace: torch.Tensor   # v1: synaptic traces [B, n_synapse]; v2: branch states [B, n_branch]
    m: torch.Tensor       # memory [B, d_m]


class ELMStepParams(NamedTuple):
    """Everything one ELM step reads, resolved once per pass (``ExpressiveLeakyMemory.step_params``)."""

    variant: str
    num_branch: int
    synapses_per_branch: int
    w_s: torch.Tensor          # synaptic weights >= 0 [n_synapse]
    kappa_trace: torch.Tensor  # trace (v1) / branch (v2) decay
    kappa_m: torch.Tensor      # memory decay [d_m]
    write_gain: torch.Tensor   # memory write gain [d_m]
    mlp: Callable              # [B, n_branch + d_m] -> [B, d_m]
    readout: Callable          # [B, d_m] -> [B, num_output]


def elm_gains(tau_m: torch.Tensor, p: ELMParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Memory decay ``kappa_m = exp(-dt / tau_m)`` and write gain: ``lambda (1 - kappa_m)`` (v1)
    or ``1 - exp(-dt lambda / tau_m)`` (v2)."""
    tau = tau_m.clamp(min=1e-6)
    kappa_m = torch.exp(-p.dt / tau)
    if p.variant == "v1":
        return kappa_m, p.lambda_value * (1 - kappa_m)
    return kappa_m, 1 - torch.exp(-p.dt * p.lambda_value / tau)


def elm_step(x_syn, state: ELMState, p: ELMStepParams):
    """One ELM step on routed synaptic input ``x_syn [B, n_synapse]``; returns ``(y, state)``."""
    b = x_syn.shape[0]
    if p.variant == "v1":
        trace = p.kappa_trace * state.trace + p.w_s * x_syn
        branch = trace.view(b, p.num_branch, p.synapses_per_branch).sum(-1)
    else:
        inp = (p.w_s * x_syn).view(b, p.num_branch, p.synapses_per_branch).sum(-1)
        trace = branch = p.kappa_trace * state.trace + inp
    mk = p.kappa_m * state.m
    m = mk + p.write_gain * scaled_tanh(p.mlp(torch.cat([branch, mk], dim=-1)))
    return p.readout(m), ELMState(trace, m)


@register_neuron("elm")
class ExpressiveLeakyMemory(Temporal):
    """ELM neuron (v1). ``forward(x [T, B, num_input], state=None) -> (y [T, B, num_output], ELMState)``.

    Arguments follow the paper's code: ``num_memory`` (d_m), ``lambda_value`` (λ = 5),
    ``mlp_layers`` (1), ``mlp_hidden`` (default 2 d_m), ``tau_syn`` (5), ``tau_min``/``tau_max``
    (memory time constants, log-spaced), ``learn_tau``, ``w_s_init`` (0.5), ``num_branch``,
    ``synapses_per_branch``, ``routing`` (None, "random", "neuronio"), ``dt``.
    For classification read the last step, ``y[-1]``.

    The neuron contract: ``Params`` (``ELMParams``), ``State`` (``ELMState``), the pure
    ``step`` (``elm_step``, run by the generic ``scan``) and ``initial_state(x_t)``. The step is
    a small MLP inside a recurrence, so no fused kernel applies.
    """

    variant = "v1"
    Params = ELMParams
    State = ELMState
    step = staticmethod(elm_step)

    def __init__(self, num_input: int, num_output: int, num_memory: int = 100, lambda_value: float = 5.0,
                 mlp_layers: int = 1, mlp_hidden: int | None = None, tau_syn: float = 5.0,
                 tau_min: float = 1.0, tau_max: float = 1000.0, learn_tau: bool = False,
                 w_s_init: float = 0.5, num_branch: int | None = None, synapses_per_branch: int = 1,
                 routing: str | None = None, dt: float = 1.0, seed: int | None = None):
        super().__init__()
        for k, v in dict(num_input=num_input, num_output=num_output, num_memory=num_memory,
                         synapses_per_branch=synapses_per_branch).items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{type(self).__name__}: {k} must be a positive int, got {v!r}")
        if mlp_layers < 0:
            raise ValueError(f"mlp_layers must be >= 0, got {mlp_layers}")
        self._params = ELMParams(tau_syn=tau_syn, tau_min=tau_min, tau_max=tau_max,
                                 lambda_value=lambda_value, dt=dt, variant=self.variant)
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        self.num_input, self.num_output, self.num_memory = num_input, num_output, num_memory
        self.lambda_value, self.tau_min, self.tau_max, self.dt = float(lambda_value), float(tau_min), float(tau_max), float(dt)
        self.num_branch = num_input if num_branch is None else int(num_branch)
        self.synapses_per_branch = synapses_per_branch
        self.num_synapse = self.num_branch * synapses_per_branch
        if routing is None and self.num_synapse != num_input:
            raise ValueError(
                f"{type(self).__name__}: {self.num_branch} branches x {synapses_per_branch} synapses = "
                f"{self.num_synapse} synapses but {num_input} inputs; without routing each input needs "
                "exactly one synapse (set num_branch * synapses_per_branch = num_input, or routing='random'/'neuronio')")
        self.routing = routing
        if routing == "neuronio":
            idx, mask = neuronio_routing_indices(num_input, self.num_branch, synapses_per_branch)
        elif routing == "random":
            g = torch.Generator().manual_seed(0 if seed is None else seed)
            idx = torch.randint(num_input, (self.num_synapse,), generator=g)
            mask = torch.ones(self.num_synapse)
        else:
            idx = mask = None
        self.register_buffer("route_index", idx)
        self.register_buffer("route_mask", mask)

        hidden = mlp_hidden or 2 * num_memory
        layers, width = [], self.num_branch + num_memory
        for _ in range(mlp_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, num_memory))
        self.mlp = nn.Sequential(*layers)
        self.w_s_raw = nn.Parameter(torch.full((self.num_synapse,), float(w_s_init)))
        self.readout = nn.Linear(num_memory, num_output)
        n_trace = self.num_synapse if self.variant == "v1" else self.num_branch
        self.register_buffer("tau_trace", torch.full((n_trace,), float(tau_syn)))
        raw = inverse_scaled_sigmoid(log_spaced_taus(num_memory, tau_min + 1e-6, tau_max - 1e-6), tau_min, tau_max)
        self.tau_m_raw = nn.Parameter(raw, requires_grad=learn_tau)

    # --------------------------------------------------------------- derived quantities
    @property
    def tau_m(self) -> torch.Tensor:
        """Memory time constants (steps of ``dt``), inside ``[tau_min, tau_max]``."""
        return scaled_sigmoid(self.tau_m_raw, self.tau_min, self.tau_max)

    @property
    def w_s(self) -> torch.Tensor:
        return torch.relu(self.w_s_raw)

    def route(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``[..., num_input]`` -> synapse inputs ``[..., n_synapse]``."""
        if self.route_index is None:
            return x
        return x.index_select(-1, self.route_index) * self.route_mask

    def params(self) -> ELMParams:
        """The neuron's constants."""
        return self._params

    def initial_state(self, x_t: torch.Tensor) -> ELMState:
        """Zero traces and memory for one input step ``x_t [B, num_input]``."""
        b = x_t.shape[0]
        return ELMState(x_t.new_zeros(b, self.tau_trace.shape[0]), x_t.new_zeros(b, self.num_memory))

    def step_params(self, dtype: torch.dtype = torch.float32) -> ELMStepParams:
        """The step's inputs for this pass (learned tensors resolved, in ``dtype``)."""
        kappa_m, gain = elm_gains(self.tau_m, self._params)
        return ELMStepParams(self.variant, self.num_branch, self.synapses_per_branch,
                             self.w_s.to(dtype), torch.exp(-self.dt / self.tau_trace).to(dtype),
                             kappa_m.to(dtype), gain.to(dtype), self.mlp, self.readout)

    def forward(self, x: torch.Tensor, state: ELMState | None = None):
        check_sequence(x, (self.num_input,), type(self).__name__)
        if state is None:
            state = self.initial_state(x[0] if x.shape[0] else x.new_zeros(x.shape[1:]))
        elif not isinstance(state, ELMState) or state.m.shape[0] != x.shape[1]:
            raise ValueError(f"{type(self).__name__}: state must be the ELMState returned for the same batch; "
                             "pass state=None to start fresh")
        return scan(elm_step, self.route(x), state, self.step_params(x.dtype))


@register_neuron("branch_elm")
class BranchELM(ExpressiveLeakyMemory):
    """Branch-ELM (the paper's v2): leaky branch states instead of per-synapse traces, and the
    memory write gated by ``1 - exp(-dt lambda / tau_m)``. Same arguments as the ELM
    (``tau_syn`` is the branch time constant tau_b)."""

    variant = "v2"
