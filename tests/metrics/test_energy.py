"""Energy tables (issue 24: every row pinned to its source, AC below MAC) and the compute-only
estimate ``axonal.metrics.energy``."""
from __future__ import annotations

import pytest

from axonal.metrics import ENERGY_TABLES, EnergyTable, get_energy_table
from axonal.metrics.cost_tables import COST_TABLES, get_cost_table

PJ = 1e-12

#: (add, multiply) in pJ per format, typed in by hand from the papers (not from the code):
#: Horowitz, ISSCC 2014 (45 nm, 0.9 V); Jouppi et al., ISCA 2021, Table 2 (7 nm column).
SOURCE = {
    "45nm": {"int8": (0.03, 0.2), "int32": (0.1, 3.1), "fp16": (0.4, 1.1), "fp32": (0.9, 3.7)},
    "7nm": {"int8": (0.007, 0.07), "int32": (0.03, 1.48), "bf16": (0.11, 0.21), "fp16": (0.16, 0.34),
            "fp32": (0.38, 1.31)},
}
SRAM_64BIT = {"horowitz_45nm": {"8KB": 10, "32KB": 20, "1MB": 100}, "jouppi_7nm": {"8KB": 7.5, "32KB": 8.5, "1MB": 14}}


def row_errors(key: str, row: EnergyTable) -> list[str]:
    """What is wrong with one row of ENERGY_TABLES (empty when it matches its source)."""
    fmt, node = key.split("_")
    add, mult = SOURCE[node][fmt]
    errors = []
    if row.ac != pytest.approx(add * PJ, rel=1e-12):
        errors.append(f"{key}: ac {row.ac} != source add {add} pJ")
    if row.mac != pytest.approx((add + mult) * PJ, rel=1e-12):
        errors.append(f"{key}: mac {row.mac} != source add + multiply {add + mult} pJ")
    if not row.ac < row.mac:
        errors.append(f"{key}: AC ({row.ac}) is not below MAC ({row.mac})")
    return errors


def test_every_energy_row_is_pinned_to_its_source_and_ac_is_below_mac():
    expected = {f"{fmt}_{node}" for node, rows in SOURCE.items() for fmt in rows}
    assert set(ENERGY_TABLES) == expected
    for key, row in ENERGY_TABLES.items():
        assert row_errors(key, row) == [], row_errors(key, row)
        assert ("Horowitz" in row.name) == key.endswith("45nm")
        assert ("Jouppi" in row.name) == key.endswith("7nm")


@pytest.mark.parametrize("key", sorted({f"{f}_{n}" for n, r in SOURCE.items() for f in r}))
def test_swapping_ac_and_mac_of_any_row_is_caught(key):
    row = ENERGY_TABLES[key]
    swapped = EnergyTable(ac=row.mac, mac=row.ac, name=row.name)
    assert row_errors(key, swapped), f"a swapped {key} row passed the check"


def test_cost_table_entries_match_their_sources():
    for name, table in COST_TABLES.items():
        node = name.split("_")[1]
        assert set(table.add) == set(table.mult) == set(SOURCE[node])
        for fmt, (add, mult) in SOURCE[node].items():
            assert table.add[fmt] == pytest.approx(add * PJ) and table.mult[fmt] == pytest.approx(mult * PJ)
        for fmt in table.add:
            assert table.ac(fmt) < table.mac(fmt)
            assert table.add_cost(fmt).estimated and table.add_cost(fmt).source.startswith(table.source)
        assert {k: v / PJ for k, v in table.sram_64bit.items()} == pytest.approx(SRAM_64BIT[name])
        assert all(r["estimated"] for r in table.rows())


def test_scaled_integer_formats_are_flagged_and_scale_linearly_and_quadratically():
    t = get_cost_table("horowitz_45nm")
    c4 = t.add_cost("int4")
    assert c4.scaled and c4.joules == pytest.approx(0.015 * PJ)
    assert t.mult_cost("int4").joules == pytest.approx(0.2 * PJ / 4)
    assert t.mult_cost("int16").joules == pytest.approx(0.2 * PJ * 4)   # nearest listed row: int8
    with pytest.raises(ValueError, match="bf16"):
        t.add_cost("bf16")                                                # not in the 45 nm table
    with pytest.raises(ValueError, match="unknown cost table"):
        get_cost_table("nope")


def test_default_table_is_fp32_45nm_and_unknown_names_fail():
    assert get_energy_table() == EnergyTable()
    assert get_energy_table("fp32_45nm").ac == EnergyTable().ac
    assert get_energy_table("fp32_45nm").mac == EnergyTable().mac
    with pytest.raises(ValueError, match="unknown energy table"):
        get_energy_table("fp64")
