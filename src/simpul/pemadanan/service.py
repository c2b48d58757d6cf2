"""Pemadanan as service functions: submit a list (decided against the agreement), read a
job, its results and the PKS workflow lists, cancel, and review probable matches.

Every function takes the caller's session and runs in the caller's transaction, as the
other PKS services do. The job itself runs in `simpul.pemadanan.runner`.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from simpul.access.policy import AccessRequest, Decision, audit_event, decide
from simpul.access.schemas import Principal
from simpul.agreements import service as agreements
from simpul.agreements.schemas import Mechanism, Service
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kit.clock import Clock
from simpul.kit.ids import new_id
from simpul.matching.engine import COCOK, COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK, STATUSES
from simpul.pemadanan.models import MatchJob, MatchResultRow
from simpul.pemadanan.repository import JobRepository
from simpul.pemadanan.schemas import HasilOut, JobOut, OptionsIn
from simpul.pemadanan.upload import ParsedList, parse_list
from simpul.registry.datasets import get_dataset

# Workflow → (dataset it runs against, service the agreement must grant).
WORKFLOWS: dict[str, tuple[str | None, Service]] = {
    "umum": (None, Service.PEMADANAN),
    "bpum": ("asn", Service.CEK_STATUS),  # PKS 004: BPUM candidates screened for ASN
    "kpm": ("asn", Service.CEK_STATUS),  # PKS 001: proposed KPM checked against ASN
    "regsosek": ("regsosek", Service.PEMADANAN),  # PKS 000 Pasal 6(2)c: BNBA holders only
}
MATCHED = (COCOK, COCOK_ELEMEN_BERBEDA)
REVIEWS = ("diterima", "ditolak")


@dataclass
class JobContext:
    """Who submits or acts, from where, with what."""

    principal: Principal
    settings: Settings
    clock: Clock
    source_ip: str | None = None
    request_id: str | None = None
    internal: bool = False  # the CLI on the hub itself: no network access point to check
    pending: list[AuditEvent] = field(default_factory=list)

    def record(self, session: Session, event: AuditEvent) -> None:
        record_in_session(session, self.settings, event, self.clock)


def job_dir(settings: Settings, job_id: str) -> Path:
    return settings.data_dir / "pemadanan" / job_id


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    if code == "regsosek" and workflow == "umum":
        workflow = "regsosek"
    return get_dataset(code).code, service


def _holds_bnba(session: Session, institution: str, at: datetime) -> bool:
    """PKS 000 Pasal 6(2)c: matching against Regsosek is for users with BNBA access only."""
    return any(
        agreements.grants_for(session, institution, "regsosek", Service.BNBA, m, at)
        for m in Mechanism
    )


def decide_job(
    session: Session, principal: Principal, job_like: dict[str, Any], at: datetime
) -> tuple[Decision, AccessRequest]:
    """The policy decision for a job: batch first, the web service where only that is
    granted (the seed PKS grant one or the other). Also the re-check when the job runs."""
    dataset, service = job_like["dataset"], Service(job_like["service"])
    refusal: tuple[Decision, AccessRequest] | None = None
    for mechanism in (Mechanism.BATCH, Mechanism.WEB_SERVICE):
        req = AccessRequest(
            dataset=dataset,
            service=service,
            mechanism=mechanism,
            input_elements=frozenset(job_like.get("elements", ())),
            source_ip=job_like.get("source_ip"),
            internal=bool(job_like.get("internal", True)),
            units=max(int(job_like.get("units", 1)), 1),
        )
        decision = decide(session, principal, req, at=at)
        if decision.allowed:
            return decision, req
        refusal = refusal or (decision, req)
    assert refusal is not None
    return refusal


def submit(
    session: Session,
    ctx: JobContext,
    *,
    upload: Path,
    filename: str,
    dataset: str | None,
    workflow: str = "umum",
    options: OptionsIn | None = None,
) -> tuple[JobOut | None, Decision | None]:
    """Validate the list, decide against the agreement, queue the job (status `antri`).

    A file-level problem raises (nothing written); a refusal is audited and returned for
    the caller to raise after committing the audit record."""
    options = options or OptionsIn()
    code, service = resolve_workflow(workflow, dataset)
    if code == "regsosek":
        workflow = "regsosek"
    ds = get_dataset(code)
    at = ctx.clock.now()
    if workflow == "regsosek" and not _holds_bnba(session, ctx.principal.institution, at):
        req = AccessRequest(code, service, Mechanism.BATCH, internal=ctx.internal)
        refused = Decision(
            False, "pemadanan_regsosek_khusus_bnba", 403,
            "Pemadanan dengan Data Regsosek hanya bagi Pengguna Data dengan hak akses BNBA "
            "(PKS Pasal 6 ayat (2) huruf c).",
        )  # fmt: skip
        ctx.record(session, audit_event(ctx.principal, req, refused, request_id=ctx.request_id))
        return None, refused
    max_rows = min(
        ctx.settings.max_upload_rows, options.batas_baris or ctx.settings.max_upload_rows
    )
    if upload.stat().st_size > ctx.settings.max_upload_bytes:
        raise InvalidInput(
            "berkas_terlalu_besar",
            f"Berkas lebih dari batas {ctx.settings.max_upload_bytes:,} bita.",
            status=413,
        )
    parsed = parse_list(upload, ds.alias_map(), max_rows)
    job_like = {
        "dataset": code, "service": service.value, "workflow": workflow, "elements": (),
        "source_ip": ctx.source_ip, "internal": ctx.internal, "units": len(parsed.lines),
    }  # fmt: skip
    decision, req = decide_job(session, ctx.principal, job_like, at)
    if not decision.allowed:
        ctx.record(session, audit_event(ctx.principal, req, decision, request_id=ctx.request_id))
        return None, decision
    assert decision.grant is not None
    granted_in = set(decision.grant.input_elements)
    used = sorted(e for e in parsed.elements if e in granted_in or not granted_in)
    if not ({"nik"} & set(used) or {"nama_lengkap", "tanggal_lahir"} <= set(used)):
        raise SimpulError(
            "elemen_di_luar_hibah",
            "Hibah perjanjian tidak mencakup kolom yang diperlukan untuk pemadanan "
            f"(diizinkan: {', '.join(sorted(granted_in))}).",
            status=403,
        )
    job_id = new_id("padan-")
    folder = job_dir(ctx.settings, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(filename).suffix.lower() or upload.suffix.lower()
    stored = folder / f"masukan{suffix}"
    shutil.copyfile(upload, stored)
    job = MatchJob(
        id=job_id,
        account_id=ctx.principal.account_id,
        username=ctx.principal.username,
        institution=ctx.principal.institution,
        dataset=code,
        workflow=workflow,
        service=service.value,
        mechanism=req.mechanism.value,
        agreement_id=decision.agreement_id,
        agreement_version=decision.agreement_version,
        grant_id=decision.grant_id,
        output_elements=sorted(decision.output_elements),
        options={**options.model_dump(), "elemen": used, "internal": ctx.internal,
                 "source_ip": ctx.source_ip},
        status="antri",
        progress=0.0,
        cancel_requested=False,
        input_name=Path(filename).name[:300],
        input_path=str(stored),
        input_sha256=_sha256(stored),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        rows_total=parsed.rows_total,
        rows_invalid=sum(1 for i in parsed.issues if i.severity == "galat"),
        counts={},
        created_at=at,
        attempts=0,
    )  # fmt: skip
    repo = JobRepository(session)
    repo.add(job)
    repo.add_issues(job.id, parsed.issues)
    return job_out(job), None


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
        jumlah={s: int(job.counts.get(s, 0)) for s in STATUSES} if job.counts else None,
        dibuat=job.created_at,
        mulai=job.started_at,
        selesai=job.finished_at,
        galat=job.error_code,
        keterangan=job.error_detail,
    )


def _own_job(session: Session, principal: Principal, job_id: str) -> MatchJob:
    """A job the caller may see: its own institution's (never another's; not found, not
    forbidden, so ids of others' jobs are not confirmed)."""
    job = JobRepository(session).get(job_id)
    if job is None or job.institution != principal.institution:
        raise NotFound("pekerjaan_tidak_ditemukan", "Pekerjaan pemadanan tidak ditemukan.")
    return job


