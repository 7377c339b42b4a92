"""Alembic environment: runs on the connection :func:`models.registry.engine.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # two processes opening the registry at once must not both create the tables
        connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    context.run_migrations()
