"""Pemadanan as kernel operations: submit a list (decided against the agreement) and review
probable matches; the job's status, the owner's jobs and cancelling (not data-bearing, but
owner-only); the retention purge. What reveals results — pages, CSV files, the berita acara,
the row issues — is in `simpul.pemadanan.reads`; the job itself runs in
`simpul.pemadanan.runner`.

An operation is `op(session, call, …)` run by `simpul.kernel.run`: it decides through
`call.authorize`, records what it reveals through the call and refuses by raising. A job is
its owner's alone: someone else's job — another user of the same institution, its
administrator or auditor — is refused as not found (`pekerjaan_tidak_ditemukan`), so ids of
others' jobs are not confirmed either.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, decide
from simpul.access.schemas import Principal
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Grant, Mechanism, Service
from simpul.audit.events import decision_event
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kernel.call import Call
from simpul.kernel.core import writes
from simpul.kit.clock import Clock, aware
from simpul.kit.ids import new_id
from simpul.matching.engine import COCOK, COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK, MatchOptions
from simpul.pemadanan.models import MatchIssue, MatchJob, MatchResultRow
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.schemas import TERMINAL, HasilOut, JobOut, KandidatOut, OptionsIn
from simpul.pemadanan.upload import ROW_STATUSES, ListReader, ParsedList, RowIssue, parse_list
from simpul.registry.datasets import get_dataset
from simpul.runtime import Runtime

log = logging.getLogger(__name__)

# Workflow → (dataset it runs against, service the agreement must grant).
WORKFLOWS: dict[str, tuple[str | None, Service]] = {
    "umum": (None, Service.PEMADANAN),
    "bpum": ("asn", Service.CEK_STATUS),  # PKS 004: BPUM candidates screened for ASN
    "kpm": ("asn", Service.CEK_STATUS),  # PKS 001: proposed KPM checked against ASN
    "regsosek": ("regsosek", Service.PEMADANAN),  # PKS 000 Pasal 6(2)c: BNBA holders only
}
MATCHED = (COCOK, COCOK_ELEMEN_BERBEDA)
REVIEWS = ("diterima", "ditolak")
NOT_FOUND = ("pekerjaan_tidak_ditemukan", "Pekerjaan pemadanan tidak ditemukan.")
# Stored uploads hold personal data: the owner only (PKS 003 Pasal 2(2)h, UU PDP).
DIR_MODE, FILE_MODE = 0o700, 0o600


# --- files -------------------------------------------------------------------------------


def jobs_root(settings: Settings) -> Path:
    return settings.data_dir / "pemadanan"


def job_dir(settings: Settings, job_id: str) -> Path:
    return jobs_root(settings) / job_id


def private_dir(path: Path) -> Path:
    """`path` (and the jobs' root above it) as directories only the node's user reads."""
    for folder in (path.parent, path):
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a file holding personal data as mode 0600 (from its creation, not after)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    os.chmod(path, FILE_MODE)
    return path


def _copy_private(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    os.chmod(target, FILE_MODE)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- the decision ------------------------------------------------------------------------


def resolve_workflow(workflow: str, dataset: str | None) -> tuple[str, Service]:
    if workflow not in WORKFLOWS:
        raise InvalidInput(
            "alur_tidak_dikenal",
            f"Alur {workflow!r} tidak dikenal (pilihan: {', '.join(WORKFLOWS)}).",
        )
    default, service = WORKFLOWS[workflow]
    code = dataset or default
    if code is None:
        raise InvalidInput("dataset_wajib", "Sebutkan dataset yang dipadankan.")
    if default is not None and code != default:
        raise InvalidInput(
            "dataset_tidak_sesuai_alur", f"Alur {workflow} berjalan pada dataset {default}."
        )
    return get_dataset(code).code, service


def workflow_dataset(workflow: str, dataset: str | None) -> str | None:
    """The dataset a submission is about, for the record of a refusal before any decision."""
    return dataset or WORKFLOWS.get(workflow, (None, Service.PEMADANAN))[0]


def _holds_bnba(session: Session, institution: str, at: datetime) -> bool:
    """PKS 000 Pasal 6(2)c: matching against Regsosek is for users with BNBA access only."""
    return any(
        agreements.grants_for(session, institution, "regsosek", Service.BNBA, m, at)
        for m in Mechanism
    )


def job_request(job: MatchJob, call: Call, **kw: Any) -> AccessRequest:
    """The decision a job's step or download takes: the job's dataset, service and
    mechanism under the agreement it was submitted under, as the caller reaches it now."""
    return AccessRequest(
        dataset=job.dataset,
        service=Service(job.service),
        mechanism=Mechanism(job.mechanism),
        agreement_id=job.agreement_id,
        internal=call.internal,
        source_ip=call.source_ip,
        **kw,
    )


def _mechanism(
    session: Session, call: Call, dataset: str, service: Service
) -> tuple[Mechanism, Grant | None]:
    """Batch first, the web service where only that is granted (the seed PKS grant one or
    the other); batch when neither is, so that its refusal is the one recorded. With the
    grant that would allow it (for its list limits), None when none does."""
    for mechanism in (Mechanism.BATCH, Mechanism.WEB_SERVICE):
        req = AccessRequest(dataset, service, mechanism, source_ip=call.source_ip,
                            internal=call.internal)  # fmt: skip
        decision = decide(session, call.principal, req, at=call.clock.now())
        if decision.allowed:
            return mechanism, decision.grant
    return Mechanism.BATCH, None


def upload_limits(settings: Settings, grant: Grant | None) -> tuple[int, int]:
    """(bytes, rows) a list may have: the grant's `batas_ukuran_mb` / `batas_baris` where
    it sets them, never above the node's own limits (settings)."""
    max_bytes, max_rows = settings.max_upload_bytes, settings.max_upload_rows
    if grant is not None and grant.max_upload_mb is not None:
        max_bytes = min(max_bytes, grant.max_upload_mb * 1024 * 1024)
    if grant is not None and grant.max_rows is not None:
        max_rows = min(max_rows, grant.max_rows)
    return max_bytes, max_rows


# What a job's worker holds at its peak, measured by bench/memory.py (docs/performance.md):
# the interpreter and libraries, the registry index per person, the chunk being matched
# and, per list row, its registry position and (for the job's record) the people linked.
# 1M people: 794 MB at 200k rows, 858 MB at 2M rows (chunks of 50k); estimated 793 / 964.
BASE_MB = 250
PERSON_BYTES = 450
CHUNK_ROW_BYTES = 2_000
LIST_ROW_BYTES = 100


def estimated_peak_mb(people: int, rows: int, chunk_rows: int) -> int:
    chunk = min(rows, chunk_rows)
    total = people * PERSON_BYTES + chunk * CHUNK_ROW_BYTES + rows * LIST_ROW_BYTES
    return BASE_MB + total // (1024 * 1024)


def _within_budget(session: Session, settings: Settings, dataset: str, rows: int) -> None:
    """Refuse up front a list the worker could not match within `match_memory_mb`."""
    from simpul.registry import service as registry

    need = estimated_peak_mb(registry.count(session, dataset), rows, settings.match_chunk_rows)
    if need > settings.match_memory_mb:
        raise InvalidInput(
            "daftar_melebihi_anggaran_memori",
            f"Pemadanan daftar ini diperkirakan memerlukan {need:,} MB memori, melebihi "
            f"anggaran {settings.match_memory_mb:,} MB (SIMPUL_MATCH_MEMORY_MB); bagi "
            "daftar menjadi beberapa berkas.",
            status=413,
        )


# --- submit ------------------------------------------------------------------------------


@writes
def submit(
    session: Session,
    call: Call,
    *,
    upload: Path,
    filename: str,
    dataset: str | None,
    workflow: str = "umum",
    options: OptionsIn | None = None,
) -> JobOut:
    """Validate the list, decide against the agreement, queue the job (status `antri`).

    A file-level problem or a refusal raises (recorded by the kernel; nothing stored). The
    submission's record names no one: the people matched are in the job's own record."""
    options = options or OptionsIn()
    code, service = resolve_workflow(workflow, dataset)
    if code == "regsosek":
        workflow = "regsosek"
    ds = get_dataset(code)
    at = call.clock.now()
    if workflow == "regsosek" and not _holds_bnba(session, call.principal.institution, at):
        raise SimpulError(
            "pemadanan_regsosek_khusus_bnba",
            "Pemadanan dengan Data Regsosek hanya bagi Pengguna Data dengan hak akses BNBA "
            "(PKS Pasal 6 ayat (2) huruf c).",
            status=403,
        )
    settings = call.settings
    mechanism, grant = _mechanism(session, call, code, service)
    max_bytes, max_rows = upload_limits(settings, grant)
    if options.batas_baris:
        max_rows = min(max_rows, options.batas_baris)
    size = upload.stat().st_size
    if size > max_bytes:
        raise InvalidInput(
            "berkas_terlalu_besar", f"Berkas {size:,} bita melebihi batas {max_bytes:,} bita.",
            status=413,
        )  # fmt: skip
    reader = ListReader(upload, ds.alias_map(), max_rows)
    issues: list[RowIssue] = []
    for chunk in reader.chunks(settings.match_chunk_rows):  # counted and checked, not kept
        issues.extend(chunk.issues)
    _within_budget(session, settings, code, reader.good_rows)
    req = AccessRequest(code, service, mechanism, source_ip=call.source_ip,
                        internal=call.internal, units=max(reader.good_rows, 1))  # fmt: skip
    decision = call.authorize(session, req)
    assert decision.grant is not None
    granted_in = set(decision.grant.input_elements)
    used = sorted(e for e in reader.elements if e in granted_in or not granted_in)
    if not ({"nik"} & set(used) or {"nama_lengkap", "tanggal_lahir"} <= set(used)):
        raise SimpulError(
            "elemen_di_luar_hibah",
            "Hibah perjanjian tidak mencakup kolom yang diperlukan untuk pemadanan "
            f"(diizinkan: {', '.join(sorted(granted_in))}).",
            status=403,
        )
    job_id = new_id("padan-")
    folder = private_dir(job_dir(settings, job_id))
    suffix = Path(filename).suffix.lower() or upload.suffix.lower()
    stored = folder / f"masukan{suffix}"
    _copy_private(upload, stored)
    job = MatchJob(
        id=job_id,
        account_id=call.principal.account_id,
        username=call.principal.username,
        institution=call.principal.institution,
        dataset=code,
        workflow=workflow,
        service=service.value,
        mechanism=mechanism.value,
        agreement_id=decision.agreement_id,
        agreement_version=decision.agreement_version,
        grant_id=decision.grant_id,
        output_elements=sorted(decision.output_elements),
        options={**options.model_dump(), **thresholds(decision.grant, options), "elemen": used,
                 "kolom": reader.header, "internal": call.internal,
                 "source_ip": call.source_ip},
        status="antri",
        progress=0.0,
        cancel_requested=False,
        input_name=Path(filename).name[:300],
        input_path=str(stored),
        input_sha256=_sha256(stored),
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        rows_total=reader.rows_total,
        rows_invalid=reader.rows_invalid,
        counts={},
        created_at=at,
        attempts=0,
    )  # fmt: skip
    try:
        repo = JobRepository(session)
        repo.add(job)
        repo.add_issues(job.id, issues)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    call.disclose(req, decision, result={"pekerjaan": job.id, "baris": reader.rows_total,
                                         "berkas": job.input_name})  # fmt: skip
    return job_out(job)


def thresholds(grant: Grant, options: OptionsIn) -> dict[str, float]:
    """The job's thresholds: the grant's `ambang_pemadanan` (acceptance `terima`, review
    `tinjau`) or the defaults (0.95 and 0.5). The submitter may raise either (`ambang`,
    `ambang_terima`: review more), never lower them below the grant's; review stays at or
    below acceptance."""
    set_by = grant.match_thresholds
    accept = set_by.accept if set_by is not None else MatchOptions.accept
    accept = max(accept, options.ambang_terima or 0.0)
    review = max(options.ambang, set_by.review if set_by is not None else 0.0)
    return {"ambang": min(review, accept), "ambang_terima": accept}


def job_out(job: MatchJob) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status,
        progres=round(job.progress, 3),
        dataset=job.dataset,
        alur=job.workflow,
        layanan=job.service,
        mekanisme=job.mechanism,
        perjanjian=job.agreement_id,
        versi_perjanjian=job.agreement_version,
        berkas=job.input_name,
        jumlah_baris=job.rows_total,
        baris_galat=job.rows_invalid,
        jumlah={s: int(job.counts.get(s, 0)) for s in ROW_STATUSES} if job.counts else None,
        blok={k[5:]: int(v) for k, v in job.counts.items() if k.startswith("blok_")} or None,
        ambang_terima=job.options.get("ambang_terima"),
        dibuat=job.created_at,
        mulai=job.started_at,
        selesai=job.finished_at,
        galat=job.error_code,
        keterangan=job.error_detail,
    )


