"""Keep pytest's doctest collection out of the Alembic scripts (they only run inside Alembic)."""

collect_ignore = ["registry/migrations"]
