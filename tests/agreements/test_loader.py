"""Loading agreement YAML: the seeds are valid and faithful; malformed files name key and line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from simpul.agreements.checks import validate_agreement
from simpul.agreements.loader import (
    AgreementFileError,
    demo_dir,
    read_documents,
    read_yaml,
    seed_dir,
)
from simpul.agreements.schemas import (
    AgreementDocument,
    FeedbackDuty,
    Mechanism,
    Service,
    TriggerKind,
)
from tests.agreements.helpers import SEED_IDS, line_of, replace_once, seed_text, write


def _seeds() -> dict[str, AgreementDocument]:
    agreements, addenda = read_documents([seed_dir()])
    assert addenda == []
    return {a.document.id: a.document for a in agreements}


def test_every_seed_file_validates_and_round_trips() -> None:
    docs = _seeds()
    assert sorted(docs) == list(SEED_IDS)
    for doc in docs.values():
        # What is stored (Indonesian keys, profiles expanded) validates to the same document.
        assert validate_agreement(doc.to_data()) == doc


def test_seed_terms_follow_the_texts() -> None:
    docs = _seeds()
    terms = {k: (d.signed_on, d.starts_on, d.ends_on) for k, d in docs.items()}
    assert terms == {
        # 003 Pasal 5: until 30 June 2026.
        "pks-dukcapil-bkn": (date(2024, 6, 28), date(2024, 6, 28), date(2026, 6, 30)),
        # 001 Pasal 6(1): 3 years from 3 April 2023.
        "pks-kemensos-bkn": (date(2023, 4, 3), date(2023, 4, 3), date(2026, 4, 2)),
        # 004 Pasal 7(1): until 31 December 2024.
        "pks-kemenkop-bkn": (date(2022, 9, 12), date(2022, 9, 12), date(2024, 12, 31)),
        # 000 Pasal 5(1): 2 years from signing (template date chosen: 15 December 2023).
        "pks-bappenas-jabar": (date(2023, 12, 15), date(2023, 12, 15), date(2025, 12, 14)),
    }


def test_dukcapil_grants_expand_the_pks_element_lists() -> None:
    doc = _seeds()["pks-dukcapil-bkn"]
    grants = {g.id: g for g in doc.grants}
    verify = grants["hibah-verifikasi-ws"]
    assert (verify.service, verify.mechanism) == (Service.VERIFIKASI, Mechanism.WEB_SERVICE)
    assert len(verify.input_elements) == 10  # NIK + 9 elements, Pasal 2(1)a
    assert verify.output_elements == ()
    portal = grants["hibah-akses-nik-portal"]
    assert len(portal.output_elements) == 13 and "anggota_keluarga" in portal.output_elements
    assert len(grants["hibah-ikd-ws"].output_elements) == 9
    assert grants["hibah-verifikasi-wajah-ws"].return_score is True
    feedback = next(d for d in doc.duties if isinstance(d, FeedbackDuty))
    assert feedback.elements == ("nip", "status_kepegawaian", "kedudukan_hukum")
    kinds = {t.kind for t in doc.triggers}
    assert TriggerKind.NOMENCLATURE_CHANGE in kinds


def test_kemensos_bkn_is_two_way_and_bappenas_bnba_is_west_java() -> None:
    docs = _seeds()
    two_way = {(g.provider, g.recipient) for g in docs["pks-kemensos-bkn"].grants}
    assert two_way == {("bkn", "kemensos"), ("kemensos", "bkn")}
    bnba = next(g for g in docs["pks-bappenas-jabar"].grants if g.service is Service.BNBA)
    assert bnba.region_scope == ("32",)
    assert bnba.covers_region("3273010001") and not bnba.covers_region("3171010001")
    bpum = docs["pks-kemenkop-bkn"].grants[0]
    assert bpum.input_elements == ("nik", "nama_lengkap", "tanggal_lahir")
    assert bpum.output_elements == ("instansi",)


def test_every_grant_and_duty_cites_a_pasal() -> None:
    for doc in _seeds().values():
        for item in (*doc.grants, *doc.duties, *doc.prohibitions, *doc.triggers):
            assert item.clause.startswith("Pasal ")


def test_silent_choices_are_marked_in_the_seed_files() -> None:
    # Values the texts do not set carry the agreed marker next to them.
    text = seed_text("pks-dukcapil-bkn")
    for key in ("ambang_kemiripan:", "tampilkan_skor: false", "bulan_tenggat:"):
        assert "# tidak diatur PKS: nilai bawaan" in text.splitlines()[line_of(text, key) - 1]


def test_demo_addenda_are_labelled() -> None:
    _, addenda = read_documents([demo_dir()])
    assert len(addenda) == 4
    for item in addenda:
        assert item.document.demo is True
        assert "ADENDUM DEMO — bukan dokumen resmi" in item.document.title
        assert "ADENDUM DEMO — bukan dokumen resmi" in item.source.path.read_text("utf-8")


Mutation = Callable[[str], str]
BASE = "pks-dukcapil-bkn"

MALFORMED: list[tuple[str, Mutation, str, str, str]] = [
    # (case, mutation, needle on the expected line, expected key, expected message part)
    (
        "unknown key",
        lambda t: replace_once(
            t, "    layanan: verifikasi\n", "    layanan: verifikasi\n    warna: merah\n"
        ),
        "warna: merah",
        "hibah[0].warna",
        "kunci tidak dikenal",
    ),
    (
        "wrong type",
        lambda t: replace_once(t, "titik_akses: 1", "titik_akses: satu"),
        "titik_akses: satu",
        "sarana_akses.titik_akses",
        "bilangan bulat",
    ),
    (
        "unknown dataset",
        lambda t: replace_once(t, "dataset: asn", "dataset: pegawai"),
        "dataset: pegawai",
        "kewajiban[0].dataset",
        "dataset 'pegawai' tidak dikenal",
    ),
    (
        "unknown element",
        lambda t: replace_once(t, "[nik, foto_wajah]", "[nik, foto]"),
        "[nik, foto]",
        "hibah[1].elemen_masukan[1]",
        "elemen 'foto' tidak ada pada dataset kependudukan",
    ),
    (
        "unknown service",
        lambda t: replace_once(t, "layanan: verifikasi\n", "layanan: verifikasii\n"),
        "layanan: verifikasii",
        "hibah[0].layanan",
        "'verifikasii' tidak dikenal",
    ),
    (
        "unknown mechanism",
        lambda t: replace_once(t, "mekanisme: web_portal", "mekanisme: portal"),
        "mekanisme: portal",
        "hibah[2].mekanisme",
        "'portal' tidak dikenal",
    ),
    (
        "bad date",
        lambda t: replace_once(
            t, "tanggal_tanda_tangan: 2024-06-28", "tanggal_tanda_tangan: 2024-02-30"
        ),
        "tanggal_tanda_tangan: 2024-02-30",
        "tanggal_tanda_tangan",
        "bukan tanggal yang sah",
    ),
    (
        "end before start",
        lambda t: replace_once(t, "berakhir: 2026-06-30", "berakhir: 2023-06-30"),
        "berakhir: 2023-06-30",
        "jangka_waktu.berakhir",
        "sebelum tanggal mulai",
    ),
    (
        "unknown duty kind",
        lambda t: replace_once(t, "jenis: laporan_semester", "jenis: laporan_bulanan"),
        "jenis: laporan_bulanan",
        "kewajiban[1].jenis",
        "'laporan_bulanan' tidak dikenal",
    ),
    (
        "duplicate key",
        lambda t: replace_once(
            t, "status_awal: berlaku\n", "status_awal: berlaku\nstatus_awal: draf\n"
        ),
        "status_awal: draf",
        "status_awal",
        "kunci ganda",
    ),
    (
        "family members as input",
        lambda t: replace_once(t, "[nik, foto_wajah]", "[nik, foto_wajah, anggota_keluarga]"),
        "[nik, foto_wajah, anggota_keluarga]",
        "hibah[1].elemen_masukan[2]",
        "hanya boleh pada keluaran layanan akses_nik",
    ),
    (
        "verification may not disclose",
        lambda t: replace_once(
            t,
            "hasil: [data_tidak_ditemukan, sesuai",
            "elemen_keluaran: [nama_lengkap]\n    hasil: [data_tidak_ditemukan, sesuai",
        ),
        "elemen_keluaran: [nama_lengkap]",
        "hibah[0].elemen_keluaran",
        "tidak pernah membuka nilai tersimpan",
    ),
    (
        "unknown region",
        lambda t: replace_once(
            t,
            "    mekanisme: web_portal\n",
            '    mekanisme: web_portal\n    cakupan_wilayah: ["99"]\n',
        ),
        'cakupan_wilayah: ["99"]',
        "hibah[2].cakupan_wilayah[0]",
        "kode wilayah '99' tidak dikenal",
    ),
    (
        "grant to a non-party",
        lambda t: replace_once(t, "    penerima: bkn\n", "    penerima: kemensos\n"),
        "penerima: kemensos",
        "hibah[0].penerima",
        "bukan pihak perjanjian",
    ),
    (
        "bad period",
        lambda t: replace_once(t, "tenggat: 2 bulan", "tenggat: dua bulan"),
        "tenggat: dua bulan",
        "kewajiban[3].tenggat",
        "'30 hari', '2 bulan' atau '3 tahun'",
    ),
    (
        "missing required key",
        lambda t: replace_once(
            t, "    tujuan: Pemanfaatan Identitas Kependudukan Digital (IKD).\n", ""
        ),
        "  - id: hibah-ikd-ws",
        "hibah[3].tujuan",
        "kunci wajib belum diisi",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutate", "needle", "key", "message"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_file_names_key_and_line(
    tmp_path: Path, case: str, mutate: Mutation, needle: str, key: str, message: str
) -> None:
    text = mutate(seed_text(BASE))
    path = write(tmp_path, "pks.yaml", text)
    with pytest.raises(AgreementFileError) as info:
        read_documents([path])
    rendered = [str(i) for i in info.value.issues]
    expected = f"{path}:{line_of(text, needle)} {key}: "
    assert any(r.startswith(expected) and message in r for r in rendered), rendered
    assert info.value.code == "berkas_perjanjian_tidak_sah"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = replace_once(
        seed_text(BASE), "  - kode: bkn\n", "  - kode: bkn\n    nama: [tidak ditutup\n"
    )
    path = write(tmp_path, "rusak.yaml", text)
    with pytest.raises(AgreementFileError) as info:
        read_yaml(path)
    (issue,) = info.value.issues
    assert issue.key == "(sintaks)" and "galat sintaks YAML" in issue.message
    assert issue.line is not None and abs(issue.line - line_of(text, "[tidak ditutup")) <= 1


def test_all_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    good = write(tmp_path, "a.yaml", seed_text("pks-kemenkop-bkn"))
    bad1 = write(
        tmp_path, "b.yaml", replace_once(seed_text(BASE), "layanan: verifikasi\n", "layanan: x\n")
    )
    bad2 = write(tmp_path, "c.yaml", "id: [\n")
    with pytest.raises(AgreementFileError) as info:
        read_documents([tmp_path])
    paths = {i.path for i in info.value.issues}
    assert paths == {str(bad1), str(bad2)}
    assert str(good) not in info.value.detail


def test_duplicate_agreement_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", seed_text(BASE))
    write(tmp_path, "b.yaml", seed_text(BASE))
    with pytest.raises(AgreementFileError, match="juga dipakai"):
        read_documents([tmp_path])


def test_missing_path_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AgreementFileError, match="tidak ditemukan"):
        read_documents([tmp_path / "tidak-ada.yaml"])
    with pytest.raises(AgreementFileError, match="berkas kosong"):
        read_documents([write(tmp_path, "kosong.yaml", "# hanya komentar\n")])


def test_single_obligor_may_be_written_without_a_list(tmp_path: Path) -> None:
    text = replace_once(seed_text(BASE), "    oleh: [dukcapil]\n", "    oleh: dukcapil\n")
    (item,), _ = read_documents([write(tmp_path, "pks.yaml", text)])
    assert item.document.duties[2].by == ("dukcapil",)


def test_term_needs_exactly_one_of_end_or_duration(tmp_path: Path) -> None:
    both = replace_once(
        seed_text(BASE), "  berakhir: 2026-06-30\n", "  berakhir: 2026-06-30\n  durasi: 2 tahun\n"
    )
    with pytest.raises(AgreementFileError) as info:
        read_documents([write(tmp_path, "a.yaml", both)])
    assert [i.key for i in info.value.issues] == ["jangka_waktu.durasi"]
    neither = replace_once(seed_text(BASE), "  berakhir: 2026-06-30\n", "")
    with pytest.raises(AgreementFileError) as info:
        read_documents([write(tmp_path, "b.yaml", neither)])
    assert [i.key for i in info.value.issues] == ["jangka_waktu.berakhir"]


def test_a_signed_state_needs_a_signing_date(tmp_path: Path) -> None:
    text = replace_once(seed_text(BASE), "tanggal_tanda_tangan: 2024-06-28\n", "")
    with pytest.raises(AgreementFileError) as info:
        read_documents([write(tmp_path, "a.yaml", text)])
    keys = {i.key for i in info.value.issues}
    assert keys == {"status_awal", "jangka_waktu.mulai"}
