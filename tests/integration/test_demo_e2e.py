"""The closed loop on a real broker, at a smaller scale than ``make demo``.

Real monitor and retrainer processes (started by :class:`simulator.LocalStack`), real Feast
(embedded), real registry, real training. Asserts what issue 9 asks of the demo: alerts only on
the drifted tasks, at least one promoted version, and each drifted task's primary metric after the
retrain within 2 % (relative) of its pre-drift value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.broker import pick_free_port
from simulator.demo import DemoPlan, DemoRun

TASKS = {
    name: {
        "type": kind,
        **({"classes": ["a", "b", "c", "d"]} if kind == "multiclass" else {}),
        "window": 1000,
        "label_delay": "2s",
        "detectors": [{"kind": "adwin", "signal": "error", "params": {"delta": 0.0001},
                       "severity": "critical"}],
        "policy": {"min_samples": 500, "warmup": 500, "confirm_within": 500, "cooldown": 100000},
        "retrain": {"on_severity": ["critical"], "cooldown": "1h", "min_labels": 300},
        "gate": {"tolerance": 0.02},
    }
    for name, kind in (("churn", "binary"), ("category", "multiclass"), ("spend", "regression"))
}  # fmt: skip


@pytest.mark.xfail(
    strict=True,
    reason="blocked outside simulator/ (see the issue 9 report): the monitor's retrain request "
    "window is the ~50-label evidence window, which the retrainer trains on as is (rejected: too "
    "few labels); featurestore.LabelSink builds a pydantic model per outcome (~1-3 ms each); "
    "`simulator` is not in pyproject's package list; aiokafka needs `cramjam` for the SDK's lz4",
)
def test_drift_alert_retrain_promotion_recovery(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    config, path = make_config(
        partitions=2,
        tasks=TASKS,
        features=[{"name": f"x{i}"} for i in range(6)],
        monitor={"app_id": f"e2e-monitor-{tmp_path.name[-6:]}", "store": "memory",
                 "web_port": pick_free_port("127.0.0.1"), "snapshot_interval": 1.0,
                 "checkpoint_interval": "500ms"},
        retrainer={"group_id": f"e2e-retrainer-{tmp_path.name[-6:]}", "device": "cpu",
                   "epochs": 30, "batch_size": 256, "learning_rate": 0.005, "window": "8s",
                   "min_labels": 300, "coalesce_window": "2s"},
        feature_store={"type": "embedded", "path": str(state / "feast")},
        registry={"url": f"sqlite:///{state}/registry.db", "artifacts_dir": str(state / "art")},
    )  # fmt: skip
    plan = DemoPlan(history=3000, before=2000, after=2000, max_events=30_000,
                    drifted=("churn", "category"), interval=1 / 300, promotion_timeout=180)  # fmt: skip
    summary = DemoRun(config, path, plan, manage_broker=False).run()

    drifted = set(summary["drifted_tasks"])
    assert all(summary["alerts"][t] > 0 for t in drifted), summary["alerts"]
    assert all(summary["alerts"][t] == 0 for t in summary["alerts"] if t not in drifted)
    assert summary["promoted_versions"], summary["model_updates"]
    for task in drifted:
        entry = summary["tasks"][task]
        assert entry["during"] is not None and entry["after"] is not None, entry
        assert abs(entry["after"] - entry["before"]) <= 0.02 * abs(entry["before"]), entry
    assert set(summary["detection_delay"]) == drifted
