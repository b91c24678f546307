"""Synaptic operations (SynOps) of connection layers, counted from the tensors they really see.

A synaptic operation is one synapse receiving one input event: an input that is nonzero at one
time step, delivered to every target it fans out to. For a layer ``y = f(x)`` the count is

    SynOps = sum over nonzero inputs x_i of fan_out(i)

(Merolla et al. 2014, "A million spiking-neuron integrated circuit ...", Science; the usual
energy proxy since, e.g. Rueckauer et al. 2017, Frontiers in Neuroscience). When the input is
binary (spikes) each SynOp is an accumulate (AC: the weight is added); when it is real-valued (a
first layer fed raw signal / direct current, or an ANN) each is a multiply-accumulate (MAC). The
class is decided from the actual tensor at every call. Zero inputs are skipped in both cases, as
event-driven hardware does; ``dense_macs`` is the count of a dense evaluation of the same layer
(what an ANN of the same shape pays, zeros included) for comparison. Bias additions are not
counted.

Fan-out rules:

- ``nn.Linear``: ``out_features`` for every input element;
- ``nn.Conv1d/2d/3d``: the number of (output position, output channel) pairs whose receptive
  field holds the input element — ``out_channels / groups`` times the number of output
  positions covering it, which is ``kernel area / stride^d`` only in the interior. It is
  counted exactly by convolving the nonzero mask with a kernel of ones (same stride, padding,
  dilation, padding mode, groups), so borders are right;
- ``axonal.neurons.Recurrent``: last step's spikes (and the spikes in a passed-in state at the
  first step) times ``N`` (``N - 1`` with ``zero_diagonal``).

Custom layers join by either

- an attribute ``fan_out`` (int): every element of the first tensor input has that fan-out, or
- a method ``synaptic_operations(inputs: tuple, output) -> (ops, dense_macs)`` (tensors or
  numbers; AC vs MAC is then decided from the first tensor input), or a full
  ``SynapticCount``,

or by registering a rule for their class with ``register_synops_rule``.

Two conventions, chosen with ``with synops_convention(...)`` (default ``"axonal"``):

- ``"axonal"``: every fan-out of a nonzero input is an operation, zero weights included (the
  weight is still fetched and added by dense-weight hardware, and by axonal's event-driven
  kernels); an input is an AC only when it is {0, 1} (a {-1, 0, 1} input counts as MACs);
  ``dense_macs`` of a convolution counts every kernel tap, padding included.
- ``"neurobench"``: NeuroBench 2.3's rule (``SynapticOperations``): only synapses with a nonzero
  weight count (effective operations of pruned networks), {-1, 0, 1} inputs are ACs (a sign
  flip is an add or a subtract), and the dense count skips padding (a convolution of ones).
  ``axonal.metrics.neurobench`` checks these numbers against NeuroBench itself.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any, Callable, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..neurons import Recurrent


class SynapticCount(NamedTuple):
    """One call of one layer: ``ops`` SynOps (ACs when ``binary`` else MACs), ``dense_macs``."""

    ops: torch.Tensor | float
    dense_macs: torch.Tensor | float
    binary: torch.Tensor | bool


def is_binary(x: torch.Tensor) -> torch.Tensor:
    """0-dim bool tensor: every element of ``x`` is 0 or 1 (no host sync)."""
    if x.dtype == torch.bool:
        return torch.ones((), dtype=torch.bool, device=x.device)
    return ((x == 0) | (x == 1)).all()


def _count_and_binary(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nonzero count and binary-ness in two passes: binary iff every nonzero equals 1."""
    nnz = torch.count_nonzero(x)
    if x.dtype == torch.bool:
        return nnz.to(_acc_dtype(x.device)), torch.ones((), dtype=torch.bool, device=x.device)
    return nnz.to(_acc_dtype(x.device)), nnz == torch.count_nonzero(x == 1)


def _acc_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


# ----------------------------------------------------------------------------- conventions
CONVENTIONS = ("axonal", "neurobench")
_CONVENTION: contextvars.ContextVar[str] = contextvars.ContextVar("synops_convention", default="axonal")


