"""The dashboard's web app served by a real uvicorn on a free port, over a hand-filled history."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.dashboard.app import create_app
from driftline.dashboard.figures import ALERT_TRACE
from driftline.dashboard.history import RunHistory
from driftline.dashboard.registry_view import RegistryView
from driftline.events import decode
from tests.dashboard_events import CONFIG, T0, alert, iso, snapshot


@pytest.fixture
def history() -> RunHistory:
    history = RunHistory(parse_config(CONFIG), points=50, events=50)
    for i in range(1, 21):
        history.add(snapshot("churn", i, 0.9 if i < 10 else 0.6, "1" if i < 15 else "2"))
        history.add(snapshot("churn", i, 0.8, slice_={"country": "DE"}))
        history.add(snapshot("spend", i, 4.0))
    history.add(alert("churn", 11))
    history.add(alert("churn", 11))  # read twice: one alert
    history.add(
        decode(
            {
                "schema": "driftline.retrain-request/1",
                "request_id": "r-1",
                "model": "shop",
                "tasks": ["churn"],
                "alert_ids": ["a-churn-11"],
                "reason": "critical drift on churn",
                "event_time": iso(T0 + 700),
            }
        )
    )
    history.add(
        decode(
            {
                "schema": "driftline.model-update/1",
                "update_id": "u-2",
                "model": "shop",
                "version": "2",
                "status": "promoted",
                "tasks": ["churn"],
                "metrics": {"churn": {"roc_auc": 0.91}},
                "champion_metrics": {"churn": {"roc_auc": 0.6}},
                "request_ids": ["r-1"],
                "event_time": iso(T0 + 890),
            }
        )
    )
    history.add(
        decode(
            {
                "schema": "driftline.dead-letter/1",
                "reason": "not valid JSON: Expecting value: line 1 column 2 (char 1)",
                "source": {"topic": "predictions", "partition": 0, "offset": 7},
                "payload": "{oops",
                "stage": "join",
                "received_at": iso(T0),
            }
        )
    )
    return history


@pytest.fixture
def server(history: RunHistory) -> Iterator[str]:
    import uvicorn

    app = create_app(history, RegistryView(history.config))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("content-type", "")


def get_json(url: str) -> Any:
    status, body, _ = get(url)
    assert status == 200, body
    return json.loads(body)


def test_page_and_assets_are_served_locally(server: str) -> None:
    status, page, kind = get(server + "/")
    assert status == 200 and "text/html" in kind
    text = page.decode()
    assert "shop" in text and '<script src="/static/plotly.min.js">' in text
    assert "http://" not in text and "https://" not in text  # nothing from another host
    status, plotly, kind = get(server + "/static/plotly.min.js")
    assert status == 200 and "javascript" in kind and len(plotly) > 1_000_000
    assert get(server + "/static/dashboard.js")[0] == 200
    assert get(server + "/static/../app.py")[0] == 404


def test_overview_marks_the_drifted_task(server: str) -> None:
    overview = get_json(server + "/api/overview")
    tasks = {t["task"]: t for t in overview["tasks"]}
    assert tasks["churn"]["alerts"] == 1 and tasks["spend"]["alerts"] == 0
    assert tasks["spend"]["status"] == "ok" and tasks["churn"]["version"] == "2"
    assert overview["champion"] == "2" and overview["dead_letters"] == 1


def test_task_figure_has_alert_markers_versions_and_slices(server: str) -> None:
    churn = get_json(server + "/api/tasks/churn")
    traces = {t["name"]: t for t in churn["figure"]["data"]}
    assert len(traces[ALERT_TRACE]["x"]) == 1
    assert traces[ALERT_TRACE]["y"] == [0.6]  # drawn on the metric line at the alert's time
    assert len(traces["roc_auc (rolling)"]["y"]) == 20
    marks = [a["text"] for a in churn["figure"]["layout"]["annotations"]]
    assert marks == ["promoted v2"]
    assert churn["slices"]["data"][0]["name"] == "country=DE"
    assert churn["slice_comparison"]["data"][0]["x"] == ["(all)", "country=DE"]
    spend = get_json(server + "/api/tasks/spend")
    assert {t["name"]: t for t in spend["figure"]["data"]}[ALERT_TRACE]["x"] == []
    assert spend["slices"] is None
    assert get(server + "/api/tasks/nope")[0] == 404


def test_retrain_history_dead_letters_and_registry(server: str) -> None:
    rows = get_json(server + "/api/retrains")
    assert [(r["request_id"], r["outcome"]) for r in rows] == [("r-1", "promoted")]
    update = rows[0]["updates"][0]
    assert update["gate"] == {"churn": {"roc_auc": {"candidate": 0.91, "champion": 0.6}}}
    assert update["registry_link"] == "/registry/shop/2" and update["in_registry"] is False
    status, body, _ = get(server + "/registry/shop/2")
    assert status == 200 and b"not in the registry" in body and b"no registry at" in body
    assert get(server + "/api/registry/shop/2")[0] == 404
    dead = get_json(server + "/api/dead-letters")
    assert dead["by_reason"] == [
        {
            "topic": "predictions",
            "stage": "join",
            "reason": "not valid JSON: Expecting value",
            "count": 1,
        }
    ]
    assert dead["figure"]["data"][0]["name"] == "predictions"
    lag = get_json(server + "/api/lag")
    assert lag == {"rows": [], "error": None, "figure": None}


def test_history_is_bounded(history: RunHistory) -> None:
    for i in range(21, 200):
        history.add(snapshot("spend", i, 4.0))
        history.add(alert("spend", i, "warning"))
    assert len(history.series("shop", "spend")) == 50
    assert len(history.alerts()) == 50
