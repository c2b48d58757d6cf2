"""Feedback data (data balikan): what each recipient owes, derived from the audit log, and
the uploads that pay it.

What is owed: for every grant a feedback duty covers, each distinct subject the recipient
accessed (the log keeps only keyed hashes of NIKs), due a set time after its first access;
for `setiap_nik_ditemukan` (PKS 004) only subjects found in the provider's dataset. An
upload is a CSV with a `nik` column and the duty's elements; each row is checked (NIK,
element values, owed or not) and stored with its verdict, and the file is kept whole, so
nothing received is lost. The provider downloads the accepted rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import WIB, add_period, local_date
from simpul.agreements.schemas import AgreementDocument, FeedbackBasis, FeedbackDuty
from simpul.audit.models import AuditRecord, AuditSubject
from simpul.audit.schemas import AuditEvent
from simpul.audit.service import SubjectHasher, record_in_session
from simpul.config import Settings
from simpul.errors import InvalidInput, NotFound
from simpul.kit.clock import Clock, aware
from simpul.kit.csvsafe import safe_cell
from simpul.kit.ids import new_id
from simpul.kit.masking import mask_nik
from simpul.kit.numbers import angka
from simpul.kit.tabular import read_csv_bytes, row_problem
from simpul.obligations.deadlines import Deadline, status_of
from simpul.obligations.models import FeedbackRow, FeedbackUpload
from simpul.obligations.repository import UsageRepository
from simpul.registry.datasets import ElementType, canon_header, get_dataset, list_alias_map
from simpul.registry.identifiers import parse_nik, parse_nip
from simpul.registry.models import RegistryRecord
from simpul.registry.validation import parse_date

DEFAULT_DUE = (30, "hari")  # when a duty names no deadline
MAX_ROWS = 200_000


def feedback_duties(doc: AgreementDocument) -> list[FeedbackDuty]:
    return [d for d in doc.duties if isinstance(d, FeedbackDuty)]


def duty_grants(doc: AgreementDocument, duty: FeedbackDuty) -> list[str]:
    """The grants whose accesses the duty covers: those named, else all to the obligors."""
    if duty.grants:
        return list(duty.grants)
    return [g.id for g in doc.grants if g.recipient in duty.by]


def columns(duty: FeedbackDuty) -> list[str]:
    """The CSV columns of a duty: `nik` then its elements, profiles expanded."""
    dataset = get_dataset(duty.dataset)
    out = ["nik"]
    for name in duty.elements:
        for el in dataset.profiles.get(name, (name,)):
            if el not in out:
                out.append(el)
    return out


def _due_after(duty: FeedbackDuty, first: date) -> date:
    amount, unit = (duty.due.amount, duty.due.unit) if duty.due else DEFAULT_DUE
    return add_period(first, amount, unit)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Owed:
    subject_hash: str
    first_access: date
    due_on: date


def owed(
    session: Session,
    settings: Settings,
    agreement_id: str,
    doc: AgreementDocument,
    duty: FeedbackDuty,
    until: datetime | None = None,
) -> dict[str, Owed]:
    """Subject hash → what is owed for it (first access, due date)."""
    grants = duty_grants(doc, duty)
    if not grants:
        return {}
    stmt = (
        select(AuditSubject.subject_hash, func.min(AuditRecord.ts))
        .join(AuditRecord, AuditRecord.seq == AuditSubject.seq)
        .where(
            AuditRecord.agreement_id == agreement_id,
            AuditRecord.decision == "izin",
            AuditRecord.grant_id.in_(grants),
        )
        .group_by(AuditSubject.subject_hash)
    )
    if until is not None:
        stmt = stmt.where(AuditRecord.ts <= until)
    out: dict[str, Owed] = {}
    for subject, first in session.execute(stmt):
        day = local_date(_as_datetime(first))
        out[subject] = Owed(subject, day, _due_after(duty, day))
    if duty.basis is FeedbackBasis.EVERY_FOUND and out:
        datasets = {g.dataset for g in doc.grants if g.id in grants}
        found = _registry_hashes(session, settings, datasets)
        out = {k: v for k, v in out.items() if k in found}
    return out


def _registry_hashes(session: Session, settings: Settings, datasets: set[str]) -> set[str]:
    hasher = SubjectHasher(settings.require_secret("audit_hmac_key"))
    stmt = select(RegistryRecord.nik).where(RegistryRecord.dataset.in_(sorted(datasets)))
    return {hasher(nik) for nik in session.scalars(stmt)}


def received(session: Session, agreement_id: str, duty_id: str) -> dict[str, date]:
    """Subject hash → first day an accepted row for it arrived."""
    stmt = (
        select(FeedbackRow.subject_hash, func.min(FeedbackUpload.uploaded_at))
        .join(FeedbackUpload, FeedbackUpload.id == FeedbackRow.upload_id)
        .where(
            FeedbackRow.agreement_id == agreement_id,
            FeedbackRow.duty_id == duty_id,
            FeedbackRow.accepted.is_(True),
        )
        .group_by(FeedbackRow.subject_hash)
    )
    return {h: local_date(_as_datetime(at)) for h, at in session.execute(stmt) if h}


@dataclass(frozen=True)
class Completeness:
    agreement_id: str
    duty_id: str
    clause: str
    obligors: tuple[str, ...]
    to: str | None
    owed: int
    received: int
    overdue: int
    earliest_due: date | None  # of what is still outstanding

    @property
    def outstanding(self) -> int:
        return self.owed - self.received

    @property
    def ratio(self) -> float:
        return 1.0 if self.owed == 0 else self.received / self.owed


def completeness(
    session: Session,
    settings: Settings,
    agreement_id: str,
    doc: AgreementDocument,
    duty: FeedbackDuty,
    today: date,
    until: datetime | None = None,
    *,
    rollup: bool = False,
) -> Completeness:
    """Owed and received for one duty; with `until`, only accesses up to that instant.
    With `rollup`, counted from the first-access rollup (refreshed by the caller).

    For `setiap_nik_diakses` the counting is one grouped query; for `setiap_nik_ditemukan`
    the accessed subjects are matched against the provider's registry in Python."""
    if duty.basis is FeedbackBasis.EVERY_ACCESSED:
        grants = duty_grants(doc, duty)
        if not grants:
            return Completeness(agreement_id, duty.id, duty.clause, duty.by, duty.to, 0, 0, 0, None)
        amount, unit = (duty.due.amount, duty.due.unit) if duty.due else DEFAULT_DUE
        last_first = (
            add_period(today, -amount, unit)
            if unit == "hari"
            else add_period(today, -amount * (12 if unit == "tahun" else 1), "bulan")
        )
        cutoff = datetime.combine(last_first, time(0), WIB).astimezone(UTC)
        if rollup:
            from simpul.obligations import rollups  # rollups reads this module's duties

            n_owed, n_got, n_late, first = rollups.feedback_counts(
                session, agreement_id, duty.id, until, cutoff
            )
        else:
            n_owed, n_got, n_late, first = UsageRepository(session).feedback_counts(
                agreement_id, duty.id, grants, until, cutoff
            )
        earliest = _due_after(duty, local_date(_as_datetime(first))) if first else None
        return Completeness(agreement_id, duty.id, duty.clause, duty.by, duty.to, n_owed,
                            n_got, n_late, earliest)  # fmt: skip
    due = owed(session, settings, agreement_id, doc, duty, until)
    got = received(session, agreement_id, duty.id)
    outstanding = [o for h, o in due.items() if h not in got]
    return Completeness(
        agreement_id,
        duty.id,
        duty.clause,
        duty.by,
        duty.to,
        len(due),
        sum(1 for h in due if h in got),
        sum(1 for o in outstanding if o.due_on < today),
        min((o.due_on for o in outstanding), default=None),
    )


