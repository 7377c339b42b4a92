"""Plain read-only views of registry rows returned by :class:`models.registry.Registry`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["HistoryEntry", "RollbackResult", "VersionInfo"]


@dataclass(frozen=True)
class VersionInfo:
    """One registered version (metrics are ``{task: {metric: value}}``)."""

    model: str
    version: int
    status: str
    created_at: datetime
    artifact_path: Path
    sha256: str
    manifest_sha256: str
    trunk_hash: str
    head_hashes: dict[str, str]
    architecture: str
    tasks: list[str]
    parent_version: int | None
    request_ids: list[str]
    alert_ids: list[str]
    training_window: tuple[str | None, str | None]
    row_counts: dict[str, Any]
    metrics: dict[str, dict[str, float | None]]
    aliases: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    """One status-history event."""

    at: datetime
    event: str
    version: int | None
    alias: str | None
    from_version: int | None
    reason: str


@dataclass(frozen=True)
class RollbackResult:
    """Champion moved from ``from_version`` back to ``to_version``."""

    model: str
    from_version: int
    to_version: int
    reason: str
