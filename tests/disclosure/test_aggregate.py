"""Aggregate tables: primary rules, and that no suppressed cell can be recovered — from a
table with all its margins and subtotals, or from two overlapping tables together
(an independent linear-programming attacker bounds every primary-suppressed cell)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpul.disclosure.aggregate import Table, TableSpec, build_table
from simpul.disclosure.rules import SdcRules
from simpul.errors import SimpulError
from tests.disclosure.attack import bounds, normalise, primary_keys

TODAY = date(2026, 11, 23)
VILLAGES = ["3201011001", "3201011002", "3201021001", "3202011001", "3202011002",
            "3301011001", "3301021001", "3302011001"]  # fmt: skip
SEXES = ["LAKI-LAKI", "PEREMPUAN"]
EDU = ["SD/SEDERAJAT", "SMP/SEDERAJAT", "SMA/SEDERAJAT", "D4/S1"]
WORK = ["BEKERJA", "TIDAK BEKERJA", "SEKOLAH"]
DIMS = ["wilayah", "jenis_kelamin", "pendidikan_tertinggi", "status_bekerja"]
LEVELS = ["provinsi", "kabupaten", "kecamatan", "desa"]


def con_for(rows: list[tuple[Any, ...]]) -> duckdb.DuckDBPyConnection:
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    table = pa.table({
        "kode_wilayah": pa.array(cols[0], pa.string()),
        "jenis_kelamin": pa.array(cols[1], pa.string()),
        "pendidikan_tertinggi": pa.array(cols[2], pa.string()),
        "status_bekerja": pa.array(cols[3], pa.string()),
        "pengeluaran_per_kapita": pa.array(cols[4], pa.int64()),
        "tanggal_lahir": pa.array([date(1990, 1, 1)] * len(rows), pa.date32()),
    })  # fmt: skip
    con = duckdb.connect()
    con.register("r", table)
    return con


def row_strategy() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(
        st.sampled_from(VILLAGES), st.sampled_from(SEXES), st.sampled_from(EDU),
        st.sampled_from(WORK),
        st.one_of(st.integers(0, 2_000_000), st.just(90_000_000)),
    )  # fmt: skip


spec_strategy = st.builds(
    lambda dims, level, region, var: TableSpec(
        tuple(dims) if region is None or "wilayah" in dims else ("wilayah", *dims[:2]),
        level,
        region,
        var,
    ),
    st.lists(st.sampled_from(DIMS), min_size=1, max_size=3, unique=True),
    st.sampled_from(LEVELS),
    st.sampled_from([None, None, "32", "3201", "320101", "33"]),
    st.sampled_from([None, None, "pengeluaran_per_kapita"]),
)


def _protected(releases: list[tuple[TableSpec, Table]]) -> None:
    """Counts of threshold cells over every release; sums of every primary cell over the
    releases that publish sums (dominance protects the value, not the head count)."""
    all_dims = tuple(sorted({d for s, _ in releases for d in s.dimensions}))
    prim: set[Any] = set()
    for spec, table in releases:
        keys = primary_keys(table.rows, spec.dimensions, {"ambang"})
        prim |= {normalise(k, all_dims) for k in keys}
    found = bounds([(s.dimensions, t.rows) for s, t in releases], prim)
    exposed = {k: v for k, v in found.items() if v[1] - v[0] < 1 - 1e-6}
    assert not exposed, exposed
    assert set(found) == prim  # no release shows any of them
    with_sums = [(s, t) for s, t in releases if s.variable]
    if not with_sums:
        return
    sum_dims = tuple(sorted({d for s, _ in with_sums for d in s.dimensions}))
    prim = set()
    for spec, table in with_sums:
        prim |= {normalise(k, sum_dims) for k in primary_keys(table.rows, spec.dimensions)}
    found = bounds([(s.dimensions, t.rows) for s, t in with_sums], prim, "jumlah_nilai")
    exposed = {k: v for k, v in found.items() if v[1] - v[0] < 1e-6}
    assert not exposed, exposed
    assert set(found) == prim


def _build(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> Table | None:
    try:
        return build_table(con, "r", spec, SdcRules(), TODAY)
    except SimpulError as exc:
        code = exc.code
    assert code == "tabel_tidak_dapat_dilindungi"  # refusing is the only other answer
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_strategy(), min_size=5, max_size=250), spec=spec_strategy)
def test_table_with_margins_never_recovers_a_suppressed_cell(
    rows: list[tuple[Any, ...]], spec: TableSpec
) -> None:
    con = con_for(rows)
    table = _build(con, spec)
    if table is not None:
        _protected([(spec, table)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_strategy(), min_size=5, max_size=250), a=spec_strategy,
       b=spec_strategy)  # fmt: skip
def test_two_overlapping_tables_never_recover_a_suppressed_cell(
    rows: list[tuple[Any, ...]], a: TableSpec, b: TableSpec
) -> None:
    con = con_for(rows)
    ta, tb = _build(con, a), _build(con, b)
    if ta is not None and tb is not None:
        _protected([(a, ta), (b, tb)])


def test_region_subtables_overlap_safely() -> None:
    """A provincial table, a regency table of one province and a district table of one
    regency: the regional subtotals they share never open a suppressed cell."""
    rows = [(v, s, e, w, 100) for v in VILLAGES for s in SEXES for e in EDU[:2] for w in WORK]
    rows += [("3201011001", "LAKI-LAKI", "D4/S1", "BEKERJA", 5_000_000)] * 3
    con = con_for(rows * 2)
    specs = [
        TableSpec(("wilayah", "pendidikan_tertinggi"), "provinsi"),
        TableSpec(("wilayah", "pendidikan_tertinggi"), "kabupaten", region="32"),
        TableSpec(("wilayah", "pendidikan_tertinggi"), "kecamatan", region="3201"),
    ]
    tables = [(s, build_table(con, "r", s, SdcRules(), TODAY)) for s in specs]
    assert all(t.suppressed_primary > 0 for _, t in tables)
    _protected(tables)


def test_primary_rules_threshold_dominance_p_ratio() -> None:
    rows = [("3201011001", "LAKI-LAKI", "SD/SEDERAJAT", "BEKERJA", 100)] * 30
    rows += [("3201011001", "PEREMPUAN", "SD/SEDERAJAT", "BEKERJA", 100)] * 9  # < 10
    rows += [("3202011001", "LAKI-LAKI", "SD/SEDERAJAT", "BEKERJA", 100)] * 20
    rows += [("3202011001", "LAKI-LAKI", "SD/SEDERAJAT", "BEKERJA", 10_000_000)]  # dominates
    rows += [("3202011001", "PEREMPUAN", "SD/SEDERAJAT", "BEKERJA", 100)] * 25
    con = con_for(rows)
    spec = TableSpec(("wilayah", "jenis_kelamin"), "kabupaten", variable="pengeluaran_per_kapita")
    table = build_table(con, "r", spec, SdcRules(), TODAY)
    by = {(r["wilayah"], r["jenis_kelamin"]): r for r in table.rows}
    assert by[("3201", "PEREMPUAN")]["alasan"] == "ambang"
    assert by[("3202", "LAKI-LAKI")]["alasan"] == "dominasi"
    assert by[("3201", "LAKI-LAKI")]["status"] == "ditekan_sekunder"  # else 3201 total leaks it
    # without the magnitude variable, only the threshold applies
    counts = build_table(con, "r", TableSpec(("wilayah", "jenis_kelamin"), "kabupaten"),
                         SdcRules(), TODAY)  # fmt: skip
    by = {(r["wilayah"], r["jenis_kelamin"]): r for r in counts.rows}
    assert by[("3202", "LAKI-LAKI")]["status"] != "ditekan_primer"
    assert not any(r.get("alasan") == "dominasi" for r in counts.rows)
    # per-agreement settings: a threshold of 5 releases the 9
    lax = build_table(con, "r", TableSpec(("wilayah", "jenis_kelamin"), "kabupaten"),
                      SdcRules(ambang=5), TODAY)  # fmt: skip
    by = {(r["wilayah"], r["jenis_kelamin"]): r for r in lax.rows}
    assert by[("3201", "PEREMPUAN")]["jumlah"] == 9


def test_rounding_applies_to_released_counts() -> None:
    rows = [("3201011001", s, "SD/SEDERAJAT", "BEKERJA", 1) for s in SEXES for _ in range(23)]
    con = con_for(rows)
    table = build_table(con, "r", TableSpec(("jenis_kelamin",)), SdcRules(pembulatan=5), TODAY)
    assert {r["jumlah"] for r in table.rows} == {25, 45}


@pytest.mark.parametrize("bad", [("wilayah", "wilayah"), ()])
def test_invalid_specs(bad: tuple[str, ...]) -> None:
    with pytest.raises(SimpulError):
        build_table(con_for([]), "r", TableSpec(bad), SdcRules(), TODAY)


def test_p_ratio_rule_in_tables() -> None:
    rows = [("3201011001", "LAKI-LAKI", "SD/SEDERAJAT", "BEKERJA", 1)] * 20
    rows += [("3201011001", "LAKI-LAKI", "SD/SEDERAJAT", "BEKERJA", 1_000_000)] * 2
    rows += [("3201011001", "PEREMPUAN", "SD/SEDERAJAT", "BEKERJA", 1000)] * 30
    con = con_for(rows)
    spec = TableSpec(("jenis_kelamin",), variable="pengeluaran_per_kapita")
    # dominance off (k=1): two equal giants still fail the p-ratio (the rest < 10 % of one)
    table = build_table(con, "r", spec, SdcRules(dominasi_k=1.0), TODAY)
    by = {r["jenis_kelamin"]: r for r in table.rows}
    assert by["LAKI-LAKI"]["alasan"] == "p_rasio"
    assert by["PEREMPUAN"]["status"] == "ditekan_sekunder"  # else total − perempuan


@pytest.mark.parametrize("today", [date(2026, 11, 23), date(2028, 2, 29), date(2027, 3, 1)])
def test_age_bands_are_completed_years(today: date) -> None:
    """The date-comparison bands equal completed years computed from the calendar."""
    from simpul.disclosure.variables import age_band_key, age_label

    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE d AS SELECT DATE '{today.year - 90}-01-01' + i::INTEGER AS tanggal_lahir "
        "FROM range(33000) r(i)"
    )
    got = con.execute(f"SELECT tanggal_lahir, {age_band_key(today, 5)} FROM d").fetchall()
    label = age_label(5)
    for born, band in got:
        if born > today:
            continue
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        assert band == min(years, 75) // 5 * 5, (born, band, years)
    assert label(75) == "75+" and label(20) == "20-24"
