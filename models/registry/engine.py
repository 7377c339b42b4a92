"""Engine creation (password injected from the environment at connect time) and migrations."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from models.errors import RegistryError

__all__ = ["MIGRATIONS_DIR", "connect", "migrate", "safe_url"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs.

    >>> safe_url("postgresql+psycopg://app:secret@db/registry")
    'postgresql+psycopg://app:***@db/registry'
    """
    return make_url(url).render_as_string(hide_password=True)


def connect(url: str, password_env: str | None = None) -> Engine:
    """An engine for ``url``; the password comes from ``$password_env`` (never from the URL text).

    SQLite: the parent directory is created, writers take the lock at ``BEGIN IMMEDIATE`` (so two
    processes registering at once queue instead of failing), WAL journal, 30 s busy timeout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        _sqlite_transactions(engine)
        return engine
    password = os.environ.get(password_env) if password_env else None
    if password:
        parsed = parsed.set(password=password)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        _use_wal(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _use_wal(cursor: Any, timeout_s: float = 30.0) -> None:
    """Switch the file to WAL unless it already is; retry while another process holds the lock.

    WAL mode is stored in the file, so only the first connection ever changes it. SQLite answers
    ``database is locked`` to a journal-mode change (and sometimes to the query) without calling
    the busy handler, so the wait is ours.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def migrate(engine: Engine) -> None:
    """Upgrade the registry schema to the newest Alembic revision shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except Exception as exc:
        raise RegistryError(
            f"could not open or migrate the registry at {safe_url(engine.url)}: {exc}"
        ) from exc