def needs_worker(session: Session, job_id: str, now: datetime) -> bool:
    """Queued, or running with a heartbeat older than the runner's staleness limit."""
    from simpul.pemadanan.runner import STALE

    job = JobRepository(session).get(job_id)
    if job is None:
        return False
    if job.status == "antri":
        return True
    beat = job.heartbeat_at
    if job.status != "berjalan" or beat is None:
        return False
    if beat.tzinfo is None:  # SQLite returns naive UTC
        beat = beat.replace(tzinfo=now.tzinfo)
    return beat < now - STALE


def job_detail(session: Session, principal: Principal, job_id: str) -> JobOut:
    return job_out(_own_job(session, principal, job_id))


def list_jobs(session: Session, principal: Principal, limit: int = 50) -> list[JobOut]:
    """The caller's institution's jobs, newest first (for the portal)."""
    return [
        job_out(j) for j in JobRepository(session).for_institution(principal.institution, limit)
    ]


def cancel(session: Session, principal: Principal, job_id: str) -> JobOut:
    """Queued: cancelled at once. Running: the worker stops at its next progress step."""
    job = _own_job(session, principal, job_id)
    if job.status in ("selesai", "gagal", "dibatalkan"):
        raise SimpulError(
            "pekerjaan_sudah_selesai", f"Pekerjaan sudah berstatus {job.status}.", status=409
        )
    JobRepository(session).request_cancel(job.id)
    session.refresh(job)
    return job_out(job)


