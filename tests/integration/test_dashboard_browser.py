"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Broker (session fixture), ``driftline monitor`` and ``driftline dashboard`` as subprocesses, a
short seeded stream in which one task of three drifts: the page must show an alert marker on the
drifted task's chart and none on the others, log no console error and ask no other host for
anything. The screenshot goes to the test's directory; with ``DRIFTLINE_SCREENSHOT_DIR`` set it
is copied there too (``docs/img/dashboard.png`` in the README comes from this test).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("DRIFTLINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

ALERT_POINTS = """(task) => {
  const gd = document.getElementById(`chart-${task}`);
  const trace = gd && gd._fullData ? gd._fullData.find((t) => t.name === "alerts") : null;
  if (!trace) return -1;
  return gd.querySelectorAll(`g.trace${trace.uid} path.point`).length;
}"""


def _overview(port: int) -> dict[str, Any]:
    try:
        url = f"http://127.0.0.1:{port}/api/overview"
        data: dict[str, Any] = json.loads(urllib.request.urlopen(url, timeout=2).read())
        return data
    except OSError:
        return {}


def _snapshots(stack: Any) -> dict[str, int]:
    """Snapshots per task on the task-metrics topic."""
    from driftline.reader import EventReader

    counts: dict[str, int] = {}
    with EventReader(stack.config, [stack.config.topics.task_metrics]) as reader:
        for item in reader.read(timeout=30, idle=3):
            if item.event is not None:
                counts[item.event.task] = counts.get(item.event.task, 0) + 1
    return counts


def _ready(port: int, snapshots: dict[str, int]) -> bool:
    """The dashboard has read churn's alert and every snapshot."""
    tasks = {t["task"]: t for t in _overview(port).get("tasks", [])}
    return (
        len(tasks) == 3
        and tasks["churn"]["alerts"] >= 1
        and all(t["snapshots"] == snapshots.get(name) for name, t in tasks.items())
    )


def test_dashboard_shows_the_drifted_task_in_a_real_browser(
    people_stack: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make setup` (apt-get install chromium)")
    stack = people_stack()
    stack.start_monitor()
    stack.start_dashboard()
    stack.wait("the monitor serves /metrics", lambda: bool(stack.metrics()), 90)
    stack.drift_stream(rate=300)  # live traffic, about 10 s
    stack.wait("the monitor applies every label", lambda: stack.labels_applied() == 9000)
    snapshots = _snapshots(stack)
    assert set(snapshots) == {"churn", "fraud", "spend"} and min(snapshots.values()) >= 20, (
        snapshots
    )
    try:
        stack.wait("the dashboard reads the alert and every snapshot", lambda: _ready(stack.dashboard_port, snapshots), 60)  # fmt: skip
    except BaseException:
        print(
            "overview:", _overview(stack.dashboard_port), "\ndashboard log:", stack.log("dashboard")
        )
        raise
    lag = json.loads(
        urllib.request.urlopen(f"http://127.0.0.1:{stack.dashboard_port}/api/lag").read()
    )
    groups = {row["group"] for row in lag["rows"]}
    assert stack.config.monitor.app_id in groups, lag
    overview = _overview(stack.dashboard_port)
    assert {t["task"]: t["alerts"] for t in overview["tasks"]} == {
        "churn": 1,
        "fraud": 0,
        "spend": 0,
    }

    errors: list[str] = []
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            local = f"http://127.0.0.1:{stack.dashboard_port}/"

            def only_local(route: Any) -> None:
                if route.request.url.startswith(local):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.goto(local)
            page.wait_for_function(
                "Number(document.body.dataset.refreshed || 0) >= 1", timeout=30_000
            )
            markers = {
                task: page.evaluate(ALERT_POINTS, task) for task in ("churn", "fraud", "spend")
            }
            cards = {
                task: page.get_attribute(f"#card-{task}", "class")
                for task in ("churn", "fraud", "spend")
            }
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=False)
        finally:
            browser.close()
    assert markers == {"churn": 1, "fraud": 0, "spend": 0}, markers
    assert "drift" in (cards["churn"] or "") and all(
        "ok" in (cards[t] or "") for t in ("fraud", "spend")
    )
    assert errors == [], errors
    assert elsewhere == [], elsewhere
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000
    target = os.environ.get("DRIFTLINE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "dashboard.png", Path(target) / "dashboard.png")
