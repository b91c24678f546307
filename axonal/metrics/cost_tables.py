"""Published energy costs of arithmetic and memory access, each entry tagged with its source.

Every number here is an *estimate* from a published table (``estimated=True`` on each entry):
a process node, a supply voltage and a circuit that are not your hardware. Use them to compare
networks on the same terms, never as a measurement of a chip.

Two tables:

- ``horowitz_45nm``: M. Horowitz, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014, energy table for 45 nm CMOS at 0.9 V: integer add 8 bit 0.03 pJ / 32 bit 0.1 pJ,
  integer multiply 8 bit 0.2 pJ / 32 bit 3.1 pJ, float add 16 bit 0.4 pJ / 32 bit 0.9 pJ,
  float multiply 16 bit 1.1 pJ / 32 bit 3.7 pJ; a 64-bit read of an 8 KB / 32 KB / 1 MB
  SRAM cache 10 / 20 / 100 pJ. The SNN literature's "AC 0.9 pJ, MAC 4.6 pJ" are its fp32 rows.
- ``jouppi_7nm``: N. P. Jouppi et al., "Ten lessons from three generations shaped Google's
  TPUv4i", ISCA 2021, Table 2 (7 nm column): integer add 8 bit 0.007 pJ / 32 bit 0.03 pJ,
  bfloat16 add 0.11 pJ, float add 16 bit 0.16 pJ / 32 bit 0.38 pJ, integer multiply 8 bit
  0.07 pJ / 32 bit 1.48 pJ, bfloat16 multiply 0.21 pJ, float multiply 16 bit 0.34 pJ / 32 bit
  1.31 pJ; a 64-bit SRAM read 8 KB 7.5 pJ / 32 KB 8.5 pJ / 1 MB 14 pJ. Memory scales far worse
  than logic from 45 to 7 nm (1.3-7x against 2-4x), which is why memory access weighs more at
  newer nodes.

Operations: an accumulate (AC) is one add in the accumulator's format; a multiply-accumulate
(MAC) is one multiply plus one add. Formats: ``int8``, ``int32``, ``fp16``, ``bf16`` (7 nm only),
``fp32``. Other integer widths (``int4``, ``int16``, ...) are *scaled* from the nearest listed
integer row, an add linearly and a multiply quadratically in the bit width (the usual
first-order scaling of ripple adders and array multipliers), and flagged ``scaled`` in the entry.

Memory: a read costs the table's 64-bit SRAM access divided by 64 per bit; a write is assumed to
cost the same as a read (neither source lists writes). The SRAM size is a parameter of the
energy model (``sram=``), default 32 KB.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Cost", "CostTable", "COST_TABLES", "get_cost_table", "format_bits"]

PJ = 1e-12


@dataclass(frozen=True)
class Cost:
    """One energy entry in joules, with where it comes from."""

    joules: float
    source: str
    estimated: bool = True
    scaled: bool = False  # derived by bit-width scaling from another entry of the same source

    def __post_init__(self):
        if not isinstance(self.joules, (int, float)) or isinstance(self.joules, bool) or not self.joules >= 0:
            raise ValueError(f"Cost.joules must be a non-negative number, got {self.joules!r}")


@dataclass(frozen=True)
class CostTable:
    """Add / multiply energy per number format and SRAM read energy per 64-bit access, from one source."""

    name: str
    node: str
    source: str
    add: dict = field(default_factory=dict)        # format -> joules per add
    mult: dict = field(default_factory=dict)       # format -> joules per multiply
    sram_64bit: dict = field(default_factory=dict)  # "8KB" / "32KB" / "1MB" -> joules per 64-bit read

    def _cost(self, what: str, value: float, scaled: bool = False) -> Cost:
        return Cost(value, f"{self.source}: {what}", estimated=True, scaled=scaled)

    def _lookup(self, table: dict, fmt: str, kind: str, power: int) -> Cost:
        fmt = fmt.lower()
        if fmt in table:
            return self._cost(f"{fmt} {kind}", table[fmt])
        bits = format_bits(fmt)
        if fmt.startswith("int") and bits is not None:
            ints = sorted((format_bits(k), k) for k in table if k.startswith("int"))
            if ints:
                ref_bits, ref = min(ints, key=lambda bk: abs(bk[0] - bits))
                value = table[ref] * (bits / ref_bits) ** power
                return self._cost(f"{fmt} {kind} scaled from {ref} (x (bits ratio)^{power})", value, scaled=True)
        known = sorted(table)
        raise ValueError(f"cost table {self.name!r} has no {kind} cost for format {fmt!r}; known formats: "
                         f"{', '.join(known)} (and intN, scaled from the integer rows)")

    def add_cost(self, fmt: str) -> Cost:
        """Energy of one add (one AC) in ``fmt``."""
        return self._lookup(self.add, fmt, "add", 1)

    def mult_cost(self, fmt: str) -> Cost:
        """Energy of one multiply in ``fmt``."""
        return self._lookup(self.mult, fmt, "multiply", 2)

    def ac(self, fmt: str) -> float:
        """Joules per accumulate (one add) in ``fmt``."""
        return self.add_cost(fmt).joules

    def mac(self, fmt: str) -> float:
        """Joules per multiply-accumulate (one multiply + one add) in ``fmt``."""
        return self.mult_cost(fmt).joules + self.add_cost(fmt).joules

    def sram_bit(self, sram: str = "32KB") -> Cost:
        """Joules to read (or write) one bit of an SRAM of size ``sram`` (64-bit access / 64)."""
        key = sram.upper().replace(" ", "")
        if key not in self.sram_64bit:
            raise ValueError(f"cost table {self.name!r} has no SRAM size {sram!r}; choose one of "
                             f"{', '.join(self.sram_64bit)}")
        return self._cost(f"{key} SRAM 64-bit read / 64", self.sram_64bit[key] / 64)

    def rows(self) -> list[dict]:
        """Every entry as a dict (for reports and tests)."""
        out = [{"kind": "add", "format": k, "joules": v} for k, v in self.add.items()]
        out += [{"kind": "mult", "format": k, "joules": v} for k, v in self.mult.items()]
        out += [{"kind": "sram_64bit_read", "format": k, "joules": v} for k, v in self.sram_64bit.items()]
        for r in out:
            r.update(source=self.source, estimated=True)
        return out


def format_bits(fmt: str) -> int | None:
    """Bit width of a format name (``int8`` -> 8, ``fp16`` / ``bf16`` -> 16), None if unknown."""
    m = re.fullmatch(r"(?:int|fp|bf)(\d+)", fmt.lower())
    return int(m.group(1)) if m else None


COST_TABLES: dict[str, CostTable] = {
    "horowitz_45nm": CostTable(
        name="horowitz_45nm", node="45 nm CMOS, 0.9 V",
        source="M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014",
        add={"int8": 0.03 * PJ, "int32": 0.1 * PJ, "fp16": 0.4 * PJ, "fp32": 0.9 * PJ},
        mult={"int8": 0.2 * PJ, "int32": 3.1 * PJ, "fp16": 1.1 * PJ, "fp32": 3.7 * PJ},
        sram_64bit={"8KB": 10 * PJ, "32KB": 20 * PJ, "1MB": 100 * PJ},
    ),
    "jouppi_7nm": CostTable(
        name="jouppi_7nm", node="7 nm",
        source="N. P. Jouppi et al., 'Ten lessons from three generations shaped Google's TPUv4i', "
               "ISCA 2021, Table 2",
        add={"int8": 0.007 * PJ, "int32": 0.03 * PJ, "bf16": 0.11 * PJ, "fp16": 0.16 * PJ, "fp32": 0.38 * PJ},
        mult={"int8": 0.07 * PJ, "int32": 1.48 * PJ, "bf16": 0.21 * PJ, "fp16": 0.34 * PJ, "fp32": 1.31 * PJ},
        sram_64bit={"8KB": 7.5 * PJ, "32KB": 8.5 * PJ, "1MB": 14 * PJ},
    ),
}


def get_cost_table(table: str | CostTable | None = None) -> CostTable:
    """A ``CostTable`` or the name of one in ``COST_TABLES`` (default ``horowitz_45nm``)."""
    if table is None:
        return COST_TABLES["horowitz_45nm"]
    if isinstance(table, CostTable):
        return table
    if table not in COST_TABLES:
        raise ValueError(f"unknown cost table {table!r}; choose one of {sorted(COST_TABLES)} or pass a CostTable")
    return COST_TABLES[table]