def issues(session: Session, principal: Principal, job_id: str) -> list[dict[str, Any]]:
    _own_job(session, principal, job_id)
    return [
        {"baris": i.line, "tingkat": i.severity, "kode": i.code, "keterangan": i.detail}
        for i in JobRepository(session).issues(job_id)
    ]


def _visible_data(job: MatchJob, row: MatchResultRow) -> dict[str, Any]:
    """Granted output only, and for a probable match only once a reviewer accepted it."""
    if row.status == KEMUNGKINAN_COCOK and row.review != "diterima":
        return {}
    return {k: row.data.get(k) for k in job.output_elements if k in row.data}


def _hasil(job: MatchJob, row: MatchResultRow) -> HasilOut:
    data = _visible_data(job, row)
    show_nik = "nik" in job.output_elements and (row.status in MATCHED or row.review == "diterima")
    return HasilOut(
        baris=row.line,
        status=row.status,
        probabilitas=row.probability,
        elemen_berbeda=row.differing.split(",") if row.differing else None,
        metode=row.method or None,
        tinjauan=row.review,
        nik_cocok=row.nik_cocok if show_nik else None,
        masukan=row.input,
        data=data or None,
    )


def results_page(
    session: Session,
    principal: Principal,
    job_id: str,
    *,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[HasilOut]]:
    """One page of a finished job's results (optionally of one status), for the portal."""
    job = _own_job(session, principal, job_id)
    if status is not None and status not in STATUSES:
        raise InvalidInput("status_tidak_dikenal", f"Status {status!r} tidak dikenal.")
    total, rows = JobRepository(session).results(job.id, status=status, offset=offset, limit=limit)
    return total, [_hasil(job, r) for r in rows]


def all_results(
    session: Session, principal: Principal, job_id: str
) -> tuple[MatchJob, list[HasilOut]]:
    job = _own_job(session, principal, job_id)
    if job.status != "selesai":
        raise SimpulError(
            "pekerjaan_belum_selesai", f"Pekerjaan berstatus {job.status}; hasil belum ada.",
            status=409,
        )  # fmt: skip
    _, rows = JobRepository(session).results(job.id, limit=None)
    return job, [_hasil(job, r) for r in rows]


def review(
    session: Session, ctx: JobContext, job_id: str, line: int, decision: str, reason: str = ""
) -> HasilOut:
    """Clerical review: accept or reject one `kemungkinan_cocok`. Audited in the same
    transaction, with the linked person's keyed hash in the subject history."""
    if decision not in REVIEWS:
        raise InvalidInput("keputusan_tidak_dikenal", "Keputusan harus diterima atau ditolak.")
    job = _own_job(session, ctx.principal, job_id)
    repo = JobRepository(session)
    row = repo.result(job.id, line)
    if row is None:
        raise NotFound("baris_tidak_ditemukan", f"Baris {line} tidak ada dalam hasil.")
    if row.status != KEMUNGKINAN_COCOK:
        raise SimpulError(
            "bukan_kemungkinan_cocok", "Hanya baris kemungkinan_cocok yang ditinjau.", status=409
        )
    at = ctx.clock.now()
    repo.set_review(job.id, line, decision, ctx.principal.username, at)
    ctx.record(
        session,
        AuditEvent(
            action="pemadanan.tinjau",
            decision="tindakan",
            reason="ok",
            actor=ctx.principal.username,
            institution=ctx.principal.institution,
            agreement_id=job.agreement_id,
            agreement_version=job.agreement_version,
            grant_id=job.grant_id,
            service=job.service,
            mechanism=job.mechanism,
            dataset=job.dataset,
            subjects=(row.nik_cocok,) if row.nik_cocok else (),
            result={"pekerjaan": job.id, "baris": line, "keputusan": decision},
            request_id=ctx.request_id,
            detail={"alasan": reason} if reason else {},
        ),
    )
    session.refresh(row)
    return _hasil(job, row)


