"""The audit helper every governance action shares, and files published only on commit."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from simpul.audit.schemas import AuditEvent, Decision
from simpul.audit.service import record_in_session
from simpul.config import Settings
from simpul.kit.clock import Clock

REASON = "tindakan_tata_kelola"


def audit(
    session: Session,
    settings: Settings,
    clock: Clock,
    action: str,
    actor: str,
    reason: str | None,
    *,
    decision: Decision = "tindakan",
    code: str = REASON,
    detail: dict[str, Any] | None = None,
    **fields: Any,
) -> int:
    """Append one record in the caller's transaction, so it commits with the change or not
    at all. The free-text reason goes to `detail.alasan`; `code` is the stable reason code.
    Never pass a secret, password or clear NIK in `detail` (NIKs go in `subjects=`)."""
    body = {"alasan": reason} if reason else {}
    body.update(detail or {})
    ev = AuditEvent(
        action=action, decision=decision, reason=code, actor=actor, detail=body, **fields
    )
    return record_in_session(session, settings, ev, clock)


def publish_on_commit(
    session: Session, staged: Path, target: Path, *, cleanup: Path | None = None
) -> None:
    """Move a fully written `staged` file onto `target` when the session's transaction
    commits, and delete it when that transaction ends any other way: a file the log says
    was written exists, and a rolled-back action leaves no file behind. `cleanup` (a
    staging folder) is removed either way."""
    done = False

    def tidy() -> None:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)

    def on_commit(sess: Session) -> None:
        nonlocal done
        # A savepoint's release dispatches after_commit too; only the outermost counts.
        if not done and sess.get_nested_transaction() is None:
            done = True
            try:
                os.replace(staged, target)
            finally:
                tidy()

    def on_end(_sess: Session, trans: SessionTransaction) -> None:
        nonlocal done
        if trans.parent is None and not done:  # the outermost transaction ended uncommitted
            done = True
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            tidy()

    event.listen(session, "after_commit", on_commit)
    event.listen(session, "after_transaction_end", on_end)


def staged_path(target: Path) -> Path:
    """A sibling of `target` (same file system, so the final move is atomic)."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")
