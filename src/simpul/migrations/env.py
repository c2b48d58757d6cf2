"""Alembic environment: the engine is handed in by `simpul.db.run_migrations`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