# --- the owner's job ---------------------------------------------------------------------


def owned_job(session: Session, principal: Principal, job_id: str) -> MatchJob:
    """A job the caller may see: its own (the account that submitted it). Anyone else's is
    not found, not forbidden, so ids of others' jobs are not confirmed."""
    job = JobRepository(session).get(job_id)
    if job is None or job.account_id != principal.account_id:
        raise NotFound(*NOT_FOUND)
    return job


def owner_step(rt: Runtime, principal: Principal, action: str, fn: Any, *args: Any) -> Any:
    """A step on one of the caller's jobs that reveals no result (status, cancel), in its
    own transaction; a refusal (someone else's job) is recorded and raised."""
    try:
        with rt.transaction() as session:
            return fn(session, principal, *args)
    except SimpulError as exc:
        event = refusal_record(principal, action, exc, str(args[0]))
        with rt.transaction() as session:
            record_in_session(session, rt.settings, event, rt.clock)
        raise


def refusal_record(principal: Principal, action: str, exc: SimpulError, job_id: str) -> AuditEvent:
    return AuditEvent(
        action=action,
        decision="tolak",
        reason=exc.code,
        actor=principal.username,
        institution=principal.institution,
        result={"status": exc.status, "pekerjaan": job_id[:60]},
    )


