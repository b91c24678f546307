"""From an axonal model to the NeuroCoreX-style core and back to numbers.

- :class:`NeuroCoreLIF`: the core's neuron in floating point, as an axonal neuron (Params,
  State, step), trainable with surrogate gradients: linear (subtractive) leak, bias, floor,
  reset to 0 and a refractory period. With integer-valued parameters and inputs it computes
  exactly what the integer core computes (as long as nothing saturates at 18 bits).
- :func:`to_core_config`: quantises ``Sequential(nn.Linear(n_in, n), NeuroCoreLIF(n))`` to an
  int8 :class:`~axonal.emulator.protocol.CoreConfig`: one scale ``s = 127 / max|W|`` for
  weights, thresholds, leaks and biases (membrane units), rounded to integers.
- :class:`NeuroCoreXEmulator`: holds a configuration received as bytes (parsed and validated
  by :func:`~axonal.emulator.protocol.decode`) and runs spike trains through it, with or
  without on-chip STDP. :func:`run_on_emulator` does model -> bytes -> emulator -> spikes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..network import Sequential
from ..neurons.base import NeuronModule, NeuronParams, constant
from ..neurons.catalog import register_neuron
from ..surrogate import Surrogate
from .core import run_engine, run_reference
from .protocol import V_MAX, V_MIN, CoreConfig, decode, encode

__all__ = ["NeuroCoreLIFParams", "NeuroCoreLIFState", "neurocore_lif_step", "NeuroCoreLIF",
           "to_core_config", "NeuroCoreXEmulator", "run_on_emulator"]

Number = float | torch.Tensor


@dataclass(frozen=True)
class NeuroCoreLIFParams(NeuronParams):
    threshold: Number = constant(1.0, learn="positive")
    #: subtracted each step (the core's linear leak); learned through softplus, so a 0 starts
    #: just above it
    leak: Number = constant(0.0, learn="positive", check="nonnegative")
    bias: Number = constant(0.0, learn="free")
    refractory: int = 0
    v_floor: float = -float("inf")
    surrogate: str | Surrogate = "atan"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.refractory, int) or self.refractory < 0:
            raise ValueError(f"NeuroCoreLIFParams.refractory must be an int >= 0 (steps), got {self.refractory!r}")


class NeuroCoreLIFState(NamedTuple):
    v: torch.Tensor
    refractory: torch.Tensor  # steps left, as floats


def neurocore_lif_step(x, state: NeuroCoreLIFState, p: NeuroCoreLIFParams):
    """One step of the core's neuron (see :mod:`axonal.emulator.core`, step 3) in float."""
    active = state.refractory <= 0
    u = torch.clamp(state.v + p.bias - p.leak + x, min=p.v_floor)
    s = p.surrogate(u - p.threshold) * active
    sd = s.detach()
    v = torch.where(active, u * (1 - sd), torch.zeros_like(u))
    r = torch.where(sd > 0, torch.full_like(u, float(p.refractory)), (state.refractory - 1).clamp(min=0))
    return s, NeuroCoreLIFState(v, r)


@register_neuron("neurocore_lif")
class NeuroCoreLIF(NeuronModule):
    """The NeuroCoreX neuron for training in float: ``NeuroCoreLIF(10, threshold=1., leak=.05,
    refractory=2, learn=("threshold", "leak"), per_neuron=True)``. Registered as
    ``"neurocore_lif"``. It runs the reference scan: the refractory counter and the floor are
    branches (``where``/``clamp``) that ``compile_step``'s branch-free contract does not cover,
    and the model exists to be trained, then quantised (``to_core_config``), not for speed."""

    Params = NeuroCoreLIFParams
    State = NeuroCoreLIFState
    step = staticmethod(neurocore_lif_step)


def _split(model):
    if isinstance(model, Sequential) and len(model) == 2:
        lin, neu = model[0], model[1]
    elif isinstance(model, (tuple, list)) and len(model) == 2:
        lin, neu = model
    else:
        raise TypeError("to_core_config expects Sequential(nn.Linear(n_in, n), NeuroCoreLIF(n)) "
                        f"(the core is one all-to-all layer); got {type(model).__name__}")
    if not isinstance(lin, nn.Linear):
        raise TypeError(f"first layer must be nn.Linear, got {type(lin).__name__}")
    if not isinstance(neu, NeuroCoreLIF):
        raise TypeError(f"second layer must be NeuroCoreLIF (linear leak, reset to 0), got {type(neu).__name__}; "
                        "an exponential-leak LIF has no exact integer counterpart on the core")
    return lin, neu