def deadline(c: Completeness, today: date) -> Deadline:
    """The feedback duty as one deadline: due at the earliest outstanding subject's date."""
    fulfilled = today if c.outstanding == 0 else None
    status = status_of(c.earliest_due, fulfilled, today)
    return Deadline(
        c.agreement_id,
        c.duty_id,
        "data_balikan",
        c.clause,
        c.obligors,
        c.to,
        "",
        c.earliest_due,
        status,
        None,
        c.outstanding,
        f"{c.received} dari {c.owed} subjek diterima; {c.overdue} melewati tenggat",
    )


def overdue(
    session: Session,
    settings: Settings,
    agreement_id: str,
    doc: AgreementDocument,
    duty: FeedbackDuty,
    today: date,
) -> list[Owed]:
    """Subjects owed and past due, oldest first (hashes: the log has no clear NIK)."""
    got = received(session, agreement_id, duty.id)
    due = owed(session, settings, agreement_id, doc, duty)
    late = [o for h, o in due.items() if h not in got and o.due_on < today]
    return sorted(late, key=lambda o: (o.due_on, o.subject_hash))


@dataclass(frozen=True)
class OverdueDay:
    first_access: date  # the day (WIB) subjects were first accessed
    due_on: date
    outstanding: int  # subjects of that day still without feedback


