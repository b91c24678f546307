"""Export to and import from NIR, the Neuromorphic Intermediate Representation (``nir`` 1.0).

NIR's neurons are continuous-time: ``tau dv/dt = (v_leak - v) + r I``, spike when
``v > v_threshold``, then ``v <- v_reset`` (CubaLIF adds ``tau_syn dI/dt = -I + w_in S``; IF
is ``dv/dt = r I``). A NIR file carries no time step. axonal's neurons are discrete:
``v <- beta v + x`` with ``beta = exp(-dt/tau)``, fire on ``v >= threshold``. The two meet
through a *discretisation* of step ``dt`` (seconds):

==============  ============================  ======================================
discretisation  per-step decay                per-step input gain of LIF/LI
==============  ============================  ======================================
``"exp"``       ``beta = exp(-dt / tau)``     ``(1 - beta) r`` (input held over the step)
``"euler"``     ``beta = 1 - dt / tau``       ``dt r / tau``  (forward Euler)
==============  ============================  ======================================

(CubaLIF: the current decays by ``alpha`` from ``tau_syn`` the same way and receives
``(1 - alpha) w_in`` resp. ``dt w_in / tau_syn`` of the input; IF: gain ``dt r`` in both.)
snnTorch and Norse both read and write NIR with forward Euler. axonal's own default is ``"exp"``.

**Export** ``to_nir(model, dt=...)`` writes ``tau`` and ``r`` so that the chosen discretisation
with that ``dt`` reproduces axonal's decay and unit input gain exactly (``r = 1/(1-beta)``;
``tau = -dt/ln(beta)`` for ``"exp"``, ``dt/(1-beta)`` for ``"euler"``). Every neuron node's
metadata records ``dt``, ``discretisation``, ``reset`` (NIR 1.0 has only a reset *to*
``v_reset``; axonal's ``"subtract"`` and ``"none"`` are kept here), ``fire`` (``">="``) and the
axonal time unit; the graph's metadata names the producer.

**Import** ``from_nir(graph_or_path, dt=None, reset=None, source=None, discretisation=None,
fire=None)`` builds an ``axonal.Sequential`` of axonal layers. Each option defaults to, in
order: the argument, the node's metadata, the graph's metadata, the source's convention.
``source`` says whose conventions the file follows, because the peers write NIR differently
from its specification (measured on snnTorch 1.0 and Norse 1.1, tests/export/test_nir_peers.py):

- ``"nir"``: the specification, forward Euler, strict ``>``; ``dt`` must be given.
- ``"snntorch"``: snnTorch writes ``dt = 1e-4`` fixed, ``tau = dt/(1-beta)``, ``r = tau/dt``,
  ``v_reset = 0`` for every ``reset_mechanism`` (the subtract reset is lost: pass
  ``reset="subtract"`` when the source used it) and fires on ``>``; ``dt`` defaults to 1e-4.
- ``"norse"``: Norse writes ``tau = dt * tau_mem`` (``dt / tau_mem_inv``) instead of
  ``tau_mem``, reads neither ``r`` nor ``v_reset``, and fires on ``>``; its ``LIFCell``
  (written as CubaLIF) adds the input to the current as a jump. ``dt`` must be the one the
  graph was written with (Norse's default 1e-3).
- ``"axonal"``: the metadata of ``to_nir`` (the default when the graph says axonal wrote it).

``fire=">"`` (strict, the peers and NIR) is reproduced exactly on axonal's ``>=`` neurons by
raising the float32 threshold to the next float32 (``v > t`` iff ``v >= nextafter(t)``); a
subtract reset then lowers the membrane by that value, one ulp more than ``t``.

Supported nodes: Input, Output, Affine, Linear, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten,
Scale, Threshold, Delay (whole steps), LI, IF, LIF, CubaLIF, CubaLI, nested NIRGraphs, and
cycles ``neuron -> Linear/Affine -> neuron`` (recurrent weights, ``axonal.neurons.Recurrent``).
Anything else, branching graphs, cycles without a neuron, parameters axonal cannot represent
(``v_reset != 0``, a CubaLIF ``v_leak``) and malformed files raise ``NIRImportError`` naming the
node and the reason; layers NIR cannot express raise ``NIRExportError``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..network import Sequential, Temporal, apply_per_step
from ..neurons.base import NeuronModule
from ..neurons.lif import IF, LIF, CurrentBasedLIF, Recurrent
from ..neurons.readout import LeakyIntegrator
from ..synapses.delay import DelayedLinear
from ..synapses.sparse import EventLinear
from .layers import Delay, Scale, SumPool2d, Threshold

__all__ = ["to_nir", "from_nir", "NIRExportError", "NIRImportError", "DISCRETISATIONS", "SOURCES"]

DISCRETISATIONS = ("exp", "euler")
SOURCES = ("nir", "snntorch", "norse", "axonal")
FIRE_RULES = (">", ">=")
RESETS = ("zero", "subtract", "none")
_SOURCE_DT = {"snntorch": 1e-4}


class NIRExportError(ValueError):
    """A layer or setting that NIR 1.0 cannot express."""


class NIRImportError(ValueError):
    """A NIR graph or file that axonal cannot read (malformed, or beyond axonal's layers)."""


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - nir is in the dev extra
        raise ImportError("NIR support needs the `nir` package: pip install 'nir>=1.0,<1.1'") from e
    return nir


# ============================================================================ export
def _arr(value, shape) -> np.ndarray:
    """A float64 array of the neuron shape (NIR type-checks parameter shapes)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _decay(tau, dt_ax) -> np.ndarray:
    """axonal's per-step decay exp(-dt/tau), computed in float64."""
    if isinstance(tau, torch.Tensor):
        tau = tau.detach().cpu().double().numpy()
    return np.exp(-dt_ax / np.asarray(tau, dtype=np.float64))


def _tau_of(beta: np.ndarray, dt: float, disc: str, who: str) -> np.ndarray:
    if np.any(beta <= 0) or np.any(beta >= 1):
        raise NIRExportError(f"{who}: per-step decay {beta} is not in (0, 1); NIR needs a finite "
                             "positive time constant (use IF for no leak)")
    return -dt / np.log(beta) if disc == "exp" else dt / (1 - beta)


def _neuron_meta(p, dt, disc) -> dict:
    return {"dt": float(dt), "discretisation": disc, "reset": getattr(p, "reset", "none"),
            "fire": ">=", "producer": "axonal", "axonal_dt": float(getattr(p, "dt", 1.0))}


def _export_neuron(module, shape, dt, disc, who):
    """(NIR node, input gain folded into r / w_in) of one axonal neuron module."""
    nir = _nir()
    p = module.params()
    meta = _neuron_meta(p, dt, disc)
    if isinstance(module, LeakyIntegrator):
        beta = _decay(p.tau, p.dt)
        tau = _tau_of(beta, dt, disc, who)
        r = np.ones_like(beta) if p.unit_gain else 1 / (1 - beta)
        return nir.LI(tau=_arr(tau, shape), r=_arr(r, shape), v_leak=_arr(0.0, shape), metadata=meta)
    thr = _arr(p.threshold, shape)
    if isinstance(module, IF):
        return nir.IF(r=_arr(1.0 / dt, shape), v_threshold=thr, v_reset=_arr(0.0, shape), metadata=meta)
    if isinstance(module, CurrentBasedLIF):
        beta, alpha = _decay(p.tau_mem, p.dt), _decay(p.tau_syn, p.dt)
        return nir.CubaLIF(
            tau_syn=_arr(_tau_of(alpha, dt, disc, who), shape),
            tau_mem=_arr(_tau_of(beta, dt, disc, who), shape),
            r=_arr(1 / (1 - beta), shape), v_leak=_arr(0.0, shape), v_threshold=thr,
            v_reset=_arr(0.0, shape), w_in=_arr(1 / (1 - alpha), shape), metadata=meta)
    if type(module) is LIF:
        beta = _decay(p.tau_mem, p.dt)
        # decay_input=True scales the input by 1 - beta: the gain r = 1 / (1 - beta) becomes 1
        r = np.ones_like(beta) if p.decay_input else 1 / (1 - beta)
        return nir.LIF(tau=_arr(_tau_of(beta, dt, disc, who), shape), r=_arr(r, shape),
                       v_leak=_arr(0.0, shape), v_threshold=thr, v_reset=_arr(0.0, shape),
                       metadata=meta)
    raise NIRExportError(
        f"{who}: NIR 1.0 has no node for {type(module).__name__} (it has LI, IF, LIF and CubaLIF; "
        "adaptive thresholds, refractory periods, Izhikevich, conductance and learned-gain neurons "
        "have none)")


def _conv_node(layer, in_shape, who):
    nir = _nir()
    if not isinstance(layer.padding, str) and getattr(layer, "padding_mode", "zeros") != "zeros":
        raise NIRExportError(f"{who}: NIR convolutions pad with zeros only, not {layer.padding_mode!r}")
    w = layer.weight.detach().cpu().numpy()
    b = (layer.bias.detach().cpu().numpy() if layer.bias is not None
         else np.zeros(w.shape[0], dtype=w.dtype))
    if isinstance(layer, nn.Conv1d):
        return nir.Conv1d(input_shape=int(in_shape[-1]), weight=w, stride=layer.stride[0],
                          padding=layer.padding if isinstance(layer.padding, str) else layer.padding[0],
                          dilation=layer.dilation[0], groups=layer.groups, bias=b)
    return nir.Conv2d(input_shape=tuple(int(s) for s in in_shape[-2:]), weight=w,
                      stride=tuple(layer.stride), padding=layer.padding if isinstance(layer.padding, str)
                      else tuple(layer.padding), dilation=tuple(layer.dilation), groups=layer.groups,
                      bias=b)


def _stateless_nodes(layer, in_shape, dt, who) -> list:
    """NIR nodes of one layer applied per time step (or a delay), without neurons."""
    nir = _nir()
    if isinstance(layer, (nn.Linear, EventLinear)):
        w = layer.weight.detach().cpu().numpy()
        if layer.bias is None:
            return [nir.Linear(weight=w)]
        return [nir.Affine(weight=w, bias=layer.bias.detach().cpu().numpy())]
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        return [_conv_node(layer, in_shape, who)]
    if isinstance(layer, (nn.AvgPool2d, SumPool2d)):
        if isinstance(layer, nn.AvgPool2d) and (layer.ceil_mode or not layer.count_include_pad
                                                or layer.divisor_override):
            raise NIRExportError(f"{who}: NIR's AvgPool2d has no ceil_mode, count_include_pad=False "
                                 "or divisor_override")
        pair = nn.modules.utils._pair
        kind = nir.SumPool2d if isinstance(layer, SumPool2d) else nir.AvgPool2d
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        return [kind(kernel_size=np.array(pair(layer.kernel_size)), stride=np.array(pair(stride)),
                     padding=np.array(pair(layer.padding)))]
    if isinstance(layer, nn.Flatten):
        # axonal applies Flatten to [T*B, ...]; NIR's dims exclude the batch
        start = layer.start_dim - 1 if layer.start_dim > 0 else layer.start_dim
        end = layer.end_dim - 1 if layer.end_dim > 0 else layer.end_dim
        if start < 0 and layer.start_dim == 0:
            raise NIRExportError(f"{who}: Flatten(start_dim=0) would merge time and batch")
        return [nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=end)]
    if isinstance(layer, Scale):
        if layer.offset is not None and bool(torch.any(layer.offset != 0)):
            raise NIRExportError(f"{who}: NIR's Scale has no offset")
        return [nir.Scale(scale=_arr(layer.scale, in_shape).astype(np.float32))]
    if isinstance(layer, Threshold):
        if not layer.strict:
            raise NIRExportError(f"{who}: NIR's Threshold fires on x > threshold; this one fires on "
                                 ">= (use Threshold(strict=True))")
        return [nir.Threshold(threshold=_arr(layer.threshold, in_shape))]
    if isinstance(layer, Delay):
        steps = torch.broadcast_to(layer.steps, tuple(in_shape)).cpu().numpy()
        return [nir.Delay(delay=steps.astype(np.float64) * dt)]
    if isinstance(layer, DelayedLinear):
        return _delayed_linear_nodes(layer, dt)
    raise NIRExportError(f"{who}: NIR 1.0 cannot express {type(layer).__name__}")


