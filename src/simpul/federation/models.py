"""The provider node's memory of node-to-node requests: a request id seen within the time
window is a replay (refused), whatever the body."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base


class FederationRequest(Base):
    __tablename__ = "federation_request"

    member: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_federation_request_received_at", "received_at"),)
