"""``driftline.model-update/1`` events for retrain outcomes, with deterministic ids.

The id of an outcome's update depends only on the model, version, status and the request ids
it answers, so a request redone after a crash re-announces the *same* update: consumers drop
duplicates by ``update_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from driftline.events import ModelUpdate, stable_id

if TYPE_CHECKING:
    from models.registry import VersionInfo

__all__ = ["rejected_update", "update_id", "version_update"]


def update_id(model: str, version: int | None, status: str, request_ids: Sequence[str]) -> str:
    """Deterministic id of a retrain outcome.

    >>> update_id("shop", 3, "promoted", ["r2", "r1"]) == update_id("shop", 3, "promoted", ["r1", "r2"])
    True
    """
    return stable_id("model-update", model, version, status, sorted(request_ids))


def version_update(
    info: VersionInfo,
    status: str,
    reason: str,
    parent_version: int | None,
    champion_metrics: Mapping[str, Mapping[str, float]] | None = None,
    request_ids: Sequence[str] | None = None,
) -> ModelUpdate:
    """The update announcing a registered version (``promoted``, ``candidate``, ``rejected``)."""
    from models.registry import model_update

    data = model_update(
        info,
        status,
        reason,
        parent_version=parent_version,
        champion_metrics={t: dict(m) for t, m in (champion_metrics or {}).items()},
    )
    ids = list(request_ids) if request_ids is not None else info.request_ids
    data["update_id"] = update_id(info.model, info.version, status, ids)
    return ModelUpdate.model_validate(data)


def rejected_update(
    model: str,
    tasks: Sequence[str],
    request_ids: Sequence[str],
    alert_ids: Sequence[str],
    reason: str,
    parent_version: int | None = None,
    now: datetime | None = None,
) -> ModelUpdate:
    """A ``rejected`` update for requests that were not trained (no version exists).

    >>> update = rejected_update("shop", ["churn"], ["r1"], [], "too few labels")
    >>> update.status, update.version, update.reason
    ('rejected', None, 'too few labels')
    """
    return ModelUpdate.model_validate(
        {
            "schema": ModelUpdate.SCHEMA,
            "update_id": update_id(model, None, "rejected", request_ids),
            "model": model,
            "version": None,
            "status": "rejected",
            "parent_version": str(parent_version) if parent_version is not None else None,
            "tasks": list(tasks),
            "request_ids": list(request_ids),
            "alert_ids": list(alert_ids),
            "reason": reason,
            "event_time": now or datetime.now(UTC),
        }
    )
