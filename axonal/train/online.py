"""Memory-lean gradient algorithms: SLTT, SLTT-K and truncated BPTT beside plain BPTT.

Spatial Learning Through Time (SLTT; Meng, Xiao, Yan, Wang, Lin & Luo, "Towards Memory- and
Time-Efficient Backpropagation for Training Spiking Neural Networks", ICCV 2023) drops the
gradient routes through time: the membrane state that step ``t`` hands to step ``t+1`` is a
constant for the backward pass. The gradient is then a sum of per-step terms, so each step's
backward runs right after its forward and its graph is freed: memory does not grow with T.
SLTT-K backpropagates at only ``K`` randomly drawn steps (the others run without a graph).

Two forms here:

- the switch, :func:`detach_temporal`: ``with detach_temporal(model):`` makes every neuron
  population detach its state before each step (``NeuronModule.detach_temporal``, honoured by
  ``Recurrent`` and ``LeakyIntegrator``; the fused kernels do not implement the cut, so under
  the switch they fall back to the reference scan). The full-sequence gradient then equals the
  reference scan with ``state.detach()`` between steps;
- the online loop, :func:`backward_batch`: runs the network a window at a time with the
  per-step loss ``L = (1/T) sum_t CE(o_t, y)`` of SLTT's Algorithm 1 (``o_t``: the readout at
  step ``t``), calls ``backward`` after each window and carries the detached state. Window 1 is
  SLTT (peak memory O(1) in T); window ``w`` is truncated BPTT (O(w)); ``algorithm="bptt"`` is
  the ordinary full-sequence loss of the model.

OTTT (Xiao et al. 2022) additionally carries presynaptic traces forward to recover part of the
temporal gradient; it is not implemented here.

Online algorithms need a model that can be run in windows: an ``axonal.Sequential`` or a model
with ``net`` (a Sequential), an optional parameter-free ``encoder`` and a ``readout`` name (the
``SpikingClassifier``).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ..network import Sequential, Temporal
from ..neurons.base import NeuronModule, detach_state

__all__ = ["ALGORITHMS", "detach_temporal", "backward_batch", "per_step_outputs", "summarise"]

ALGORITHMS = ("bptt", "sltt", "sltt_k", "tbptt")


def _honours(module: nn.Module) -> bool:
    from ..neurons.lif import Recurrent

    return isinstance(module, (NeuronModule, Recurrent))


@contextlib.contextmanager
def detach_temporal(model: nn.Module, on: bool = True) -> Iterator[nn.Module]:
    """Within the block, every neuron population of ``model`` detaches its state between steps.

    Raises ``TypeError`` naming a temporal layer with parameters that cannot honour the switch
    (its gradient through time would silently stay). The previous settings come back on exit.
    """
    saved = []
    for name, m in model.named_modules():
        if isinstance(m, NeuronModule):
            saved.append((m, m.__dict__.get("detach_temporal")))
            m.detach_temporal = bool(on)
        elif isinstance(m, Temporal) and not _honours(m) and on:
            own = any(True for _ in m.parameters(recurse=False))
            inner = [c for c in m.children() if isinstance(c, NeuronModule)]
            if own and not inner:
                raise TypeError(f"detach_temporal: layer {name or type(m).__name__} ({type(m).__name__}) has "
                                "parameters and state but does not implement the temporal cut; SLTT supports "
                                "NeuronModule populations, Recurrent and LeakyIntegrator")
    try:
        yield model
    finally:
        for m, old in saved:
            if old is None:
                m.__dict__.pop("detach_temporal", None)
            else:
                m.detach_temporal = old


# ----------------------------------------------------------------------------- windows
def _parts(model: nn.Module):
    """``(encoder or None, Sequential, readout name)`` of a model that can run in windows."""
    if isinstance(model, Sequential):
        return None, model, "membrane_mean"
    net = getattr(model, "net", None)
    if not isinstance(net, Sequential):
        raise TypeError(f"online training runs the network a window at a time and needs an axonal.Sequential "
                        f"or a model with .net (a Sequential) such as SpikingClassifier; got {type(model).__name__}. "
                        "Use training.algorithm=bptt for this model")
    encoder = getattr(model, "encoder", None)
    if encoder is not None and any(p.requires_grad for p in encoder.parameters()):
        raise TypeError("online training encodes the whole input first and needs an encoder without trainable "
                        "parameters")
    return encoder, net, getattr(model, "readout", "membrane_mean")


def summarise(readout: str, out: torch.Tensor) -> torch.Tensor:
    """Class scores ``[B, K]`` from readout outputs over time ``[T, B, K]`` (as the model does)."""
    if readout == "membrane_mean":
        return out.mean(0)
    if readout == "last_membrane":
        return out[-1]
    if readout == "membrane_max":
        return out.amax(0)
    if readout == "spike_count":
        return out.sum(0)
    raise ValueError(f"unknown readout {readout!r}")


def _encode(encoder, x):
    if encoder is None:
        return x
    with torch.no_grad():
        enc, _ = encoder(x)
    return enc


def per_step_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The readout at every step, ``[T, B, K]``, of a model that ``backward_batch`` can window."""
    encoder, net, _ = _parts(model)
    out, _ = net(_encode(encoder, x) if encoder is not None else x)
    return out