@contextlib.contextmanager
def synops_convention(name: str):
    """Count SynOps under convention ``name`` (``"axonal"`` or ``"neurobench"``, see the module
    docstring) inside the ``with`` block: ``with synops_convention("neurobench"): ...``."""
    if name not in CONVENTIONS:
        raise ValueError(f"unknown SynOps convention {name!r}; choose one of {list(CONVENTIONS)}")
    token = _CONVENTION.set(name)
    try:
        yield name
    finally:
        _CONVENTION.reset(token)


def current_convention() -> str:
    """The SynOps convention in force (``"axonal"`` unless inside ``synops_convention``)."""
    return _CONVENTION.get()


def _is_event_input(x: torch.Tensor) -> torch.Tensor:
    """Whether the input makes ACs: {0, 1} (axonal) or {-1, 0, 1} (neurobench)."""
    if _CONVENTION.get() == "neurobench" and x.dtype != torch.bool:
        return ((x == 0) | (x == 1) | (x == -1)).all()
    return is_binary(x)


# ----------------------------------------------------------------------------- rules
def linear_synops(layer: nn.Linear, x: torch.Tensor) -> SynapticCount:
    """``nn.Linear`` on input ``[..., in_features]``: nonzeros x out_features."""
    x = x.detach()
    if x.shape[-1] != layer.in_features:
        raise ValueError(f"linear_synops: input has {x.shape[-1]} features, layer expects {layer.in_features}")
    out = layer.out_features
    acc = _acc_dtype(x.device)
    dense = torch.tensor(float(x.numel()) * out, dtype=acc, device=x.device)
    if _CONVENTION.get() == "neurobench":
        # each nonzero input reaches the nonzero weights of its column
        per_input = (layer.weight.detach() != 0).sum(0).to(acc)
        active = (x != 0).reshape(-1, x.shape[-1]).sum(0).to(acc)
        return SynapticCount((active * per_input).sum(), dense, _is_event_input(x))
    nnz, binary = _count_and_binary(x)
    return SynapticCount(nnz * out, dense, binary)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv_synops(layer: nn.modules.conv._ConvNd, x: torch.Tensor) -> SynapticCount:
    """``nn.Conv1d/2d/3d``: exact fan-out of each nonzero input, borders and stride included."""
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        raise TypeError("conv_synops handles Conv1d/2d/3d, not transposed convolutions")
    x = x.detach()
    d = len(layer.kernel_size)
    if x.ndim == d + 1:  # unbatched [C, *S]
        x = x.unsqueeze(0)
    if x.ndim != d + 2 or x.shape[1] != layer.in_channels:
        raise ValueError(
            f"conv_synops: input shape {tuple(x.shape)} does not fit {type(layer).__name__} "
            f"with in_channels={layer.in_channels} (expected [N, {layer.in_channels}, ...] with {d} spatial dims)"
        )
    g = layer.groups
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    # nonzero inputs per group and position; float32 is exact for counts < 2**24
    mask = (x != 0).to(torch.float32).reshape(n, g, c // g, *spatial).sum(2)
    padding: Any = layer.padding
    if layer.padding_mode != "zeros":
        mask = F.pad(mask, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
        padding = 0
    acc = _acc_dtype(x.device)
    if _CONVENTION.get() == "neurobench":
        # NeuroBench: a convolution of the nonzero mask with the nonzero-weight mask; dense: of
        # ones with ones (padding contributes nothing)
        full = (x != 0).to(torch.float32)
        wmask = (layer.weight.detach() != 0).to(torch.float32)
        conv = lambda inp, w: _CONV[d](  # noqa: E731
            F.pad(inp, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
            if layer.padding_mode != "zeros" else inp, w, stride=layer.stride,
            padding=padding, dilation=layer.dilation, groups=g)
        ops = conv(full, wmask).sum(dtype=acc)
        dense = conv(torch.ones_like(full), torch.ones_like(wmask)).sum(dtype=acc)
        return SynapticCount(ops, dense, _is_event_input(x))
    ones = torch.ones(g, 1, *layer.kernel_size, device=x.device, dtype=torch.float32)
    # events inside each output position's receptive field, per group
    events = _CONV[d](mask, ones, stride=layer.stride, padding=padding, dilation=layer.dilation, groups=g)
    per_group_out = layer.out_channels // g
    ops = events.sum(dtype=acc) * per_group_out
    out_positions = math.prod(events.shape[2:])
    dense = float(n) * out_positions * layer.out_channels * (c // g) * math.prod(layer.kernel_size)
    return SynapticCount(ops, torch.tensor(dense, dtype=acc, device=x.device), is_binary(x))


def recurrent_synops(layer, x: torch.Tensor, state, out: torch.Tensor) -> SynapticCount:
    """``axonal.neurons.Recurrent``: spikes of the previous step x fan-out N (N-1, zero diagonal).

    ``out`` is the spike output ``[T, B, N]``; the events feeding step t are ``out[t-1]``, and
    at the first step the ``spikes`` of a passed-in state (none for a fresh start).
    """
    out = out.detach()
    n = out.shape[-1]
    fan_out = n - 1 if getattr(layer, "zero_diagonal", False) else n
    acc = _acc_dtype(out.device)
    prev = out[:-1]
    if state is not None and getattr(state, "spikes", None) is not None:
        prev = torch.cat([state.spikes.detach().unsqueeze(0), prev])
    steps = out.numel() // n  # T * B
    dense = torch.tensor(float(steps) * n * fan_out, dtype=acc, device=out.device)
    if _CONVENTION.get() == "neurobench":
        w = layer.recurrent_weight().detach() if hasattr(layer, "recurrent_weight") else None
        if w is not None:
            per_input = (w != 0).sum(0).to(acc)
            active = (prev != 0).reshape(-1, n).sum(0).to(acc)
            return SynapticCount((active * per_input).sum(), dense, _is_event_input(prev))
    ops, binary = _count_and_binary(prev)
    return SynapticCount(ops * fan_out, dense, binary)


# ----------------------------------------------------------------------------- dispatch
RuleFn = Callable[[nn.Module, tuple, dict, Any], SynapticCount]
_RULES: dict[type, RuleFn] = {}


def register_synops_rule(cls: type, rule: RuleFn | None = None):
    """Register ``rule(module, args, kwargs, output) -> SynapticCount`` for ``cls`` and subclasses.

    Usable as a decorator: ``@register_synops_rule(MyLayer)``.
    """
    def deco(fn: RuleFn) -> RuleFn:
        _RULES[cls] = fn
        return fn

    return deco(rule) if rule is not None else deco


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, torch.Tensor):
            return a
    return None


def _primary(output):
    return output[0] if isinstance(output, (tuple, list)) and output else output


register_synops_rule(nn.Linear, lambda m, a, k, o: linear_synops(m, _first_tensor(a, k)))
for _cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
    register_synops_rule(_cls, lambda m, a, k, o: conv_synops(m, _first_tensor(a, k)))


def _recurrent_rule(m, args, kwargs, output):
    """The recurrent synapses only: input weights (``in_features=``) are an ``nn.Linear``
    submodule that the monitor counts as its own layer."""
    state = args[1] if len(args) > 1 else kwargs.get("state")
    out = _primary(output)
    if getattr(m, "batch_first", False):
        out = out.transpose(0, 1)
    return recurrent_synops(m, _first_tensor(args, kwargs), state, out)


register_synops_rule(Recurrent, _recurrent_rule)


def _protocol_rule(m, args, kwargs, output) -> SynapticCount:
    x = _first_tensor(args, kwargs)
    if hasattr(m, "synaptic_operations"):
        res = m.synaptic_operations(tuple(args), output)
        if isinstance(res, SynapticCount):
            return res
        ops, dense = res
        binary = is_binary(x.detach()) if x is not None else False
        return SynapticCount(ops, dense, binary)
    fan_out = int(m.fan_out)
    x = x.detach()
    acc = _acc_dtype(x.device)
    dense = torch.tensor(float(x.numel()) * fan_out, dtype=acc, device=x.device)
    nnz, binary = _count_and_binary(x)
    return SynapticCount(nnz * fan_out, dense, binary if _CONVENTION.get() == "axonal" else _is_event_input(x))


def synops_rule(module: nn.Module) -> RuleFn | None:
    """The rule that counts ``module``'s SynOps, or None if it is not a known connection layer.

    A module's own ``synaptic_operations`` method or ``fan_out`` attribute wins over a class rule.
    """
    if callable(getattr(module, "synaptic_operations", None)) or isinstance(
            getattr(module, "fan_out", None), int):
        return _protocol_rule
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None
