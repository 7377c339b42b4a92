"""The model registry: versions, metrics, lineage, aliases and status history in SQL.

Registering is atomic with the artifact: the artifact is written to a staging directory and
fsynced, the version is registered in one transaction (version number = max + 1, protected by a
unique constraint and retried), then the staging directory is renamed to ``<model>/v<version>``.
A crash before the commit leaves only a staging directory that :meth:`Registry.cleanup_orphans`
removes; a crash after it leaves a registered version whose rename :meth:`Registry.load` and
:meth:`Registry.cleanup_orphans` complete. There is never a half-registered version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models.errors import DuplicateRequestError, RegistryError
from models.registry.engine import connect, migrate
from models.registry.queries import find_model, find_version, version_info
from models.registry.records import HistoryEntry, RollbackResult, VersionInfo
from models.registry.tables import (
    Alias,
    ModelRow,
    StatusEvent,
    TaskMetricRow,
    VersionRequest,
    VersionRow,
    utcnow,
)

if TYPE_CHECKING:
    from driftline.config.models import RegistryConfig
    from models.artifacts import LoadedArtifact
    from models.history import TrainResult
    from models.model import MultiTaskModel

__all__ = ["ALIASES", "Registry"]

logger = logging.getLogger("models.registry")
ALIASES = ("champion", "candidate")
_STAGING = ".staging-"


class Registry:
    """Versions of multi-task models with their artifacts.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///.driftline/registry.db`` (default) or
        ``postgresql+psycopg://user@host/db`` — without the password.
    artifacts_dir
        Where version directories live (``<model>/v<version>/``).
    password_env
        Environment variable holding the database password; injected at connect time.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from models.model import build_model
    >>> from models.specs import FeatureSchema, TaskSpec
    >>> root = Path(tempfile.mkdtemp())
    >>> registry = Registry(f"sqlite:///{root}/registry.db", root / "artifacts")
    >>> frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    >>> model = build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    >>> registry.register("shop", model, request_ids=["r-1"], alias="champion").version
    1
    >>> registry.version_for_request("shop", "r-1"), registry.aliases("shop")
    (1, {'champion': 1})
    >>> registry.close()
    """

    def __init__(
        self,
        url: str = "sqlite:///.driftline/registry.db",
        artifacts_dir: str | Path = ".driftline/artifacts",
        password_env: str | None = "DRIFTLINE_REGISTRY_PASSWORD",
    ) -> None:
        self.url = url
        self.artifacts_dir = Path(artifacts_dir)
        self.password_env = password_env
        self._engine: Engine | None = None

    @classmethod
    def from_config(cls, config: RegistryConfig) -> Registry:
        """A registry for the ``registry:`` section of ``driftline.yaml``."""
        return cls(config.url, config.artifacts_dir, config.password_env)

    @property
    def engine(self) -> Engine:
        """The engine, created and migrated to the newest schema on first use."""
        if self._engine is None:
            engine = connect(self.url, self.password_env)
            migrate(engine)
            self._engine = engine
        return self._engine

    def close(self) -> None:
        """Release database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # ------------------------------------------------------------------ register

    def register(
        self,
        model_name: str,
        model: MultiTaskModel,
        *,
        result: TrainResult | None = None,
        metrics: Mapping[str, Mapping[str, float]] | None = None,
        training_window: tuple[str, str] | None = None,
        row_counts: Mapping[str, Any] | None = None,
        request_ids: Sequence[str] = (),
        alert_ids: Sequence[str] = (),
        parent_version: int | None = None,
        alias: str | None = "candidate",
        description: str = "",
        reason: str = "",
        retries: int = 20,
        manifest_extra: Mapping[str, Any] | None = None,
        feature_profile: bytes | None = None,
    ) -> VersionInfo:
        """Save the artifact and register it as the next version of ``model_name``.

        ``request_ids`` are the retrain requests this version answers: registering one twice
        raises :class:`DuplicateRequestError` (use :meth:`version_for_request` first). ``alias``
        (``candidate``, ``champion`` or None) is set in the same transaction.
        ``manifest_extra`` adds JSON-ready keys to the manifest (e.g. the retrainer's plan and
        gate report) and must not reuse the manifest's own keys. ``feature_profile`` (the bytes
        of the training rows' feature profile) is stored next to the weights, its sha256 in the
        manifest and the version's row (:meth:`feature_profile` reads it back, verified).
        """
        if alias is not None and alias not in ALIASES:
            raise ValueError(f"alias must be one of {ALIASES} or None")
        for request_id in request_ids:
            existing = self.version_for_request(model_name, request_id)
            if existing is not None:
                raise DuplicateRequestError(
                    f"request {request_id!r} already produced {model_name} v{existing}", existing
                )
        from models.artifacts import MANIFEST_FILE, save_artifact  # torch only when writing

        model_dir = self.artifacts_dir / model_name
        staging = model_dir / f"{_STAGING}{uuid.uuid4().hex}"
        manifest = save_artifact(
            model,
            staging,
            result=result,
            metrics=metrics,
            training_window=training_window,
            row_counts=row_counts,
            request_ids=request_ids,
            alert_ids=alert_ids,
            extra={
                **dict(manifest_extra or {}),
                "model": model_name,
                "parent_version": parent_version,
            },
            feature_profile=feature_profile,
        )
        manifest_sha = hashlib.sha256((staging / MANIFEST_FILE).read_bytes()).hexdigest()
        for attempt in range(retries):
            try:
                version = self._insert_version(
                    model_name,
                    manifest,
                    manifest_sha,
                    staging,
                    request_ids,
                    alert_ids,
                    parent_version,
                    alias,
                    description,
                    reason,
                )
                break
            except IntegrityError as exc:
                for request_id in request_ids:
                    existing = self.version_for_request(model_name, request_id)
                    if existing is not None:
                        shutil.rmtree(staging, ignore_errors=True)
                        raise DuplicateRequestError(
                            f"request {request_id!r} already produced {model_name} v{existing}",
                            existing,
                        ) from exc
                logger.debug("version number taken (attempt %d), retrying", attempt + 1)
            except OperationalError as exc:  # sqlite "database is locked" under heavy contention
                if "locked" not in str(exc).lower():
                    raise RegistryError(f"registering {model_name} failed: {exc}") from exc
            time.sleep(0.01 * (attempt + 1))
        else:
            raise RegistryError(
                f"could not allocate a version of {model_name} after {retries} tries"
            )
        self._finish_rename(model_dir / f"v{version}", staging)
        logger.info("registered %s v%d (sha256 %s)", model_name, version, manifest["sha256"][:12])
        return self.get_version(model_name, version)

    def _insert_version(
        self,
        model_name: str,
        manifest: dict[str, Any],
        manifest_sha: str,
        staging: Path,
        request_ids: Sequence[str],
        alert_ids: Sequence[str],
        parent_version: int | None,
        alias: str | None,
        description: str,
        reason: str,
    ) -> int:
        with self._session() as session:
            model_row = find_model(session, model_name, create=True, lock=True)
            last = session.scalar(
                select(func.max(VersionRow.version)).where(VersionRow.model_id == model_row.id)
            )
            version = (last or 0) + 1
            window = manifest.get("training_window") or {}
            row = VersionRow(
                model_id=model_row.id,
                version=version,
                status="champion" if alias == "champion" else (alias or "registered"),
                artifact_path=f"{model_name}/v{version}",
                staging_path=str(staging.relative_to(self.artifacts_dir)),
                sha256=manifest["sha256"],
                manifest_sha256=manifest_sha,
                trunk_hash=manifest["trunk_hash"],
                head_hashes=manifest["head_hashes"],
                architecture=manifest["architecture"],
                tasks=[t["name"] for t in manifest["tasks"]],
                parent_version=parent_version,
                alert_ids=list(alert_ids),
                training_start=window.get("start"),
                training_end=window.get("end"),
                row_counts=manifest.get("row_counts") or {},
                description=description,
                feature_profile_sha256=(manifest.get("feature_profile") or {}).get("sha256"),
            )
            session.add(row)
            session.flush()
            session.add_all(
                VersionRequest(model_id=model_row.id, request_id=r, version_id=row.id)
                for r in request_ids
            )
            session.add_all(
                TaskMetricRow(version_id=row.id, task=task, metric=name, value=value)
                for task, values in (manifest.get("metrics") or {}).items()
                for name, value in values.items()
            )
            session.add(
                StatusEvent(
                    model_id=model_row.id,
                    version=version,
                    event="registered",
                    from_version=parent_version,
                    reason=reason,
                )
            )
            if alias is not None:
                self._set_alias(session, model_row, row, alias, reason)
            session.flush()
            return version

    def _finish_rename(self, final: Path, staging: Path) -> None:
        if final.exists():
            return
        os.replace(staging, final)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ aliases & status

    def _set_alias(
        self,
        session: Session,
        model_row: ModelRow,
        row: VersionRow,
        alias: str,
        reason: str,
        event: str = "promoted",
    ) -> None:
        current = session.get(Alias, (model_row.id, alias))
        previous = session.get(VersionRow, current.version_id) if current else None
        if previous is not None and previous.id == row.id:
            raise RegistryError(f"{model_row.name} v{row.version} is already the {alias}")
        if current is None:
            session.add(Alias(model_id=model_row.id, alias=alias, version_id=row.id))
        else:
            current.version_id, current.updated_at = row.id, utcnow()
        if alias == "champion":
            if previous is not None and event == "promoted":
                previous.status = "archived"
            row.status = "champion"
            candidate = session.get(Alias, (model_row.id, "candidate"))
            if candidate is not None and candidate.version_id == row.id:
                session.delete(candidate)
        elif row.status != "champion":
            row.status = "candidate"
        session.add(
            StatusEvent(
                model_id=model_row.id,
                version=row.version,
                event=event,
                alias=alias,
                from_version=previous.version if previous else None,
                reason=reason,
            )
        )

    def promote(
        self, model_name: str, version: int | str, alias: str = "champion", reason: str = ""
    ) -> VersionInfo:
        """Point ``alias`` at a version (the old champion becomes ``archived``)."""
        if alias not in ALIASES:
            raise ValueError(f"alias must be one of {ALIASES}")
        with self._session() as session:
            model_row = find_model(session, model_name, lock=True)
            row = find_version(session, model_row, version)
            self._set_alias(session, model_row, row, alias, reason)
            number = row.version
        return self.get_version(model_name, number)

    def reject(self, model_name: str, version: int | str, reason: str = "") -> None:
        """Mark a version ``rejected`` (e.g. it failed the promotion gate) and drop its candidate alias."""
        with self._session() as session:
            model_row = find_model(session, model_name, lock=True)
            row = find_version(session, model_row, version)
            if row.status == "champion":
                raise RegistryError(f"{model_name} v{row.version} is the champion; roll back first")
            candidate = session.get(Alias, (model_row.id, "candidate"))
            if candidate is not None and candidate.version_id == row.id:
                session.delete(candidate)
            row.status = "rejected"
            session.add(
                StatusEvent(
                    model_id=model_row.id, version=row.version, event="rejected", reason=reason
                )
            )

    def rollback(self, model_name: str, reason: str = "") -> RollbackResult:
        """Move ``champion`` back to the champion before the current one; record it.

        Repeated rollbacks walk further back through the promotion history.
        """
        with self._session() as session:
            model_row = find_model(session, model_name, lock=True)
            events = session.scalars(
                select(StatusEvent)
                .where(StatusEvent.model_id == model_row.id, StatusEvent.alias == "champion")
                .order_by(StatusEvent.id)
            ).all()
            stack: list[int] = []
            for item in events:
                if item.event == "promoted" and item.version is not None:
                    stack.append(item.version)
                elif item.event == "rolled_back" and stack:
                    stack.pop()
            if len(stack) < 2:
                raise RegistryError(
                    f"{model_name} has no previous champion to roll back to; "
                    "use `driftline models promote` to choose a version"
                )
            current = find_version(session, model_row, stack[-1])
            target = find_version(session, model_row, stack[-2])
            alias = session.get(Alias, (model_row.id, "champion"))
            assert alias is not None
            alias.version_id, alias.updated_at = target.id, utcnow()
            current.status, target.status = "rolled_back", "champion"
            session.add(
                StatusEvent(
                    model_id=model_row.id,
                    version=target.version,
                    event="rolled_back",
                    alias="champion",
                    from_version=current.version,
                    reason=reason,
                )
            )
            result = RollbackResult(model_name, current.version, target.version, reason)
        logger.info(
            "rolled back %s champion v%d -> v%d", model_name, result.from_version, result.to_version
        )
        return result

    # ------------------------------------------------------------------ reads

    def version_for_request(self, model_name: str, request_id: str) -> int | None:
        """The version a retrain request produced, or None (idempotency check)."""
        with self._session() as session:
            return session.scalar(
                select(VersionRow.version)
                .join(VersionRequest, VersionRequest.version_id == VersionRow.id)
                .join(ModelRow, ModelRow.id == VersionRequest.model_id)
                .where(ModelRow.name == model_name, VersionRequest.request_id == request_id)
            )

    def list_models(self) -> list[str]:
        """Registered model names."""
        with self._session() as session:
            return list(session.scalars(select(ModelRow.name).order_by(ModelRow.name)))

    def aliases(self, model_name: str) -> dict[str, int]:
        """``{alias: version}``."""
        with self._session() as session:
            model_row = find_model(session, model_name)
            rows = session.execute(
                select(Alias.alias, VersionRow.version)
                .join(VersionRow, VersionRow.id == Alias.version_id)
                .where(Alias.model_id == model_row.id)
                .order_by(Alias.alias)
            ).all()
            return {alias: version for alias, version in rows}

    def list_versions(self, model_name: str) -> list[VersionInfo]:
        """Every version, oldest first."""
        with self._session() as session:
            model_row = find_model(session, model_name)
            rows = session.scalars(
                select(VersionRow)
                .where(VersionRow.model_id == model_row.id)
                .order_by(VersionRow.version)
            ).all()
            return [version_info(session, model_row, row, self.artifacts_dir) for row in rows]

    def get_version(self, model_name: str, version: int | str) -> VersionInfo:
        """One version by number or alias (``champion``/``candidate``)."""
        with self._session() as session:
            model_row = find_model(session, model_name)
            row = find_version(session, model_row, version)
            return version_info(session, model_row, row, self.artifacts_dir)

    def history(self, model_name: str) -> list[HistoryEntry]:
        """Status history, oldest first."""
        with self._session() as session:
            model_row = find_model(session, model_name)
            rows = session.scalars(
                select(StatusEvent)
                .where(StatusEvent.model_id == model_row.id)
                .order_by(StatusEvent.id)
            ).all()
            return [
                HistoryEntry(r.at, r.event, r.version, r.alias, r.from_version, r.reason or "")
                for r in rows
            ]

    def load(
        self, model_name: str, version: int | str = "champion", device: str = "cpu"
    ) -> LoadedArtifact:
        """Load a version's artifact, verifying it against the sha256 the registry recorded."""
        from models.artifacts import load_artifact

        info = self.get_version(model_name, version)
        self._finish_pending_rename(info)
        return load_artifact(info.artifact_path, expected_sha256=info.sha256, device=device)

    def _finish_pending_rename(self, info: VersionInfo) -> None:
        """A crash after the commit left the artifact under its staging name: finish it."""
        if info.artifact_path.exists():
            return
        with self._session() as session:
            model_row = find_model(session, info.model)
            row = find_version(session, model_row, info.version)
            staging = self.artifacts_dir / row.staging_path if row.staging_path else None
        if staging is not None and staging.exists():
            self._finish_rename(info.artifact_path, staging)

    def feature_profile(self, model_name: str, version: int | str = "champion") -> bytes | None:
        """The feature profile stored with a version (the bytes of its training rows' profile,
        ``driftline.feature-profile/1`` JSON), verified against the sha256 the registry recorded;
        ``None`` for a version registered without one.

        Raises :class:`ArtifactIntegrityError` when the file is missing or differs.
        """
        from models.errors import ArtifactIntegrityError

        info = self.get_version(model_name, version)
        path = info.feature_profile_path
        if path is None:
            return None
        self._finish_pending_rename(info)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactIntegrityError(
                f"{path}: the feature profile of {model_name} v{info.version} is missing ({exc})"
            ) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != info.feature_profile_sha256:
            raise ArtifactIntegrityError(
                f"{path}: sha256 {actual} does not match the registry's "
                f"{info.feature_profile_sha256}; the file was modified or truncated"
            )
        return data

    def cleanup_orphans(self, min_age_s: float = 3600.0) -> list[Path]:
        """Finish renames of registered versions; delete staging dirs no version refers to.

        Staging directories younger than ``min_age_s`` are left alone (a registration may be in
        flight). Returns the directories removed.
        """
        removed: list[Path] = []
        if not self.artifacts_dir.exists():
            return removed
        with self._session() as session:
            pending = {
                staging: final
                for staging, final in session.execute(
                    select(VersionRow.staging_path, VersionRow.artifact_path)
                ).all()
                if staging
            }
        now = time.time()
        for staging in sorted(self.artifacts_dir.glob(f"*/{_STAGING}*")):
            relative = str(staging.relative_to(self.artifacts_dir))
            if relative in pending:
                self._finish_rename(self.artifacts_dir / pending[relative], staging)
            elif now - staging.stat().st_mtime >= min_age_s:
                shutil.rmtree(staging)
                removed.append(staging)
                logger.info("removed orphan artifact %s", staging)
        return removed
