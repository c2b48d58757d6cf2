"""Aggregates of the audit log kept up to date incrementally, so a usage report reads a few
thousand grouped rows instead of scanning a semester of records.

`refresh` reads only the records appended since its last run (`seq > last_seq`, a range of
the log's primary key), groups them in the database and appends the groups; readers sum
the groups. Feedback first accesses are upserted per duty (the earliest wins). A refresh
runs before each usage report and from `simpul obligations enforce`/`notify`; it takes the
state rows' lock (PostgreSQL) or the write lock (SQLite), so two never double count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from simpul.agreements import service as agreements
from simpul.agreements.schemas import FeedbackBasis
from simpul.audit.service import ts_text
from simpul.obligations import feedback
from simpul.obligations.repository import KEY_CHARS

# The UTC hour of a record while grouping (cheap per row), and as stored text afterwards
# (once per group): to_char on every one of a million rows costs PostgreSQL seconds.
_HOUR = {
    "sqlite": "substr(ts, 1, 13)",
    "postgresql": "date_trunc('hour', ts AT TIME ZONE 'UTC')",
}
_HOUR_TEXT = {"sqlite": "hour", "postgresql": "to_char(hour, 'YYYY-MM-DD HH24')"}
USAGE = "usage"
_KEEP_EARLIEST = (
    " ON CONFLICT (agreement_id, duty_id, key) DO UPDATE SET first_ts = CASE "
    "WHEN excluded.first_ts < feedback_first_access.first_ts "
    "THEN excluded.first_ts ELSE feedback_first_access.first_ts END"
)


def hour_text(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H}"


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _last(session: Session, name: str) -> int:
    lock = " FOR UPDATE" if _dialect(session) == "postgresql" else ""
    row = session.execute(
        text(f"SELECT last_seq FROM obligation_rollup_state WHERE name = :n{lock}"), {"n": name}
    ).first()
    if row is None:
        session.execute(
            text("INSERT INTO obligation_rollup_state (name, last_seq) VALUES (:n, 0)"),
            {"n": name},
        )
        return 0
    return int(row[0])


def _set_last(session: Session, name: str, seq: int) -> None:
    session.execute(
        text("UPDATE obligation_rollup_state SET last_seq = :s WHERE name = :n"),
        {"s": seq, "n": name},
    )


@dataclass(frozen=True)
class Refreshed:
    records: int  # log records read by this refresh
    head: int


def refresh(session: Session) -> Refreshed:
    """Bring every rollup up to the log's head (in the caller's transaction)."""
    head = int(session.execute(text("SELECT coalesce(max(seq), 0) FROM audit_record")).scalar_one())
    last = _last(session, USAGE)
    dialect = _dialect(session)
    hour, hour_str = _HOUR[dialect], _HOUR_TEXT[dialect]
    if dialect == "postgresql" and head - last > 100_000:
        # A large backlog (a first build, often right after a bulk load that autovacuum has
        # not analysed yet): fresh statistics and room to hash the groups in memory turn a
        # sort of every record into a hash aggregate (4.5 s → 1.1 s per million).
        session.execute(text("ANALYZE audit_record"))
        session.execute(text("ANALYZE audit_subject"))
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    window = {"lo": last, "hi": head}
    if head > last:
        # One scan of the new records into fine groups (agreement, actor, institution, hour,
        # service, mechanism, decision, reason, result: ~90k groups for a million records);
        # both rollups are sums over those groups, so the log is read and sorted once.
        session.execute(text("DROP TABLE IF EXISTS tmp_usage_groups"))
        session.execute(
            text(
                "CREATE TEMPORARY TABLE tmp_usage_groups AS SELECT "
                "coalesce(agreement_id, '') AS agreement_key, coalesce(actor, '') AS actor, "
                f"coalesce(institution, '') AS institution, {hour} AS hour, service, "
                "mechanism, decision, reason, result, count(*) AS records, "
                "sum(subject_count) AS subjects FROM audit_record "
                "WHERE seq > :lo AND seq <= :hi AND decision IN ('izin', 'tolak') "
                # A party's access to what the node keeps for it (feedback files, outputs:
                # `PartyRequest`, recorded without a service) is no use of a service.
                "AND service IS NOT NULL GROUP BY "
                "coalesce(agreement_id, ''), coalesce(actor, ''), coalesce(institution, ''), "
                f"{hour}, service, mechanism, decision, reason, result"
            ),
            window,
        )
        session.execute(
            text(
                "INSERT INTO usage_rollup (agreement_key, actor_key, institution, hour, service, "
                "mechanism, decision, reason, result, records, subjects) "
                "SELECT agreement_key, CASE WHEN agreement_key = '' THEN actor ELSE '' END "
                f"AS ak, institution, {hour_str}, service, mechanism, decision, reason, result, "
                "sum(records), sum(subjects) FROM tmp_usage_groups GROUP BY agreement_key, ak, "
                "institution, hour, service, mechanism, decision, reason, result"
            )
        )
        session.execute(
            text(
                "INSERT INTO usage_actor_rollup (agreement_key, actor, institution, hour, "
                "decision, records, subjects) SELECT agreement_key, actor, institution, "
                f"{hour_str}, decision, sum(records), sum(subjects) FROM tmp_usage_groups "
                "GROUP BY agreement_key, actor, institution, hour, decision"
            )
        )
        session.execute(text("DROP TABLE tmp_usage_groups"))
        session.execute(
            text(
                "INSERT INTO usage_action (seq, ts, agreement_id, action, actor, detail) "
                "SELECT seq, ts, agreement_id, action, actor, detail FROM audit_record "
                "WHERE seq > :lo AND seq <= :hi AND decision = 'tindakan'"
            ),
            window,
        )
        _set_last(session, USAGE, head)
    _refresh_feedback(session, head)
    return Refreshed(max(0, head - last), head)


def reset(session: Session) -> None:
    """Forget every rollup; the next `refresh` rebuilds them from the whole log."""
    tables = (
        "usage_rollup", "usage_actor_rollup", "usage_action", "feedback_first_access",
        "obligation_rollup_state",
    )  # fmt: skip
    if _dialect(session) == "postgresql":
        # TRUNCATE (transactional here) leaves no dead rows for the rebuild to wade through.
        session.execute(text(f"TRUNCATE {', '.join(tables)}"))
        return
    for table in tables:  # SQLite empties a table without WHERE in one step
        session.execute(text(f"DELETE FROM {table}"))


def _refresh_feedback(session: Session, head: int) -> None:
    for summary in agreements.list_agreements(session, datetime.now(UTC)):
        doc = agreements.document_of(agreements.get(session, summary.id))
        for duty in feedback.feedback_duties(doc):
            if duty.basis is not FeedbackBasis.EVERY_ACCESSED:
                continue
            grants = feedback.duty_grants(doc, duty)
            name = f"fb:{summary.id}:{duty.id}"
            last = _last(session, name)
            if head <= last or not grants:
                _set_last(session, name, max(last, head))
                continue
            stmt = text(
                "INSERT INTO feedback_first_access (agreement_id, duty_id, key, first_ts) "
                "SELECT CAST(:a AS VARCHAR(80)), CAST(:d AS VARCHAR(80)), "
                "substr(s.subject_hash, 1, :k) AS key, min(r.ts) "
                "FROM audit_record r JOIN audit_subject s ON s.seq = r.seq "
                "WHERE r.seq > :lo AND r.seq <= :hi AND r.agreement_id = :a2 "
                "AND r.decision = 'izin' AND r.grant_id IN :grants "
                "GROUP BY substr(s.subject_hash, 1, :k)"
                + (_KEEP_EARLIEST if last else "")  # the first build only inserts
            ).bindparams(bindparam("grants", expanding=True))
            session.execute(
                stmt,
                {"a": summary.id, "a2": summary.id, "d": duty.id, "k": KEY_CHARS, "lo": last,
                 "hi": head,
                 "grants": grants},
            )  # fmt: skip
            _set_last(session, name, head)


# ---------------------------------------------------------------- reading


def _where(institution: str | None) -> str:
    cond = (
        "hour >= :lo AND hour < :hi AND (agreement_key = :agreement OR (agreement_key = '' "
        "AND decision = 'tolak' AND {actor} IN :actors))"
    )
    return cond + (" AND institution = :institution" if institution else "")


def _params(
    agreement_id: str, lo: datetime, hi: datetime, institution: str | None,
    actors: tuple[str, ...],
) -> dict[str, Any]:  # fmt: skip
    return {"agreement": agreement_id, "lo": hour_text(lo), "hi": hour_text(hi),
            "institution": institution, "actors": list(actors) or [""]}  # fmt: skip


def hourly(
    session: Session, agreement_id: str, lo: datetime, hi: datetime,
    institution: str | None, actors: tuple[str, ...],
) -> list[Any]:  # fmt: skip
    """(service, mechanism, decision, reason, result, UTC hour, records, subjects)."""
    sql = (
        "SELECT service, mechanism, decision, reason, result, hour, sum(records), "
        f"sum(subjects) FROM usage_rollup WHERE {_where(institution).format(actor='actor_key')} "
        "GROUP BY service, mechanism, decision, reason, result, hour"
    )
    stmt = text(sql).bindparams(bindparam("actors", expanding=True))
    return list(session.execute(stmt, _params(agreement_id, lo, hi, institution, actors)))


def per_actor(
    session: Session, agreement_id: str, lo: datetime, hi: datetime,
    institution: str | None, actors: tuple[str, ...],
) -> list[Any]:  # fmt: skip
    """(actor, institution, decision, records, subjects)."""
    sql = (
        "SELECT actor, institution, decision, sum(records), sum(subjects) FROM "
        f"usage_actor_rollup WHERE {_where(institution).format(actor='actor')} "
        "GROUP BY actor, institution, decision"
    )
    stmt = text(sql).bindparams(bindparam("actors", expanding=True))
    return list(session.execute(stmt, _params(agreement_id, lo, hi, institution, actors)))


def actions(session: Session, agreement_id: str, lo: datetime, hi: datetime) -> list[Any]:
    """(seq, ts, action, actor, detail) of governance actions on the agreement."""
    bounds: dict[str, Any] = (
        {"lo": ts_text(lo), "hi": ts_text(hi)}
        if _dialect(session) == "sqlite"
        else {"lo": lo, "hi": hi}
    )
    sql = (
        "SELECT seq, ts, action, actor, detail FROM usage_action WHERE agreement_id = :a "
        "AND ts >= :lo AND ts < :hi ORDER BY seq"
    )
    return list(session.execute(text(sql), {"a": agreement_id, **bounds}))


def feedback_counts(
    session: Session, agreement_id: str, duty_id: str, until: datetime | None, cutoff: datetime
) -> tuple[int, int, int, Any]:
    """As `UsageRepository.feedback_counts`, from the first-access rollup."""
    sqlite = _dialect(session) == "sqlite"

    def ts(at: datetime) -> Any:
        return ts_text(at) if sqlite else at

    until_sql = "AND f.first_ts < :until" if until is not None else ""
    sql = (
        "WITH got AS (SELECT DISTINCT substr(subject_hash, 1, :k) AS key FROM feedback_row "
        "WHERE agreement_id = :a AND duty_id = :d AND accepted = :yes) "
        "SELECT count(*), sum(CASE WHEN got.key IS NOT NULL THEN 1 ELSE 0 END), "
        "sum(CASE WHEN got.key IS NULL AND f.first_ts < :cutoff THEN 1 ELSE 0 END), "
        "min(CASE WHEN got.key IS NULL THEN f.first_ts END) "
        "FROM feedback_first_access f LEFT JOIN got ON got.key = f.key "
        f"WHERE f.agreement_id = :a AND f.duty_id = :d {until_sql}"
    )
    params = {"k": KEY_CHARS, "a": agreement_id, "d": duty_id, "yes": True,
              "cutoff": ts(cutoff), "until": ts(until) if until else None}  # fmt: skip
    owed, got, late, first = session.execute(text(sql), params).one()
    return int(owed or 0), int(got or 0), int(late or 0), first
