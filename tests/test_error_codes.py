"""Every error code is documented: docs/errors.md is the catalogue `simpul.kit.errorcodes`
reads from the source, and it must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.kit import errorcodes
from simpul.kit.errorcodes import Site, Source

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "errors.md"


@pytest.fixture(scope="module")
def source() -> Source:
    return Source()


@pytest.fixture(scope="module")
def sites(source: Source) -> list[Site]:
    return source.sites()


def test_page_is_current(source: Source) -> None:
    assert PAGE.read_text(encoding="utf-8") == errorcodes.page_of(source), (
        "docs/errors.md is stale: run `make docs`"
    )


# code → (package, HTTP status) as the source has them: a generator that finds nothing, or
# loses a kind of builder (a subclass, `deny`, a helper, a table, the kernel), fails here.
KNOWN = {
    "elemen_di_luar_hibah": ("access", "403"),  # deny(...) in the policy
    "perjanjian_ditangguhkan": ("access", "403"),  # a row of _STATE_REASONS
    "kuota_terlampaui": ("access", "429"),
    "kredensial_tidak_valid": ("access", "401"),
    "berkas_perjanjian_tidak_sah": ("agreements", "422"),  # AgreementFileError
    "audit_gagal_ditulis": ("audit", "503"),  # AuditWriteError(detail)
    "peristiwa_audit_tidak_valid": ("audit", "422"),  # _bad(detail)
    "sql_tidak_valid": ("disclosure", "422"),  # _refuse(code, detail)
    "foto_terlalu_besar": ("face", "413"),
    "foto_format_tidak_didukung": ("face", "415"),  # FaceError
    "operasi_tanpa_audit": ("kernel", "500"),  # Unaccounted
    "galat_internal": ("kernel", "500"),
    "keterangan_wajib": ("obligations", "422"),  # _require(text, code, what)
    "pekerjaan_tidak_ditemukan": ("pemadanan", "404"),  # NotFound(*NOT_FOUND)
    "dataset_tidak_dikenal": ("registry", "404"),
    "batch_terlalu_besar": ("services", "413"),
    "grant_type_tidak_didukung": ("services", "400"),
    "nik_panjang_salah": ("services", "422"),  # parse_nik's first error, passed on
    "permintaan_tidak_valid": (errorcodes.TOP_LEVEL, "422"),  # the app's own handler
}


def test_finds_the_codes_known_to_exist(sites: list[Site]) -> None:
    entries = {(e.package, e.code): e for e in errorcodes.catalogue(sites)}
    for code, (package, status) in KNOWN.items():
        entry = entries.get((package, code))
        assert entry is not None, f"{code} not found in {package}"
        assert status in entry.statuses, (code, entry.statuses)
        assert entry.details, f"{code}: no detail found"
    assert len(errorcodes.codes(sites)) >= 150
    assert entries[("kernel", "operasi_tanpa_audit")].details == (
        "Jawaban ditahan: operasi tidak mencatat pengungkapannya di log audit.",
    )
    # an f-string keeps its placeholders as written; a helper's literal argument fills its own
    assert "{angka(MAX_ITEMS)}" in entries[("services", "batch_terlalu_besar")].details[0]
    assert "Keterangan wajib diisi." in entries[("obligations", "keterangan_wajib")].details


def test_every_code_in_the_source_is_on_the_page(sites: list[Site]) -> None:
    assert errorcodes.undocumented(PAGE.read_text(encoding="utf-8"), sites) == [], (
        "codes missing from docs/errors.md: run `make docs`"
    )


def test_a_new_code_is_missing_from_the_page_until_regenerated(
    tmp_path: Path, source: Source
) -> None:
    tree = tmp_path / "simpul"
    for path in errorcodes.SOURCE.rglob("*.py"):
        target = tree / path.relative_to(errorcodes.SOURCE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tree / "access" / "uji_baru.py").write_text(
        "from simpul.access.policy import deny\n"
        "from simpul.errors import InvalidInput, SimpulError\n\n\n"
        "def _tolak(code: str, detail: str) -> SimpulError:\n"
        "    return SimpulError(code, detail, status=418)\n\n\n"
        "def periksa(x: int) -> None:\n"
        "    if x:\n"
        "        raise InvalidInput('kode_uji_baru', 'Kode uji baru.')\n"
        "    raise _tolak('kode_uji_pembantu', f'Uji {x!r}.')\n\n\n"
        "def putuskan() -> object:\n"
        "    return deny('kode_uji_kebijakan', 403, 'Ditolak uji.')\n",
        encoding="utf-8",
    )
    sites = errorcodes.collect(tree)
    new = {s.code: s for s in sites if s.module == "simpul.access.uji_baru"}
    assert {c: (s.status, s.detail) for c, s in new.items()} == {
        "kode_uji_baru": (422, "Kode uji baru."),
        "kode_uji_pembantu": (418, "Uji {x!r}."),
        "kode_uji_kebijakan": (403, "Ditolak uji."),
    }
    # the page as it was before the new module: exactly the new codes are missing from it
    assert errorcodes.undocumented(errorcodes.page_of(source), sites) == sorted(new)
    assert errorcodes.undocumented(errorcodes.page(tree), sites) == []
