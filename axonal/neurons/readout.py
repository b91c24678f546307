"""The one non-spiking leaky-integrator readout of the library.

Output neurons that never spike and whose membrane is the network's output (logits over time),
as in Hammouamri, Khalfaoui-Hassani & Masquelier (DCLS delays, ICLR 2024) and most surrogate-
gradient classifiers:

    v_t = beta v_{t-1} + g x_t,     beta = exp(-dt / tau)       (the library's decay convention)

with input gain ``g = 1`` (``unit_gain=False``, the default: a LIF whose threshold is never
reached) or ``g = 1 - beta`` (``unit_gain=True``: DC gain 1, so a constant input ``c`` settles at
``v = c`` whatever ``tau`` is, and the scale of the logits does not change when ``tau`` does).

``tau`` is a time constant in steps of ``dt`` like every ``tau`` of ``axonal.neurons``; it may be
learned (through its logarithm). ``tau = inf`` is a perfect integrator (``beta = 1``). A model
that states its leak another way converts at the place it builds the readout (for example
DCLS's ``V <- (1 - 1/tau_dcls) V + I`` is ``tau = -1 / log(1 - 1/tau_dcls)``, converted where
``axonal.models.dcls_delays`` builds its readout); ``LeakyIntegrator(decay=...)`` does that conversion from a per-step
decay in (0, 1] for you.

``leaky_sum`` is the same linear recurrence in closed form (block matmuls, no loop over steps
for narrow inputs), for callers that filter whole sequences with one fixed decay, such as the
Tempotron's kernel traces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..functional import decay_factor, tau_from_decay
from .base import NeuronModule, NeuronParams, constant, scan
from .catalog import register_neuron

__all__ = ["LeakyIntegratorParams", "LeakyIntegratorState", "leaky_integrator_step", "LeakyIntegrator",
           "leaky_sum"]

Number = float | torch.Tensor


@dataclass(frozen=True)
class LeakyIntegratorParams(NeuronParams):
    #: membrane time constant in steps of dt (decay exp(-dt/tau)); inf: no leak
    tau: Number = constant(10.0, learn="log")
    #: scale the input by 1 - beta (DC gain 1) instead of 1
    unit_gain: bool = False
    dt: float = constant(1.0, check="positive")


class LeakyIntegratorState(NamedTuple):
    v: torch.Tensor   # membrane = output


def leaky_integrator_step(x, state: LeakyIntegratorState, p: LeakyIntegratorParams):
    """One step of the leaky integrator; the output is the new membrane."""
    beta = decay_factor(p.tau, p.dt)
    v = beta * state.v + ((1 - beta) * x if p.unit_gain else x)
    return v, LeakyIntegratorState(v)


@register_neuron("leaky_integrator")
class LeakyIntegrator(NeuronModule):
    """Non-spiking leaky readout neurons: ``forward(x [T, B, ...], state=None) -> (v, state)``.

    ``LeakyIntegrator(20, tau=10.)``, ``LeakyIntegrator(decay=0.8, unit_gain=True)`` or
    ``LeakyIntegrator(tau=5., learn="tau", per_neuron=True)``. The output is the membrane at
    every step (read the last step, the mean or the max, ``axonal.metrics.readout``).
    """

    Params = LeakyIntegratorParams
    State = LeakyIntegratorState
    step = staticmethod(leaky_integrator_step)

    def __init__(self, size=None, *, decay: float | None = None, learn=(), per_neuron=False,
                 backend="auto", **params):
        if decay is not None:
            if "tau" in params:
                raise ValueError("LeakyIntegrator: give either tau or decay, not both")
            if not (isinstance(decay, (int, float)) and 0 < decay <= 1):
                raise ValueError(f"LeakyIntegrator: decay must lie in (0, 1], got {decay!r} "
                                 "(decay 0, no memory at all, is no integrator: use the input itself)")
            params["tau"] = tau_from_decay(float(decay), params.get("dt", 1.0))
        super().__init__(size, learn=learn, per_neuron=per_neuron, backend=backend, **params)

    def run(self, x: torch.Tensor, state: LeakyIntegratorState | None = None):
        """``(v, state)`` time-major: the step's recurrence in closed form (``leaky_sum``) when the time constant is one
        number for the layer (the common readout), else the reference scan. Equal up to float
        rounding (tests/neurons/test_readout.py); ``backend="reference"`` forces the scan."""
        state = self._check(x, state)
        p = self.params()
        beta = decay_factor(p.tau, p.dt)
        if self.backend == "reference" or self.detach_temporal or (
                isinstance(beta, torch.Tensor) and beta.numel() != 1):
            return scan(self.step, x, state, p, detach_temporal=self.detach_temporal)
        drive = (1 - beta) * x if p.unit_gain else x
        v = leaky_sum(drive, beta.reshape(()) if isinstance(beta, torch.Tensor) else beta, state.v)
        return v, LeakyIntegratorState(v[-1])


# ----------------------------------------------------------------------------- closed form
#: steps per block of the closed form (a [L, L] matrix per block, a carry between blocks)
#: and the width (B x inputs) from which the stepped loop is used instead. Measured on the
#: 2-core machine, one thread, CPU ms per call: T=100, width 1600: loop 1.9, blocks 1.3;
#: T=2000, width 400: loop 44, blocks 4.3; T=100, width 50: loop 0.9, blocks 0.2; but T=300,
#: width 6400: loop 9.9, blocks 13 (wide rows make each step memory-bound, and the per-step
#: overhead that the blocks save is small beside the L-fold arithmetic they add).
_BLOCK = 32
_LOOP_WIDTH = 4096


def leaky_sum(x: torch.Tensor, decay: float | torch.Tensor, v0: torch.Tensor | None = None,
              block: int | None = None) -> torch.Tensor:
    """``a_t = decay a_{t-1} + x_t`` from ``a_{-1} = v0`` (default 0) over the leading axis.

    Narrow inputs (``B x features <= _LOOP_WIDTH``) skip the loop over steps: within a block of
    ``L`` steps ``a = M x + decay^(k+1) a_carry`` with the causal ``M[t, s] = decay^(t-s)``, one
    matmul per block. Wide inputs step the recurrence (faster there, see ``_LOOP_WIDTH``).
    Differentiable in ``x`` and in ``decay`` (a scalar tensor); the two forms are equal up to
    float rounding (tests/neurons/test_readout.py, tests/learning/test_rules.py).
    """
    t_len = x.shape[0]
    if t_len == 0:
        return x.clone()
    flat = x.reshape(t_len, -1)
    d = torch.as_tensor(decay, dtype=x.dtype, device=x.device)
    carry = None if v0 is None else torch.broadcast_to(v0, x.shape[1:]).reshape(-1)
    if flat.shape[1] > _LOOP_WIDTH:
        a, out = torch.zeros_like(flat[0]) if carry is None else carry, []
        for x_t in flat.unbind(0):
            a = a * d + x_t
            out.append(a)
        return torch.stack(out).reshape(x.shape)
    n = min(block or _BLOCK, t_len)
    idx = torch.arange(n, device=x.device, dtype=x.dtype)
    lag = idx[:, None] - idx[None, :]
    causal = lag >= 0
    mat = torch.where(causal, d ** lag.clamp(min=0), torch.zeros((), dtype=x.dtype, device=x.device))
    carry_gain = d ** (idx + 1)                                        # decay^(k+1), k = 0..n-1
    out = []
    for start in range(0, t_len, n):
        xb = flat[start:start + n]
        k = xb.shape[0]
        ab = mat[:k, :k] @ xb
        if carry is not None:
            ab = ab + carry_gain[:k, None] * carry
        carry = ab[-1]
        out.append(ab)
    return torch.cat(out).reshape(x.shape)