def _delayed_linear_nodes(layer: DelayedLinear, dt) -> list:
    """A DelayedLinear (integer delays d[o, i]) as NIR nodes: ``Delay -> Linear`` when each
    input has one delay, else fan-out ``Linear(E) -> Delay(d) -> Linear(W)`` over the
    ``out x in`` synapses (exact, one delay node per synapse)."""
    nir = _nir()
    d = layer.integer_delays().cpu().numpy().astype(np.float64)
    w = layer.weight.detach().cpu().numpy()
    o, i = w.shape
    last = (nir.Affine(weight=w, bias=layer.bias.detach().cpu().numpy()) if layer.bias is not None
            else nir.Linear(weight=w))
    if np.all(d == d[:1]):
        return [nir.Delay(delay=d[0] * dt), last]
    fan = np.zeros((o * i, i), dtype=w.dtype)
    fan[np.arange(o * i), np.tile(np.arange(i), o)] = 1.0            # synapse (o, i) copies input i
    gather = np.zeros((o, o * i), dtype=w.dtype)
    gather[np.repeat(np.arange(o), i), np.arange(o * i)] = w.reshape(-1)
    out = [nir.Linear(weight=fan), nir.Delay(delay=d.reshape(-1) * dt)]
    out.append(nir.Affine(weight=gather, bias=layer.bias.detach().cpu().numpy())
               if layer.bias is not None else nir.Linear(weight=gather))
    return out