def overdue_by_day(
    session: Session,
    settings: Settings,
    agreement_id: str,
    doc: AgreementDocument,
    duty: FeedbackDuty,
    today: date,
) -> list[OverdueDay]:
    """The overdue list as the recipient can act on it: per day of first access, how many
    subjects still lack feedback (the log holds no clear NIK; the recipient's own records
    of that day name them)."""
    per_day: dict[date, int] = {}
    for o in overdue(session, settings, agreement_id, doc, duty, today):
        per_day[o.first_access] = per_day.get(o.first_access, 0) + 1
    return [OverdueDay(d, _due_after(duty, d), n) for d, n in sorted(per_day.items())]


# ---------------------------------------------------------------- uploads


@dataclass
class RowVerdict:
    line: int
    accepted: bool
    code: str
    detail: str
    data: dict[str, str]
    subject_hash: str | None = None


@dataclass
class UploadResult:
    upload_id: str
    agreement_id: str
    duty_id: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    errors: list[RowVerdict] = field(default_factory=list)
    accepted_niks: tuple[str, ...] = ()  # the subjects of the rows accepted (for the record)


def duty_of(doc: AgreementDocument, agreement_id: str, duty_id: str | None) -> FeedbackDuty:
    duties = feedback_duties(doc)
    if duty_id is not None:
        duties = [d for d in duties if d.id == duty_id]
    if not duties:
        raise NotFound(
            "kewajiban_data_balikan_tidak_ada",
            f"Perjanjian {agreement_id} tidak memuat kewajiban data balikan"
            + (f" {duty_id!r}." if duty_id else "."),
        )
    if len(duties) > 1:
        raise InvalidInput(
            "kewajiban_data_balikan_ambigu",
            f"Perjanjian {agreement_id} memuat lebih dari satu kewajiban data balikan; "
            "sebutkan kewajiban yang dimaksud.",
        )
    return duties[0]


def _check_value(kind: ElementType, values: tuple[str, ...] | None, raw: str) -> str | None:
    """An error text for a bad value, or None."""
    if kind is ElementType.NIP:
        info = parse_nip(raw)
        return None if info.valid else info.errors[0].code
    if kind is ElementType.TANGGAL:
        return None if parse_date(raw) else "tanggal_tidak_valid"
    if kind is ElementType.KK:
        return None if raw.isdigit() and len(raw) == 16 else "no_kk_tidak_valid"
    if kind is ElementType.WILAYAH:
        return None if raw.isdigit() and len(raw) in (2, 4, 6, 10) else "kode_wilayah_tidak_valid"
    if values and raw.upper() not in {v.upper() for v in values}:
        return "nilai_di_luar_daftar"
    return None


