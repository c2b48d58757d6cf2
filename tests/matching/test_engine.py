"""The engine against a synthetic registry and noisy lists with truth files."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simpul.matching.engine import (
    COCOK,
    COCOK_ELEMEN_BERBEDA,
    KEMUNGKINAN_COCOK,
    TIDAK_DITEMUKAN,
    MatchOptions,
    MatchResult,
    Query,
    RegistryIndex,
    match,
)
from simpul.matching.evaluate import read_truth, score
from simpul.matching.normalize import parse_date
from simpul.registry.synth import generate_world, sample_list
from tests.matching.lists import read_list

COLUMNS = ["nik", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    generate_world(20_000, 5, folder)
    return folder


@pytest.fixture(scope="module")
def registry(world: Path) -> RegistryIndex:
    return RegistryIndex(pq.read_table(world / "kependudukan.parquet", columns=COLUMNS))


@pytest.fixture(scope="module", params=["bpum", "kpm"])
def run(
    request: pytest.FixtureRequest, world: Path, registry: RegistryIndex, tmp_path_factory
) -> tuple[MatchResult, list[str], list[str], list[str], Query]:
    out = tmp_path_factory.mktemp("list") / f"{request.param}.csv"
    truth_file = sample_list(request.param, 1500, 9, world, out)
    q = read_list(out)
    result = match(registry, q)
    truth, noise = read_truth(truth_file)
    linked = [str(registry.nik[i]) if i >= 0 else "" for i in result.registry_index.tolist()]
    return result, linked, truth, noise, q


def test_engine_beats_exact_nik_join_without_false_matches(run, registry: RegistryIndex) -> None:
    _result, linked, truth, _noise, q = run
    exact = registry.lookup(list(q.nik)).tolist()
    floor = score([str(registry.nik[i]) if i >= 0 else "" for i in exact], truth)
    got = score(linked, truth)
    assert got.f1 >= 0.99
    assert got.precision >= 0.998
    assert got.recall > floor.recall + 0.03  # the people an exact join misses


def test_mistyped_niks_are_repaired_to_the_true_person(run) -> None:
    result, linked, truth, noise, _q = run
    mistyped = [
        i for i, n in enumerate(noise)
        if ("nik_salah_digit" in n or "nik_tertukar" in n) and truth[i]
    ]  # fmt: skip
    assert mistyped, "the generator should have produced mistyped NIKs"
    repaired = [i for i in mistyped if result.method[i] == "perbaikan_nik"]
    assert len(repaired) >= 0.95 * len(mistyped)
    for i in repaired:
        p = result.probability[i]
        assert p is not None and p >= 0.5
        # Accepted without review at or above the acceptance threshold, reviewed below it.
        assert result.status[i] == (COCOK if p >= MatchOptions().accept else KEMUNGKINAN_COCOK)
        assert linked[i] == truth[i]


def test_people_outside_the_registry_are_not_found(run) -> None:
    result, linked, _truth, noise, _q = run
    outsiders = [i for i, n in enumerate(noise) if "tidak_terdaftar" in n]
    assert outsiders
    assert all(result.status[i] == TIDAK_DITEMUKAN and not linked[i] for i in outsiders)


def test_swapped_birth_date_with_a_good_nik_names_the_differing_element(run) -> None:
    result, _linked, _truth, noise, _q = run
    swapped = [
        i for i, n in enumerate(noise)
        if "tanggal_tertukar" in n and not any(k in n for k in ("nik_", "tidak_terdaftar"))
    ]  # fmt: skip
    assert swapped
    for i in swapped:
        assert result.status[i] == COCOK_ELEMEN_BERBEDA
        assert "tanggal_lahir" in result.differing[i]


def test_counts_cover_every_row(run) -> None:
    result, _linked, _truth, _noise, q = run
    counts = result.counts()
    assert sum(counts.values()) == len(q)
    assert counts[COCOK] > counts[KEMUNGKINAN_COCOK]
    probable = [
        result.probability[i] for i, s in enumerate(result.status) if s == KEMUNGKINAN_COCOK
    ]
    assert all(p is not None and 0.5 <= p < MatchOptions().accept for p in probable)


def test_a_nik_pointing_at_someone_else_is_not_a_match(registry: RegistryIndex) -> None:
    """A slip that lands on another real person: name and birth date both disagree."""
    q = Query(
        nik=[str(registry.nik[0])],
        nama=["ZZYZX QWERTY"],
        tanggal_lahir=[parse_date("1901-01-01")],
    )
    result = match(registry, q)
    assert result.status == [TIDAK_DITEMUKAN]


def test_dense_linker_links_one_to_one_despite_typos() -> None:
    from simpul.matching.dense import Field, link

    left = {
        "nama": ["SITI AMINAH", "BUDI SANTOSO", "AGUS SALIM", "DEWI LESTARI"],
        "lahir": ["19800312", "19751201", "19900101", "19850505"],
    }
    right = {
        "nama": ["BUDI SANTOSA", "DEWI LESTARI", "SITI AMINA", "JOKO WIDODO"],
        "lahir": ["19751201", "19850505", "19800312", "19610621"],
    }
    fields = [Field("nama", "teks", 80), Field("lahir", "kode", 1)]
    pairs = link(left, right, fields).tolist()
    assert sorted(pairs) == [[0, 2], [1, 0], [3, 1]]  # AGUS and JOKO stay unlinked


def test_without_birth_date_a_rare_name_and_address_still_find_the_person(
    registry: RegistryIndex,
) -> None:
    from collections import Counter

    counts = Counter(registry.names)
    rare = next(i for i, n in enumerate(registry.names) if counts[n] == 1 and " " in n)
    shared = next(i for i, n in enumerate(registry.names) if counts[n] >= 3)
    t = registry.table
    address = f"{t.column('alamat')[rare]} RT {t.column('rt')[rare]}/RW {t.column('rw')[rare]}"
    q = Query(
        nik=["", ""],
        nama=[registry.names[rare].title(), registry.names[shared]],
        tanggal_lahir=[None, None],
        alamat=[address, ""],
    )
    result = match(registry, q)
    assert result.status[0] in (COCOK, KEMUNGKINAN_COCOK)
    assert int(result.registry_index[0]) == rare
    assert result.status[1] == TIDAK_DITEMUKAN  # a name three people share decides nothing
