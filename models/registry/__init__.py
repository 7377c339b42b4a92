"""The versioned model registry (SQLAlchemy; sqlite by default, Postgres in production)."""

from __future__ import annotations

from models.registry.engine import connect, migrate, safe_url
from models.registry.records import HistoryEntry, RollbackResult, VersionInfo
from models.registry.store import ALIASES, Registry
from models.registry.updates import model_update

__all__ = [
    "ALIASES",
    "HistoryEntry",
    "Registry",
    "RollbackResult",
    "VersionInfo",
    "connect",
    "migrate",
    "model_update",
    "safe_url",
]