def _past_comments(
    header: list[str], rows: Iterator[tuple[int, list[Any]]]
) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header after any leading `# …` lines: the files Simpul writes (a job's
    `daftar/balikan.csv`) start with their source (PKS 000 Pasal 7 ayat (2))."""
    while header and str(header[0]).lstrip().startswith("#"):
        nxt = next(rows, None)
        if nxt is None:
            return [], rows
        header = [str(c) for c in nxt[1]]
    return header, rows


def feedback_columns(header: list[str], dataset: Any) -> list[str]:
    """The element each column of a feedback file gives: the dataset's names and SIAK
    aliases and the names lists use (a job's own feedback file carries the list's
    columns). Where the file also has `nik_cocok` — the registry NIK a job linked the row
    to — that is the `nik`, not the list's own."""
    aliases = list_alias_map(dataset)
    names = [aliases.get(canon_header(h), h.strip().lower()) for h in header]
    if "nik_cocok" in names:
        names = ["nik_masukan" if n == "nik" else n for n in names]
        names[names.index("nik_cocok")] = "nik"
    for given, element in (("nik_masukan", "nik"), ("nama_masukan", "nama_lengkap")):
        if element not in names and given in names:  # a job's file from before issue 20
            names[names.index(given)] = element
    return names


def validate_rows(
    content: bytes | str,
    duty: FeedbackDuty,
    owed_hashes: set[str],
    hasher: SubjectHasher,
    today: date,
) -> list[RowVerdict]:
    """A verdict for every data row. Header problems fail the whole file.

    Read with `simpul.kit.tabular` (as lists are): a row with an unclosed quote is rejected by
    its line and the rows after it are still read; a line that is not UTF-8 is decoded alone
    (cp1252) and its verdict says so; the file is never re-decoded as a whole."""
    dataset = get_dataset(duty.dataset)
    wanted = columns(duty)
    table = read_csv_bytes(content.encode() if isinstance(content, str) else content)
    header, rows = _past_comments(table.header, iter(table.rows))
    names = feedback_columns(header, dataset)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InvalidInput(
            "kolom_wajib_tidak_ada",
            f"Kolom wajib tidak ada: {', '.join(missing)}. Kolom yang diminta: "
            f"{', '.join(wanted)}.",
            kolom_hilang=missing,
        )
    index = {n: names.index(n) for n in wanted}
    seen: set[str] = set()
    out: list[RowVerdict] = []
    for line, cells in rows:
        if len(out) >= MAX_ROWS:
            raise InvalidInput(  # 413, as every other upload limit answers
                "berkas_terlalu_besar",
                f"Paling banyak {angka(MAX_ROWS)} baris per unggahan.",
                status=413,
            )
        problem = row_problem(cells)
        if problem is not None:
            out.append(RowVerdict(line, False, problem.code, problem.detail, {}))
            continue
        data = {n: (str(cells[i]).strip() if i < len(cells) else "") for n, i in index.items()}
        verdict = _verdict(line, data, dataset, owed_hashes, hasher, seen, today)
        notes = table.warnings_for(line)
        if notes:
            said = " ".join(n.detail for n in notes)
            verdict.detail = f"{verdict.detail} {said}".strip()
        out.append(verdict)
    return out


def _verdict(
    line: int,
    data: dict[str, str],
    dataset: Any,
    owed_hashes: set[str],
    hasher: SubjectHasher,
    seen: set[str],
    today: date,
) -> RowVerdict:
    info = parse_nik(data["nik"], reference=today)
    if not info.valid:
        return RowVerdict(
            line, False, info.errors[0].code, f"NIK tidak sah ({info.errors[0].code}).", data
        )
    nik = info.nik
    problems: list[str] = []
    for name, raw in data.items():
        if name == "nik":
            continue
        if not raw:
            problems.append(f"{name}: kosong")
            continue
        el = dataset.element(name) if name in dataset.element_names else None
        if el is not None and (bad := _check_value(el.type, el.values, raw)):
            problems.append(f"{name}: {bad}")
    if problems:
        return RowVerdict(line, False, "nilai_tidak_valid", "; ".join(problems), data)
    subject = hasher(nik)
    if subject not in owed_hashes:
        return RowVerdict(
            line,
            False,
            "tidak_terutang",
            f"NIK {mask_nik(nik)} tidak termasuk subjek yang diakses dalam perjanjian ini.",
            data,
            subject,
        )
    if subject in seen:
        return RowVerdict(
            line,
            False,
            "duplikat_dalam_berkas",
            f"NIK {mask_nik(nik)} sudah ada pada baris sebelumnya.",
            data,
            subject,
        )
    seen.add(subject)
    data["nik"] = nik
    return RowVerdict(line, True, "diterima", "", data, subject)


