"""Energy of compute *and* memory access, per layer, for any PyTorch model (ANN or SNN).

The compute-only proxy (``axonal.metrics.energy``: ACs x E_AC + MACs x E_MAC) ignores data
movement, which often dominates on real hardware. This model follows the analytical energy model
of STEP (Shen et al., NeurIPS 2025: sparsity x bit width x memory access) and the accounting of
Lemaire et al. 2022 ("An analytical estimation of spiking neural networks energy efficiency") and
Dampfhoffer et al. 2023 ("Are SNNs really more energy-efficient than ANNs?"): energy per sample is

    compute  = ACs x E_add(fmt) + MACs x (E_mult(fmt) + E_add(fmt))      synaptic operations
             + neuron updates (one MAC per state variable + one compare per neuron and step)
    weights  = weight reads x weight_bits x E_sram_bit
    state    = (reads + writes) of every state variable of every neuron, every step, x state_bits
    activity = every connection layer reads its input (1 bit per binary spike, activation_bits
               otherwise) and writes its output (state_bits), every step

with the costs of a source-tagged table (``axonal.metrics.cost_tables``; every entry is an
estimate). The same rules apply to any model, so an SNN and an ANN are compared on the same
terms: connection layers are found by their SynOps rule (``nn.Linear``, ``nn.Conv*``,
``axonal.neurons.Recurrent``, custom layers with a ``fan_out``; ``axonal.metrics.synops``) plus
``nn.LSTM``/``nn.GRU``/``nn.RNN`` (dense, counted here); stateful layers are the
``axonal.network.Temporal`` modules (their returned state is what is read and written).

Dataflow assumptions (parameters): ``weight_reuse="none"`` (default) reads one weight per
operation, as event-driven hardware does for each incoming spike and as a MAC array without
on-chip reuse does; ``"per_step"`` reads every weight of a layer once per time step (perfect
reuse inside a step, e.g. weight-stationary). Spikes move as a dense bitmap (1 bit per neuron
and step), not as addresses. Zero inputs are skipped in both ANN and SNN (event-driven).
Reads and writes cost the same (``cost_tables``). Bias additions and the readout's final
averaging are not counted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

import torch
from torch import nn

from ..network import Temporal
from .cost_tables import CostTable, format_bits, get_cost_table
from .synops import _count_and_binary, _first_tensor, _primary, synops_rule

__all__ = ["LayerEnergy", "EnergyBreakdown", "energy_breakdown", "EnergyRecorder", "WEIGHT_REUSE"]

WEIGHT_REUSE = ("none", "per_step")
_RNN = (nn.LSTM, nn.GRU, nn.RNN)
_GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


class _EnergyTotals:
    """``memory_j`` and ``total_j`` from the four parts, for one layer and for their sum."""

    @property
    def memory_j(self) -> float:
        return self.weight_memory_j + self.state_memory_j + self.activation_memory_j

    @property
    def total_j(self) -> float:
        return self.compute_j + self.memory_j


@dataclass
class LayerEnergy(_EnergyTotals):
    """Counts (per sample) and joules (per sample) of one layer.

    ``kind`` is the module class; ``role`` is ``connection`` (weights, operations),
    ``neurons`` (state, updates) or ``connection+neurons`` (both, e.g. ``Recurrent``). Bits are
    totals per sample.
    """

    name: str
    kind: str
    role: str
    acs: float = 0.0
    macs: float = 0.0
    dense_macs: float = 0.0
    weights: int = 0
    weight_bits_read: float = 0.0
    state_bits_moved: float = 0.0
    activation_bits_moved: float = 0.0
    neuron_updates: float = 0.0
    compute_j: float = 0.0
    weight_memory_j: float = 0.0
    state_memory_j: float = 0.0
    activation_memory_j: float = 0.0
    input_binary: bool | None = None



@dataclass
class EnergyBreakdown(_EnergyTotals):
    """Per-layer and total energy per sample, with the table and assumptions that produced it."""

    layers: list[LayerEnergy]
    samples: int
    steps: float
    table: str
    source: str
    assumptions: dict = field(default_factory=dict)

    def _sum(self, attr: str) -> float:
        return sum(getattr(l, attr) for l in self.layers)

    @property
    def compute_j(self) -> float:
        return self._sum("compute_j")

    @property
    def weight_memory_j(self) -> float:
        return self._sum("weight_memory_j")

    @property
    def state_memory_j(self) -> float:
        return self._sum("state_memory_j")

    @property
    def activation_memory_j(self) -> float:
        return self._sum("activation_memory_j")


    @property
    def memory_share(self) -> float:
        """Fraction of the total energy spent on memory access (0 when nothing ran)."""
        return self.memory_j / self.total_j if self.total_j else 0.0

    @property
    def acs(self) -> float:
        return self._sum("acs")

    @property
    def macs(self) -> float:
        return self._sum("macs")

    def totals(self) -> dict:
        return {"total_j": self.total_j, "compute_j": self.compute_j, "memory_j": self.memory_j,
                "weight_memory_j": self.weight_memory_j, "state_memory_j": self.state_memory_j,
                "activation_memory_j": self.activation_memory_j, "memory_share": self.memory_share,
                "acs": self.acs, "macs": self.macs}

    def to_dict(self) -> dict:
        layers = []
        for l in self.layers:
            d = asdict(l)
            d.update(memory_j=l.memory_j, total_j=l.total_j)
            layers.append(d)
        return {"per": "sample", "unit": "joule", "estimated": True, "samples": self.samples,
                "steps": self.steps, "table": self.table, "source": self.source,
                "assumptions": dict(self.assumptions), "totals": self.totals(), "layers": layers}

    def table_text(self) -> str:
        """A fixed-width text table of the per-layer energies (pJ per sample)."""
        rows = [(l.name, l.kind, _pj(l.compute_j), _pj(l.weight_memory_j), _pj(l.state_memory_j),
                 _pj(l.activation_memory_j), _pj(l.total_j)) for l in self.layers]
        rows.append(("total", "", _pj(self.compute_j), _pj(self.weight_memory_j), _pj(self.state_memory_j),
                     _pj(self.activation_memory_j), _pj(self.total_j)))
        head = ("layer", "type", "compute pJ", "weights pJ", "state pJ", "activity pJ", "total pJ")
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        fmt = lambda r: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(r, widths)))
        lines = [f"estimated energy per sample ({self.table}; memory {100 * self.memory_share:.1f} % of total)",
                 fmt(head), "  ".join("-" * w for w in widths)]
        return "\n".join(lines + [fmt(r) for r in rows])

    def __str__(self) -> str:
        return self.table_text()


def _pj(j: float) -> str:
    return f"{j / 1e-12:,.1f}"


def _state_tensors(state) -> list[torch.Tensor]:
    """The tensors of a (nested) state."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _state_tensors(s)]
    if isinstance(state, dict):
        return [t for s in state.values() for t in _state_tensors(s)]
    return []


