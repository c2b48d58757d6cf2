"""Tables for agreements: the agreement, its versions (original + addenda), its events,
and an index of grants per version so the policy decision finds them with one query."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Agreement(Base):
    __tablename__ = "agreement"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    current_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))  # stored state; see lifecycle.State
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgreementVersion(Base):
    __tablename__ = "agreement_version"

    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JsonType)  # validated, Indonesian keys
    sha256: Mapped[str] = mapped_column(String(64))  # of the source file
    document_sha256: Mapped[str] = mapped_column(String(64))  # of `document`: a cache key
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    effective_from: Mapped[date] = mapped_column(Date)  # when this version takes over
    addendum_id: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)  # the addendum's stated reason
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class AgreementEvent(Base):
    __tablename__ = "agreement_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))  # muat | adendum | lifecycle.Action
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_agreement_event_agreement_id_id", "agreement_id", "id"),)


class AgreementGrant(Base):
    """One row per grant per version: what the policy decision looks up on every request."""

    __tablename__ = "agreement_grant"

    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(40))
    dataset: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(30))
    mechanism: Mapped[str] = mapped_column(String(30))

    __table_args__ = (
        ForeignKeyConstraint(
            ["agreement_id", "version"],
            ["agreement_version.agreement_id", "agreement_version.version"],
            ondelete="CASCADE",
        ),
        Index("ix_agreement_grant_lookup", "recipient", "dataset", "service", "mechanism"),
    )


class AgreementProviderState(Base):
    """What a provider's node last said of an agreement this node receives under, when the
    provider runs a node of its own (simpul.federation.agreements): shown beside this
    node's copy, never widening it."""

    __tablename__ = "agreement_provider_state"

    agreement_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    ends_on: Mapped[str] = mapped_column(String(10))
    learned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    via: Mapped[str] = mapped_column(String(20))  # pemberitahuan | tanya