def upload(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    content: bytes,
    *,
    filename: str,
    actor: str,
    institution: str,
    duty_id: str | None = None,
) -> UploadResult:
    """Check and store one feedback file; the file and every row are kept with verdicts."""
    row = agreements.get(session, agreement_id)
    doc = agreements.document_of(row)
    duty = duty_of(doc, agreement_id, duty_id)
    if institution not in duty.by:
        raise InvalidInput(
            "bukan_pihak_wajib",
            f"Instansi {institution} tidak berkewajiban menyampaikan data balikan "
            f"{duty.id} pada {agreement_id}.",
            status=403,
        )
    if len(content) > settings.max_upload_bytes:
        raise InvalidInput(
            "berkas_terlalu_besar", "Berkas melebihi batas ukuran unggahan.", status=413
        )
    hasher = SubjectHasher(settings.require_secret("audit_hmac_key"))
    owed_hashes = set(owed(session, settings, agreement_id, doc, duty))
    verdicts = validate_rows(content, duty, owed_hashes, hasher, local_date(clock.now()))
    upload_id = new_id("db")
    accepted = sum(1 for v in verdicts if v.accepted)
    session.add(
        FeedbackUpload(
            id=upload_id,
            agreement_id=agreement_id,
            duty_id=duty.id,
            institution=institution,
            filename=filename[-300:],
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            uploaded_at=clock.now(),
            uploaded_by=actor[:120],
            rows_total=len(verdicts),
            rows_accepted=accepted,
            rows_rejected=len(verdicts) - accepted,
        )
    )
    session.flush()
    session.add_all(
        FeedbackRow(
            upload_id=upload_id,
            line=v.line,
            agreement_id=agreement_id,
            duty_id=duty.id,
            subject_hash=v.subject_hash,
            accepted=v.accepted,
            code=v.code,
            detail=v.detail,
            data=v.data,
        )
        for v in verdicts
    )
    session.flush()
    return UploadResult(
        upload_id,
        agreement_id,
        duty.id,
        len(verdicts),
        accepted,
        len(verdicts) - accepted,
        [v for v in verdicts if not v.accepted],
        tuple(v.data["nik"] for v in verdicts if v.accepted),
    )


def uploads(session: Session, agreement_id: str) -> Sequence[FeedbackUpload]:
    stmt = (
        select(FeedbackUpload)
        .where(FeedbackUpload.agreement_id == agreement_id)
        .order_by(FeedbackUpload.uploaded_at, FeedbackUpload.id)
    )
    return session.scalars(stmt).all()


@dataclass(frozen=True)
class FeedbackFile:
    """The feedback data of one duty as the provider downloads it."""

    agreement_id: str
    duty_id: str
    text: str  # CSV, first line the source (PKS 000 Pasal 7(2))
    niks: tuple[str, ...]  # the people in it, for the download's audit record

    @property
    def rows(self) -> int:
        return len(self.niks)


def source_line(doc: AgreementDocument, senders: Sequence[str], version: int) -> str:
    """PKS 000 Pasal 7 ayat (2): the file names who sent the data and under what."""
    names = {p.code: " ".join(p.name.split()) for p in doc.parties}
    who = ", ".join(names.get(code, code) for code in senders)
    return (
        f"# Sumber: {who} (data balikan); perjanjian {doc.id} versi {version} "
        "(PKS Pasal 7 ayat (2))."
    )


