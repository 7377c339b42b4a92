"""Plain read-only views of registry rows returned by :class:`models.registry.Registry`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["FEATURE_PROFILE_FILE", "HistoryEntry", "RollbackResult", "VersionInfo"]

FEATURE_PROFILE_FILE = "feature_profile.json"
"""The profile of a version's training rows (``driftline.feature-profile/1`` JSON), next to
its weights: feature drift's reference while the version is the champion."""


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
    feature_profile_sha256: str | None = None
    """sha256 of the feature profile of the version's training rows, when one is stored."""

    @property
    def feature_profile_path(self) -> Path | None:
        """The stored feature profile (``feature_profile.json`` in the artifact), if any."""
        if self.feature_profile_sha256 is None:
            return None
        return self.artifact_path / FEATURE_PROFILE_FILE


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
