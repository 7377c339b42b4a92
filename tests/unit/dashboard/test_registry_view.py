"""The dashboard's registry look-up against a real sqlite registry with a registered version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftline.config import parse_config
from driftline.dashboard.history import RunHistory
from driftline.dashboard.registry_view import RegistryView
from driftline.dashboard.retrains import retrain_rows
from driftline.events import decode
from models.model import build_model
from models.registry import Registry
from models.specs import FeatureSchema, TaskSpec

GATE = {
    "passed": True,
    "reason": "gate passed",
    "tasks": {
        "churn": {"task": "churn", "rule": "improve", "metric": "roc_auc", "passed": True,
                  "candidate": 0.91, "reference": 0.6, "improvement": 0.31, "low": 0.27,
                  "high": 0.35, "margin": 0.0, "confidence": 0.95, "n": 600, "reason": "ok"},
    },
}  # fmt: skip


def test_entry_and_gate_bounds_come_from_the_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/registry.db"
    registry = Registry(url, tmp_path / "artifacts")
    frame = pd.DataFrame({"x": [0.0, 1.0], "churn": [0.0, 1.0]})
    model = build_model([TaskSpec("churn", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    info = registry.register(
        "shop", model, metrics={"churn": {"roc_auc": 0.91}}, request_ids=["r-1"],
        alias="champion", manifest_extra={"retrainer": {"gate": GATE}},
    )  # fmt: skip
    registry.close()
    config = parse_config(
        f"model: shop\nregistry: {{url: '{url}', artifacts_dir: '{tmp_path}/artifacts'}}\n"
        "tasks: {churn: {type: binary}}\n"
    )
    view = RegistryView(config)
    entry = view.entry("shop", str(info.version))
    assert entry is not None, view.error
    assert entry["version"] == 1 and entry["request_ids"] == ["r-1"]
    assert entry["gate"]["tasks"]["churn"]["low"] == 0.27
    assert view.entry("shop", "7") is None and "7" in (view.error or "")

    history = RunHistory(config)
    history.add(decode({
        "schema": "driftline.model-update/1", "update_id": "u1", "model": "shop", "version": "1",
        "status": "promoted", "tasks": ["churn"], "metrics": {"churn": {"roc_auc": 0.91}},
        "request_ids": ["r-1"], "event_time": "2026-11-23T12:03:00Z"}))  # fmt: skip
    update = retrain_rows(history, "shop", view)[0]["updates"][0]
    assert update["in_registry"] and update["verdicts"]["churn"]["high"] == 0.35
