"""Hand-made driftline events for the dashboard's unit tests (snapshots, alerts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from driftline.events import decode

__all__ = ["CONFIG", "T0", "alert", "iso", "snapshot"]

CONFIG = """\
model: shop
registry: {url: "sqlite:////nonexistent/registry.db"}
tasks:
  churn: {type: binary, slices: [country]}
  spend: {type: regression}
"""
T0 = 1_800_000_000


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def snapshot(
    task: str, i: int, value: float, version: str = "1", slice_: dict | None = None
) -> Any:  # type: ignore[type-arg]
    metric = "roc_auc" if task == "churn" else "mae"
    return decode(
        {
            "schema": "driftline.task-metrics/1",
            "snapshot_id": f"{task}-{i}-{slice_}",
            "model": "shop",
            "model_version": version,
            "task": task,
            "slice": slice_ or {},
            "predictions": 100 * i,
            "labels": 90 * i,
            "expired": 10 * i,
            "duplicates": 0,
            "label_coverage": 0.9,
            "cumulative": {metric: value},
            "rolling": {metric: value},
            "event_time": iso(T0 + 60 * i),
        }
    )


def alert(task: str, i: int, severity: str = "critical") -> Any:
    return decode(
        {
            "schema": "driftline.alert/1",
            "alert_id": f"a-{task}-{i}",
            "model": "shop",
            "model_version": "1",
            "task": task,
            "detector": "adwin",
            "signal": "error",
            "severity": severity,
            "metric": "error_rate",
            "value": 0.4,
            "baseline": 0.1,
            "config_hash": "h",
            "evidence": {
                "start_count": 100,
                "end_count": 300,
                "start_time": iso(T0 + 60 * i - 30),
                "end_time": iso(T0 + 60 * i),
            },
            "event_time": iso(T0 + 60 * i),
        }
    )
