"""The retrain history: request → candidate → gate decision per task → promoted or rejected."""

from __future__ import annotations

from typing import Any

from driftline.dashboard.history import RunHistory
from driftline.dashboard.registry_view import RegistryView

__all__ = ["retrain_rows"]


def retrain_rows(
    history: RunHistory, model: str, registry: RegistryView | None = None
) -> list[dict[str, Any]]:
    """One row per retrain request (and per model update that answers none: a manual
    promotion or rollback), newest first, with the updates that answer it and their gate.

    ``gate`` per task: the candidate's and the champion's value of each metric from the update;
    with the registry, also the verdict (rule, improvement and its confidence bounds).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> from driftline.events import decode
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> history = RunHistory(cfg)
    >>> _ = history.add(decode({"schema": "driftline.retrain-request/1", "request_id": "r1",
    ...     "model": "m", "tasks": ["churn"], "reason": "critical drift",
    ...     "event_time": "2026-11-23T12:00:00Z"}))
    >>> _ = history.add(decode({"schema": "driftline.model-update/1", "update_id": "u1",
    ...     "model": "m", "version": "2", "status": "promoted", "tasks": ["churn"],
    ...     "metrics": {"churn": {"roc_auc": 0.9}}, "champion_metrics": {"churn": {"roc_auc": 0.6}},
    ...     "request_ids": ["r1"], "event_time": "2026-11-23T12:03:00Z"}))
    >>> row = retrain_rows(history, "m")[0]
    >>> row["request_id"], row["outcome"], row["updates"][0]["gate"]["churn"]["roc_auc"]
    ('r1', 'promoted', {'candidate': 0.9, 'champion': 0.6})
    """
    updates = history.updates(model)
    rows: list[dict[str, Any]] = []
    answered: set[str] = set()
    for request in history.requests(model):
        mine = [u for u in updates if request.request_id in u.request_ids]
        answered |= {u.update_id for u in mine}
        rows.append(
            {
                "request_id": request.request_id,
                "requested_at": request.event_time.isoformat(),
                "tasks": request.tasks,
                "reason": request.reason,
                "alert_ids": request.alert_ids,
                "from_version": request.model_version,
                "updates": [_update(u, registry) for u in mine],
                "outcome": mine[-1].status if mine else "pending",
            }
        )
    for update in updates:
        if update.update_id not in answered:
            rows.append(
                {
                    "request_id": None,
                    "requested_at": update.event_time.isoformat(),
                    "tasks": update.tasks,
                    "reason": update.reason,
                    "alert_ids": update.alert_ids,
                    "from_version": update.parent_version,
                    "updates": [_update(update, registry)],
                    "outcome": update.status,
                }
            )
    rows.sort(key=lambda row: row["requested_at"], reverse=True)
    return rows


def _update(update: Any, registry: RegistryView | None) -> dict[str, Any]:
    gate: dict[str, dict[str, Any]] = {}
    for task, metrics in update.metrics.items():
        champion = update.champion_metrics.get(task, {})
        gate[task] = {
            metric: {"candidate": value, "champion": champion.get(metric)}
            for metric, value in sorted(metrics.items())
        }
    verdicts: dict[str, Any] = {}
    entry = None
    if registry is not None and update.version is not None:
        entry = registry.entry(update.model, update.version)
        if entry and isinstance(entry.get("gate"), dict):
            verdicts = entry["gate"].get("tasks") or {}
    return {
        "update_id": update.update_id,
        "version": update.version,
        "status": update.status,
        "at": update.event_time.isoformat(),
        "reason": update.reason,
        "gate": gate,
        "verdicts": verdicts,
        "registry_link": (
            f"/registry/{update.model}/{update.version}" if update.version is not None else None
        ),
        "in_registry": entry is not None,
    }
