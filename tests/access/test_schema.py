"""The 0002_access migration and the models describe the same tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Engine

import simpul.access.models  # noqa: F401  (registers the tables on Base.metadata)
from simpul.db import Base

TABLES = {
    "institution",
    "institution_name_history",
    "account",
    "account_agreement",
    "client_token",
    "device",
}


def test_migration_matches_models(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    # Only this capability's tables: other packages register theirs on the same Base.
    ours = MetaData(naming_convention=Base.metadata.naming_convention)
    for name in TABLES:
        Base.metadata.tables[name].to_metadata(ours)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in TABLES,
            },
        )
        diff = compare_metadata(ctx, ours)
    assert diff == []


def test_hot_path_lookups_are_indexed(engine: Engine) -> None:
    insp = inspect(engine)
    assert insp.get_pk_constraint("client_token")["constrained_columns"] == ["token_hash"]
    assert any(u["column_names"] == ["username"] for u in insp.get_unique_constraints("account"))
    assert insp.get_pk_constraint("account_agreement")["constrained_columns"] == [
        "account_id",
        "agreement_id",
    ]
