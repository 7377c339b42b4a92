"""The demo's pacing: backpressure on the monitor's lag, no burst after a pause, dead services."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from driftline.config import parse_config
from simulator.demo import DemoPlan, DemoRun, monitor_lag
from simulator.errors import ServiceError
from simulator.labels import LabelPlan
from simulator.simulation import Simulation
from simulator.stack import LocalStack

CONFIG = parse_config("model: m\nstate_dir: /tmp/unused\ntasks: {churn: {type: binary}}\n")


class Snapshots:
    """A stand-in for SystemOutputs whose monitor clock advances by `step` s per poll."""

    def __init__(self, start: float | None, step: float) -> None:
        self.clock, self.step, self.polls = start, step, 0
        self.latest_metrics: dict[str, Any] = {}
        self._publish()

    def _publish(self) -> None:
        if self.clock is not None:
            moment = datetime.fromtimestamp(self.clock, UTC)
            self.latest_metrics = {"churn": SimpleNamespace(event_time=moment)}

    def poll(self, budget: int = 500) -> list[Any]:
        self.polls += 1
        if self.clock is not None:
            self.clock += self.step
            self._publish()
        return []


def _run(max_lag: int, lag_wait: float = 5.0) -> DemoRun:
    plan = DemoPlan(drifted=("churn",), interval=0.01, max_lag=max_lag, lag_wait=lag_wait)
    return DemoRun(CONFIG, Path("demo.yaml"), plan)


def test_the_simulator_waits_until_the_monitor_is_within_max_lag() -> None:
    outputs = Snapshots(start=100.0, step=2.0)  # the monitor is 10 s = 1000 events behind
    stats = SimpleNamespace(event_time=110.0, events=5000)
    behind = _run(max_lag=300)._hold_back(outputs, stats, 0, {}, None)
    assert behind is not None and behind <= 300
    assert outputs.polls == 4  # 800, 600, 400, then 200 events behind


def test_before_the_first_snapshot_the_events_sent_count_as_lag() -> None:
    stats = SimpleNamespace(event_time=110.0, events=200)
    assert _run(max_lag=300)._hold_back(Snapshots(None, 0.0), stats, 0, {}, None) is None
    started = time.monotonic()
    stats.events = 400  # more than max_lag sent and the monitor has said nothing yet
    assert _run(max_lag=300, lag_wait=0.3)._hold_back(Snapshots(None, 0.0), stats, 0, {}, None) is None  # fmt: skip
    assert time.monotonic() - started >= 0.3  # it waited (up to lag_wait)


def test_monitor_lag_is_none_without_snapshots() -> None:
    assert monitor_lag(SimpleNamespace(latest_metrics={}), 10.0, 0.01) is None
    assert monitor_lag(Snapshots(20.0, 0.0), 10.0, 0.01) == 0  # ahead counts as caught up


def test_pacing_does_not_burst_after_a_pause() -> None:
    simulation = Simulation(CONFIG, source=None, plan=LabelPlan(), rate=100.0)  # type: ignore[arg-type]
    simulation._pace(10)  # 0.1 s per batch of 10
    time.sleep(0.5)  # the caller paused (e.g. waiting for the monitor)
    started = time.monotonic()
    for _ in range(3):
        simulation._pace(10)
    # one batch of credit, then the rate again: the 0.5 s pause is not made up by a burst
    assert time.monotonic() - started >= 0.19


def test_check_alive_names_a_service_that_is_not_running(tmp_path: Path) -> None:
    config = parse_config(f"model: m\nstate_dir: {tmp_path}\ntasks: {{a: {{type: binary}}}}\n")
    with pytest.raises(ServiceError, match=r"the monitor is not running any more; see .*monitor\.log"):  # fmt: skip
        LocalStack(config, tmp_path / "d.yaml").check_alive()