def _state_elements(state) -> tuple[int, int]:
    """(multi-bit, binary) tensor elements of a state: a stored spike vector (``Recurrent``'s
    last spikes) takes one bit per element, like spikes elsewhere."""
    multi = binary = 0
    for t in _state_tensors(state):
        if bool(_count_and_binary(t)[1]):
            binary += t.numel()
        else:
            multi += t.numel()
    return multi, binary


def _weight_count(module: nn.Module) -> int:
    """Weights of a connection layer: its own parameters with at least 2 dims (no biases)."""
    own = [p for p in module.parameters(recurse=False) if p.ndim >= 2]
    if own:
        return sum(p.numel() for p in own)
    # a wrapper whose weights live in a child (a custom fan_out layer may hold them deeper):
    # count the weights of its non-temporal children
    return sum(p.numel() for m in module.modules() if m is not module and not isinstance(m, Temporal)
               for p in m.parameters(recurse=False) if p.ndim >= 2)


class EnergyRecorder:
    """Hooks that count what the energy model needs while ``model`` runs (use ``energy_breakdown``).

    ``with EnergyRecorder(model) as rec: model(x)`` then ``rec.breakdown(...)``. Counts
    accumulate over calls; time-major inputs ``[T, B, ...]`` are assumed (``static=True``: the
    model's input is ``[B, ...]``, one step).
    """

    def __init__(self, model: nn.Module, *, static: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"EnergyRecorder needs an nn.Module, got {type(model).__name__}")
        self.model = model
        self.static = static
        self._handles: list = []
        self.samples = 0
        self.sample_steps = 0
        self.layers: dict[str, dict] = {}
        self._order: list[str] = []
        self._depth = {"conn": 0, "temporal": 0}

    def __enter__(self) -> "EnergyRecorder":
        root = type(self.model).__name__
        self._temporal_model = any(isinstance(m, (Temporal,) + _RNN) for m in self.model.modules())
        self._handles.append(self.model.register_forward_pre_hook(self._root_pre, with_kwargs=True))
        try:
            for name, m in self.model.named_modules():
                label = name or root
                if isinstance(m, _RNN):
                    self._hook(m, label, "conn", self._rnn_post)
                elif synops_rule(m) is not None:
                    self._hook(m, label, "conn", self._make_conn_post(synops_rule(m)))
                if isinstance(m, Temporal):
                    self._hook(m, label, "temporal", self._temporal_post)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, m, label, kind, post) -> None:
        def pre(mod, args, kwargs):
            self._depth[kind] += 1

        def hook(mod, args, kwargs, output):
            self._depth[kind] = max(self._depth[kind] - 1, 0)
            if output is None or self._depth[kind] > 0:
                return  # the forward raised, or a call nested in another counted layer
            with torch.no_grad():
                post(label, mod, args, kwargs, output)

        self._handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        self._handles.append(m.register_forward_hook(hook, with_kwargs=True, always_call=True))

    def _entry(self, label: str, mod: nn.Module, role: str) -> dict:
        key = label
        if key in self.layers and role not in self.layers[key]["role"]:
            self.layers[key]["role"] = "connection+neurons"  # e.g. Recurrent: weights and state
        if key not in self.layers:
            self.layers[key] = {"name": label, "kind": type(mod).__name__, "role": role, "acs": 0.0, "macs": 0.0,
                                "dense_macs": 0.0, "weights": 0, "weight_reads": 0.0, "weight_steps": 0.0,
                                "input_elements": 0.0, "input_binary_elements": 0.0, "output_elements": 0.0,
                                "state_elements": 0.0, "state_binary_elements": 0.0, "neuron_steps": 0.0,
                                "state_vars": 0.0,
                                "binary": True}
            self._order.append(key)
        return self.layers[key]

    def _root_pre(self, mod, args, kwargs):
        x = _first_tensor(args, kwargs)
        if x is None:
            return
        if self.static:
            self.samples += int(x.shape[0])
            self.sample_steps += int(x.shape[0])
            return
        if x.ndim < 2:
            return
        if x.ndim == 2 and not self._temporal_model:
            raise ValueError(f"energy_breakdown: the input has shape {tuple(x.shape)} and the model has no temporal "
                             "layer; for a static [B, features] input pass static=True, for a sequence pass "
                             "time-major [T, B, features]")
        state = args[1] if len(args) > 1 else kwargs.get("state", kwargs.get("states"))
        if state is None:
            self.samples += int(x.shape[1])
        self.sample_steps += int(x.shape[0]) * int(x.shape[1])

    def _make_conn_post(self, rule):
        def post(label, mod, args, kwargs, output):
            count = rule(mod, args, kwargs, output)
            e = self._entry(label, mod, "connection")
            ops = float(count.ops)
            binary = bool(count.binary)
            e["acs" if binary else "macs"] += ops
            e["dense_macs"] += float(count.dense_macs)
            e["weights"] = _weight_count(mod)
            x = _first_tensor(args, kwargs)
            out = _primary(output)
            # the elements read: the layer's input (for Recurrent, whose events are its own last
            # spikes, the input current has the same [T, B, N] size as those spikes)
            n_in = float(x.numel()) if x is not None else 0.0
            e["input_elements"] += n_in
            if binary:
                e["input_binary_elements"] += n_in
            else:
                e["binary"] = False
            e["output_elements"] += float(out.numel()) if isinstance(out, torch.Tensor) else 0.0
            e["weight_reads"] += ops
            # "per_step" reuse: every weight once per (sample, step) this layer ran
            e["weight_steps"] += self._steps_of(x, mod)
        return post

    def _steps_of(self, x, mod) -> float:
        """Sample-steps of one call: ``T * B`` of a time-major input, ``B`` of a folded one."""
        if x is None:
            return 0.0
        if isinstance(mod, Temporal):
            return float(x.shape[0] * x.shape[1]) if x.ndim >= 3 else float(x.shape[0])
        if isinstance(mod, nn.Linear):
            return float(x.numel() // max(x.shape[-1], 1))  # every leading dim is a (sample, step)
        return float(x.shape[0])  # conv: [N, C, ...] (Sequential folds time into N)

    def _rnn_post(self, label, mod, args, kwargs, output):
        x = _first_tensor(args, kwargs)
        if x is None or isinstance(x, nn.utils.rnn.PackedSequence):
            return
        if mod.batch_first:
            x = x.transpose(0, 1)
        t, b = x.shape[0], (x.shape[1] if x.ndim == 3 else 1)
        gates = _GATES[type(mod)]
        h = mod.hidden_size
        dirs = 2 if mod.bidirectional else 1
        macs, n_in = 0.0, mod.input_size
        for _ in range(mod.num_layers):
            macs += dirs * t * b * gates * h * (n_in + h)
            n_in = h * dirs
        e = self._entry(label, mod, "connection")
        nnz, _ = _count_and_binary(x)
        first = dirs * t * b * gates * h * mod.input_size
        macs = macs - first + float(nnz) * dirs * gates * h  # zero inputs of the first layer are skipped
        e["macs"] += macs
        e["dense_macs"] += float(dirs * t * b * gates * h * (mod.input_size + h)) + \
            (mod.num_layers - 1) * dirs * t * b * gates * h * (h * dirs + h)
        e["weights"] = _weight_count(mod)
        e["weight_reads"] += macs
        e["weight_steps"] += float(t * b)
        e["input_elements"] += float(x.numel())
        e["binary"] = False
        e["output_elements"] += float(t * b * h * dirs * mod.num_layers)
        # hidden (and cell) state: read and written every step
        n_state = (2 if isinstance(mod, nn.LSTM) else 1) * h * dirs * mod.num_layers
        e["state_elements"] += float(t * b * n_state)
        e["state_vars"] = 2 if isinstance(mod, nn.LSTM) else 1
        if self._depth["temporal"] > 0:
            self._rnn_inside_temporal = True  # the Temporal wrapper's state is this RNN's: not twice
        e["neuron_steps"] += float(t * b * h * dirs * mod.num_layers)

    def _temporal_post(self, label, mod, args, kwargs, output):
        x = _first_tensor(args, kwargs)
        if not (isinstance(output, tuple) and len(output) == 2) or x is None or x.ndim < 2:
            return
        out, state = output
        if getattr(self, "_rnn_inside_temporal", False):
            self._rnn_inside_temporal = False
            return
        if not isinstance(out, torch.Tensor):
            return
        e = self._entry(label, mod, "neurons")
        t = x.shape[0]
        multi, binary = _state_elements(state)  # final state = one step's worth, [B, ...] per variable
        e["state_elements"] += float(multi * t)
        e["state_binary_elements"] += float(binary * t)
        neurons = out[0].numel() if out.ndim >= 2 else out.numel()
        e["neuron_steps"] += float(neurons * t)
        e["state_vars"] = multi / neurons if neurons else 0.0
        e["output_elements"] += float(out.numel())

    # ------------------------------------------------------------------ result
    def breakdown(self, *, table: str | CostTable | None = None, precision: str = "fp32",
                  weight_bits: int | None = None, activation_bits: int | None = None,
                  state_bits: int | None = None, sram: str = "32KB", weight_reuse: str = "none",
                  samples: int | None = None, steps: float | None = None) -> EnergyBreakdown:
        """Turn the counts into joules per sample (see ``energy_breakdown`` for the parameters)."""
        if weight_reuse not in WEIGHT_REUSE:
            raise ValueError(f"weight_reuse must be one of {WEIGHT_REUSE}, got {weight_reuse!r}")
        tab = get_cost_table(table)
        bits = format_bits(precision)
        if bits is None:
            raise ValueError(f"precision {precision!r} is not a number format; use e.g. fp32, fp16, int8")
        wb = bits if weight_bits is None else weight_bits
        ab = bits if activation_bits is None else activation_bits
        sb = bits if state_bits is None else state_bits
        for name, v in (("weight_bits", wb), ("activation_bits", ab), ("state_bits", sb)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        n = self.samples if samples is None else samples
        if not n or n <= 0:
            raise ValueError("nothing ran inside the EnergyRecorder (no samples seen); pass samples=")
        st = (self.sample_steps / self.samples if self.samples else 0.0) if steps is None else steps
        e_add, e_mac = tab.ac(precision), tab.mac(precision)
        e_bit = tab.sram_bit(sram).joules
        layers = []
        for key in self._order:
            c = self.layers[key]
            le = LayerEnergy(name=c["name"], kind=c["kind"], role=c["role"])
            if "connection" in c["role"]:
                le.acs, le.macs, le.dense_macs = c["acs"] / n, c["macs"] / n, c["dense_macs"] / n
                le.weights = int(c["weights"])
                reads = c["weight_reads"] if weight_reuse == "none" else c["weight_steps"] * c["weights"]
                le.weight_bits_read = reads * wb / n
                nonbinary_in = c["input_elements"] - c["input_binary_elements"]
                le.activation_bits_moved = (c["input_binary_elements"] * 1 + nonbinary_in * ab
                                            + c["output_elements"] * sb) / n
                le.input_binary = c["binary"]
                le.compute_j = le.acs * e_add + le.macs * e_mac
            # neuron state (Temporal layers, and the hidden/cell state of RNN cells)
            if c["state_elements"] or c["state_binary_elements"]:
                # read + write every step; stored spikes at one bit
                le.state_bits_moved = 2 * (c["state_elements"] * sb + c["state_binary_elements"]) / n
                le.neuron_updates = c["neuron_steps"] / n
                # one MAC per state variable (decay and add) and one compare per neuron and step
                le.compute_j += le.neuron_updates * (c["state_vars"] * e_mac + e_add)
            le.weight_memory_j = le.weight_bits_read * e_bit
            le.state_memory_j = le.state_bits_moved * e_bit
            le.activation_memory_j = le.activation_bits_moved * e_bit
            layers.append(le)
        return EnergyBreakdown(
            layers=layers, samples=int(n), steps=float(st), table=tab.name, source=tab.source,
            assumptions={"precision": precision, "weight_bits": wb, "activation_bits": ab, "spike_bits": 1,
                         "state_bits": sb, "sram": sram, "weight_reuse": weight_reuse,
                         "e_add_j": e_add, "e_mac_j": e_mac, "e_sram_bit_j": e_bit,
                         "write_equals_read": True, "spikes_as": "dense bitmap"})


def energy_breakdown(model: nn.Module, data, *, table: str | CostTable | None = None, precision: str = "fp32",
                     weight_bits: int | None = None, activation_bits: int | None = None,
                     state_bits: int | None = None, sram: str = "32KB", weight_reuse: str = "none",
                     static: bool = False, max_batches: int | None = None) -> EnergyBreakdown:
    """Estimated energy per sample of ``model`` on ``data``: compute + memory access, per layer.

    ``data`` is one input tensor (time-major ``[T, B, ...]``; ``static=True`` for ``[B, ...]``),
    or an iterable of ``x`` or ``(x, y)`` batches (a DataLoader; ``max_batches`` limits it).
    The model runs in its current train/eval mode without gradients.

    ``table``: a name of ``COST_TABLES`` (``horowitz_45nm``, default; ``jouppi_7nm``) or a
    ``CostTable``. ``precision``: the number format of arithmetic (``fp32``, ``fp16``, ``int8``,
    ``int4``, ...); weights, non-spike activations and state are stored at its width unless
    ``weight_bits``/``activation_bits``/``state_bits`` say otherwise; binary spikes take 1 bit.
    ``sram``: ``8KB``, ``32KB`` (default) or ``1MB``. ``weight_reuse``: ``none`` or ``per_step``
    (module docstring).
    """
    with torch.no_grad(), EnergyRecorder(model, static=static) as rec:
        for x in _batches(data, max_batches):
            model(x)
    return rec.breakdown(table=table, precision=precision, weight_bits=weight_bits, activation_bits=activation_bits,
                         state_bits=state_bits, sram=sram, weight_reuse=weight_reuse)


def _batches(data, max_batches: int | None) -> Iterable[torch.Tensor]:
    if isinstance(data, torch.Tensor):
        yield data
        return
    for i, batch in enumerate(data):
        if max_batches is not None and i >= max_batches:
            return
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"energy_breakdown: batches must be tensors or (x, y) pairs, got {type(x).__name__}")
        yield x
