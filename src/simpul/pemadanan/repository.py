"""All pemadanan queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update

from simpul.kit.repository import Repository
from simpul.pemadanan.models import MatchIssue, MatchJob, MatchResultRow
from simpul.pemadanan.upload import RowIssue


class JobRepository(Repository):
    def add(self, job: MatchJob) -> None:
        self.session.add(job)
        self.session.flush()

    def get(self, job_id: str) -> MatchJob | None:
        return self.session.get(MatchJob, job_id)

    def for_account(self, account_id: str, limit: int) -> list[MatchJob]:
        stmt = (
            select(MatchJob)
            .where(MatchJob.account_id == account_id)
            .order_by(MatchJob.created_at.desc(), MatchJob.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def add_issues(self, job_id: str, issues: Sequence[RowIssue]) -> None:
        rows = [
            {"job_id": job_id, "line": i.line, "severity": i.severity, "code": i.code,
             "detail": i.detail}
            for i in issues
        ]  # fmt: skip
        if rows:
            self.session.execute(insert(MatchIssue), rows)

    def issues(self, job_id: str) -> list[MatchIssue]:
        stmt = (
            select(MatchIssue)
            .where(MatchIssue.job_id == job_id)
            .order_by(MatchIssue.line, MatchIssue.id)
        )
        return list(self.session.scalars(stmt))

    def issue_count(self, job_id: str) -> int:
        stmt = select(func.count()).select_from(MatchIssue).where(MatchIssue.job_id == job_id)
        return int(self.session.scalar(stmt) or 0)

    def request_cancel(self, job_id: str) -> None:
        self.session.execute(
            update(MatchJob).where(MatchJob.id == job_id).values(cancel_requested=True)
        )
        # A queued job has no worker to notice: cancel it here.
        self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, MatchJob.status == "antri")
            .values(status="dibatalkan")
        )

    @staticmethod
    def _takeable(stale_before: datetime, max_attempts: int | None) -> ColumnElement[bool]:
        """Queued, or running under a lease that has run out (its heartbeat older than
        `stale_before`) and, with a bound, run fewer than `max_attempts` times."""
        abandoned = (MatchJob.status == "berjalan") & (MatchJob.heartbeat_at < stale_before)
        if max_attempts is not None:
            abandoned = abandoned & (MatchJob.attempts < max_attempts)
        return or_(MatchJob.status == "antri", abandoned)

    def claimable(
        self, stale_before: datetime, limit: int, max_attempts: int | None = None
    ) -> list[str]:
        stmt = (
            select(MatchJob.id)
            .where(self._takeable(stale_before, max_attempts))
            .order_by(MatchJob.created_at)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def claim(
        self, job_id: str, worker: str, now: datetime, stale_before: datetime,
        max_attempts: int | None = None,
    ) -> bool:  # fmt: skip
        """Compare-and-set: only one worker wins a queued (or abandoned) job."""
        result = self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, self._takeable(stale_before, max_attempts))
            .values(
                status="berjalan",
                worker=worker,
                heartbeat_at=now,
                attempts=MatchJob.attempts + 1,
                started_at=func.coalesce(MatchJob.started_at, now),
                progress=0.0,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def exhausted(self, stale_before: datetime, max_attempts: int) -> list[str]:
        """Abandoned jobs that have been run `max_attempts` times already."""
        stmt = select(MatchJob.id).where(
            MatchJob.status == "berjalan",
            MatchJob.heartbeat_at < stale_before,
            MatchJob.attempts >= max_attempts,
        )
        return list(self.session.scalars(stmt))

    def give_up(self, job_id: str, stale_before: datetime, values: dict[str, Any]) -> bool:
        """End an abandoned job (compare-and-set on its lease having run out)."""
        result = self.session.execute(
            update(MatchJob)
            .where(
                MatchJob.id == job_id,
                MatchJob.status == "berjalan",
                MatchJob.heartbeat_at < stale_before,
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: str, worker: str) -> bool:
        """Back to the queue, by the worker that holds it (it is stopping): the run that
        was cut short does not count as an attempt."""
        result = self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, MatchJob.worker == worker, MatchJob.status == "berjalan")
            .values(status="antri", worker=None, progress=0.0, attempts=MatchJob.attempts - 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def beat(
        self, job_id: str, worker: str, now: datetime, progress: float | None = None
    ) -> tuple[bool, bool]:
        """Heartbeat (and progress); returns (still ours, cancel requested)."""
        values: dict[str, Any] = {"heartbeat_at": now}
        if progress is not None:
            values["progress"] = progress
        result = self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, MatchJob.worker == worker, MatchJob.status == "berjalan")
            .values(**values)
        )
        mine = bool(result.rowcount)  # type: ignore[attr-defined]
        cancel = self.session.scalar(select(MatchJob.cancel_requested).where(MatchJob.id == job_id))
        return mine, bool(cancel)

    def finish(self, job_id: str, worker: str, values: dict[str, Any]) -> bool:
        """The final state change, only by the worker that holds the job."""
        result = self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, MatchJob.worker == worker, MatchJob.status == "berjalan")
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def insert_results(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 5_000):
            self.session.execute(insert(MatchResultRow), list(rows[start : start + 5_000]))

    def clear_results(self, job_id: str) -> None:
        self.session.execute(delete(MatchResultRow).where(MatchResultRow.job_id == job_id))

    def results(
        self, job_id: str, *, status: str | None = None, offset: int = 0, limit: int | None = 100
    ) -> tuple[int, list[MatchResultRow]]:
        where = [MatchResultRow.job_id == job_id]
        if status is not None:
            where.append(MatchResultRow.status == status)
        total = self.session.scalar(select(func.count()).select_from(MatchResultRow).where(*where))
        stmt = select(MatchResultRow).where(*where).order_by(MatchResultRow.line).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return int(total or 0), list(self.session.scalars(stmt))

    def result(self, job_id: str, line: int) -> MatchResultRow | None:
        return self.session.get(MatchResultRow, (job_id, line))

    def set_review(self, job_id: str, line: int, decision: str, by: str, at: datetime) -> None:
        self.session.execute(
            update(MatchResultRow)
            .where(MatchResultRow.job_id == job_id, MatchResultRow.line == line)
            .values(review=decision, reviewed_by=by, reviewed_at=at)
        )

    def review_counts(self, job_id: str) -> dict[str, int]:
        stmt = (
            select(MatchResultRow.review, func.count())
            .where(MatchResultRow.job_id == job_id, MatchResultRow.review.is_not(None))
            .group_by(MatchResultRow.review)
        )
        return {str(k): int(v) for k, v in self.session.execute(stmt).all()}
