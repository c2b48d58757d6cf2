"""Reports and official documents: the provider's usage report per agreement and semester,
the recipient's semester report, evaluation records and their summary for the Minister
(PKS 000 Pasal 10(4)), and the berita acara penetapan pengguna data dan operator (PKS 000
Pasal 3(4)). HTML from Jinja2 templates extending `dokumen.html`; PDF by WeasyPrint."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access import service as access
from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import WIB, local_date
from simpul.agreements.schemas import AgreementDocument, EvaluationDuty, SemesterReportDuty
from simpul.config import Settings
from simpul.errors import Conflict, InvalidInput, NotFound
from simpul.kit.clock import Clock
from simpul.kit.documents import document_environment, render_html, render_pdf
from simpul.obligations import charts, feedback, rollups
from simpul.obligations.models import Evaluation, SemesterReport
from simpul.obligations.service import audit_action, deadlines

Recommendation = Literal["lanjut", "perbaiki", "tangguhkan", "akhiri"]
RECOMMENDATIONS: tuple[str, ...] = ("lanjut", "perbaiki", "tangguhkan", "akhiri")
_ENV = document_environment("simpul.obligations")
TOP_USERS = 10


def semester_bounds(year: int, semester: int) -> tuple[datetime, datetime]:
    if semester not in (1, 2):
        raise InvalidInput("semester_tidak_sah", "Semester harus 1 atau 2.")
    lo = datetime(year, 1 if semester == 1 else 7, 1, tzinfo=WIB)
    hi = datetime(year, 7, 1, tzinfo=WIB) if semester == 1 else datetime(year + 1, 1, 1, tzinfo=WIB)
    return lo.astimezone(UTC), hi.astimezone(UTC)


def _months(year: int, semester: int) -> list[str]:
    first = 1 if semester == 1 else 7
    return [f"{year}-{m:02d}" for m in range(first, first + 6)]


@dataclass
class Usage:
    agreement_id: str
    title: str
    parties: list[dict[str, Any]]
    year: int
    semester: int
    institution: str | None
    generated_at: datetime
    records: int = 0
    allowed: int = 0
    denied: int = 0
    subjects: int = 0
    by_service: dict[str, int] = field(default_factory=dict)
    by_mechanism: dict[str, int] = field(default_factory=dict)
    by_month: dict[str, dict[str, int]] = field(default_factory=dict)  # month → service → n
    outcomes: dict[str, int] = field(default_factory=dict)
    denials: dict[str, int] = field(default_factory=dict)
    active_accounts: int = 0
    top_users: list[tuple[str, str, int, int]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    @property
    def months(self) -> list[str]:
        return _months(self.year, self.semester)

    @property
    def denial_rate(self) -> float:
        return self.denied / self.records if self.records else 0.0

    def figures(self) -> dict[str, Any]:
        """The numbers a semester report carries (stored with the report)."""
        return {
            "catatan": self.records,
            "diizinkan": self.allowed,
            "ditolak": self.denied,
            "subjek": self.subjects,
            "per_layanan": self.by_service,
            "per_mekanisme": self.by_mechanism,
            "per_bulan": {m: sum(v.values()) for m, v in sorted(self.by_month.items())},
            "akun_aktif": self.active_accounts,
            "penolakan": self.denials,
        }


INCIDENT_ACTIONS = (
    "perjanjian.",
    "akun.cabut",
    "perangkat.nonaktifkan",
    "token.cabut",
    "instansi.ubah_nama",
    "kewajiban.peristiwa",
)


def usage(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    year: int,
    semester: int,
    *,
    institution: str | None = None,
    with_feedback: bool = True,
) -> Usage:
    """The usage figures of one agreement in one semester, from the log's rollups (brought
    up to date first: this writes, so call it in a write transaction)."""
    row = agreements.get(session, agreement_id)
    doc = agreements.document_of(row)
    lo, hi = semester_bounds(year, semester)
    out = Usage(agreement_id, doc.title, _parties(doc), year, semester, institution, clock.now())
    actors = bound_accounts(session, agreement_id)
    rollups.refresh(session)  # only what was appended since the last refresh
    hourly_rows = rollups.hourly(session, agreement_id, lo, hi, institution, actors)
    actor_rows = rollups.per_actor(session, agreement_id, lo, hi, institution, actors)
    action_rows = rollups.actions(session, agreement_id, lo, hi)
    if with_feedback:
        today = min(local_date(clock.now()), local_date(hi))
        for duty in feedback.feedback_duties(doc):
            c = feedback.completeness(
                session, settings, agreement_id, doc, duty, today, hi, rollup=True
            )
            out.feedback.append({
                "kewajiban": duty.id, "pasal": duty.clause, "terutang": c.owed,
                "diterima": c.received, "terlambat": c.overdue,
                "persen": round(100 * c.ratio, 1),
            })  # fmt: skip
    per_day: Counter[str] = Counter()
    off_hours = 0
    hours: dict[str, datetime] = {}
    results: dict[str, str] = {}
    for service, mechanism, decision, reason, result, hour, n, subjects in hourly_rows:
        n, subjects = int(n), int(subjects or 0)
        out.records += n
        local = hours.get(hour)
        if local is None:
            local = hours[hour] = (
                datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(WIB)
            )
        per_day[f"{local:%Y-%m-%d}"] += n
        off_hours += n if local.hour < 7 or local.hour >= 19 else 0
        if decision == "tolak":
            out.denied += n
            out.denials[reason] = out.denials.get(reason, 0) + n
            continue
        out.allowed += n
        out.subjects += subjects
        svc, mech, month = service or "-", mechanism or "-", f"{local:%Y-%m}"
        out.by_service[svc] = out.by_service.get(svc, 0) + n
        out.by_mechanism[mech] = out.by_mechanism.get(mech, 0) + n
        bucket = out.by_month.setdefault(month, {})
        bucket[svc] = bucket.get(svc, 0) + n
        label = results.get(result)
        if label is None:
            hasil = json.loads(result).get("hasil") if result else None
            label = results[result] = str(hasil) if hasil else "kumpulan (batch)"
        out.outcomes[label] = out.outcomes.get(label, 0) + n
    per_actor: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for actor, inst, decision, n, subjects in actor_rows:
        if decision == "izin":
            per_actor[(actor or "-", inst or "-")][0] += int(n)
            per_actor[(actor or "-", inst or "-")][1] += int(subjects or 0)
    out.active_accounts = len(per_actor)
    ranked = sorted(per_actor.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_USERS]
    out.top_users = [(a, i, v[0], v[1]) for (a, i), v in ranked]
    out.anomalies = _anomalies(per_day, off_hours, out)
    for seq, ts, action, actor, detail in action_rows:
        if str(action).startswith(INCIDENT_ACTIONS):
            info = json.loads(detail) if detail else {}
            out.incidents.append(
                {
                    "seq": seq,
                    "ts": _wib(ts),
                    "tindakan": action,
                    "pelaku": actor,
                    "alasan": info.get("alasan", ""),
                }
            )
    return out


def bound_accounts(session: Session, agreement_id: str) -> tuple[str, ...]:
    """Usernames of the accounts bound to the agreement and of their operators."""
    accounts = access.list_accounts(session)
    users = {a.username for a in accounts if agreement_id in a.agreement_ids}
    users |= {a.username for a in accounts if a.operator_of in users}
    return tuple(sorted(users))


def _anomalies(per_day: Counter[str], off: int, u: Usage) -> list[str]:
    found: list[str] = []
    if per_day:
        median = statistics.median(per_day.values())
        limit = max(3 * median, median + 20)
        for day, n in sorted(per_day.items()):
            if n > limit:
                found.append(f"Lonjakan akses {day}: {n} catatan (median harian {median:g}).")
    total = sum(per_day.values())
    if total and off / total > 0.2:
        found.append(
            f"{round(100 * off / total)}% akses di luar jam kerja (sebelum 07.00 atau "
            "sejak 19.00 WIB)."
        )
    if u.records >= 20 and u.denial_rate > 0.2:
        found.append(f"Tingkat penolakan tinggi: {round(100 * u.denial_rate)}% permintaan ditolak.")
    return found


def _parties(doc: AgreementDocument) -> list[dict[str, Any]]:
    return [p.model_dump() for p in doc.parties]


def _wib(ts: Any) -> str:
    """An audit timestamp (UTC) as the report reads it: local time in WIB."""
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if isinstance(ts, datetime):
        aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
        return aware.astimezone(WIB).strftime("%Y-%m-%d %H.%M.%S")
    return str(ts)[:19]


def _as_is(family: str, code: str) -> str:
    return code


def usage_html(u: Usage, label: Callable[[str, str], str] = _as_is) -> str:
    """The usage report. `label(family, code)` names services (`svc.name`) and mechanisms
    (`mech`) as the reader's catalogue does (the portal passes its own); codes otherwise."""
    months = u.months
    services = sorted(u.by_service)
    monthly = charts.column_chart(
        [m[5:] + "/" + m[2:4] for m in months],
        [(label("svc.name", s), [u.by_month.get(m, {}).get(s, 0) for m in months])
         for s in services],
        title="Volume akses per bulan dan layanan",
    )  # fmt: skip
    by_mech = charts.bar_chart(
        sorted(((label("mech", k), v) for k, v in u.by_mechanism.items()), key=lambda kv: -kv[1]),
        title="Volume per mekanisme",
    )
    denials = charts.bar_chart(
        sorted(u.denials.items(), key=lambda kv: -kv[1]), title="Penolakan per alasan"
    )
    return render_html(
        _ENV,
        "laporan_penggunaan.html",
        {
            "u": u,
            "grafik_bulan": monthly,
            "grafik_mekanisme": by_mech,
            "grafik_tolak": denials,
            "nomor_dokumen": f"LP/{u.agreement_id}/{u.year}-S{u.semester}",
            "kop_sub": f"Laporan penggunaan {u.agreement_id}",
            "label": label,
        },
    )