def _layers_of(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, (Sequential, nn.Sequential)):
        return list(model)
    return [model]


def _first_shape(layer: nn.Module) -> tuple[int, ...] | None:
    for attr in ("in_features",):
        if hasattr(layer, attr):
            return (int(getattr(layer, attr)),)
    if isinstance(layer, Recurrent):
        return tuple(layer.size)
    if isinstance(layer, (Scale, Threshold)):
        t = layer.scale if isinstance(layer, Scale) else layer.threshold
        return tuple(t.shape) if t.ndim else None
    size = getattr(layer, "size", None)
    return tuple(size) if size else None


def to_nir(model: nn.Module, dt: float, *, input_shape: Sequence[int] | None = None,
           discretisation: str = "exp", fold_gains: bool = False, path: str | Path | None = None):
    """The NIR graph of an axonal network (``Sequential``, ``nn.Sequential`` or one layer).

    ``dt`` is the duration of one time step in seconds. ``input_shape`` is one step's shape
    without batch (inferred from a first Linear or neuron layer). ``discretisation`` (``"exp"``
    or ``"euler"``, see the module docstring) fixes how ``tau`` and ``r`` are written so that a
    reader using that rule and ``dt`` gets axonal's dynamics. ``fold_gains=True`` writes
    ``r = w_in = 1`` and multiplies the weights of the layer before each neuron instead (an
    equivalent graph, for readers that ignore ``r``, such as Norse). ``path``: also write the
    graph there (HDF5). Returns the ``nir.NIRGraph``.
    """
    nir = _nir()
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise NIRExportError(f"to_nir: dt must be a positive number of seconds, got {dt!r}")
    if discretisation not in DISCRETISATIONS:
        raise NIRExportError(f"to_nir: discretisation must be one of {list(DISCRETISATIONS)}, "
                             f"got {discretisation!r}")
    layers = _layers_of(model)
    shape = tuple(input_shape) if input_shape is not None else _first_shape(layers[0])
    if shape is None:
        raise NIRExportError(f"to_nir: cannot infer the input shape from {type(layers[0]).__name__}; "
                             "pass input_shape=(C, H, W) (one step, without batch)")
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(shape)})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    x = torch.zeros((1, 1, *shape))
    with torch.no_grad():
        for idx, layer in enumerate(layers):
            who = f"layer {idx} ({type(layer).__name__})"
            in_shape = tuple(x.shape[2:])
            neuron = layer.neuron if isinstance(layer, Recurrent) else layer
            if isinstance(neuron, NeuronModule):
                if isinstance(layer, Recurrent) and layer.input is not None:
                    # a Recurrent with its own input weights: they are a Linear node before it
                    for k, node in enumerate(_stateless_nodes(layer.input, in_shape, dt, who)):
                        name = f"{idx}_input_{type(node).__name__.lower()}" + (f"_{k}" if k else "")
                        nodes[name] = node
                        edges.append((prev, name))
                        prev = name
                    in_shape = tuple(layer.size)
                node = _export_neuron(neuron, in_shape, dt, discretisation, who)
                name = f"{idx}_{type(node).__name__.lower()}"
                nodes[name] = node
                edges.append((prev, name))
                if isinstance(layer, Recurrent):
                    rec = f"{name}.rec"
                    nodes[rec] = nir.Linear(weight=layer.recurrent_weight().detach().cpu().numpy())
                    edges += [(name, rec), (rec, name)]
                if fold_gains and type(node).__name__ != "IF":   # IF's gain dt*r is 1 already
                    _fold(nodes, edges, name, who)
                x = layer(x)[0]
                prev = name
                continue
            if isinstance(layer, Temporal) and not isinstance(layer, (Delay, DelayedLinear)):
                raise NIRExportError(f"{who}: NIR 1.0 cannot express {type(layer).__name__}")
            for k, node in enumerate(_stateless_nodes(layer, in_shape, dt, who)):
                name = f"{idx}_{type(node).__name__.lower()}" + (f"_{k}" if k else "")
                nodes[name] = node
                edges.append((prev, name))
                prev = name
            x = layer(x)[0] if isinstance(layer, Temporal) else apply_per_step(layer, x)
    nodes["output"] = nir.Output(output_type={"output": np.array(tuple(x.shape[2:]))})
    edges.append((prev, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                         metadata={"producer": "axonal", "dt": float(dt), "discretisation": discretisation})
    if path is not None:
        nir.write(str(path), graph)
    return graph


def _fold(nodes, edges, name, who):
    """Move a neuron's input gain (r, and w_in of CubaLIF) into the weights feeding it."""
    node = nodes[name]
    gain = np.asarray(node.r if hasattr(node, "r") else 1.0, dtype=np.float64)
    if hasattr(node, "w_in"):
        gain = gain * node.w_in
    feeders = [a for a, b in edges if b == name]
    for a in feeders:
        src = nodes[a]
        if not hasattr(src, "weight") or type(src).__name__ not in ("Linear", "Affine", "Conv1d", "Conv2d"):
            raise NIRExportError(f"{who}: fold_gains needs a Linear or Conv layer right before the "
                                 f"neuron (got {type(src).__name__})")
        g = gain.reshape(gain.shape[0], *([1] * (src.weight.ndim - 1))) if src.weight.ndim > 2 else gain[:, None]
        if type(src).__name__.startswith("Conv"):
            g = gain.reshape(gain.shape[0], -1)[:, :1].reshape(-1, *([1] * (src.weight.ndim - 1)))
            if not np.allclose(gain, gain.reshape(gain.shape[0], -1)[:, :1]):
                raise NIRExportError(f"{who}: fold_gains needs one gain per channel after a Conv")
        src.weight = (src.weight * g).astype(src.weight.dtype)
        if hasattr(src, "bias") and src.bias is not None:
            flat = g.reshape(-1)
            src.bias = (src.bias * flat).astype(src.bias.dtype)
    node.r = np.ones_like(node.r)
    if hasattr(node, "w_in"):
        node.w_in = np.ones_like(node.w_in)
    node.metadata = {**node.metadata, "gains_folded": True}


# ============================================================================ import
def _text(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value.item())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read(path: Path):
    """Read a NIR file, turning every failure into NIRImportError naming the file."""
    nir = _nir()
    import h5py

    if not path.is_file():
        raise NIRImportError(f"{path}: no such NIR file")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or "nodes" not in f["node"]:
                raise NIRImportError(f"{path}: not a NIR graph (no node/nodes group); write it with "
                                     "nir.write or axonal.export.to_nir")
            unknown = _unknown_types(f["node"])
            if unknown:
                raise NIRImportError(
                    f"{path}: unknown NIR node type(s) {unknown}; nir {nir.version if hasattr(nir, 'version') else ''}"
                    "knows Affine, Linear, Conv1d/2d, SumPool2d/AvgPool2d, Flatten, Scale, Threshold, "
                    "Delay, LI, I, IF, LIF, CubaLI, CubaLIF, Input, Output, NIRGraph")
    except NIRImportError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise NIRImportError(f"{path}: not a readable NIR (HDF5) file: {e}") from e
    try:
        return nir.read(str(path), type_check=False)
    except Exception as e:  # nir raises AssertionError, KeyError, TypeError ... on bad content
        raise NIRImportError(f"{path}: malformed NIR file ({type(e).__name__}: {e})") from e


_KNOWN = {"Affine", "Linear", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Scale",
          "Threshold", "Delay", "LI", "I", "IF", "LIF", "CubaLI", "CubaLIF", "Input", "Output",
          "NIRGraph"}


def _unknown_types(group) -> list[str]:
    out = []
    for name, node in group["nodes"].items():
        kind = _text(node["type"][()]) if "type" in node else None
        if kind not in _KNOWN:
            out.append(f"{name}: {kind!r}")
        elif kind == "NIRGraph" and "nodes" in node:
            out += [f"{name}.{u}" for u in _unknown_types(node)]
    return out


def _flatten_graph(graph, prefix=""):
    """(nodes, edges) with nested NIRGraphs inlined; inner Input/Output become pass-throughs."""
    nir = _nir()
    nodes, edges = {}, []
    passthrough = set()
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges, inner_pass = _flatten_graph(node, full + ".")
            nodes.update(inner_nodes)
            edges += inner_edges
            passthrough |= inner_pass
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRImportError(f"subgraph {full!r} must have one Input and one Output node, "
                                     f"has {len(ins)} and {len(outs)}")
            nodes[full] = ("subgraph", full + "." + ins[0], full + "." + outs[0])
        else:
            nodes[full] = node
            if prefix and isinstance(node, (nir.Input, nir.Output)):
                passthrough.add(full)
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        for end in (a, b):
            if end not in nodes:
                raise NIRImportError(f"edge ({a!r}, {b!r}) names node {end!r}, which the graph does "
                                     f"not have (nodes: {sorted(nodes)})")
        if isinstance(nodes[a], tuple):
            a = nodes[a][2]
        if isinstance(nodes[b], tuple):
            b = nodes[b][1]
        edges.append((a, b))
    nodes = {k: v for k, v in nodes.items() if not isinstance(v, tuple)}
    return nodes, edges, passthrough


def _remove_passthrough(nodes, edges, passthrough):
    for p in passthrough:
        ins = [a for a, b in edges if b == p]
        outs = [b for a, b in edges if a == p]
        edges = [e for e in edges if p not in e] + [(a, b) for a in ins for b in outs]
        del nodes[p]
    return nodes, edges


class _Options:
    """The conventions one node is read with (argument > node metadata > graph > source)."""

    def __init__(self, node, graph_meta, args):
        meta = {k: _text(v) for k, v in dict(getattr(node, "metadata", None) or {}).items()}
        producer = meta.get("producer", graph_meta.get("producer"))

        def pick(key, default):
            if args[key] is not None:
                return args[key]
            if key in meta:
                return meta[key]
            if key in graph_meta:
                return graph_meta[key]
            return default

        self.source = args["source"] or ("axonal" if producer == "axonal" else "nir")
        peer = self.source in ("snntorch", "norse", "nir")
        self.dt = pick("dt", _SOURCE_DT.get(self.source))
        self.discretisation = pick("discretisation", "euler" if peer else "exp")
        self.reset = pick("reset", "zero")
        self.fire = pick("fire", ">" if peer else ">=")
        # a Threshold node is strict by NIR's definition (axonal exports only strict ones)
        self.fire_threshold = args["fire"] or meta.get("fire") or ">"
        self.axonal_dt = float(meta.get("axonal_dt", 1.0)) if self.source == "axonal" else 1.0
        self.gains_folded = bool(meta.get("gains_folded", False))


def _check_options(o: _Options, who: str):
    if o.dt is None:
        raise NIRImportError(f"{who}: NIR carries no time step; pass dt= (seconds per step) "
                             "(snnTorch writes for dt=1e-4, Norse's default is 1e-3)")
    if not (isinstance(o.dt, (int, float)) and math.isfinite(o.dt) and o.dt > 0):
        raise NIRImportError(f"{who}: dt must be a positive number of seconds, got {o.dt!r}")
    for value, allowed, key in ((o.discretisation, DISCRETISATIONS, "discretisation"),
                                (o.reset, RESETS, "reset"), (o.fire, FIRE_RULES, "fire"),
                                (o.source, SOURCES, "source")):
        if value not in allowed:
            raise NIRImportError(f"{who}: {key} must be one of {list(allowed)}, got {value!r}")


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _param(a: np.ndarray, dtype=torch.float32):
    """One number when the values are equal (the fast, shared form), else a tensor."""
    a = np.asarray(a, dtype=np.float64)
    if a.size and np.all(a == a.reshape(-1)[0]):
        return float(a.reshape(-1)[0])
    return torch.as_tensor(a, dtype=dtype)


def _strict(threshold: np.ndarray) -> np.ndarray:
    """The smallest float32 above each threshold: ``v >= t'`` iff ``v > t`` for float32 v."""
    t32 = threshold.astype(np.float32)
    return np.nextafter(t32, np.float32(np.inf)).astype(np.float64)


def _decay_and_gain(tau, dt, disc, who, what="tau", f32=False):
    """(per-step decay, per-step input gain) of a time constant. ``f32``: round the decay to
    float32, as snnTorch's float32 ``beta`` was before its export (recovers it exactly)."""
    tau = _f(tau)
    if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
        raise NIRImportError(f"{who}: {what} must be positive and finite, got {tau}")
    if disc == "exp":
        beta = np.exp(-dt / tau)
        return beta, 1 - beta
    beta = 1 - dt / tau
    if f32:
        beta = beta.astype(np.float32).astype(np.float64)
    if np.any(beta <= 0):
        raise NIRImportError(f"{who}: forward Euler with dt={dt} is unstable for {what}={tau.min()} "
                             "(dt >= tau); pass a smaller dt or discretisation='exp'")
    return beta, dt / tau


def _tau_steps(beta, axonal_dt):
    """axonal's time constant (in units of its ``dt``) whose exp(-dt/tau) is ``beta``."""
    return _param(np.where(beta >= 1, np.inf, -axonal_dt / np.log(np.minimum(beta, 1 - 1e-300))))


def _gain_layer(gain, offset, shape):
    gain = np.broadcast_to(_f(gain), shape).copy()
    gain[np.abs(gain - 1) <= 1e-12] = 1.0       # r = 1/(1-beta) written in float64: gain 1
    offset = np.broadcast_to(_f(offset), shape).copy()
    if np.all(gain == 1) and np.all(offset == 0):
        return None
    return Scale(torch.as_tensor(gain, dtype=torch.float32),
                 None if np.all(offset == 0) else torch.as_tensor(offset, dtype=torch.float32))


def _import_neuron(node, o: _Options, who):
    """(gain layer or None, axonal neuron) reproducing the node under the options."""
    nir = _nir()
    dt, disc = float(o.dt), o.discretisation
    thr_of = (lambda t: _param(_strict(_f(t)) if o.fire == ">" else _f(t)))
    common = dict(dt=o.axonal_dt, reset=o.reset, backend="auto")
    shape = None
    for attr in ("v_threshold", "tau", "r", "tau_mem"):
        if hasattr(node, attr):
            shape = _f(getattr(node, attr)).shape
            break
    for attr in ("v_reset",):
        if hasattr(node, attr) and np.any(_f(getattr(node, attr)) != 0) and o.source != "norse":
            raise NIRImportError(f"{who}: v_reset != 0 is not supported (axonal's neurons reset "
                                 "to 0); shift v_threshold and v_leak by -v_reset in the graph")
    norse, snntorch = o.source == "norse", o.source == "snntorch"

    def unit(g):  # snnTorch's neurons have no input gain: its r = tau/dt is 1 up to float32
        return 1.0 if snntorch and np.allclose(g, 1.0) else g
    if isinstance(node, (nir.LIF, nir.LI)):
        tau = _f(node.tau) / dt if norse else _f(node.tau)   # Norse writes dt * tau
        beta, g = _decay_and_gain(tau, dt, disc, who, f32=snntorch)
        r = 1.0 if norse else _f(node.r)
        gain_layer = _gain_layer(unit(g * r), g * _f(node.v_leak), shape)
        if isinstance(node, nir.LI):
            neuron = LeakyIntegrator(tau=_tau_steps(beta, o.axonal_dt), dt=o.axonal_dt)
        else:
            neuron = LIF(tau_mem=_tau_steps(beta, o.axonal_dt), threshold=thr_of(node.v_threshold),
                         **common)
        return gain_layer, neuron
    if isinstance(node, nir.I):
        raise NIRImportError(f"{who}: the integrator I (no leak) has no axonal form: "
                             "LeakyIntegrator takes only finite time constants")
    if isinstance(node, nir.IF):
        r = 1.0 if norse else dt * _f(node.r)
        return (_gain_layer(r, 0.0, shape),
                IF(threshold=thr_of(node.v_threshold), reset=o.reset))
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        if np.any(_f(node.v_leak) != 0):
            raise NIRImportError(f"{who}: a CubaLIF/CubaLI with v_leak != 0 has no axonal form "
                                 "(the constant drive would pass through the synaptic filter)")
        tau_syn = _f(node.tau_syn) / dt if norse else _f(node.tau_syn)
        tau_mem = _f(node.tau_mem) / dt if norse else _f(node.tau_mem)
        alpha, g_syn = _decay_and_gain(tau_syn, dt, disc, who, "tau_syn", f32=snntorch)
        beta, g_mem = _decay_and_gain(tau_mem, dt, disc, who, "tau_mem", f32=snntorch)
        if norse:   # Norse's LIFCell: the input jumps onto the current; v gains dt/tau_mem
            gain = g_mem * _f(node.w_in)
        else:
            gain = g_syn * _f(node.w_in) * g_mem * _f(node.r)
        gain_layer = _gain_layer(unit(gain), 0.0, shape)
        if isinstance(node, nir.CubaLI):
            return gain_layer, (LeakyIntegrator(tau=_tau_steps(alpha, o.axonal_dt), dt=o.axonal_dt),
                                LeakyIntegrator(tau=_tau_steps(beta, o.axonal_dt), dt=o.axonal_dt))
        return gain_layer, CurrentBasedLIF(
            tau_mem=_tau_steps(beta, o.axonal_dt), tau_syn=_tau_steps(alpha, o.axonal_dt),
            threshold=thr_of(node.v_threshold), **common)
    raise AssertionError(node)


def _stateless_import(node, o: _Options, who, in_shape):
    nir = _nir()
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise NIRImportError(f"{who}: weight must be 2-D [out, in], got shape {w.shape}")
        bias = getattr(node, "bias", None)
        layer = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(t(w))
            if bias is not None:
                b = np.asarray(bias)
                if b.shape != (w.shape[0],):
                    raise NIRImportError(f"{who}: bias has shape {b.shape}, expected ({w.shape[0]},)")
                layer.bias.copy_(t(b))
        return [layer]
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        w = np.asarray(node.weight)
        two = isinstance(node, nir.Conv2d)
        if w.ndim != (4 if two else 3):
            raise NIRImportError(f"{who}: weight must be {'4' if two else '3'}-D, got shape {w.shape}")
        cls = nn.Conv2d if two else nn.Conv1d
        pad = node.padding if isinstance(node.padding, str) else (
            tuple(int(p) for p in np.atleast_1d(node.padding)) if two else int(np.atleast_1d(node.padding)[0]))
        stride = tuple(int(s) for s in np.atleast_1d(node.stride)) if two else int(np.atleast_1d(node.stride)[0])
        dil = tuple(int(s) for s in np.atleast_1d(node.dilation)) if two else int(np.atleast_1d(node.dilation)[0])
        layer = cls(w.shape[1] * int(node.groups), w.shape[0], kernel_size=w.shape[2:], stride=stride,
                    padding=pad, dilation=dil, groups=int(node.groups), bias=True)
        with torch.no_grad():
            layer.weight.copy_(t(w))
            layer.bias.copy_(t(node.bias) if node.bias is not None else torch.zeros(w.shape[0]))
        return [layer]
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        k = tuple(int(v) for v in np.atleast_1d(node.kernel_size))
        s = tuple(int(v) for v in np.atleast_1d(node.stride))
        p = tuple(int(v) for v in np.atleast_1d(node.padding))
        if isinstance(node, nir.SumPool2d):
            return [SumPool2d(k, s, p)]
        return [nn.AvgPool2d(k, s, p)]
    if isinstance(node, nir.Flatten):
        start = int(node.start_dim)
        end = int(node.end_dim)
        return [nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)]
    if isinstance(node, nir.Scale):
        return [Scale(t(node.scale))]
    if isinstance(node, nir.Threshold):
        thr = _f(node.threshold)
        if o.fire_threshold not in FIRE_RULES:
            raise NIRImportError(f"{who}: fire must be one of {list(FIRE_RULES)}, got {o.fire_threshold!r}")
        return [Threshold(t(thr), strict=o.fire_threshold == ">")]
    if isinstance(node, nir.Delay):
        _check_options(o, who)
        steps = _f(node.delay) / float(o.dt)
        if np.any(np.abs(steps - np.round(steps)) > 1e-6 * np.maximum(1, np.abs(steps))) or np.any(steps < 0):
            raise NIRImportError(f"{who}: delays {node.delay} s are not whole multiples of dt={o.dt} "
                                 "(axonal's delays are integer steps)")
        return [Delay(torch.as_tensor(np.round(steps), dtype=torch.long))]
    raise NIRImportError(f"{who}: axonal cannot import NIR node type {type(node).__name__}")


