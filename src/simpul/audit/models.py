"""Audit tables. Records and subjects are append-only (database triggers refuse UPDATE and
DELETE); the single head row is the point where concurrent writers serialise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from simpul.db import Base

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY; that makes
# seq the table's own key instead of a second index to maintain on every append.
SeqType = BigInteger().with_variant(Integer(), "sqlite")
SUBJECT_PREFIX = 12  # hex characters of the subject hash that the look-up index holds
# Subject rows per generation of the look-up index (see AuditSubject.gen and ADR 0008).
SUBJECT_GENERATION = 32_768


class AuditRecord(Base):
    __tablename__ = "audit_record"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    institution: Mapped[str | None] = mapped_column(Text)
    agreement_id: Mapped[str | None] = mapped_column(Text)
    agreement_version: Mapped[int | None] = mapped_column(Integer)
    grant_id: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(Text)
    mechanism: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str | None] = mapped_column(Text)
    subject_count: Mapped[int] = mapped_column(Integer)
    elements: Mapped[str] = mapped_column(Text)  # canonical JSON list, exactly as hashed
    result: Mapped[str] = mapped_column(Text)  # canonical JSON object, exactly as hashed
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON object, exactly as hashed
    request_id: Mapped[str | None] = mapped_column(Text)
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (Index("ix_audit_record_ts", "ts"),)


class AuditSubject(Base):
    """One row per subject of a record (a batch or matching event covers many)."""

    __tablename__ = "audit_subject"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pos: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    # The row's ordinal in the log (AuditHead.subjects before it) // SUBJECT_GENERATION.
    # The look-up index leads with it, so an append lands in the newest generation's few
    # hundred pages: keyed by the hash alone, every subject dirtied its own random page of
    # the whole index, which SQLite writes whole to the WAL at each commit (ADR 0008).
    # Placement only: not part of the hash chain.
    gen: Mapped[int] = mapped_column(BigInteger, server_default="0")

    # Look-ups go by generation and a 48-bit prefix of the hash, then compare the whole
    # hash: a full-hash index costs about twice as much to maintain.
    __table_args__ = (
        Index("ix_audit_subject_gen_prefix", gen, func.substr(subject_hash, 1, SUBJECT_PREFIX)),
        {"sqlite_with_rowid": False},
    )


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subjects: Mapped[int] = mapped_column(BigInteger, server_default="0")  # subject rows so far

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoint"

    tree_size: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # hash of record #tree_size
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    frontier: Mapped[str] = mapped_column(Text)  # JSON hex list: compact range at tree_size
    # The C2SP checkpoint's origin line; null for a checkpoint signed before notes (v1).
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditWitness(Base):
    """A witness this node accepts cosignatures from (its cosignature/v1 verifier key)."""

    __tablename__ = "audit_witness"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    verifier_key: Mapped[str] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(100), nullable=True)
    institution: Mapped[str | None] = mapped_column(String(50), nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditCosignature(Base):
    """A witness's cosignature of the checkpoint at `tree_size`, kept beside it. Tampering
    shows: the line verifies against the witness's key, or it does not."""

    __tablename__ = "audit_cosignature"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