def job_detail(session: Session, principal: Principal, job_id: str) -> JobOut:
    """Status, progress and counts of one of the caller's jobs (no result, no row)."""
    return job_out(owned_job(session, principal, job_id))


def list_jobs(session: Session, principal: Principal, limit: int = 50) -> list[JobOut]:
    """The caller's own jobs, newest first."""
    return [job_out(j) for j in JobRepository(session).for_account(principal.account_id, limit)]


def issue_count(session: Session, principal: Principal, job_id: str) -> int:
    owned_job(session, principal, job_id)
    return JobRepository(session).issue_count(job_id)


def cancel(session: Session, principal: Principal, job_id: str) -> JobOut:
    """Queued: cancelled at once. Running: the worker stops at its next progress step."""
    job = owned_job(session, principal, job_id)
    if job.status in TERMINAL:
        raise SimpulError(
            "pekerjaan_sudah_selesai", f"Pekerjaan berstatus {job.status}.", status=409
        )
    JobRepository(session).request_cancel(job.id)
    session.refresh(job)
    return job_out(job)


# --- results -----------------------------------------------------------------------------


def listed_nik(raw: Any) -> str | None:
    """The NIK a list row gives, as 16 digits, if it gives one."""
    digits = "".join(ch for ch in str(raw or "") if ch.isdigit())
    return digits if len(digits) == 16 else None


