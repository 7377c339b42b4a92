"""Alembic environment and revisions of the registry schema (run by :func:`models.registry.engine.migrate`)."""