def backward_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, algorithm: str = "bptt",
                   sltt_k: int | None = None, window: int | None = None, regulariser=None,
                   loss_fn: Callable = F.cross_entropy, generator: torch.Generator | None = None):
    """Compute the gradient of one batch into ``.grad`` (call ``zero_grad`` first) and return
    ``(scores [B, K] detached, loss float)``.

    ``bptt``: ``loss_fn(model(x), y)`` and one backward. ``sltt``: windows of one step with the
    per-step loss (module docstring). ``sltt_k``: like ``sltt`` but only ``sltt_k`` random steps
    (drawn from ``generator``) build a graph and backpropagate, each with weight ``1/K``.
    ``tbptt``: windows of ``window`` steps, full BPTT inside a window, state detached between.
    ``regulariser`` (a ``FiringRateRegulariser``) adds its penalty; in the windowed forms each
    window's penalty is weighted by its share of the steps.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    reg = regulariser if regulariser is not None else contextlib.nullcontext()
    if algorithm == "bptt":
        with reg:
            scores = model(x)
            loss = loss_fn(scores, y)
            if regulariser is not None:
                loss = loss + regulariser.loss()
        loss.backward()
        return scores.detach(), float(loss.detach())
    encoder, net, readout = _parts(model)
    seq = _encode(encoder, x)
    t_len = seq.shape[0]
    if t_len == 0:
        raise ValueError("backward_batch: the input has no time steps")
    if algorithm == "sltt_k":
        if sltt_k is None or sltt_k <= 0:
            raise ValueError("algorithm sltt_k needs sltt_k > 0")
        k = min(int(sltt_k), t_len)
        chosen = set(torch.randperm(t_len, generator=generator)[:k].tolist())
        w, weights = 1, {t: 1.0 / k for t in chosen}
    else:
        w = 1 if algorithm == "sltt" else int(window or 0)
        if w <= 0:
            raise ValueError("algorithm tbptt needs window > 0 (training.tbptt_window)")
        weights = {t: 1.0 / t_len for t in range(t_len)}
    outs, states, total = [], None, 0.0
    with reg:
        for start in range(0, t_len, w):
            chunk = seq[start:start + w]
            steps = range(start, start + chunk.shape[0])
            grad_steps = [t for t in steps if t in weights]
            if regulariser is not None:
                regulariser.reset()
            with torch.set_grad_enabled(bool(grad_steps)):
                out, states = net(chunk, states)
                loss = None
                for i, t in enumerate(steps):
                    if t in weights:
                        term = weights[t] * loss_fn(out[i], y)
                        loss = term if loss is None else loss + term
                if loss is not None and regulariser is not None:
                    loss = loss + regulariser.loss() * (chunk.shape[0] / t_len)
            if loss is not None:
                loss.backward()
                total += float(loss.detach())
            outs.append(out.detach())
            states = detach_state(states)
    scores = summarise(readout, torch.cat(outs))
    return scores, total