_NEURONS = ("LIF", "LI", "I", "IF", "CubaLIF", "CubaLI")


def _load(graph_or_path):
    nir = _nir()
    if isinstance(graph_or_path, (str, Path)):
        path = Path(graph_or_path)
        return _read(path), str(path)
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, "graph"
    raise NIRImportError(f"from_nir takes a nir.NIRGraph or a path, got {type(graph_or_path).__name__}")


def from_nir(graph_or_path, dt: float | None = None, *, reset: str | None = None,
             source: str | None = None, discretisation: str | None = None,
             fire: str | None = None) -> Sequential:
    """An ``axonal.Sequential`` equivalent to a NIR graph (a ``nir.NIRGraph`` or a file path).

    ``dt`` (seconds per step), ``reset`` (``"zero"``, ``"subtract"``, ``"none"``), ``source``
    (``"nir"``, ``"snntorch"``, ``"norse"``, ``"axonal"``), ``discretisation`` (``"euler"``,
    ``"exp"``) and ``fire`` (``">"``, ``">="``): see the module docstring for what each does
    and its default. Example: ``from_nir("net.nir", reset="subtract", source="snntorch")``.
    """
    nir = _nir()
    graph, where = _load(graph_or_path)
    gmeta = {k: _text(v) for k, v in dict(graph.metadata or {}).items()}
    args = dict(dt=dt, reset=reset, source=source, discretisation=discretisation, fire=fire)
    if source is not None and source not in SOURCES:
        raise NIRImportError(f"from_nir: source must be one of {list(SOURCES)}, got {source!r}")
    try:
        nodes, edges, passthrough = _flatten_graph(graph)
    except NIRImportError as e:
        raise NIRImportError(f"{where}: {e}") from None
    nodes, edges = _remove_passthrough(nodes, edges, passthrough)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in _KNOWN or kind == "NIRGraph":
            raise NIRImportError(f"{where}: node {name!r} has unknown type {kind}")
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NIRImportError(f"{where}: axonal imports graphs with one Input and one Output node; "
                             f"this one has inputs {inputs} and outputs {outputs}")
    edges = list(dict.fromkeys(edges))
    # recurrent weights: neuron -> W -> neuron, W fed by and feeding only that neuron
    recurrent: dict[str, Any] = {}
    for a, b in list(edges):
        na, nb = nodes.get(a), nodes.get(b)
        if (b, a) in edges and type(na).__name__ in _NEURONS and isinstance(nb, (nir.Linear, nir.Affine)):
            if [x for x, y in edges if y == b] == [a] and [y for x, y in edges if x == b] == [a]:
                recurrent[a] = (b, nb)
                edges = [e for e in edges if b not in e]
                del nodes[b]
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    succs = {k: [b for a, b in edges if a == k] for k in nodes}
    _check_acyclic(nodes, succs, where)
    for k in nodes:
        if len(preds[k]) > 1 or len(succs[k]) > 1:
            raise NIRImportError(
                f"{where}: node {k!r} has inputs {preds[k]} and outputs {succs[k]}; axonal imports "
                "chains (with neuron <-> Linear recurrences), not branching graphs")
    chain, cur = [], inputs[0]
    while succs[cur]:
        cur = succs[cur][0]
        chain.append(cur)
    if not chain or chain[-1] != outputs[0]:
        raise NIRImportError(f"{where}: no path from the Input to the Output node")
    disconnected = set(nodes) - set(chain) - {inputs[0]}
    if disconnected:
        raise NIRImportError(f"{where}: nodes {sorted(disconnected)} are not on the path from "
                             "Input to Output")
    shape = _input_shape(nodes[inputs[0]], where)
    layers: list[nn.Module] = []
    x = torch.zeros((1, 1, *shape)) if shape is not None else None
    for name in chain[:-1]:
        node = nodes[name]
        who = f"{where}: node {name!r} ({type(node).__name__})"
        o = _Options(node, gmeta, args)
        if type(node).__name__ in _NEURONS:
            _check_options(o, who)
            try:
                gain, neuron = _import_neuron(node, o, who)
            except (ValueError, TypeError) as e:
                if isinstance(e, NIRImportError):
                    raise
                raise NIRImportError(f"{who}: parameters axonal cannot take: {e}") from None
            if name in recurrent:
                new = _recurrent(neuron, recurrent[name][1], gain, who)
            else:
                new = ([gain] if gain is not None else []) + (
                    list(neuron) if isinstance(neuron, tuple) else [neuron])
        else:
            new = _stateless_import(node, o, who, shape)
        for layer in new:
            x = _probe(layer, x, who)
        layers += new
    out_type = _type_of(nodes[outputs[0]].output_type, "output")
    if x is not None and out_type is not None and tuple(out_type) != tuple(x.shape[2:]):
        raise NIRImportError(f"{where}: the Output node declares shape {tuple(out_type)} but the "
                             f"network produces {tuple(x.shape[2:])}")
    if not layers:
        raise NIRImportError(f"{where}: the graph has no layers between Input and Output")
    return Sequential(*layers)


