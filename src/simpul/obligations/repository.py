"""Aggregate queries over the audit log for usage reports: grouped in the database, so a
semester of a busy agreement (a million records) is a few scans, not a Python loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from simpul.audit.repository import ts_text
from simpul.kit.repository import Repository

_EXPR = {
    "sqlite": {
        "month": "strftime('%Y-%m', ts, '+7 hours')",
        "day": "strftime('%Y-%m-%d', ts, '+7 hours')",
        "hour": "CAST(strftime('%H', ts, '+7 hours') AS INTEGER)",
        "hasil": "json_extract(result, '$.hasil')",
    },
    "postgresql": {
        "month": "to_char(ts AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM')",
        "day": "to_char(ts AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD')",
        "hour": "CAST(extract(hour FROM ts AT TIME ZONE 'Asia/Jakarta') AS INTEGER)",
        "hasil": "(result::jsonb ->> 'hasil')",
    },
}


class UsageRepository(Repository):
    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _bounds(self, lo: datetime, hi: datetime) -> dict[str, Any]:
        if self._dialect == "sqlite":  # ts is stored as UTC text; compare as text
            return {"lo": ts_text(lo), "hi": ts_text(hi)}
        return {"lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)}

    def _where(self, institution: str | None) -> str:
        cond = "agreement_id = :agreement AND ts >= :lo AND ts < :hi"
        return cond + (" AND institution = :institution" if institution else "")

    def _run(
        self, sql: str, agreement_id: str, lo: datetime, hi: datetime, institution: str | None
    ) -> list[Any]:
        params = {"agreement": agreement_id, "institution": institution, **self._bounds(lo, hi)}
        return list(self.session.execute(text(sql), params))

    def volumes(
        self, agreement_id: str, lo: datetime, hi: datetime, institution: str | None = None
    ) -> list[Any]:
        """(service, mechanism, month, decision, reason, hasil, records, subjects)."""
        e = _EXPR[self._dialect]
        sql = (
            f"SELECT service, mechanism, {e['month']} AS m, decision, reason, {e['hasil']} AS h, "
            "count(*), sum(subject_count) FROM audit_record "
            f"WHERE {self._where(institution)} AND decision IN ('izin', 'tolak') "
            "GROUP BY service, mechanism, m, decision, reason, h"
        )
        return self._run(sql, agreement_id, lo, hi, institution)

    def actors(
        self, agreement_id: str, lo: datetime, hi: datetime, institution: str | None = None
    ) -> list[Any]:
        """(actor, institution, decision, records, subjects)."""
        sql = (
            "SELECT actor, institution, decision, count(*), sum(subject_count) FROM audit_record "
            f"WHERE {self._where(institution)} AND decision IN ('izin', 'tolak') "
            "GROUP BY actor, institution, decision"
        )
        return self._run(sql, agreement_id, lo, hi, institution)

    def daily(
        self, agreement_id: str, lo: datetime, hi: datetime, institution: str | None = None
    ) -> list[Any]:
        """(day, off_hours 0/1, records) — off hours: before 07:00 or from 19:00 WIB."""
        e = _EXPR[self._dialect]
        sql = (
            f"SELECT {e['day']} AS d, CASE WHEN {e['hour']} < 7 OR {e['hour']} >= 19 "
            "THEN 1 ELSE 0 END AS o, count(*) FROM audit_record "
            f"WHERE {self._where(institution)} AND decision IN ('izin', 'tolak') "
            "GROUP BY d, o"
        )
        return self._run(sql, agreement_id, lo, hi, institution)

    def actions(self, agreement_id: str, lo: datetime, hi: datetime) -> list[Any]:
        """Governance actions on the agreement in the period: (seq, ts, action, actor, detail)."""
        sql = (
            "SELECT seq, ts, action, actor, detail FROM audit_record "
            f"WHERE {self._where(None)} AND decision = 'tindakan' ORDER BY seq"
        )
        return self._run(sql, agreement_id, lo, hi, None)
