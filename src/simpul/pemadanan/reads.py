"""What reveals a job's results, as kernel operations: a page of results, `hasil.csv`, the
PKS workflow lists (`daftar/{nama}.csv`), the berita acara (PDF), the row issues and the
portal's job page.

Each is decided per request, against the agreement the job was submitted under, as it
stands now (`Call.authorize`): a suspension, termination, expiry or revocation refuses the
very next download. Only the job's owner reaches it (`service.owned_job`). Each records,
once, every person the answer names: the registry NIK each row shown is linked to and the
NIK the list gives for it (`service.row_subjects`). Every file carries its source (PKS 000
Pasal 7 ayat (2)): the first line of a CSV, the footer of the PDF.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Service
from simpul.errors import InvalidInput, SimpulError
from simpul.kernel.call import Call
from simpul.kit.csvsafe import safe_cell
from simpul.matching.engine import COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK
from simpul.pemadanan import berita_acara
from simpul.pemadanan.models import MatchJob, MatchResultRow
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.schemas import HasilOut, JobOut
from simpul.pemadanan.service import (
    MATCHED,
    hasil,
    job_out,
    job_request,
    owned_job,
    row_subjects,
)
from simpul.pemadanan.upload import ROW_STATUSES
from simpul.registry.datasets import get_dataset

ISSUES_ON_PAGE = 100


@dataclass(frozen=True)
class Berkas:
    """A file to hand over: its name, media type and content."""

    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class JobPage:
    """The portal's page of one job: its state, its row issues and, once finished, a page
    of results and the names of the lists it offers."""

    job: JobOut
    issues: list[dict[str, Any]]
    total: int | None = None
    rows: list[HasilOut] | None = None
    lists: list[str] | None = None


@dataclass(frozen=True)
class _Opened:
    job: MatchJob
    req: AccessRequest
    decision: Decision
    outputs: tuple[str, ...]  # the job's output elements the grant still covers


def _open(session: Session, call: Call, job_id: str, *, finished: bool = True) -> _Opened:
    """The caller's own job, decided now; with `finished`, only once it has results."""
    job = owned_job(session, call.principal, job_id)
    req = job_request(job, call)
    decision = call.authorize(session, req)
    if finished and job.status != "selesai":
        raise SimpulError(
            "pekerjaan_belum_selesai", f"Pekerjaan berstatus {job.status}; hasil belum ada.",
            status=409,
        )  # fmt: skip
    outputs = tuple(e for e in job.output_elements if e in decision.output_elements)
    return _Opened(job, req, decision, outputs)


def _summary(job: MatchJob, name: str, rows: int, **more: Any) -> dict[str, Any]:
    return {"pekerjaan": job.id, "berkas": name, "baris": rows, **more}


def source_line(session: Session, job: MatchJob) -> str:
    """PKS 000 Pasal 7 ayat (2): the use of the data cites its source — the provider and
    the agreement (and version) the job was matched under."""
    provider = get_dataset(job.dataset).provider
    name = provider
    if job.agreement_id is not None:
        doc = agreements.document_of(
            agreements.get(session, job.agreement_id, job.agreement_version)
        )
        grant = doc.grant(job.grant_id) if job.grant_id else None
        provider = grant.provider if grant is not None else provider
        name = next((p.name for p in doc.parties if p.code == provider), provider)
    name = " ".join(name.split())  # one line, always
    return (
        f"Sumber: {name}; perjanjian {job.agreement_id or '-'} versi "
        f"{job.agreement_version or '-'} (PKS Pasal 7 ayat (2))."
    )


# --- results -----------------------------------------------------------------------------


def _all(session: Session, opened: _Opened) -> list[tuple[MatchResultRow, HasilOut]]:
    _, rows = JobRepository(session).results(opened.job.id, limit=None)
    return [(r, hasil(opened.outputs, r)) for r in rows]


def results_page(
    session: Session,
    call: Call,
    job_id: str,
    *,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[HasilOut]]:
    """One page of a job's results (optionally of one status)."""
    if status is not None and status not in ROW_STATUSES:
        raise InvalidInput("status_tidak_dikenal", f"Status {status!r} tidak dikenal.")
    opened = _open(session, call, job_id, finished=False)
    total, rows = JobRepository(session).results(
        opened.job.id, status=status, offset=offset, limit=limit
    )
    call.disclose(opened.req, opened.decision, subjects=row_subjects(rows),
                  result=_summary(opened.job, "hasil", len(rows), total=total))  # fmt: skip
    return total, [hasil(opened.outputs, r) for r in rows]