def pdf(html: str) -> bytes:
    return render_pdf(html)


# ---------------------------------------------------------------- semester reports


def _report_duty(doc: AgreementDocument, agreement_id: str) -> SemesterReportDuty:
    duty = next((d for d in doc.duties if isinstance(d, SemesterReportDuty)), None)
    if duty is None:
        raise NotFound(
            "kewajiban_laporan_tidak_ada",
            f"Perjanjian {agreement_id} tidak memuat kewajiban laporan semester.",
        )
    return duty


def submit_semester_report(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    year: int,
    semester: int,
    *,
    narrative: str,
    actor: str,
    institution: str,
) -> SemesterReport:
    """The recipient's semester report, its figures filled in from the log."""
    doc = agreements.document_of(agreements.get(session, agreement_id))
    duty = _report_duty(doc, agreement_id)
    if institution not in duty.by:
        raise InvalidInput(
            "bukan_pihak_wajib",
            f"Instansi {institution} tidak berkewajiban "
            f"menyampaikan laporan semester {agreement_id}.",
            status=403,
        )
    if not narrative.strip():
        raise InvalidInput("uraian_wajib", "Uraian laporan wajib diisi.")
    exists = session.scalars(
        select(SemesterReport).where(
            SemesterReport.agreement_id == agreement_id,
            SemesterReport.duty_id == duty.id,
            SemesterReport.year == year,
            SemesterReport.semester == semester,
        )
    ).first()
    if exists is not None:
        raise Conflict(
            "laporan_sudah_disampaikan",
            f"Laporan semester {semester} tahun {year} {agreement_id} sudah disampaikan.",
        )
    u = usage(
        session,
        settings,
        clock,
        agreement_id,
        year,
        semester,
        institution=institution,
        with_feedback=False,
    )
    report = SemesterReport(
        agreement_id=agreement_id,
        duty_id=duty.id,
        institution=institution,
        year=year,
        semester=semester,
        figures=u.figures(),
        narrative=narrative.strip(),
        submitted_at=clock.now(),
        submitted_by=actor[:120],
    )
    session.add(report)
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        "kewajiban.laporan_semester",
        actor,
        agreement_id,
        {"tahun": year, "semester": semester, "catatan": u.records},
        institution,
    )
    return report


