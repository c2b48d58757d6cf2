"""Aggregate queries over the audit log for usage reports: grouped in the database, so a
semester of a busy agreement (a million records) is a few scans, not a Python loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text

from simpul.audit.service import ts_text
from simpul.kit.repository import Repository

# The UTC hour of a record, as text "YYYY-MM-DD HH": cheap to compute and to group by;
# months, days and office hours in WIB are derived from it in Python (a few thousand keys).
_HOUR = {
    "sqlite": "substr(ts, 1, 13)",
    "postgresql": "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
}
# A 64-bit prefix of the subject hash: as good a key for counting, far cheaper to sort.
KEY_CHARS = 16


class UsageRepository(Repository):
    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _bounds(self, lo: datetime, hi: datetime) -> dict[str, Any]:
        if self._dialect == "sqlite":  # ts is stored as UTC text; compare as text
            return {"lo": ts_text(lo), "hi": ts_text(hi)}
        return {"lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)}

    def _where(self, institution: str | None) -> str:
        # Refusals before an agreement is chosen carry none: they count for the agreement
        # when the caller is one of its accounts.
        cond = (
            "ts >= :lo AND ts < :hi AND (agreement_id = :agreement OR (agreement_id IS NULL "
            "AND decision = 'tolak' AND actor IN :actors))"
        )
        return cond + (" AND institution = :institution" if institution else "")

    def _run(
        self, sql: str, agreement_id: str, lo: datetime, hi: datetime,
        institution: str | None, actors: tuple[str, ...] = (),
    ) -> list[Any]:  # fmt: skip
        params = {
            "agreement": agreement_id, "institution": institution,
            "actors": list(actors) or [""], **self._bounds(lo, hi),
        }  # fmt: skip
        stmt = text(sql).bindparams(bindparam("actors", expanding=True))
        return list(self.session.execute(stmt, params))

    def hourly(
        self,
        agreement_id: str,
        lo: datetime,
        hi: datetime,
        institution: str | None = None,
        actors: tuple[str, ...] = (),
    ) -> list[Any]:
        """(service, mechanism, decision, reason, result, UTC hour, records, subjects)."""
        hour = _HOUR[self._dialect]
        sql = (
            f"SELECT service, mechanism, decision, reason, result, {hour} AS h, count(*), "
            f"sum(subject_count) FROM audit_record WHERE {self._where(institution)} "
            "AND decision IN ('izin', 'tolak') GROUP BY service, mechanism, decision, reason, "
            "result, h"
        )
        return self._run(sql, agreement_id, lo, hi, institution, actors)

    def actors(
        self,
        agreement_id: str,
        lo: datetime,
        hi: datetime,
        institution: str | None = None,
        actors: tuple[str, ...] = (),
    ) -> list[Any]:
        """(actor, institution, decision, records, subjects)."""
        sql = (
            "SELECT actor, institution, decision, count(*), sum(subject_count) FROM audit_record "
            f"WHERE {self._where(institution)} AND decision IN ('izin', 'tolak') "
            "GROUP BY actor, institution, decision"
        )
        return self._run(sql, agreement_id, lo, hi, institution, actors)

    def feedback_counts(
        self, agreement_id: str, duty_id: str, grants: list[str], until: datetime | None,
        cutoff: datetime,
    ) -> tuple[int, int, int, Any]:  # fmt: skip
        """For subjects accessed under `grants` (up to `until`): how many, how many have an
        accepted feedback row, how many lack one and were first accessed before `cutoff`,
        and the earliest first access among those still lacking one. One grouped scan."""
        k = KEY_CHARS
        until_sql = "AND r.ts < :until" if until is not None else ""
        sql = (
            "WITH got AS (SELECT DISTINCT substr(subject_hash, 1, :k) AS key FROM feedback_row "
            "WHERE agreement_id = :agreement AND duty_id = :duty AND accepted = :yes), "
            "owed AS (SELECT substr(s.subject_hash, 1, :k) AS key, min(r.ts) AS first "
            "FROM audit_record r JOIN audit_subject s ON s.seq = r.seq "
            "WHERE r.agreement_id = :agreement AND r.decision = 'izin' "
            f"AND r.grant_id IN :grants {until_sql} GROUP BY key) "
            "SELECT count(*), sum(CASE WHEN got.key IS NOT NULL THEN 1 ELSE 0 END), "
            "sum(CASE WHEN got.key IS NULL AND owed.first < :cutoff THEN 1 ELSE 0 END), "
            "min(CASE WHEN got.key IS NULL THEN owed.first END) "
            "FROM owed LEFT JOIN got ON got.key = owed.key"
        )
        bounds = self._bounds(until or cutoff, cutoff)
        params: dict[str, Any] = {
            "k": k, "agreement": agreement_id, "duty": duty_id, "yes": True,
            "grants": grants, "until": bounds["lo"], "cutoff": bounds["hi"],
        }  # fmt: skip
        stmt = text(sql).bindparams(bindparam("grants", expanding=True))
        owed, got, late, first = self.session.execute(stmt, params).one()
        return int(owed or 0), int(got or 0), int(late or 0), first

    def actions(self, agreement_id: str, lo: datetime, hi: datetime) -> list[Any]:
        """Governance actions on the agreement in the period: (seq, ts, action, actor, detail)."""
        sql = (
            "SELECT seq, ts, action, actor, detail FROM audit_record "
            f"WHERE {self._where(None)} AND decision = 'tindakan' ORDER BY seq"
        )
        return self._run(sql, agreement_id, lo, hi, None)
