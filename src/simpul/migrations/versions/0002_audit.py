"""Audit log: hash-chained records, their subjects, the head row and signed checkpoints.

Revision ID: 0002_audit
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_record", "audit_subject", "audit_checkpoint")


def upgrade() -> None:
    op.create_table(
        "audit_record",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("institution", sa.Text),
        sa.Column("agreement_id", sa.Text),
        sa.Column("agreement_version", sa.Integer),
        sa.Column("grant_id", sa.Text),
        sa.Column("service", sa.Text),
        sa.Column("mechanism", sa.Text),
        sa.Column("dataset", sa.Text),
        sa.Column("subject_count", sa.Integer, nullable=False),
        sa.Column("elements", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("latency_us", sa.BigInteger),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_audit_record_ts", "audit_record", ["ts"])
    op.create_table(
        "audit_subject",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("pos", sa.Integer, primary_key=True),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sqlite_with_rowid=False,
    )
    # By a 48-bit prefix of the hash (see simpul.audit.models.AuditSubject).
    op.create_index(
        "ix_audit_subject_prefix", "audit_subject", [sa.text("substr(subject_hash, 1, 12)")]
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.LargeBinary(32), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
    )
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("last_seq", sa.BigInteger),
            sa.column("last_hash", sa.LargeBinary),
        ),
        [{"id": 1, "last_seq": 0, "last_hash": bytes(32)}],
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("tree_size", SeqType, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
    )
    _append_only_guards()


def _append_only_guards() -> None:
    """Refuse UPDATE and DELETE on the log: a guard against mistakes, not against an owner
    (who can drop a trigger); `simpul audit verify` is what detects tampering."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'log audit hanya boleh ditambah (% pada %)', TG_OP, TG_TABLE_NAME;
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'log audit hanya boleh ditambah'); END"
            )


def downgrade() -> None:
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name != "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_subject_prefix", table_name="audit_subject")
    op.drop_table("audit_subject")
    op.drop_index("ix_audit_record_ts", table_name="audit_record")
    op.drop_table("audit_record")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