def _recurrent(neuron, rec, gain_layer, who) -> list:
    """[gain layer?, Recurrent(neuron)] for ``neuron`` fed back through ``rec``: the neuron's
    input gain g scales the recurrent weights too, and a recurrent bias b (added every step)
    joins the gain layer's offset: input g (x + b + s W^T)."""
    if isinstance(neuron, tuple) or not isinstance(neuron, (LIF, IF, CurrentBasedLIF)):
        raise NIRImportError(f"{who}: recurrent weights on a non-spiking neuron are not supported")
    w = np.asarray(rec.weight, dtype=np.float64)
    n = w.shape[0]
    if w.shape != (n, n):
        raise NIRImportError(f"{who}: recurrent weight must be square, got {w.shape}")
    g = np.ones(n) if gain_layer is None else np.broadcast_to(gain_layer.scale.double().numpy(), (n,))
    off = np.zeros(n) if gain_layer is None or gain_layer.offset is None else \
        np.broadcast_to(gain_layer.offset.double().numpy(), (n,))
    bias = getattr(rec, "bias", None)
    if bias is not None:
        off = off + g * np.asarray(bias, dtype=np.float64)
    neuron.size = (n,)
    layer = Recurrent(neuron)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w * g.reshape(-1, 1), dtype=torch.float32))
    gain = _gain_layer(g, off, (n,))
    return ([gain] if gain is not None else []) + [layer]


