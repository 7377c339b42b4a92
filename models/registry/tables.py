"""Registry tables (SQLAlchemy 2.x ORM). Schema changes go through an Alembic migration too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alias",
    "Base",
    "ModelRow",
    "StatusEvent",
    "TaskMetricRow",
    "VersionRequest",
    "VersionRow",
    "utcnow",
]


def utcnow() -> datetime:
    """Timezone-aware now (stored as UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""


class ModelRow(Base):
    """A registered model name."""

    __tablename__ = "registry_models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VersionRow(Base):
    """One version: its artifact, hashes, lineage and current status."""

    __tablename__ = "registry_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_version_per_model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    artifact_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    staging_path: Mapped[str | None] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    manifest_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    trunk_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    head_hashes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    architecture: Mapped[str] = mapped_column(String(64), nullable=False)
    tasks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    parent_version: Mapped[int | None] = mapped_column(Integer)
    alert_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    training_start: Mapped[str | None] = mapped_column(String(64))
    training_end: Mapped[str | None] = mapped_column(String(64))
    row_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    feature_profile_sha256: Mapped[str | None] = mapped_column(String(64))


class VersionRequest(Base):
    """Retrain request id → the version it produced (one version per request, ever)."""

    __tablename__ = "registry_version_requests"
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("registry_versions.id"), nullable=False)


class TaskMetricRow(Base):
    """One metric of one task of one version (holdout by default)."""

    __tablename__ = "registry_task_metrics"
    __table_args__ = (UniqueConstraint("version_id", "task", "metric", name="uq_metric"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("registry_versions.id"), nullable=False)
    task: Mapped[str] = mapped_column(String(128), nullable=False)
    metric: Mapped[str] = mapped_column(String(64), nullable=False)
    value: Mapped[float | None] = mapped_column(Float)


class Alias(Base):
    """``champion`` / ``candidate`` → version."""

    __tablename__ = "registry_aliases"
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("registry_versions.id"), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StatusEvent(Base):
    """Append-only history: registered, promoted, rolled_back, rejected, ..."""

    __tablename__ = "registry_status_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"), nullable=False)
    version: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    alias: Mapped[str | None] = mapped_column(String(32))
    from_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
