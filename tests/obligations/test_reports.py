"""Reports and official documents, checked by their content: figures against what was
done, PDF text (parties, numbers, counts, dates in words); a PNG of each first page is
written to test-artefacts/obligations for a person to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism
from simpul.app import create_app
from simpul.errors import InvalidInput
from simpul.obligations import feedback, reports, rollups
from simpul.registry.repository import RegistryRepository
from simpul.services import service
from tests.obligations.conftest import ARTEFACTS, World

BKN = "pks-dukcapil-bkn"


def pdf_text(pdf: bytes) -> str:
    text = " ".join(page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages)
    return re.sub(r"-\s+", "-", re.sub(r"\s+", " ", text))  # ids wrap at hyphens in cells


def keep(name: str, pdf: bytes, backend: str) -> None:
    """Write the PDF and a PNG of its first page for a person to look at."""
    if backend != "sqlite":
        return
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTEFACTS / f"{name}.pdf"
    target.write_bytes(pdf)
    png = ARTEFACTS / f"{name}-halaman-1.png"
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(target),
             str(png.with_suffix(""))],
            check=True,
        )  # fmt: skip
    else:
        import pypdfium2 as pdfium

        pdfium.PdfDocument(pdf)[0].render(scale=80 / 72).to_pil().save(png)
    assert png.stat().st_size > 1000


def deny_some(world: World, nik: str, n: int) -> None:
    """Requests refused: an element outside the grant (PKS 003 verifies 10 elements)."""
    for _ in range(n):
        code = world.refused(
            "bkn.klien", Mechanism.WEB_SERVICE, "verifikasi", service.verify_elements,
            "kependudukan", nik, {"nama_ibu": "SITI"},
        )  # fmt: skip
        assert code == "elemen_di_luar_hibah"


def test_usage_report_counts_what_was_done(world: World, backend: str) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 8, 5))
    assert all(world.verify("bkn.klien", [p["nik"] for p in people[:5]]))
    world.at(date(2024, 10, 7))
    assert all(world.verify("bkn.klien", [p["nik"] for p in people[5:8]]))
    deny_some(world, people[0]["nik"], 2)
    world.at(date(2025, 1, 10))  # outside the semester: not counted
    world.verify("bkn.klien", [people[9]["nik"]])
    with world.session() as s:
        u = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
        html = reports.usage_html(u)
    assert (u.records, u.allowed, u.denied, u.subjects) == (10, 8, 2, 8)
    assert u.by_service == {"verifikasi": 8} and u.by_mechanism == {"web_service": 8}
    assert u.by_month == {"2024-08": {"verifikasi": 5}, "2024-10": {"verifikasi": 3}}
    assert u.denials == {"elemen_di_luar_hibah": 2}
    assert u.active_accounts == 1 and u.top_users[0][:3] == ("bkn.klien", "bkn", 8)
    with world.session() as s:
        in_registry = RegistryRepository(s).get_many("kependudukan", [p["nik"] for p in people[:8]])
    expected = {"ditemukan": len(in_registry), "data_tidak_ditemukan": 8 - len(in_registry)}
    assert u.outcomes == {k: v for k, v in expected.items() if v}
    assert u.feedback[0]["terutang"] == 8 and u.feedback[0]["diterima"] == 0
    assert "<svg" in html and "<script" not in html
    pdf = reports.pdf(html)
    text = pdf_text(pdf)
    assert "Direktorat Jenderal Kependudukan dan Pencatatan Sipil" in text
    assert "Badan Kepegawaian Negara" in text and "dua (2)" in text.lower()
    assert "elemen_di_luar_hibah" in text and "bkn.klien" in text
    keep("laporan-penggunaan", pdf, backend)


def test_usage_report_with_half_the_feedback_received(world: World) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 9, 2))
    niks = [p["nik"] for p in people[:4]]
    world.verify("bkn.klien", niks)
    nip = world.tables["asn"][0]["nip"]
    body = "nik,nip,status_kepegawaian,kedudukan_hukum\n" + "".join(
        f"{n},{nip},PNS,AKTIF\n" for n in niks[:2]
    )
    with world.session() as s:
        feedback.upload(s, world.settings, world.clock, BKN, body.encode(), filename="a.csv",
                        actor="bkn.klien", institution="bkn")  # fmt: skip
    with world.session() as s:
        u = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
    assert (u.feedback[0]["terutang"], u.feedback[0]["diterima"], u.feedback[0]["persen"]) == (
        4, 2, 50.0,
    )  # fmt: skip


def test_semester_report_pdf_dates_in_words(world: World, backend: str) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 11, 4))
    world.verify("bkn.klien", [p["nik"] for p in people[:3]])
    world.at(date(2025, 1, 6))  # a Monday
    with world.session() as s:
        rep = reports.submit_semester_report(
            s, world.settings, world.clock, BKN, 2024, 2,
            narrative="Verifikasi data calon ASN berjalan lancar.", actor="bkn.admin",
            institution="bkn",
        )  # fmt: skip
        html = reports.semester_report_html(s, rep)
    pdf = reports.pdf(html)
    text = pdf_text(pdf)
    assert "Senin, tanggal enam bulan Januari tahun dua ribu dua puluh lima" in text
    assert "Badan Kepegawaian Negara" in text and "berjalan lancar" in text
    assert re.search(r"Permintaan diizinkan 3\b", text)
    keep("laporan-semester", pdf, backend)


def test_evaluation_summary_for_the_minister(world: World, backend: str) -> None:
    world.at(date(2024, 7, 15))
    with world.session() as s:
        reports.record_evaluation(
            s, world.settings, world.clock, "pks-bappenas-jabar", period="2024-S1",
            findings=["Laporan semester terlambat 15 hari"], recommendation="perbaiki",
            evaluator="bappenas.admin",
        )  # fmt: skip
        reports.record_evaluation(
            s, world.settings, world.clock, "pks-kemensos-bkn", period="2024-S1",
            findings=["Integrasi data jabatan fungsional berjalan"], recommendation="lanjut",
            evaluator="bkn.admin",
        )  # fmt: skip
    with world.session() as s:
        html = reports.evaluation_summary_html(s, world.settings, world.clock)
    pdf = reports.pdf(html)
    text = pdf_text(pdf)
    assert "empat (4) perjanjian" in text
    assert "Laporan semester terlambat 15 hari" in text and "perbaiki" in text
    assert all(a in text for a in ("pks-bappenas-jabar", "pks-kemenkop-bkn", "pks-kemensos-bkn"))
    keep("ringkasan-evaluasi", pdf, backend)


def test_evaluation_refuses_an_unknown_recommendation(world: World) -> None:
    with world.session() as s, pytest.raises(InvalidInput) as exc:
        reports.record_evaluation(
            s, world.settings, world.clock, BKN, period="2024-S2", findings=["x"],
            recommendation="bubarkan", evaluator="a",
        )  # fmt: skip
    assert exc.value.code == "rekomendasi_tidak_sah"


def test_berita_acara_penetapan_lists_users_and_operators(
    world: World, backend: str, tmp_path: Path
) -> None:
    world.at(date(2024, 1, 15))  # a Monday
    with world.session() as s:
        html = reports.designation_html(s, world.clock, "pks-bappenas-jabar")
    pdf = reports.pdf(html)
    text = pdf_text(pdf)
    assert "Senin, tanggal lima belas bulan Januari tahun dua ribu dua puluh empat" in text
    assert "Dewi Lestari" in text and "Budi Santoso" in text
    assert "satu (1) Pengguna Data dan satu (1) Operator" in text
    assert "Kementerian Perencanaan Pembangunan Nasional" in text or "Bappenas" in text
    keep("berita-acara-penetapan", pdf, backend)


def test_rollups_refresh_incrementally_and_agree_with_the_log(world: World) -> None:
    people = world.tables["kependudukan"]
    world.at(date(2024, 8, 5))
    world.verify("bkn.klien", [p["nik"] for p in people[:4]])
    with world.session() as s:
        first = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
    world.at(date(2024, 9, 9))
    world.verify("bkn.klien", [p["nik"] for p in people[2:7]])  # two subjects again
    deny_some(world, people[0]["nik"], 1)
    with world.session() as s:
        second = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
        again = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)  # nothing new
    assert (first.records, second.records, again.records) == (4, 10, 10)
    assert second.by_month == {"2024-08": {"verifikasi": 4}, "2024-09": {"verifikasi": 5}}
    assert second.denials == {"elemen_di_luar_hibah": 1}
    assert second.feedback[0]["terutang"] == 7  # distinct subjects, first access kept
    # The rollup's counts equal those computed from the log directly.
    with world.session() as s:
        doc = agreements.document_of(agreements.get(s, BKN))
        duty = feedback.feedback_duties(doc)[0]
        today = date(2024, 12, 1)
        direct = feedback.completeness(s, world.settings, BKN, doc, duty, today)
        rolled = feedback.completeness(s, world.settings, BKN, doc, duty, today, rollup=True)
    assert direct == rolled and direct.owed == 7 and direct.overdue == 7


def test_server_keeps_rollups_current_without_a_report(world: World) -> None:
    """Each worker's lifespan task folds new log records into the rollups on its own, so a
    report after a busy semester reads aggregates instead of the whole log."""
    people = world.tables["kependudukan"]
    world.at(date(2024, 8, 5))
    world.verify("bkn.klien", [p["nik"] for p in people[:6]])
    deny_some(world, people[0]["nik"], 2)
    settings = world.settings.model_copy(update={"rollup_refresh_seconds": 0.1})
    query = (
        "SELECT (SELECT last_seq FROM obligation_rollup_state WHERE name = 'usage'), "
        "(SELECT max(seq) FROM audit_record), "
        "(SELECT coalesce(sum(records), 0) FROM usage_rollup), "
        "(SELECT count(*) FROM audit_record WHERE decision IN ('izin', 'tolak'))"
    )
    with TestClient(create_app(settings, world.rt)):
        for _ in range(100):
            with world.session() as s:
                last, head, rolled, decided = s.execute(text(query)).one()
            if last == head:
                break
            time.sleep(0.1)
    assert last == head and rolled == decided >= 8


def test_rollups_rebuilt_from_scratch_equal_the_incremental_ones(world: World) -> None:
    people = world.tables["kependudukan"]
    for day, lo in ((date(2024, 8, 5), 0), (date(2024, 9, 9), 3), (date(2024, 10, 1), 5)):
        world.at(day)
        world.verify("bkn.klien", [p["nik"] for p in people[lo : lo + 4]])
        deny_some(world, people[lo]["nik"], 1)
        with world.session() as s:  # folded in step by step
            stepwise = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
    with world.session() as s:
        rollups.reset(s)
        assert s.execute(text("SELECT count(*) FROM usage_rollup")).scalar_one() == 0
    with world.session() as s:
        rebuilt = reports.usage(s, world.settings, world.clock, BKN, 2024, 2)
    assert rebuilt.records == stepwise.records == 15  # 12 verifications, 3 refusals
    assert (rebuilt.by_month, rebuilt.denials, rebuilt.feedback) == (
        stepwise.by_month, stepwise.denials, stepwise.feedback,
    )  # fmt: skip