def row_subjects(rows: list[MatchResultRow]) -> tuple[str, ...]:
    """The people these result rows name: the registry NIK each is linked to and the NIK
    the list gives for it."""
    out: dict[str, None] = {}
    for r in rows:
        shown = [c.get("nik") for c in (r.data or {}).get("_kandidat", ())]
        for nik in (listed_nik(r.input.get("nik")), r.nik_cocok, *shown):
            if nik:
                out[nik] = None
    return tuple(out)


def visible_data(outputs: tuple[str, ...], row: MatchResultRow) -> dict[str, Any]:
    """Granted output only, and for a probable match only once a reviewer accepted it."""
    if row.status == KEMUNGKINAN_COCOK and row.review != "diterima":
        return {}
    return {k: row.data.get(k) for k in outputs if k in row.data}


def hasil(outputs: tuple[str, ...], row: MatchResultRow) -> HasilOut:
    data = visible_data(outputs, row)
    show_nik = "nik" in outputs and (row.status in MATCHED or row.review == "diterima")
    given = row.input or {}
    return HasilOut(
        baris=row.line,
        status=row.status,
        alasan=given.get("_alasan"),
        kolom=given.get("_kolom"),
        probabilitas=row.probability,
        elemen_berbeda=row.differing.split(",") if row.differing else None,
        metode=row.method or None,
        tinjauan=row.review,
        nik_cocok=row.nik_cocok if show_nik else None,
        masukan={k: v for k, v in given.items() if not k.startswith("_")},
        data=data or None,
        kandidat=candidates_shown(row),
    )