def download_csv(
    session: Session, agreement_id: str, duty_id: str | None = None, *, version: int | None = None
) -> FeedbackFile:
    """The accepted feedback rows, latest per subject, as CSV (formula-safe) for the
    provider; the first line cites the institutions that sent them."""
    row = agreements.get(session, agreement_id)
    doc = agreements.document_of(row)
    duty = duty_of(doc, agreement_id, duty_id)
    wanted = columns(duty)
    stmt = (
        select(FeedbackRow, FeedbackUpload.uploaded_at, FeedbackUpload.id,
               FeedbackUpload.institution)
        .join(FeedbackUpload, FeedbackUpload.id == FeedbackRow.upload_id)
        .where(
            FeedbackRow.agreement_id == agreement_id,
            FeedbackRow.duty_id == duty.id,
            FeedbackRow.accepted.is_(True),
        )
        .order_by(FeedbackUpload.uploaded_at, FeedbackUpload.id, FeedbackRow.line)
    )  # fmt: skip
    latest: dict[str, tuple[dict[str, Any], str, Any, str]] = {}
    for fb, at, upload_id, sender in session.execute(stmt):
        latest[fb.subject_hash or ""] = (fb.data, upload_id, at, sender)
    senders = sorted({t[3] for t in latest.values()}) or list(duty.by)
    buf = io.StringIO()
    buf.write(source_line(doc, senders, version or row.version) + "\n")
    writer = csv.writer(buf)
    writer.writerow([*wanted, "unggahan", "diterima_pada"])
    ordered = sorted(latest.values(), key=lambda t: t[0].get("nik", ""))
    for data, upload_id, at, _ in ordered:
        writer.writerow([safe_cell(data.get(c, "")) for c in wanted] + [upload_id, str(at)])
    niks = tuple(str(t[0].get("nik", "")) for t in ordered)
    return FeedbackFile(agreement_id, duty.id, buf.getvalue(), niks)


def rejections_csv(result: UploadResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["baris", "kode", "keterangan"])
    for v in result.errors:
        writer.writerow([v.line, v.code, safe_cell(v.detail)])
    return buf.getvalue()


# ---------------------------------------------------------------- retention

PURGE_ACTION = "data_balikan.hapus_retensi"


def purge_expired(session: Session, settings: Settings, clock: Clock) -> int:
    """What the node keeps of a feedback upload only for the sender, deleted once the
    agreement's `retention_days` have passed since receipt: the stored file and the values
    of its rejected rows (not owed, invalid or duplicated: nothing the provider is owed).
    The accepted rows stay: they are the provider's record and the proof that the duty was
    met (docs/obligations.md, "Retention"); every row keeps its line, verdict and masked
    detail. Returns how many files and rejected rows were emptied; one audit record when
    any were."""
    now = clock.now()
    stmt = select(FeedbackUpload.id, FeedbackUpload.agreement_id, FeedbackUpload.uploaded_at).where(
        func.length(FeedbackUpload.content) > 0
    )
    keep: dict[str, int | None] = {}
    expired: list[str] = []
    for upload_id, agreement_id, uploaded_at in session.execute(stmt):
        if agreement_id not in keep:
            try:
                doc = agreements.document_of(agreements.get(session, agreement_id))
                keep[agreement_id] = doc.retention_days
            except NotFound:
                keep[agreement_id] = None
        days = keep[agreement_id]
        if days is not None and aware(uploaded_at) <= now - timedelta(days=days):
            expired.append(upload_id)
    files = rows = 0
    for i in range(0, len(expired), 500):
        chunk = expired[i : i + 500]
        session.execute(
            update(FeedbackUpload).where(FeedbackUpload.id.in_(chunk)).values(content=b"")
        )
        files += len(chunk)
        for fb in session.scalars(
            select(FeedbackRow).where(
                FeedbackRow.upload_id.in_(chunk), FeedbackRow.accepted.is_(False)
            )
        ):
            if fb.data:
                fb.data = {}
                rows += 1
    session.flush()
    if files or rows:
        record_in_session(
            session,
            settings,
            AuditEvent(
                action=PURGE_ACTION, decision="tindakan", reason="retensi", actor="simpul",
                result={"berkas": files, "baris_ditolak": rows},
            ),
            clock,
        )  # fmt: skip
    return files + rows