def results_csv(session: Session, call: Call, job_id: str) -> Berkas:
    """`hasil.csv`: every row, its status and what the grant returns."""
    opened = _open(session, call, job_id)
    pairs = _all(session, opened)
    return _csv_file(session, call, opened, "hasil", pairs)


def list_csv(session: Session, call: Call, job_id: str, name: str) -> Berkas:
    """`daftar/{name}.csv`: one of the lists the job's PKS workflow asks for."""
    opened = _open(session, call, job_id)
    lists = workflow_lists(opened.job, _all(session, opened))
    if name not in lists:
        raise InvalidInput(
            "daftar_tidak_dikenal", f"Daftar {name!r} tidak ada (pilihan: {', '.join(lists)})."
        )
    return _csv_file(session, call, opened, name, lists[name])


def _csv_file(
    session: Session,
    call: Call,
    opened: _Opened,
    name: str,
    pairs: list[tuple[MatchResultRow, HasilOut]],
) -> Berkas:
    header, cells = csv_rows(opened.job, opened.outputs, [h for _, h in pairs])
    buf = io.StringIO()
    buf.write(f"# {source_line(session, opened.job)}\n")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([[safe_cell(c) for c in r] for r in cells])
    filename = f"{name}.csv"
    call.disclose(opened.req, opened.decision, subjects=row_subjects([r for r, _ in pairs]),
                  result=_summary(opened.job, filename, len(pairs)))  # fmt: skip
    return Berkas(f"{name}-{opened.job.id}.csv", "text/csv; charset=utf-8",
                  buf.getvalue().encode("utf-8"))  # fmt: skip


def minutes(session: Session, call: Call, job_id: str) -> Berkas:
    """The berita acara (PDF): the job's counts under its agreement, with its source in the
    footer. It states the outcome for the whole list, so it names everyone in it."""
    opened = _open(session, call, job_id)
    rows = [r for r, _ in _all(session, opened)]
    pdf = berita_acara.render(
        session, opened.job, call.clock.now(), rows=len(rows),
        source=source_line(session, opened.job),
    )  # fmt: skip
    call.disclose(opened.req, opened.decision, subjects=row_subjects(rows),
                  result=_summary(opened.job, "berita-acara.pdf", len(rows)))  # fmt: skip
    return Berkas(f"berita-acara-{opened.job.id}.pdf", "application/pdf", pdf)


