"""Berita acara hasil pemadanan data: the minutes of one finished job, in official form
(parties and their PKS numbers, the date in words, the counts, signature blocks), rendered
with the shared document kit. Its footer cites the source of the data (PKS 000 Pasal 7
ayat (2)). Reached only through `simpul.pemadanan.reads.minutes` (decided, recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from simpul.agreements import service as agreements
from simpul.kit.documents import document_environment, render_html, render_pdf
from simpul.pemadanan.models import MatchJob
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.upload import ROW_STATUSES
from simpul.registry.datasets import get_dataset

LABELS = {
    "cocok": "Cocok (NIK dan elemen data sesuai, atau probabilitas di atas ambang terima)",
    "cocok_nik_elemen_berbeda": "NIK ditemukan, elemen data berbeda",
    "kemungkinan_cocok": "Kemungkinan cocok (perlu tinjauan petugas)",
    "tidak_ditemukan": "Tidak ditemukan",
    "data_tidak_cukup": "Data tidak cukup untuk dipadankan",
    "tidak_valid": "Baris tidak terbaca",
}
WORKFLOW_TITLES = {
    "bpum": "Verifikasi dan Validasi Calon Penerima BPUM terhadap Data ASN",
    "kpm": "Verifikasi dan Validasi Data Usulan KPM terhadap Data ASN",
    "regsosek": "Pemadanan Data Daerah dengan Data Regsosek",
    "umum": "Pemadanan Data",
}


def context(
    session: Session, job: MatchJob, at: datetime, *, rows: int, source: str
) -> dict[str, Any]:
    parties: list[dict[str, Any]] = []
    title = ""
    if job.agreement_id:
        version = agreements.get(session, job.agreement_id, job.agreement_version)
        doc = version.document
        title = str(doc.get("judul", ""))
        parties = [dict(p) for p in doc.get("pihak", [])]
    reviews = JobRepository(session).review_counts(job.id)
    counts = [
        {"status": s, "label": LABELS[s], "jumlah": int(job.counts.get(s, 0))} for s in ROW_STATUSES
    ]
    return {
        "job": job,
        "judul_alur": WORKFLOW_TITLES.get(job.workflow, "Pemadanan Data"),
        "dataset": get_dataset(job.dataset).name,
        "judul_pks": title,
        "pihak": parties,
        "jumlah": counts,
        "jumlah_dipadankan": sum(c["jumlah"] for c in counts),
        "tinjauan": reviews,
        "baris_galat": job.rows_invalid,
        "tanggal": at,
        "nomor_dokumen": f"BA-PADAN/{job.id}",
        "kop_sub": title,
        "baris": rows,
        "sumber": source,
    }


def render(session: Session, job: MatchJob, at: datetime, *, rows: int, source: str) -> bytes:
    env = document_environment("simpul.pemadanan")
    html = render_html(
        env, "berita_acara.html", context(session, job, at, rows=rows, source=source)
    )
    return render_pdf(html)
