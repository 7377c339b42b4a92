"""What the figures draw: rollbacks, phases, slice alerts, dead letters, lag, the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline.config import parse_config
from driftline.dashboard import RunHistory, write_report
from driftline.dashboard.figures import (
    dead_letters_figure,
    lag_figure,
    slices_figure,
    task_figure,
    utc,
)
from driftline.events import decode
from tests.dashboard_events import CONFIG, T0, alert, snapshot


def history() -> RunHistory:
    history = RunHistory(parse_config(CONFIG))
    for i in range(1, 11):
        history.add(snapshot("churn", i, 0.9, "1" if i < 6 else "2"))
        history.add(snapshot("churn", i, 0.7, slice_={"country": "DE"}))
    return history


def update(version: str, status: str, minute: int) -> Any:
    return decode({
        "schema": "driftline.model-update/1", "update_id": f"u-{version}-{status}",
        "model": "shop", "version": version, "status": status,
        "event_time": datetime.fromtimestamp(T0 + 60 * minute, UTC).isoformat()})  # fmt: skip


def test_promotion_rollback_and_new_version_marks() -> None:
    h = history()
    h.add(update("2", "promoted", 5))
    h.add(update("1", "rolled_back", 8))
    h.add(update("3", "candidate", 9))  # a candidate is no boundary
    layout = task_figure(h, "shop", "churn")["layout"]
    assert [a["text"] for a in layout["annotations"]] == ["promoted v2", "rolled back to v1"]
    # the promotion sits where the snapshots switch to v2 (minute 6, a minute after the
    # update's own time); the rollback to v1 is not in the snapshots: at the update's time
    assert [s["x0"] for s in layout["shapes"]] == [utc(T0 + 360), utc(T0 + 480)]
    bare = history()  # no update: the version change in the snapshots is marked instead
    assert [a["text"] for a in task_figure(bare, "shop", "churn")["layout"]["annotations"]] == [
        "v2 in predictions"
    ]


def test_phases_are_shaded_and_labelled() -> None:
    figure = task_figure(history(), "shop", "churn", phases=[(T0 + 120, T0 + 360, "drift")])
    rect = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    assert rect[0]["x0"] == utc(T0 + 120) and rect[0]["x1"] == utc(T0 + 360)
    assert "drift" in [a["text"] for a in figure["layout"]["annotations"]]


def test_slice_alerts_go_to_the_slice_chart_not_the_task_chart() -> None:
    h = history()
    data = alert("churn", 4).model_dump(mode="json", by_alias=True)
    h.add(decode({**data, "alert_id": "slice-alert", "slice": {"country": "DE"}}))
    task = {t["name"]: t for t in task_figure(h, "shop", "churn")["data"]}
    assert task["alerts"]["x"] == []
    slices = slices_figure(h, "shop", "churn")
    assert slices is not None
    markers = next(t for t in slices["data"] if t["name"] == "slice alerts")
    assert markers["y"] == [0.7]


def test_dead_letters_and_lag_figures() -> None:
    figure = dead_letters_figure({("labels", "join", "invalid label"): 3, ("predictions", "join", "not JSON"): 1})  # fmt: skip
    assert figure is not None and [t["name"] for t in figure["data"]] == ["labels", "predictions"]
    assert dead_letters_figure({}) is None
    rows = [
        {"group": "mon", "topic": "labels", "partition": 0, "lag": 4},
        {"group": "mon", "topic": "labels", "partition": 1, "lag": 6},
    ]
    lag = lag_figure(rows)
    assert lag is not None and lag["data"][0]["y"] == [10]
    assert lag_figure([]) is None


def test_report_is_self_contained(tmp_path: Path) -> None:
    h = history()
    h.add(alert("churn", 3))
    path = write_report(tmp_path / "run" / "report.html", h, phases={"churn": [(T0, T0 + 60, "x")]},
                        summary={"tasks": {"churn": {"metric": "roc_auc", "before": 0.9, "during": 0.5,
                                                     "after": 0.9}}, "drifted_tasks": ["churn"]})  # fmt: skip
    page = path.read_text()
    assert page.count("Plotly.newPlot(") == 2  # churn and spend
    assert "<td>churn</td><td>yes</td><td>roc_auc</td><td>0.9000</td><td>0.5000</td>" in page
    assert "a-churn-3" in page
    assert "<script src=" not in page  # plotly.js is inlined
