"""The closed loop on a real broker, at a smaller scale than ``make demo``.

Real monitor and retrainer processes (started by :class:`simulator.LocalStack`), real Feast
(embedded), real registry, real training, with the tasks, policies, gate and retrainer settings
of ``examples/demo.yaml``. Asserts what issue 9 asks of the demo: alerts only on the drifted
tasks, at least one promoted version, and each drifted task's primary metric after the retrain
(measured on traffic scored by the promoted version) within 2 % (relative) of its pre-drift
value. The same run's output (this process's, and the monitor's and retrainer's logs) must be
quiet: no ``Traceback``, ``nanobind`` leak report, ``DeprecationWarning``/``FutureWarning``,
"Mean of empty slice" or librdkafka ``%3|``/``%4|`` line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from driftline.broker import pick_free_port
from simulator.demo import DemoPlan, DemoRun

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"
NOISE = re.compile(
    r"Traceback|nanobind|DeprecationWarning|FutureWarning|Mean of empty slice|%[0-7]\|"
)


def noisy_lines(text: str) -> list[str]:
    r"""The lines of ``text`` a quiet run must not have.

    >>> noisy_lines("ok\n%4|1796|GETPID|driftline#producer-1| retrying\nnanobind: leaked 3")
    ['%4|1796|GETPID|driftline#producer-1| retrying', 'nanobind: leaked 3']
    """
    return [line for line in text.splitlines() if NOISE.search(line)]


def test_drift_alert_retrain_promotion_recovery(
    make_config, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    demo = yaml.safe_load(DEMO.read_text())
    state = tmp_path / "state"
    name = tmp_path.name[-6:]
    config, path = make_config(
        partitions=demo["kafka"]["partitions"],
        tasks=demo["tasks"],
        features=demo["features"],
        producer=demo["producer"],
        monitor={**demo["monitor"], "app_id": f"e2e-monitor-{name}",
                 "web_port": pick_free_port("127.0.0.1")},
        retrainer={**demo["retrainer"], "group_id": f"e2e-retrainer-{name}", "device": "cpu"},
        feature_store={"type": "embedded", "path": str(state / "feast")},
        registry={"url": f"sqlite:///{state}/registry.db", "artifacts_dir": str(state / "art")},
    )  # fmt: skip
    plan = DemoPlan(history=5000, before=4000, after=4000, max_events=40_000,
                    drifted=("churn", "category"), promotion_timeout=150)  # fmt: skip
    report = tmp_path / "report.html"
    summary = DemoRun(config, path, plan, manage_broker=False, report=report).run()
    captured = capfd.readouterr()
    logs = {log.name: log.read_text() for log in sorted((state / "logs").glob("*.log"))}
    assert set(logs) == {"monitor.log", "retrainer.log"}, sorted(logs)
    for name, text in {"stdout": captured.out, "stderr": captured.err, **logs}.items():
        assert not noisy_lines(text), (name, noisy_lines(text)[:20])
    assert "feature sink: ready" in logs["monitor.log"]

    drifted = set(summary["drifted_tasks"])
    assert all(summary["alerts"][t] > 0 for t in drifted), summary["alerts"]
    assert all(summary["alerts"][t] == 0 for t in summary["alerts"] if t not in drifted), summary
    assert summary["promoted_versions"], summary["model_updates"]
    assert set(summary["detection_delay"]) == drifted, summary["detection_delay"]
    for task in drifted:
        entry = summary["tasks"][task]
        assert entry["during"] is not None and entry["after"] is not None, entry
        assert entry["counts"]["after"] >= plan.after, entry
        assert abs(entry["after"] - entry["before"]) <= 0.02 * abs(entry["before"]), entry
        worse = entry["during"] < entry["before"] if entry["higher_is_better"] else entry["during"] > entry["before"]  # fmt: skip
        assert worse, entry  # the drift really hurt the old champion
    # the summary links to the dashboard and to the static report of the run
    assert summary["dashboard_url"].startswith("http://127.0.0.1:"), summary
    assert summary["report"] == str(report)
    page = report.read_text()
    assert page.count("Plotly.newPlot(") == len(config.tasks)
    assert "drift, old model" in page and "after the retrain" in page
    assert f"promoted v{summary['promoted_versions'][0]}" in page
    assert all(f"<td>{task}</td><td>yes</td>" in page for task in drifted)