# --- PKS workflow lists -----------------------------------------------------------------


def _is_hit(h: HasilOut) -> bool:
    return h.status in MATCHED or (h.status == KEMUNGKINAN_COCOK and h.tinjauan == "diterima")


def workflow_lists(
    session: Session, principal: Principal, job_id: str
) -> dict[str, list[HasilOut]]:
    """The lists the PKS ask for, by workflow.

    - bpum (PKS 004): `hasil` (every row), `penerima` (the list after eliminating ASN: rows
      not found as ASN, and probable matches a reviewer rejected), `balikan` (the ASN
      accessed, returned to BKN as feedback data). Probable matches not yet reviewed stay
      out of `penerima` until a reviewer decides.
    - kpm (PKS 001): `hasil`, `selisih` (found with differing elements, and probable
      matches: the discrepancy list for the berita acara), `asn` (proposed KPM who are ASN).
    - umum / regsosek: `hasil`, `cocok`, `tidak_ditemukan`.
    """
    job, rows = all_results(session, principal, job_id)
    out: dict[str, list[HasilOut]] = {"hasil": rows}
    if job.workflow == "bpum":
        out["penerima"] = [
            h for h in rows
            if h.status == "tidak_ditemukan"
            or (h.status == KEMUNGKINAN_COCOK and h.tinjauan == "ditolak")
        ]  # fmt: skip
        out["balikan"] = [h for h in rows if _is_hit(h)]
    elif job.workflow == "kpm":
        out["selisih"] = [h for h in rows if h.status in (COCOK_ELEMEN_BERBEDA, KEMUNGKINAN_COCOK)]
        out["asn"] = [h for h in rows if _is_hit(h)]
    else:
        out["cocok"] = [h for h in rows if _is_hit(h)]
        out["tidak_ditemukan"] = [h for h in rows if h.status == "tidak_ditemukan"]
    return out


def csv_rows(job: MatchJob, rows: list[HasilOut]) -> tuple[list[str], list[list[Any]]]:
    """hasil.csv: the list's own NIK and name, the status and what the grant returns."""
    status_label = get_dataset(job.dataset).status_check
    header = ["baris", "nik_masukan", "nama_masukan", "status", "probabilitas",
              "elemen_berbeda", "metode", "tinjauan"]  # fmt: skip
    show_nik = "nik" in job.output_elements
    if show_nik:
        header.append("nik_cocok")
    if status_label is not None and job.service == Service.CEK_STATUS.value:
        header.append("hasil")
    extra = [k for k in job.output_elements if k != "nik"]
    header += extra
    out: list[list[Any]] = []
    for h in rows:
        line: list[Any] = [
            h.baris, h.masukan.get("nik", ""), h.masukan.get("nama_lengkap", ""), h.status,
            "" if h.probabilitas is None else f"{h.probabilitas:.4f}",
            ";".join(h.elemen_berbeda or []), h.metode or "", h.tinjauan or "",
        ]  # fmt: skip
        if show_nik:
            line.append(h.nik_cocok or "")
        if status_label is not None and job.service == Service.CEK_STATUS.value:
            line.append(status_label.found_label if _is_hit(h) else "data_tidak_ditemukan")
        data = h.data or {}
        line += [data.get(k, "") for k in extra]
        out.append(line)
    return header, out


def parsed_for(job: MatchJob, settings: Settings) -> ParsedList:
    """Re-read the stored upload of a job (the runner does; the result is deterministic)."""
    ds = get_dataset(job.dataset)
    return parse_list(Path(job.input_path), ds.alias_map(), settings.max_upload_rows)