def _issues(session: Session, job: MatchJob) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The row issues (a message may echo a value; a NIK is masked) and the people of the
    rows they are about that were matched."""
    repo = JobRepository(session)
    found = repo.issues(job.id)
    lines = {i.line for i in found}
    rows = [r for r in repo.results(job.id, limit=None)[1] if r.line in lines] if lines else []
    out = [
        {"baris": i.line, "tingkat": i.severity, "kode": i.code, "keterangan": i.detail}
        for i in found
    ]
    return out, row_subjects(rows)


def issues(session: Session, call: Call, job_id: str) -> list[dict[str, Any]]:
    """Per-line problems of the upload (galat: skipped; peringatan: matched anyway)."""
    opened = _open(session, call, job_id, finished=False)
    out, subjects = _issues(session, opened.job)
    call.disclose(opened.req, opened.decision, subjects=subjects,
                  result=_summary(opened.job, "galat", len(out)))  # fmt: skip
    return out


def job_page(
    session: Session,
    call: Call,
    job_id: str,
    *,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> JobPage:
    """The portal's job page: state, the first row issues and, once finished, one page of
    results and the lists on offer. One record for everything the page shows."""
    if status is not None and status not in ROW_STATUSES:
        raise InvalidInput("status_tidak_dikenal", f"Status {status!r} tidak dikenal.")
    opened = _open(session, call, job_id, finished=False)
    job = opened.job
    shown, issue_subjects = _issues(session, job)
    shown = shown[:ISSUES_ON_PAGE]
    subjects = dict.fromkeys(issue_subjects)
    total: int | None = None
    page: list[HasilOut] | None = None
    names: list[str] | None = None
    if job.status == "selesai":
        total, rows = JobRepository(session).results(
            job.id, status=status, offset=offset, limit=limit
        )
        subjects.update(dict.fromkeys(row_subjects(rows)))
        page = [hasil(opened.outputs, r) for r in rows]
        names = list(LIST_NAMES.get(job.workflow, LIST_NAMES["umum"]))
    call.disclose(opened.req, opened.decision, subjects=tuple(subjects),
                  result=_summary(job, "halaman", len(page or []), galat=len(shown)))  # fmt: skip
    return JobPage(job_out(job), shown, total, page, names)


# --- PKS workflow lists ------------------------------------------------------------------

LIST_NAMES: dict[str, tuple[str, ...]] = {
    "bpum": ("hasil", "penerima", "balikan"),
    "kpm": ("hasil", "selisih", "asn"),
    "umum": ("hasil", "cocok", "tidak_ditemukan"),
}

Pairs = list[tuple[MatchResultRow, HasilOut]]


def _is_hit(h: HasilOut) -> bool:
    return h.status in MATCHED or (h.status == KEMUNGKINAN_COCOK and h.tinjauan == "diterima")


def workflow_lists(job: MatchJob, rows: Pairs) -> dict[str, Pairs]:
    """The lists the PKS ask for, by workflow.

    - bpum (PKS 004): `hasil` (every row), `penerima` (the list after eliminating ASN: rows
      not found as ASN, and probable matches a reviewer rejected), `balikan` (the ASN
      accessed, returned to BKN as feedback data). Probable matches not yet reviewed stay
      out of `penerima` until a reviewer decides.
    - kpm (PKS 001): `hasil`, `selisih` (found with differing elements, and probable
      matches: the discrepancy list for the berita acara), `asn` (proposed KPM who are ASN).
    - umum / regsosek: `hasil`, `cocok`, `tidak_ditemukan`.
    """
    out: dict[str, Pairs] = {"hasil": rows}
    if job.workflow == "bpum":
        out["penerima"] = [
            (r, h) for r, h in rows
            if h.status == "tidak_ditemukan"
            or (h.status == KEMUNGKINAN_COCOK and h.tinjauan == "ditolak")
        ]  # fmt: skip
        out["balikan"] = [(r, h) for r, h in rows if _is_hit(h)]
    elif job.workflow == "kpm":
        out["selisih"] = [
            (r, h) for r, h in rows if h.status in (COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK)
        ]
        out["asn"] = [(r, h) for r, h in rows if _is_hit(h)]
    else:
        out["cocok"] = [(r, h) for r, h in rows if _is_hit(h)]
        out["tidak_ditemukan"] = [(r, h) for r, h in rows if h.status == "tidak_ditemukan"]
    return out


RESULT_SUFFIX = "_simpul"


def result_header(names: list[str], own: list[str]) -> list[str]:
    """The result columns' names, each renamed with `_simpul` (again, until unique) where
    the list has a column of that name (any case), so both stay apart in the output."""
    taken = {c.strip().lower() for c in own}
    out: list[str] = []
    for name in names:
        while name.lower() in taken:
            name += RESULT_SUFFIX
        taken.add(name.lower())
        out.append(name)
    return out


def csv_rows(
    job: MatchJob, outputs: tuple[str, ...], rows: list[HasilOut]
) -> tuple[list[str], list[list[Any]]]:
    """One row per list row, in the list's order: every column of the list as uploaded, in
    its order, then the result (`baris`, the status and why, what the grant returns)."""
    own: list[str] = list(job.options.get("kolom") or [])
    status_label = get_dataset(job.dataset).status_check
    names = ["baris", "status", "alasan", "probabilitas", "elemen_berbeda", "metode",
             "tinjauan"]  # fmt: skip
    if not own:  # a job from before the list's columns were kept
        names[1:1] = ["nik_masukan", "nama_masukan"]
    show_nik = "nik" in outputs
    if show_nik:
        names.append("nik_cocok")
    labelled = status_label is not None and job.service == Service.CEK_STATUS.value
    if labelled:
        names.append("hasil")
    extra = [k for k in outputs if k != "nik"]
    names += extra
    header = own + result_header(names, own)
    out: list[list[Any]] = []
    for h in rows:
        cells = list(h.kolom or [])[: len(own)]
        line: list[Any] = cells + [""] * (len(own) - len(cells))
        line.append(h.baris)
        if not own:
            line += [h.masukan.get("nik", ""), h.masukan.get("nama_lengkap", "")]
        line += [
            h.status, h.alasan or "",
            "" if h.probabilitas is None else f"{h.probabilitas:.4f}",
            ";".join(h.elemen_berbeda or []), h.metode or "", h.tinjauan or "",
        ]  # fmt: skip
        if show_nik:
            line.append(h.nik_cocok or "")
        if labelled:
            assert status_label is not None
            line.append(status_label.found_label if _is_hit(h) else "data_tidak_ditemukan")
        data = h.data or {}
        line += [data.get(k, "") for k in extra]
        out.append(line)
    return header, out
