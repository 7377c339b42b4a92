"""Row look-ups shared by the registry's operations (inside an open session)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import UnknownVersionError
from models.registry.records import VersionInfo
from models.registry.tables import Alias, ModelRow, TaskMetricRow, VersionRequest, VersionRow

__all__ = ["find_model", "find_version", "version_info"]


def find_model(session: Session, name: str, create: bool = False, lock: bool = False) -> ModelRow:
    """The model's row (created when ``create``; ``SELECT ... FOR UPDATE`` when ``lock``)."""
    query = select(ModelRow).where(ModelRow.name == name)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None and create:
        row = ModelRow(name=name)
        session.add(row)
        session.flush()
    if row is None:
        raise UnknownVersionError(
            f"model {name!r} is not in the registry; `driftline models list --model NAME` "
            "shows a model's versions"
        )
    return row


def find_version(session: Session, model: ModelRow, version: int | str) -> VersionRow:
    """A version row by number (int or digits) or alias name."""
    if isinstance(version, str) and not version.isdigit():
        alias = session.get(Alias, (model.id, version))
        if alias is None:
            raise UnknownVersionError(f"{model.name} has no {version!r} alias")
        row = session.get(VersionRow, alias.version_id)
    else:
        row = session.scalars(
            select(VersionRow).where(
                VersionRow.model_id == model.id, VersionRow.version == int(version)
            )
        ).first()
    if row is None:
        raise UnknownVersionError(f"{model.name} has no version {version}")
    return row


def version_info(
    session: Session, model: ModelRow, row: VersionRow, artifacts_dir: Path
) -> VersionInfo:
    """The read-only view of a version row with its metrics, request ids and aliases."""
    metrics: dict[str, dict[str, float | None]] = {}
    for m in session.scalars(select(TaskMetricRow).where(TaskMetricRow.version_id == row.id)):
        metrics.setdefault(m.task, {})[m.metric] = m.value
    requests = session.scalars(
        select(VersionRequest.request_id).where(VersionRequest.version_id == row.id)
    ).all()
    aliases = session.scalars(select(Alias.alias).where(Alias.version_id == row.id)).all()
    return VersionInfo(
        model=model.name,
        version=row.version,
        status=row.status,
        created_at=row.created_at,
        artifact_path=artifacts_dir / row.artifact_path,
        sha256=row.sha256,
        manifest_sha256=row.manifest_sha256,
        trunk_hash=row.trunk_hash,
        head_hashes=dict(row.head_hashes or {}),
        architecture=row.architecture,
        tasks=list(row.tasks or []),
        parent_version=row.parent_version,
        request_ids=sorted(requests),
        alert_ids=list(row.alert_ids or []),
        training_window=(row.training_start, row.training_end),
        row_counts=dict(row.row_counts or {}),
        metrics=metrics,
        aliases=sorted(aliases),
        description=row.description or "",
        feature_profile_sha256=row.feature_profile_sha256,
    )
