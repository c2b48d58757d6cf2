"""The synthetic world: structure and consistency properties of the four registries."""

from __future__ import annotations

import collections
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpul.registry.datasets import ElementType, get_dataset
from simpul.registry.identifiers import (
    PEREMPUAN,
    nik_matches,
    nip_matches,
    parse_kk,
    parse_nik,
    parse_nip,
)
from simpul.registry.regions import load_regions
from simpul.registry.synth import DATASETS, generate_world

PEOPLE = 20_000
SEED = 11
TYPES = {
    ElementType.NIK: pa.string(),
    ElementType.KK: pa.string(),
    ElementType.NIP: pa.string(),
    ElementType.NAMA: pa.string(),
    ElementType.TEKS: pa.string(),
    ElementType.ALAMAT: pa.string(),
    ElementType.KODE: pa.string(),
    ElementType.WILAYAH: pa.string(),
    ElementType.TANGGAL: pa.date32(),
    ElementType.BILANGAN: pa.int64(),
    ElementType.DESIMAL: pa.float64(),
    ElementType.BOOLEAN: pa.bool_(),
}
Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_world(PEOPLE, SEED, tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def rows(world: dict[str, Path]) -> dict[str, Rows]:
    return {name: pq.read_table(path).to_pylist() for name, path in world.items()}


@pytest.fixture(scope="module")
def families(rows: dict[str, Rows]) -> dict[str, Rows]:
    found: dict[str, Rows] = collections.defaultdict(list)
    for r in rows["kependudukan"]:
        found[r["no_kk"]].append(r)
    return found


def years_between(older: date, younger: date) -> float:
    return (younger - older).days / 365.2425


def age(born: date) -> float:
    return years_between(born, date(2025, 12, 31))


def test_same_seed_gives_the_same_bytes_and_another_seed_other_data(tmp_path: Path) -> None:
    a = generate_world(1_500, 5, tmp_path / "a")
    b = generate_world(1_500, 5, tmp_path / "b")
    c = generate_world(1_500, 6, tmp_path / "c")
    assert set(a) == set(DATASETS)
    for name in DATASETS:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    assert a["kependudukan"].read_bytes() != c["kependudukan"].read_bytes()


def test_exactly_the_definition_columns_in_order_with_their_types(world: dict[str, Path]) -> None:
    for name, path in world.items():
        schema = pq.read_schema(path)
        elements = get_dataset(name).tabular_elements
        assert schema.names == [e.name for e in elements], name
        for el in elements:
            assert schema.field(el.name).type == TYPES[el.type], (name, el.name)


def test_codes_are_allowed_values_and_required_elements_are_filled(rows: dict[str, Rows]) -> None:
    for name, table in rows.items():
        for el in get_dataset(name).tabular_elements:
            values = [r[el.name] for r in table]
            if el.required:
                assert all(v is not None and v != "" for v in values), (name, el.name)
            if el.values:
                assert {v for v in values if v is not None} <= set(el.values), (name, el.name)
            if el.minimum is not None:
                assert min(v for v in values if v is not None) >= el.minimum, (name, el.name)
            if el.maximum is not None:
                assert max(v for v in values if v is not None) <= el.maximum, (name, el.name)


def test_every_nik_is_valid_unique_and_agrees_with_birth_date_and_sex(
    rows: dict[str, Rows],
) -> None:
    people = rows["kependudukan"]
    assert len(people) == PEOPLE
    regions = load_regions()
    niks = [r["nik"] for r in people]
    assert len(set(niks)) == len(niks)
    for r in people:
        info = parse_nik(r["nik"], reference=date(2026, 11, 23), regions=regions)
        assert info.valid and not info.warnings, r["nik"]
        assert nik_matches(r["nik"], r["tanggal_lahir"], r["jenis_kelamin"]), r["nik"]
    # Most people were registered where they live; some moved from elsewhere.
    own = sum(r["nik"][:6] == r["kode_wilayah"][:6] for r in people) / len(people)
    assert 0.7 < own < 0.97


def test_kk_numbers_are_valid_unique_per_family_with_one_head(families: dict[str, Rows]) -> None:
    for kk, members in families.items():
        info = parse_kk(kk, reference=date(2026, 11, 23))
        assert info.valid, kk
        assert kk[:6] == members[0]["kode_wilayah"][:6]
        assert info.issued is not None
        assert info.issued >= max(m["tanggal_lahir"] for m in members)
        heads = [m for m in members if m["status_hubungan_keluarga"] == "KEPALA KELUARGA"]
        assert len(heads) == 1, kk
        assert len({(m["kode_wilayah"], m["alamat"], m["rt"], m["rw"]) for m in members}) == 1
    sizes = collections.Counter(len(m) for m in families.values())
    assert sizes[1] > 0 and max(sizes) >= 7  # singles and large families both exist


def test_ages_and_marital_status_fit_relationships(families: dict[str, Rows]) -> None:
    seen: collections.Counter[str] = collections.Counter()
    for members in families.values():
        head = next(m for m in members if m["status_hubungan_keluarga"] == "KEPALA KELUARGA")
        spouse = next(
            (m for m in members if m["status_hubungan_keluarga"] in ("SUAMI", "ISTRI")), None
        )
        for m in members:
            rel = m["status_hubungan_keluarga"]
            seen[rel] += 1
            gap = years_between(head["tanggal_lahir"], m["tanggal_lahir"])
            if rel == "ANAK":
                assert gap >= 15
                if age(m["tanggal_lahir"]) < 17:
                    assert m["status_perkawinan"] == "BELUM KAWIN"
            elif rel == "CUCU":
                assert gap >= 30
            elif rel == "ORANG TUA":
                assert -gap >= 15
            elif rel == "MERTUA":
                assert spouse is not None
                assert years_between(m["tanggal_lahir"], spouse["tanggal_lahir"]) >= 15
            elif rel in ("SUAMI", "ISTRI"):
                assert m["status_perkawinan"] == "KAWIN"
                assert head["status_perkawinan"] == "KAWIN"
                assert m["jenis_kelamin"] != head["jenis_kelamin"]
                assert (rel == "ISTRI") == (m["jenis_kelamin"] == PEREMPUAN)
            elif rel == "MENANTU":
                assert m["status_perkawinan"] == "KAWIN"
            if rel != "ANAK" and rel != "CUCU" and rel != "FAMILI LAIN":
                assert age(m["tanggal_lahir"]) >= 17, rel
    for rel in ("ANAK", "ISTRI", "CUCU", "MENANTU", "ORANG TUA", "MERTUA", "FAMILI LAIN"):
        assert seen[rel] > 0, rel
    statuses = collections.Counter(
        m["status_perkawinan"]
        for members in families.values()
        for m in members
        if m["status_hubungan_keluarga"] == "KEPALA KELUARGA"
    )
    assert statuses["CERAI MATI"] > 0 and statuses["BELUM KAWIN"] > 0


def test_parents_names_are_the_parents_in_the_family(families: dict[str, Rows]) -> None:
    checked = 0
    for members in families.values():
        by_rel: dict[str, Rows] = collections.defaultdict(list)
        for m in members:
            by_rel[m["status_hubungan_keluarga"]].append(m)
        couple = by_rel["KEPALA KELUARGA"] + by_rel["SUAMI"] + by_rel["ISTRI"]
        father = [m for m in couple if m["jenis_kelamin"] != PEREMPUAN]
        mother = [m for m in couple if m["jenis_kelamin"] == PEREMPUAN]
        for child in by_rel["ANAK"]:
            if father:
                assert child["nama_ayah"] == father[0]["nama_lengkap"]
            if mother:
                assert child["nama_ibu"] == mother[0]["nama_lengkap"]
            checked += 1
        head = by_rel["KEPALA KELUARGA"][0]
        for parent in by_rel["ORANG TUA"]:
            field = "nama_ibu" if parent["jenis_kelamin"] == PEREMPUAN else "nama_ayah"
            assert head[field] == parent["nama_lengkap"]
    assert checked > 1000


def test_names_addresses_and_places(rows: dict[str, Rows]) -> None:
    regions = load_regions()
    birthplaces = {
        " ".join(n.upper().split())
        .removeprefix("KABUPATEN ADMINISTRASI ")
        .removeprefix("KOTA ADMINISTRASI ")
        .removeprefix("KABUPATEN ")
        .removeprefix("KOTA ")
        for n in regions.regencies.values()
    }
    for r in rows["kependudukan"]:
        for field in ("nama_lengkap", "nama_ayah", "nama_ibu", "alamat", "tempat_lahir"):
            assert r[field] == r[field].upper() and r[field].strip() == r[field], field
            assert "  " not in r[field]
        assert len(r["rt"]) == 3 and r["rt"].isdigit() and r["rt"] != "000"
        assert len(r["rw"]) == 3 and r["rw"].isdigit() and r["rw"] != "000"
        expected = regions.names_for_village(r["kode_wilayah"])
        assert {k: r[k] for k in expected} == expected
        assert r["tempat_lahir"] in birthplaces
    addresses = [r["alamat"] for r in rows["kependudukan"]]
    assert any(a.startswith("JL. ") and " NO. " in a for a in addresses)
    assert any(a.startswith(("DUSUN ", "DSN. ")) for a in addresses)
    assert any(a.startswith("KOMP. ") for a in addresses)


def test_religion_and_names_follow_the_region(rows: dict[str, Rows]) -> None:
    by_prov: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    bali_names = []
    for r in rows["kependudukan"]:
        by_prov[r["provinsi"]][r["agama"]] += 1
        if r["provinsi"] == "Bali" and r["agama"] == "HINDU":
            bali_names.append(r["nama_lengkap"])
    share = {p: {a: n / sum(c.values()) for a, n in c.items()} for p, c in by_prov.items()}
    assert share["Bali"]["HINDU"] > 0.6
    ntt = share["Nusa Tenggara Timur"]
    assert ntt.get("KATHOLIK", 0) + ntt.get("KRISTEN", 0) > 0.7
    assert share["Jawa Barat"]["ISLAM"] > 0.9
    total = collections.Counter(r["agama"] for r in rows["kependudukan"])
    assert 0.75 < total["ISLAM"] / PEOPLE < 0.95
    titled = ("I ", "NI ", "IDA ", "ANAK AGUNG ", "DESAK ")
    assert sum(n.startswith(titled) for n in bali_names) / len(bali_names) > 0.9
    names = [r["nama_lengkap"] for r in rows["kependudukan"]]
    first = collections.Counter(n.split()[0] for n in names)
    assert first["SITI"] > first["YOHANES"] > 0
    muhammads = {"MUHAMMAD", "MUHAMAD", "M.", "MOHAMMAD", "MOCH.", "MOCHAMAD", "MOCHAMMAD"}
    assert len(muhammads & set(first)) >= 5  # the many spellings all occur


def test_schooling_and_work_fit_age(rows: dict[str, Rows]) -> None:
    for r in rows["kependudukan"]:
        years = age(r["tanggal_lahir"])
        if years < 5:
            assert r["pendidikan_terakhir"] == "TIDAK/BELUM SEKOLAH"
            assert r["jenis_pekerjaan"] == "BELUM/TIDAK BEKERJA"
        if years < 19:
            assert r["pendidikan_terakhir"] not in ("SLTA/SEDERAJAT", "DIPLOMA IV/STRATA I")
        if r["pendidikan_terakhir"] in ("DIPLOMA IV/STRATA I", "STRATA II", "STRATA III"):
            assert years >= 22
        if r["jenis_pekerjaan"] in ("PENSIUNAN", "PEGAWAI NEGERI SIPIL", "KARYAWAN SWASTA"):
            assert years > 17.99  # day rounding
    work = collections.Counter(r["jenis_pekerjaan"] for r in rows["kependudukan"])
    for label in ("PETANI/PEKEBUN", "WIRASWASTA", "MENGURUS RUMAH TANGGA", "PELAJAR/MAHASISWA"):
        assert work[label] > PEOPLE * 0.03, label


def test_asn_are_residents_with_consistent_nip(rows: dict[str, Rows]) -> None:
    people = {r["nik"]: r for r in rows["kependudukan"]}
    asn = rows["asn"]
    adults = sum(18 <= age(r["tanggal_lahir"]) <= 60 for r in people.values())
    assert 0.025 < len(asn) / adults < 0.045
    assert len({a["nip"] for a in asn}) == len(asn)
    civil = {"PEGAWAI NEGERI SIPIL", "GURU", "DOSEN", "DOKTER", "BIDAN", "PERAWAT"}
    local = labelled = 0
    for a in asn:
        p = people[a["nik"]]
        for field in ("nama_lengkap", "tanggal_lahir", "jenis_kelamin", "tempat_lahir"):
            assert a[field] == p[field], field
        assert nip_matches(a["nip"], a["tanggal_lahir"], a["jenis_kelamin"])
        info = parse_nip(a["nip"])
        assert info.tmt_year is not None and info.tmt_month is not None
        tmt = date(info.tmt_year, info.tmt_month, 1)
        assert years_between(a["tanggal_lahir"], tmt) >= 18
        assert tmt <= date(2025, 12, 31)
        if a["status_kepegawaian"] == "PPPK":
            assert a["tmt_cpns"] is None
            assert a["golongan"] in {"I", "IV", "V", "VI", "VII", "IX", "X", "XI"}
        else:
            assert a["tmt_cpns"] == tmt
            assert a["golongan"].split("/")[0] in {"I", "II", "III", "IV"}
        if a["status_kepegawaian"] == "CPNS":
            assert tmt >= date(2024, 1, 1)
        if a["jabatan"].startswith("Guru "):
            assert a["jenis_jabatan"] == "FUNGSIONAL"
        local += a["instansi"] in (
            f"Pemerintah {p['kabupaten']}",
            f"Pemerintah Provinsi {p['provinsi']}",
        ) or (
            a["instansi"].startswith("Pemerintah Provinsi DKI")
            and p["provinsi"].endswith("Jakarta")
        )
        labelled += p["jenis_pekerjaan"] in civil
    assert local / len(asn) > 0.4  # mostly the local pemda
    assert labelled / len(asn) > 0.7  # most KTPs say so
    statuses = collections.Counter(a["status_kepegawaian"] for a in asn)
    assert statuses["PNS"] > statuses["PPPK"] > statuses["CPNS"] > 0
    assert collections.Counter(a["kedudukan_hukum"] for a in asn).most_common(1)[0][0] == "AKTIF"
    jabatan = {a["jabatan"] for a in asn}
    assert any(j.startswith(("Pekerja Sosial ", "Penyuluh Sosial ")) for j in jabatan)
    assert "Guru Ahli Pertama" in jabatan
    assert sum(a["gelar_belakang"] is not None for a in asn) > len(asn) / 3
    kemensos = [a for a in asn if a["instansi"] == "Kementerian Sosial"]
    assert kemensos


def test_dtks_households_are_poor_complete_and_contain_some_asn(
    rows: dict[str, Rows], families: dict[str, Rows]
) -> None:
    dtks = rows["dtks"]
    asn = {a["nik"] for a in rows["asn"]}
    households: dict[str, Rows] = collections.defaultdict(list)
    for r in dtks:
        assert 1 <= r["desil"] <= 4
        households[r["id_dtks"]].append(r)
    assert 0.15 < len(dtks) / PEOPLE < 0.5
    for members in households.values():
        kk = {m["no_kk"] for m in members}
        assert len(kk) == 1
        assert {m["nik"] for m in members} == {f["nik"] for f in families[kk.pop()]}
        assert len({(m["desil"], m["penerima_pkh"], m["penerima_bpnt"]) for m in members}) == 1
    with_asn = sum(any(m["nik"] in asn for m in ms) for ms in households.values())
    assert 0.005 < with_asn / len(households) < 0.03
    first = [ms[0] for ms in households.values()]
    pkh = [m for m in first if m["penerima_pkh"]]
    assert pkh and sum(m["penerima_bpnt"] for m in pkh) / len(pkh) > 0.7
    assert sum(m["penerima_pbi_jk"] for m in first) / len(first) > 0.6


def test_regsosek_covers_everyone_and_agrees_with_dtks(rows: dict[str, Rows]) -> None:
    reg = rows["regsosek"]
    people = {r["nik"]: r for r in rows["kependudukan"]}
    assert {r["nik"] for r in reg} == set(people)
    dtks_desil = {r["nik"]: r["desil"] for r in rows["dtks"]}
    by_desil: dict[int, Rows] = collections.defaultdict(list)
    sizes = collections.Counter(r["no_kk"] for r in rows["kependudukan"])
    ijazah = {
        "TIDAK/BELUM SEKOLAH": "TIDAK PUNYA IJAZAH",
        "TAMAT SD/SEDERAJAT": "SD/SEDERAJAT",
        "SLTA/SEDERAJAT": "SMA/SEDERAJAT",
        "DIPLOMA IV/STRATA I": "D4/S1",
    }
    for r in reg:
        if r["nik"] in dtks_desil:
            assert r["desil_kesejahteraan"] == dtks_desil[r["nik"]]
        by_desil[r["desil_kesejahteraan"]].append(r)
        assert r["jumlah_anggota_keluarga"] == sizes[r["no_kk"]]
        p = people[r["nik"]]
        if p["pendidikan_terakhir"] in ijazah:
            assert r["pendidikan_tertinggi"] == ijazah[p["pendidikan_terakhir"]]
        if r["status_bekerja"] != "BEKERJA":
            assert r["lapangan_usaha"] is None
    assert sorted(by_desil) == list(range(1, 11))
    for d in range(1, 11):  # deciles are tenths of the population
        assert 0.07 < len(by_desil[d]) / PEOPLE < 0.13

    def mean(d: int, f: str) -> float:
        return float(sum(r[f] for r in by_desil[d]) / len(by_desil[d]))

    def share(ds: range, field: str, value: str) -> float:
        chosen = [r for d in ds for r in by_desil[d]]
        return float(sum(r[field] == value for r in chosen) / len(chosen))

    spending = [mean(d, "pengeluaran_per_kapita") for d in range(1, 11)]
    assert spending == sorted(spending)
    assert share(range(1, 3), "jenis_lantai", "TANAH") > share(
        range(9, 11), "jenis_lantai", "TANAH"
    )
    assert share(range(9, 11), "jenis_dinding", "TEMBOK") > share(
        range(1, 3), "jenis_dinding", "TEMBOK"
    )
    assert mean(10, "memiliki_mobil") > 3 * mean(1, "memiliki_mobil")
    disabled = sum(r["disabilitas"] != "TIDAK ADA" for r in reg) / len(reg)
    assert 0.01 < disabled < 0.04


def test_a_world_of_one_person(tmp_path: Path) -> None:
    paths = generate_world(1, 3, tmp_path)
    people = pq.read_table(paths["kependudukan"]).to_pylist()
    assert len(people) == 1 and people[0]["status_hubungan_keluarga"] == "KEPALA KELUARGA"
    assert pq.read_table(paths["regsosek"]).num_rows == 1
    assert pq.read_schema(paths["asn"]).names == [
        e.name for e in get_dataset("asn").tabular_elements
    ]


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), people=st.integers(2, 1500))
def test_identifiers_hold_for_any_seed_and_size(seed: int, people: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = generate_world(people, seed, Path(tmp))
        kep = pq.read_table(paths["kependudukan"]).to_pylist()
        asn = pq.read_table(paths["asn"], columns=["nik", "nip"]).to_pylist()
    assert len(kep) == people
    assert len({r["nik"] for r in kep}) == people
    assert all(parse_nik(r["nik"]).valid for r in kep)
    heads = collections.Counter(
        r["no_kk"] for r in kep if r["status_hubungan_keluarga"] == "KEPALA KELUARGA"
    )
    assert set(heads.values()) == {1} and set(heads) == {r["no_kk"] for r in kep}
    niks = {r["nik"] for r in kep}
    assert all(a["nik"] in niks and parse_nip(a["nip"]).valid for a in asn)