def _type_of(t, key):
    if t is None:
        return None
    if isinstance(t, dict):
        t = t.get(key, next(iter(t.values()), None)) if t else None
    if t is None:
        return None
    a = np.asarray(t).reshape(-1)
    return tuple(int(v) for v in a) if a.size else None


def _input_shape(node, where):
    shape = _type_of(node.input_type, "input")
    if shape is not None and any(s <= 0 for s in shape):
        raise NIRImportError(f"{where}: the Input node has an invalid shape {shape}")
    return shape


def _probe(layer, x, who):
    """Run one zero step through ``layer`` to check shapes; returns its output."""
    if x is None:
        return None
    try:
        with torch.no_grad():
            return layer(x)[0] if isinstance(layer, Temporal) else apply_per_step(layer, x)
    except (RuntimeError, ValueError) as e:
        raise NIRImportError(f"{who}: does not fit its input of shape {tuple(x.shape[2:])}: {e}") from None


def _check_acyclic(nodes, succs, where):
    state: dict[str, int] = {}

    def visit(k, path):
        state[k] = 1
        for n in succs[k]:
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                has_state = any(type(nodes[c]).__name__ in _NEURONS for c in cycle)
                why = ("only a neuron fed back through one Linear/Affine onto itself is supported"
                       if has_state else "a cycle without a neuron has no state and no time step")
                raise NIRImportError(f"{where}: cycle {' -> '.join(cycle)}: {why}")
            if n not in state:
                visit(n, path + [n])
        state[k] = 2

    for k in nodes:
        if k not in state:
            visit(k, [k])
