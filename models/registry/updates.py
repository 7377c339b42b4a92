"""The ``driftline.model-update/1`` event describing a registry change (built here, sent elsewhere).

:mod:`models` never talks to Kafka: the retrainer (or the CLI's publish hook) sends what
:func:`model_update` returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from driftline.events import ModelUpdate, stable_id
from models.registry.records import VersionInfo

__all__ = ["model_update"]


def model_update(
    info: VersionInfo,
    status: str,
    reason: str = "",
    parent_version: int | None = None,
    champion_metrics: dict[str, dict[str, float]] | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """A validated ModelUpdate as a JSON-ready dict (``status``: promoted, candidate, rejected, rolled_back)."""
    event_time = event_time or datetime.now(UTC)
    parent = parent_version if parent_version is not None else info.parent_version
    event = ModelUpdate.model_validate(
        {
            "schema": ModelUpdate.SCHEMA,
            "update_id": stable_id(info.model, info.version, status, event_time.isoformat()),
            "model": info.model,
            "version": str(info.version),
            "status": status,
            "parent_version": str(parent) if parent is not None else None,
            "tasks": info.tasks,
            "metrics": _finite(info.metrics),
            "champion_metrics": _finite(champion_metrics or {}),
            "artifact_uri": info.artifact_path.resolve().as_uri(),
            "sha256": info.sha256,
            "feature_profile_uri": (
                info.feature_profile_path.resolve().as_uri() if info.feature_profile_path else None
            ),
            "feature_profile_sha256": info.feature_profile_sha256,
            "request_ids": info.request_ids,
            "alert_ids": info.alert_ids,
            "reason": reason,
            "event_time": event_time,
        }
    )
    return event.model_dump(mode="json", by_alias=True)


def _finite(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    return {
        task: {
            k: float(v)
            for k, v in values.items()
            if v is not None and v == v and abs(v) != float("inf")
        }
        for task, values in metrics.items()
    }
