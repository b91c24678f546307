"""Energy estimate from operation counts, and a one-call summary for logs and JSON.

The estimate is the usual compute-only proxy of the SNN literature: energy = ACs x E_AC +
MACs x E_MAC, per sample, compared with a dense network of the same shape (dense MACs x E_MAC).
It leaves out memory access, data movement and neuron-state updates, which dominate on real
hardware (Dampfhoffer et al. 2023, "Are SNNs really more energy-efficient than ANNs?", IEEE
TETCI), so read it as an operation-count comparison, not a measurement.

The default table is 45 nm CMOS at 0.9 V from M. Horowitz, "Computing's energy problem (and what
we can do about it)", ISSCC 2014: a 32-bit float add 0.9 pJ (one AC) and a 32-bit float
multiply 3.7 pJ, so a MAC costs 3.7 + 0.9 = 4.6 pJ. ``ENERGY_TABLES`` holds one row per number
format of each source table in ``axonal.metrics.cost_tables`` (Horowitz 45 nm; Jouppi et al.,
ISCA 2021, 7 nm), AC = add and MAC = multiply + add of that format; pass any ``EnergyTable``
for other hardware. For memory access and a per-layer breakdown use
``axonal.metrics.energy_model.energy_breakdown``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .cost_tables import COST_TABLES
from .report import MonitorReport


@dataclass(frozen=True)
class EnergyTable:
    """Joules per accumulate (``ac``) and per multiply-accumulate (``mac``) operation."""

    ac: float = 0.9e-12
    mac: float = 4.6e-12
    name: str = "fp32, 45 nm CMOS (Horowitz, ISSCC 2014)"

    def __post_init__(self):
        for f in ("ac", "mac"):
            v = getattr(self, f)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0:
                raise ValueError(f"EnergyTable.{f} must be a non-negative number of joules, got {v!r}")


def _row(table: str, fmt: str) -> EnergyTable:
    t = COST_TABLES[table]
    return EnergyTable(ac=t.ac(fmt), mac=t.mac(fmt), name=f"{fmt}, {t.node} ({t.source})")


#: One row per format of each cost table: ``<format>_45nm`` (Horowitz, ISSCC 2014) and
#: ``<format>_7nm`` (Jouppi et al., ISCA 2021); AC = add, MAC = multiply + add.
ENERGY_TABLES: dict[str, EnergyTable] = {
    f"{fmt}_{suffix}": _row(table, fmt)
    for table, suffix in (("horowitz_45nm", "45nm"), ("jouppi_7nm", "7nm"))
    for fmt in COST_TABLES[table].add
}


def get_energy_table(table: str | EnergyTable | None = None) -> EnergyTable:
    if table is None:
        return EnergyTable()
    if isinstance(table, EnergyTable):
        return table
    if table not in ENERGY_TABLES:
        raise ValueError(f"unknown energy table {table!r}; choose one of {sorted(ENERGY_TABLES)} "
                         "or pass EnergyTable(ac=..., mac=...)")
    return ENERGY_TABLES[table]


@dataclass(frozen=True)
class EnergyEstimate:
    """Joules per sample.

    ``snn`` = ACs x ac + MACs x mac of the measured (event-driven) network; ``ann`` = the dense
    MACs of the same layers at every time step (an ANN/RNN of the same shape run over the same
    sequence); ``ann_single_step`` = ``ann / steps`` (an ANN that sees a static input once).
    """

    snn: float
    ann: float
    ann_single_step: float
    acs: float
    macs: float
    dense_macs: float
    steps: float
    table: str

    @property
    def ratio(self) -> float:
        """``ann / snn`` (how many times less the spiking network spends; inf if snn is 0)."""
        return self.ann / self.snn if self.snn else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratio_ann_over_snn"] = self.ratio if self.snn else None
        d["unit"] = "joule per sample"
        return d


def energy(report: MonitorReport, table: str | EnergyTable | None = None) -> EnergyEstimate:
    """Energy per sample of the operations in ``report`` (``SpikeMonitor.report()``).

    ``table`` is an ``EnergyTable`` or a key of ``ENERGY_TABLES``; default fp32 at 45 nm
    (0.9 pJ per AC, 4.6 pJ per MAC; Horowitz, ISSCC 2014).
    """
    if not isinstance(report, MonitorReport):
        raise TypeError(f"energy() needs a MonitorReport (SpikeMonitor.report()), got {type(report).__name__}")
    t = get_energy_table(table)
    ann = report.dense_macs * t.mac
    return EnergyEstimate(
        snn=report.acs * t.ac + report.macs * t.mac,
        ann=ann,
        ann_single_step=ann / report.steps if report.steps else ann,
        acs=report.acs, macs=report.macs, dense_macs=report.dense_macs,
        steps=report.steps, table=t.name,
    )


@dataclass
class Summary:
    """Accuracy (optional), activity/SynOps report and energy estimate of one evaluation."""

    report: MonitorReport
    energy: EnergyEstimate
    accuracy: float | None = None

    def to_dict(self) -> dict:
        d = {"accuracy": self.accuracy} if self.accuracy is not None else {}
        d.update(self.report.to_dict())
        d["energy"] = self.energy.to_dict()
        return d

    def table(self) -> str:
        lines = []
        if self.accuracy is not None:
            lines.append(f"accuracy: {self.accuracy:.4f}")
        lines.append(self.report.table())
        e = self.energy
        lines.append("")
        lines.append(f"energy per sample ({e.table}): SNN {_joules(e.snn)}, dense ANN same shape "
                     f"{_joules(e.ann)} over {e.steps:g} steps, {_joules(e.ann_single_step)} for one step")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _joules(j: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(j) >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j / 1e-12:.3g} pJ"


def summarize(report: MonitorReport, *, accuracy: float | None = None,
              table: str | EnergyTable | None = None) -> Summary:
    """Bundle ``report``, its energy estimate and an optional accuracy: ``.to_dict()``, ``.table()``."""
    return Summary(report=report, energy=energy(report, table), accuracy=accuracy)
