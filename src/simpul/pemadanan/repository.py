"""All pemadanan queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

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

    def claimable(self, stale_before: datetime, limit: int) -> list[str]:
        stmt = (
            select(MatchJob.id)
            .where(
                or_(
                    MatchJob.status == "antri",
                    (MatchJob.status == "berjalan") & (MatchJob.heartbeat_at < stale_before),
                )
            )
            .order_by(MatchJob.created_at)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def claim(self, job_id: str, worker: str, now: datetime, stale_before: datetime) -> bool:
        """Compare-and-set: only one worker wins a queued (or abandoned) job."""
        result = self.session.execute(
            update(MatchJob)
            .where(
                MatchJob.id == job_id,
                or_(
                    MatchJob.status == "antri",
                    (MatchJob.status == "berjalan") & (MatchJob.heartbeat_at < stale_before),
                ),
            )
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

    def beat(self, job_id: str, worker: str, now: datetime, progress: float) -> tuple[bool, bool]:
        """Heartbeat and progress; returns (still ours, cancel requested)."""
        result = self.session.execute(
            update(MatchJob)
            .where(MatchJob.id == job_id, MatchJob.worker == worker, MatchJob.status == "berjalan")
            .values(heartbeat_at=now, progress=progress)
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
