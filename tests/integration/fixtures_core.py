"""Shared integration fixtures: a driftline config with fresh topic names on the test broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from driftline.config import DriftlineConfig, load_config

MakeConfig = Callable[..., tuple[DriftlineConfig, Path]]

BASE_TASKS = {
    "churn": {"type": "binary", "detectors": [{"kind": "adwin", "severity": "critical"}]},
    "spend": {"type": "regression"},
    "category": {"type": "multiclass", "classes": ["a", "b", "c"]},
}


@pytest.fixture
def make_config(kafka_bootstrap: str, tmp_path: Path) -> MakeConfig:
    """Factory: ``make_config(partitions=4, **sections)`` → (config, path of its YAML file).

    Every topic gets a unique name, so tests never see each other's events.
    """

    def make(
        partitions: int = 4, tasks: dict | None = None, **sections: object
    ) -> tuple[DriftlineConfig, Path]:  # type: ignore[type-arg]
        suffix = uuid.uuid4().hex[:8]
        names = ["predictions", "labels", "outcomes", "drift_alerts", "retrain_requests",
                 "model_updates", "task_metrics", "dead_letters"]  # fmt: skip
        doc: dict[str, object] = {
            "model": "shop-mtl",
            "state_dir": str(tmp_path / "state"),
            "kafka": {"bootstrap_servers": kafka_bootstrap, "partitions": partitions},
            "topics": {name: f"{name.replace('_', '-')}-{suffix}" for name in names},
            "tasks": tasks or BASE_TASKS,
            **sections,
        }
        path = tmp_path / f"driftline-{suffix}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return load_config(path), path

    return make
