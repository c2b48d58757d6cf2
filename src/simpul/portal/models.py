"""Portal sessions: one row per signed-in browser, keyed by the sha256 of its cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from simpul.access.models import UtcDateTime
from simpul.db import Base


class PortalSession(Base):
    __tablename__ = "portal_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())  # absolute limit
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # "kode": the password was right and a second-factor code is due; "daftar": the account
    # must enrol a second factor first. Such a session opens no page but those two.
    pending: Mapped[str | None] = mapped_column(String(10), nullable=True)

    __table_args__ = (Index("ix_portal_session_account_id", "account_id"),)
