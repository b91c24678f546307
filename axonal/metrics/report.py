"""Result records of a measurement: per-layer activity and SynOps, totals, JSON and a table."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LayerActivity:
    """Activity of one recorded layer (a ``Temporal`` module or a module named by the user).

    ``spikes`` and ``events`` are per sample; ``firing_rate`` is spikes per neuron per time step
    (``total spikes / (neurons * T * B)``, accumulated over every call); ``neuron_steps`` is
    that denominator (a total over all samples, not per sample). ``binary`` is False if
    any call produced values other than 0/1 (a membrane readout, graded spikes): then
    ``spikes`` is the sum of the output and ``events`` its nonzero count. ``nested`` layers ran
    inside another recorded layer and are left out of the totals.
    """

    name: str
    kind: str
    neurons: int
    spikes: float
    events: float
    neuron_steps: int
    firing_rate: float
    binary: bool
    calls: int
    nested: bool = False


@dataclass
class LayerSynOps:
    """Synaptic operations of one connection layer, per sample.

    ``synops = acs + macs``: event-driven operations (zero inputs skipped), ACs for calls whose
    input was binary and MACs otherwise; ``dense_macs`` is a dense evaluation of the layer.
    """

    name: str
    kind: str
    synops: float
    acs: float
    macs: float
    dense_macs: float
    calls: int
    nested: bool = False


@dataclass
class MonitorReport:
    """Everything ``SpikeMonitor`` measured; counts are per sample (divided by ``samples``).

    ``steps`` is the number of time steps per sample; ``uncounted`` lists weighted modules that
    ran but have no SynOps rule (their operations are missing from the totals).
    """

    samples: int
    steps: float
    layers: list[LayerActivity] = field(default_factory=list)
    synapses: list[LayerSynOps] = field(default_factory=list)
    uncounted: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ totals
    def _top_spiking(self):
        return [l for l in self.layers if not l.nested and l.binary]

    @property
    def total_neurons(self) -> int:
        return sum(l.neurons for l in self._top_spiking())

    @property
    def total_spikes(self) -> float:
        """Spikes per sample over all top-level spiking layers."""
        return sum(l.spikes for l in self._top_spiking())

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per step over all top-level spiking layers."""
        layers = self._top_spiking()
        steps = sum(l.neuron_steps for l in layers)
        total = sum(l.spikes * self.samples for l in layers)
        return total / steps if steps else 0.0

    def _syn_total(self, attr: str) -> float:
        return sum(getattr(s, attr) for s in self.synapses if not s.nested)

    @property
    def synops(self) -> float:
        return self._syn_total("synops")

    @property
    def acs(self) -> float:
        return self._syn_total("acs")

    @property
    def macs(self) -> float:
        return self._syn_total("macs")

    @property
    def dense_macs(self) -> float:
        return self._syn_total("dense_macs")

    def totals(self) -> dict:
        return {
            "neurons": self.total_neurons,
            "spikes": self.total_spikes,
            "firing_rate": self.firing_rate,
            "synops": self.synops,
            "acs": self.acs,
            "macs": self.macs,
            "dense_macs": self.dense_macs,
        }

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict (``json.dumps(report.to_dict())``)."""
        return {
            "samples": self.samples,
            "steps": self.steps,
            "per": "sample",
            "totals": self.totals(),
            "layers": [asdict(l) for l in self.layers],
            "synapses": [asdict(s) for s in self.synapses],
            "uncounted": list(self.uncounted),
        }

    def table(self) -> str:
        """A fixed-width text table of the per-layer numbers and totals."""
        lines = [f"per sample, {self.samples} samples, {self.steps:g} steps each"]
        if self.layers:
            rows = [(l.name + (" (nested)" if l.nested else ""), l.kind, f"{l.neurons}",
                     _num(l.spikes), f"{l.firing_rate:.4f}" if l.binary else f"{l.firing_rate:.4f}*")
                    for l in self.layers]
            rows.append(("total", "", f"{self.total_neurons}", _num(self.total_spikes),
                         f"{self.firing_rate:.4f}"))
            lines += _grid(("layer", "type", "neurons", "spikes", "rate"), rows)
            if any(not l.binary for l in self.layers):
                lines.append("* output not binary: 'spikes' is the sum of the output")
        if self.synapses:
            rows = [(s.name + (" (nested)" if s.nested else ""), s.kind, _num(s.synops), _num(s.acs),
                     _num(s.macs), _num(s.dense_macs)) for s in self.synapses]
            rows.append(("total", "", _num(self.synops), _num(self.acs), _num(self.macs),
                         _num(self.dense_macs)))
            lines.append("")
            lines += _grid(("layer", "type", "SynOps", "ACs", "MACs", "dense MACs"), rows)
        if self.uncounted:
            lines.append("not counted (no SynOps rule): " + ", ".join(self.uncounted))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-2:
        return f"{v:.3e}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def _grid(header, rows) -> list[str]:
    cols = list(zip(header, *rows))
    widths = [max(len(str(c)) for c in col) for col in cols]
    def fmt(r):
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [fmt(header), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows]
    return out