def _per_neuron(v, n):
    t = torch.as_tensor(v, dtype=torch.float64).detach().cpu()
    return t.expand(n).numpy() if t.numel() == 1 else t.reshape(n).numpy()


@torch.no_grad()
def to_core_config(model, scale: float | None = None, **core_kw) -> CoreConfig:
    """Quantise a float model to the integer core (``scale`` defaults to 127 / max|W|).

    ``core_kw`` sets the remaining :class:`CoreConfig` fields (STDP constants, masks ...).
    Returns the configuration together with nothing else; ``config.scale`` is not stored, so
    keep ``scale`` if you need to map potentials back.
    """
    lin, neu = _split(model)
    n, n_in = lin.weight.shape
    p = neu.params()
    w = lin.weight.detach().double().cpu()
    if scale is None:
        m = float(w.abs().max())
        scale = 127.0 / m if m > 0 else 1.0
    w_q = torch.round(w * scale)
    if w_q.abs().max() > 127:
        raise ValueError(f"scale {scale} puts weights outside int8; use at most {127 / float(w.abs().max())}")
    bias = _per_neuron(p.bias, n) + (lin.bias.detach().double().cpu().numpy() if lin.bias is not None else 0.0)
    thr = np.round(_per_neuron(p.threshold, n) * scale)
    leak = np.round(_per_neuron(p.leak, n) * scale)
    bias_q = np.round(bias * scale)
    floor = float(p.v_floor)
    v_floor = V_MIN if not np.isfinite(floor) else int(np.clip(np.round(floor * scale), V_MIN, V_MAX))
    if thr.max() > V_MAX:
        raise ValueError(f"threshold {thr.max()} exceeds the 18-bit range; lower the scale")
    cfg = dict(n_inputs=n_in, n_neurons=n, w_ff=w_q.numpy().T.astype(np.int8),
               threshold=np.clip(thr, 1, V_MAX).astype(np.int64), leak=np.clip(leak, 0, 65535).astype(np.int64),
               refractory=np.full(n, p.refractory), bias=np.clip(bias_q, -32768, 32767).astype(np.int64),
               v_floor=v_floor)
    cfg.update(core_kw)
    return CoreConfig(**cfg)


class NeuroCoreXEmulator:
    """A software NeuroCoreX core programmed with configuration bytes.

        emu = NeuroCoreXEmulator(config_bytes)         # parsed and validated (ProtocolError)
        spikes = emu.run(x)                             # x [T, B, n_inputs] 0/1 -> [T, B, n_neurons]
        emu.run(x, currents=teacher, learn=True)        # on-chip STDP; emu.config holds new weights
    """

    def __init__(self, config: bytes | bytearray | CoreConfig):
        self.config = decode(config) if isinstance(config, (bytes, bytearray, memoryview)) else config.copy()
        if not isinstance(self.config, CoreConfig):
            raise TypeError("NeuroCoreXEmulator needs configuration bytes or a CoreConfig")

    def to_bytes(self) -> bytes:
        return encode(self.config)

    def run(self, inputs, currents=None, learn: bool = False, engine: str = "numba"):
        """Run spike trains; returns spikes like the input (torch in -> torch out)."""
        as_torch = isinstance(inputs, torch.Tensor)
        x = inputs.detach().cpu().numpy() if as_torch else np.asarray(inputs)
        if isinstance(currents, torch.Tensor):
            currents = currents.detach().cpu().numpy()
        if engine == "numba":
            out, w_ff, w_aa = run_engine(self.config, x, currents, learn)
        elif engine == "reference":
            out, w_ff, w_aa = run_reference(self.config, x, currents, learn)
        else:
            raise ValueError(f"engine must be 'numba' or 'reference', got {engine!r}")
        if learn:
            self.config.w_ff, self.config.w_aa = w_ff, w_aa
        return torch.from_numpy(out.astype(np.float32)) if as_torch else out


def run_on_emulator(model, x, scale: float | None = None, **core_kw):
    """Quantise ``model``, send it through the byte protocol, run ``x [T, B, n_in]`` on the emulator."""
    emu = NeuroCoreXEmulator(encode(to_core_config(model, scale, **core_kw)))
    return emu.run(x)