def candidates_shown(row: MatchResultRow) -> list[KandidatOut] | None:
    """What a reviewer sees of a probable match's candidates (at most three): how each
    agrees with the row element by element, its probability and why it was proposed —
    never the registry's values (those come only with an accepted match, and only as the
    grant allows)."""
    stored = (row.data or {}).get("_kandidat")
    if row.status != KEMUNGKINAN_COCOK or not stored:
        return None
    reason = {
        "perbaikan_nik": "NIK satu digit salah atau tertukar",
        "probabilistik": "kemiripan nama dan elemen lain",
    }.get(row.method or "", "")
    return [
        KandidatOut(
            urutan=k + 1, probabilitas=c["probabilitas"], elemen=c["elemen"],
            alasan=reason if k == 0 else "kandidat berikutnya menurut bobot",
            dipilih=k == 0,
        )
        for k, c in enumerate(stored)
    ]  # fmt: skip


@writes
def review(
    session: Session, call: Call, job_id: str, line: int, decision: str, reason: str = ""
) -> HasilOut:
    """Clerical review: accept or reject one `kemungkinan_cocok`, decided against the
    agreement now. Its record (`pemadanan.tinjau`) commits with it and names the person
    linked and the one listed."""
    if decision not in REVIEWS:
        raise InvalidInput("keputusan_tidak_dikenal", "Keputusan harus diterima atau ditolak.")
    job = owned_job(session, call.principal, job_id)
    req = job_request(job, call)
    allowed = call.authorize(session, req)
    repo = JobRepository(session)
    row = repo.result(job.id, line)
    if row is None:
        raise NotFound("baris_tidak_ditemukan", f"Baris {line} tidak ada dalam hasil.")
    if row.status != KEMUNGKINAN_COCOK:
        raise SimpulError(
            "bukan_kemungkinan_cocok", "Hanya baris kemungkinan_cocok yang ditinjau.", status=409
        )
    repo.set_review(job.id, line, decision, call.principal.username, call.clock.now())
    session.refresh(row)
    event = decision_event(
        call.principal, req, allowed, subjects=row_subjects([row]),
        result={"pekerjaan": job.id, "baris": line, "keputusan": decision},
        request_id=call.request_id,
    )  # fmt: skip
    call.record(session, replace(event, action="pemadanan.tinjau",
                                 detail={"alasan": reason} if reason else {}))  # fmt: skip
    outputs = tuple(e for e in job.output_elements if e in allowed.output_elements)
    return hasil(outputs, row)


def parsed_for(job: MatchJob, settings: Settings) -> ParsedList:
    """Re-read the stored upload of a job whole (the result is deterministic)."""
    ds = get_dataset(job.dataset)
    return parse_list(Path(job.input_path), ds.alias_map(), settings.max_upload_rows)


def list_reader(job: MatchJob, settings: Settings) -> ListReader:
    """The stored upload of a job, to be read in chunks (the runner does)."""
    ds = get_dataset(job.dataset)
    return ListReader(Path(job.input_path), ds.alias_map(), settings.max_upload_rows)


# --- retention ---------------------------------------------------------------------------


def purge_expired(session: Session, settings: Settings, clock: Clock) -> int:
    """Delete the jobs older than their agreement's `retensi.hari` (job.created_at + days <
    now): rows, results, issues and the stored upload. A job a worker is running is left to
    finish. One audit record `pemadanan.hapus_retensi` with the count, when any was
    deleted; returns the count."""
    now = clock.now()
    days: dict[str | None, int] = {}
    expired: list[str] = []
    stmt = select(MatchJob.id, MatchJob.created_at, MatchJob.agreement_id, MatchJob.status)
    for job_id, created, agreement_id, status in session.execute(stmt):
        if status == "berjalan":
            continue
        if agreement_id not in days:
            days[agreement_id] = agreements.retention_days(session, agreement_id)
        if aware(created) + timedelta(days=days[agreement_id]) < now:
            expired.append(job_id)
    if not expired:
        return 0
    for start in range(0, len(expired), 500):
        chunk = expired[start : start + 500]
        session.execute(delete(MatchResultRow).where(MatchResultRow.job_id.in_(chunk)))
        session.execute(delete(MatchIssue).where(MatchIssue.job_id.in_(chunk)))
        session.execute(delete(MatchJob).where(MatchJob.id.in_(chunk)))
    record_in_session(
        session, settings,
        AuditEvent(action="pemadanan.hapus_retensi", decision="tindakan", reason="ok",
                   actor="sistem", result={"jumlah": len(expired)}),
        clock,
    )  # fmt: skip
    session.flush()
    for job_id in expired:  # the rows go with the transaction; the files right away
        shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
    log.info("pemadanan: %d pekerjaan dihapus (retensi)", len(expired))
    return len(expired)
