"""Upload → job → results over HTTP for the PKS workflows, checked against the truth file."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from simpul.audit.models import AuditRecord
from simpul.audit.service import subject_history
from simpul.matching.evaluate import read_truth
from simpul.pemadanan.repository import JobRepository
from simpul.registry.synth import sample_list

from .conftest import Env

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "pemadanan"


def _csv(text: str) -> list[dict[str, str]]:
    """A downloaded list: its first line cites the source (PKS 000 Pasal 7(2)), then CSV."""
    first, _, rest = text.partition("\n")
    assert first.startswith("# Sumber: ") and "Pasal 7 ayat (2)" in first, first
    return list(csv.DictReader(io.StringIO(rest)))


@pytest.fixture
def bpum(env: Env, tmp_path: Path) -> tuple[Path, list[str], list[bool]]:
    out = tmp_path / "bpum.csv"
    truth_file = sample_list("bpum", 400, 3, env.world, out)
    truth, _ = read_truth(truth_file)
    with truth_file.open() as fh:
        is_asn = [r["is_asn"] == "1" for r in csv.DictReader(fh)]
    return out, truth, is_asn


def test_bpum_screening_eliminates_asn_and_returns_feedback(env: Env, bpum) -> None:
    path, truth, is_asn = bpum
    resp = env.submit("kemenkop.operator", path, alur="bpum")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    assert resp.headers["location"].endswith(job_id)
    state = env.wait("kemenkop.operator", job_id)
    assert state["status"] == "selesai", state
    assert state["layanan"] == "cek_status" and state["perjanjian"] == "pks-kemenkop-bkn"
    counts = state["jumlah"]
    assert sum(counts.values()) == len(truth)  # every row, duplicates included

    with env.rt.transaction() as s:
        _, rows = JobRepository(s).results(job_id, limit=None)
        linked = {r.line: r.nik_cocok for r in rows}
    hits = [line for line, nik in linked.items() if nik]
    # Every ASN found is truly that ASN; nearly all planted ASN are found.
    for line in hits:
        assert is_asn[line - 2] and linked[line] == truth[line - 2]
    assert len(hits) >= 0.95 * sum(is_asn)

    h = env.basic("kemenkop.operator")
    hasil = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/hasil.csv", headers=h).text)
    assert len(hasil) == len(rows)
    assert "nik_cocok" not in hasil[0]  # PKS 004 grants instansi only, never the NIK
    asn_rows = [r for r in hasil if r["hasil"] == "ASN"]
    assert asn_rows and all(r["instansi"] for r in asn_rows if r["status"] != "kemungkinan_cocok")
    penerima = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/daftar/penerima.csv",
                                   headers=h).text)  # fmt: skip
    balikan = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/daftar/balikan.csv",
                                  headers=h).text)  # fmt: skip
    kept = {int(r["baris"]) for r in penerima}
    assert not kept & {int(r["baris"]) for r in balikan}
    assert all(not linked[line] for line in kept)

    # One audit record for the job, with the found ASN in their access history.
    with env.rt.transaction() as s:
        records = s.scalars(select(AuditRecord).where(AuditRecord.request_id == job_id)).all()
        assert len(records) == 1 and records[0].decision == "izin"
        someone = next(nik for nik in linked.values() if nik)
        history = subject_history(s, env.settings, someone)
        assert any(a.request_id == job_id for a in history)


def test_berita_acara_pdf_reads_as_official_minutes(env: Env, bpum) -> None:
    path, _truth, _ = bpum
    job_id = env.submit("kemenkop.operator", path, alur="bpum").json()["id"]
    state = env.wait("kemenkop.operator", job_id)
    resp = env.client.get(
        f"/api/v1/pemadanan/{job_id}/berita-acara.pdf", headers=env.basic("kemenkop.operator")
    )
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    from pypdf import PdfReader

    text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(resp.content)).pages)
    flat = " ".join(text.split())
    assert "BERITA ACARA HASIL PEMADANAN DATA" in flat.upper()
    assert (
        "Pada hari ini Senin, tanggal dua puluh tiga bulan November tahun dua ribu dua puluh enam"
        in flat
    )
    assert "81/PKS/D.2/IX/2022" in flat and "28/HM.04.01/2022" in flat
    assert "PIHAK KESATU" in flat and "PIHAK KEDUA" in flat
    cocok = state["jumlah"]["cocok"] + state["jumlah"]["cocok_nik_elemen_berbeda"]
    assert f"{state['jumlah']['tidak_ditemukan']:,}".replace(",", ".") in flat
    assert cocok >= 0
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTEFACTS / "berita-acara.pdf"
    pdf.write_bytes(resp.content)
    png = ARTEFACTS / "berita-acara-halaman-1.png"
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
             str(png.with_suffix(""))],
            check=True,
        )  # fmt: skip
    else:
        import pypdfium2 as pdfium

        page = pdfium.PdfDocument(resp.content)[0]
        page.render(scale=80 / 72).to_pil().save(png)
    assert png.stat().st_size > 1000


def test_kpm_discrepancy_list_and_clerical_review(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "kpm.csv"
    sample_list("kpm", 600, 4, env.world, out)
    h = env.basic("kemensos.operator")
    # Acceptance threshold 1: every probable match waits for a reviewer.
    job_id = env.submit("kemensos.operator", out, alur="kpm", ambang_terima=1).json()["id"]
    state = env.wait("kemensos.operator", job_id)
    assert state["status"] == "selesai", state
    assert state["ambang_terima"] == 1.0
    lists = env.client.get(f"/api/v1/pemadanan/{job_id}/daftar/selisih.csv", headers=h)
    selisih = _csv(lists.text)
    assert all(r["status"] in ("cocok_nik_elemen_berbeda", "kemungkinan_cocok") for r in selisih)
    page = env.client.get(
        f"/api/v1/pemadanan/{job_id}/hasil", params={"status": "kemungkinan_cocok"}, headers=h
    ).json()
    assert page["item"], "the sample plants ASN without a usable NIK"
    line = page["item"][0]["baris"]
    assert page["item"][0]["probabilitas"] >= 0.5
    before = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/hasil.csv", headers=h).text)
    assert next(r for r in before if int(r["baris"]) == line)["hasil"] == "data_tidak_ditemukan"
    resp = env.client.post(
        f"/api/v1/pemadanan/{job_id}/hasil/{line}/tinjau",
        json={"keputusan": "diterima", "alasan": "nama dan tanggal lahir cocok"}, headers=h,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["tinjauan"] == "diterima"
    after = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/hasil.csv", headers=h).text)
    assert next(r for r in after if int(r["baris"]) == line)["hasil"] == "ASN"
    with env.rt.transaction() as s:
        acts = s.scalars(select(AuditRecord).where(AuditRecord.action == "pemadanan.tinjau")).all()
        assert len(acts) == 1 and acts[0].actor == "kemensos.operator"
    # A cocok row cannot be reviewed.
    first = next(r for r in after if r["status"] == "cocok" or r["status"] == "tidak_ditemukan")
    resp = env.client.post(
        f"/api/v1/pemadanan/{job_id}/hasil/{first['baris']}/tinjau",
        json={"keputusan": "ditolak"}, headers=h,
    )  # fmt: skip
    assert resp.status_code == 409


def test_regsosek_matching_is_refused_without_bnba(env: Env, bpum) -> None:
    path, _truth, _ = bpum
    resp = env.submit("kemenkop.operator", path, dataset="regsosek")
    assert resp.status_code == 403
    assert resp.json()["code"] in ("pemadanan_regsosek_khusus_bnba",)


def test_other_institutions_cannot_see_a_job(env: Env, bpum) -> None:
    path, _truth, _ = bpum
    job_id = env.submit("kemenkop.operator", path, alur="bpum").json()["id"]
    resp = env.client.get(f"/api/v1/pemadanan/{job_id}", headers=env.basic("kemensos.operator"))
    assert resp.status_code == 404
    env.wait("kemenkop.operator", job_id)


def test_bad_upload_is_refused_with_a_clear_error_and_no_job(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "kosong.csv"
    path.write_text("NIK,NAMA,TANGGAL_LAHIR\n", encoding="utf-8")
    resp = env.submit("kemenkop.operator", path, alur="bpum")
    assert resp.status_code == 422 and resp.json()["code"] == "tidak_ada_baris"
    listed = env.client.get("/api/v1/pemadanan", headers=env.basic("kemenkop.operator")).json()
    assert listed == []


def test_regsosek_matching_for_a_bnba_holder_stays_in_its_region(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "daerah.csv"
    truth_file = sample_list("kpm", 400, 12, env.world, out)
    truth, _ = read_truth(truth_file)
    table = pq.read_table(env.world / "regsosek.parquet", columns=["nik", "kode_wilayah"])
    region = dict(zip(table.column("nik").to_pylist(), table.column("kode_wilayah").to_pylist(),
                      strict=True))  # fmt: skip
    h = env.basic("pemprov-jabar.operator")
    resp = env.submit("pemprov-jabar.operator", out, dataset="regsosek")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    state = env.wait("pemprov-jabar.operator", job_id)
    assert state["status"] == "selesai" and state["alur"] == "regsosek", state
    hasil = _csv(env.client.get(f"/api/v1/pemadanan/{job_id}/hasil.csv", headers=h).text)
    with env.rt.transaction() as s:
        _, rows = JobRepository(s).results(job_id, limit=None)
    linked = [r for r in rows if r.nik_cocok]
    assert linked, "some listed families live in Jawa Barat"
    assert all(region[r.nik_cocok].startswith("32") for r in linked)  # the grant's scope
    outside = [
        r for r in rows if truth[r.line - 2] and not region[truth[r.line - 2]].startswith("32")
    ]
    assert outside and all(r.status == "tidak_ditemukan" for r in outside)
    assert "desil_kesejahteraan" in hasil[0]


def test_bad_rows_are_reported_by_line_and_the_good_rows_run(env: Env, tmp_path: Path) -> None:
    people = pq.read_table(env.world / "asn.parquet").slice(0, 3).to_pylist()
    lines = ["NIK,NAMA_LGKP,TGL_LHR"]
    for p in people:
        lines.append(f"{p['nik']},{p['nama_lengkap']},{p['tanggal_lahir']:%d-%m-%Y}")
    lines.insert(2, f'3273019903900001,"{"X" * (10 * 1024 * 1024)}",01-01-1990')  # 10 MB line
    lines.insert(3, "12345,,")  # a bad NIK and nothing else to match on
    path = tmp_path / "campur.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = env.basic("kemenkop.operator")
    resp = env.submit("kemenkop.operator", path, alur="bpum")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    assert resp.json()["baris_galat"] == 2
    state = env.wait("kemenkop.operator", job_id)
    assert state["jumlah"]["cocok"] == 3  # the three ASN, whatever the bad lines did
    galat = env.client.get(f"/api/v1/pemadanan/{job_id}/galat", headers=h).json()
    assert [(g["baris"], g["tingkat"]) for g in galat] == [(3, "galat"), (4, "peringatan"),
                                                           (4, "galat")]  # fmt: skip
    assert all("12345" not in g["keterangan"] for g in galat)
    resp = env.client.post(f"/api/v1/pemadanan/{job_id}/batal", headers=h)
    assert resp.status_code == 409 and resp.json()["code"] == "pekerjaan_sudah_selesai"