def semester_report_html(session: Session, report: SemesterReport) -> str:
    doc = agreements.document_of(agreements.get(session, report.agreement_id))
    return render_html(
        _ENV,
        "laporan_semester.html",
        {
            "r": report,
            "doc": doc,
            "pihak": _parties(doc),
            "tanggal": local_date(report.submitted_at),
            "nomor_dokumen": f"LS/{report.agreement_id}/{report.year}-S{report.semester}",
            "kop": next(
                (p.name for p in doc.parties if p.code == report.institution), report.institution
            ),
        },
    )


def semester_reports(session: Session, agreement_id: str) -> list[SemesterReport]:
    stmt = (
        select(SemesterReport)
        .where(SemesterReport.agreement_id == agreement_id)
        .order_by(SemesterReport.year, SemesterReport.semester)
    )
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- evaluations


def record_evaluation(
    session: Session,
    settings: Settings,
    clock: Clock,
    agreement_id: str,
    *,
    period: str,
    findings: list[str],
    recommendation: str,
    evaluator: str,
    duty_id: str | None = None,
    evaluated_on: date | None = None,
) -> Evaluation:
    """An evaluation at the PKS's frequency (period "2026-S1", "2026") or at any time."""
    doc = agreements.document_of(agreements.get(session, agreement_id))
    duties = [d for d in doc.duties if isinstance(d, EvaluationDuty)]
    duty = next((d for d in duties if duty_id is None or d.id == duty_id), None)
    if duty is None:
        raise NotFound(
            "kewajiban_evaluasi_tidak_ada",
            f"Perjanjian {agreement_id} tidak memuat kewajiban evaluasi.",
        )
    if recommendation not in RECOMMENDATIONS:
        raise InvalidInput(
            "rekomendasi_tidak_sah",
            f"Rekomendasi harus salah satu dari: {', '.join(RECOMMENDATIONS)}.",
        )
    items = [f.strip() for f in findings if f.strip()]
    if not items:
        raise InvalidInput("temuan_wajib", "Sedikitnya satu temuan evaluasi wajib diisi.")
    if not period.strip():
        raise InvalidInput("periode_wajib", "Periode evaluasi wajib diisi.")
    row = Evaluation(
        agreement_id=agreement_id,
        duty_id=duty.id,
        period=period.strip()[:20],
        evaluated_on=evaluated_on or local_date(clock.now()),
        evaluator=evaluator[:120],
        findings=items,
        recommendation=recommendation,
        recorded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit_action(
        session,
        settings,
        clock,
        "kewajiban.evaluasi",
        evaluator,
        agreement_id,
        {"periode": row.period, "rekomendasi": recommendation, "temuan": len(items)},
    )
    return row


def evaluations(session: Session, agreement_id: str | None = None) -> list[Evaluation]:
    stmt = select(Evaluation).order_by(
        Evaluation.agreement_id, Evaluation.evaluated_on, Evaluation.id
    )
    if agreement_id:
        stmt = stmt.where(Evaluation.agreement_id == agreement_id)
    return list(session.scalars(stmt))


def evaluation_summary(session: Session, settings: Settings, clock: Clock) -> list[dict[str, Any]]:
    """One line per agreement: state, latest evaluation, reports, feedback, overdue duties."""
    now = clock.now()
    today = local_date(now)
    latest: dict[str, Evaluation] = {}
    for e in evaluations(session):
        latest[e.agreement_id] = e
    open_all = deadlines(session, settings, clock, open_only=True, include_ended=True)
    rows: list[dict[str, Any]] = []
    for s in agreements.list_agreements(session, now):
        doc = agreements.document_of(agreements.get(session, s.id))
        fb = [
            feedback.completeness(session, settings, s.id, doc, d, today)
            for d in feedback.feedback_duties(doc)
        ]
        owed = sum(c.owed for c in fb)
        ev = latest.get(s.id)
        rows.append(
            {
                "id": s.id,
                "judul": s.title,
                "pihak": ", ".join(s.parties),
                "status": s.effective_state.value,
                "berakhir": s.ends_on,
                "laporan": len(semester_reports(session, s.id)),
                "data_balikan": None
                if not owed
                else round(100 * sum(c.received for c in fb) / owed, 1),
                "terlambat": sum(
                    1 for d in open_all if d.agreement_id == s.id and d.status.value == "terlambat"
                ),
                "evaluasi": ev,
            }
        )
    return rows


def evaluation_summary_html(session: Session, settings: Settings, clock: Clock) -> str:
    rows = evaluation_summary(session, settings, clock)
    counts = Counter(r["evaluasi"].recommendation for r in rows if r["evaluasi"])
    return render_html(
        _ENV,
        "ringkasan_evaluasi.html",
        {
            "baris": rows,
            "tanggal": local_date(clock.now()),
            "rekomendasi": counts,
            "nomor_dokumen": f"RE/{local_date(clock.now()).isoformat()}",
        },
    )


# ---------------------------------------------------------------- berita acara


def designation_html(
    session: Session,
    clock: Clock,
    agreement_id: str,
    *,
    on: date | None = None,
    place: str | None = None,
) -> str:
    """Berita acara penetapan pengguna data dan operator (PKS 000 Pasal 3(4)): the data
    users bound to the agreement and the operator of each."""
    doc = agreements.document_of(agreements.get(session, agreement_id))
    accounts = access.list_accounts(session)
    users = [
        a
        for a in accounts
        if a.role is Role.DATA_USER
        and agreement_id in a.agreement_ids
        and a.status.value == "aktif"
    ]
    names = {u.username for u in users}
    ops: dict[str, list[Any]] = defaultdict(list)
    for a in accounts:
        if a.role is Role.OPERATOR and a.operator_of in names and a.status.value == "aktif":
            ops[a.operator_of or ""].append(a)
    if not users:
        raise NotFound(
            "pengguna_data_tidak_ada", f"Belum ada pengguna data aktif yang terikat {agreement_id}."
        )
    day = on or local_date(clock.now())
    return render_html(
        _ENV,
        "berita_acara_penetapan.html",
        {
            "doc": doc,
            "pihak": doc.parties,
            "hari": day,
            "tempat": place or doc.place or "Jakarta",
            "pengguna": [(u, ops.get(u.username, [])) for u in users],
            "jumlah_pengguna": len(users),
            "jumlah_operator": sum(len(v) for v in ops.values()),
            "nomor_dokumen": f"BA/{agreement_id}/{day.isoformat()}",
        },
    )
