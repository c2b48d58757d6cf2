"""Governance epoch: one counter that every change to who-may-do-what bumps, by trigger.

The hot path keeps agreements, grants and token principals in a per-process memo and reads
only this counter per request; any committed change to the tables below (whatever code
made it, even a hand-written SQL statement) moves the counter, so every node drops its
memo before its next request. See docs/adr/0006-governance-memo.md.

Revision ID: 0004_governance_epoch
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_governance_epoch"
down_revision = "0003"
branch_labels = None
depends_on = None

# table → the statement kinds that change a decision (None: every UPDATE; a tuple: UPDATE OF
# those columns only, so that e.g. last-login stamps do not flush every node's memo).
WATCHED: dict[str, tuple[bool, tuple[str, ...] | None]] = {
    # (INSERT bumps?, UPDATE columns)
    "agreement": (True, None),
    "agreement_version": (True, None),
    "agreement_grant": (True, None),
    "account_agreement": (True, None),
    "institution": (True, ("code", "access_cidrs")),
    "account": (
        True,
        # secret_hash and locked_until: a new password or a lock-out must forget the
        # passwords the web workers remember (simpul.access.auth.remember_password).
        (
            "status",
            "role",
            "kind",
            "institution_code",
            "operator_of",
            "username",
            "secret_hash",
            "locked_until",
        ),
    ),
    # A new token is not in any memo yet; revoking or deleting one must be seen at once.
    "client_token": (False, None),
}


def upgrade() -> None:
    op.create_table(
        "governance_epoch",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO governance_epoch (id, n) VALUES (1, 0)")
    bump = "UPDATE governance_epoch SET n = n + 1 WHERE id = 1"
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION simpul_bump_governance_epoch() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$"
        )
        for table, (on_insert, columns) in WATCHED.items():
            events = ["DELETE", "UPDATE" + (f" OF {', '.join(columns)}" if columns else "")]
            if on_insert:
                events.append("INSERT")
            op.execute(
                f"CREATE TRIGGER trg_{table}_epoch AFTER {' OR '.join(events)} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION simpul_bump_governance_epoch()"
            )
        return
    for table, (on_insert, columns) in WATCHED.items():
        kinds = ["DELETE", "UPDATE" + (f" OF {', '.join(columns)}" if columns else "")]
        if on_insert:
            kinds.append("INSERT")
        for kind in kinds:
            name = f"trg_{table}_epoch_{kind.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {kind} ON {table} BEGIN {bump}; END")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_epoch ON {table}")
        op.execute("DROP FUNCTION IF EXISTS simpul_bump_governance_epoch()")
    else:
        for table in WATCHED:
            for kind in ("delete", "update", "insert"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_epoch_{kind}")
    op.drop_table("governance_epoch")
