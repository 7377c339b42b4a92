"""``driftline demo``: the closed loop on the embedded default, nothing faked.

up (broker, monitor, retrainer) → bootstrap a champion from pre-drift history → play traffic →
concept drift on some tasks → the monitor alerts and requests a retrain → the retrainer trains,
gates and promotes → the simulator hot-swaps to the new champion → the metrics recover →
summary → down.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline.config.models import DriftlineConfig
from simulator.errors import SimulatorError

__all__ = ["DemoPlan", "DemoRun"]


@dataclass(frozen=True)
class DemoPlan:
    """Sizes and timing of a demo run (event counts; event time tracks wall time).

    ``interval`` is the event-time seconds between events and the simulator plays at most
    ``1 / interval`` events per second, so event time stays close to wall time (the retrainer's
    window ends "now").
    """

    history: int = 5000
    before: int = 5000
    after: int = 5000
    max_events: int = 60_000
    drifted: tuple[str, ...] = ("churn", "category")
    severity: float = 1.0
    interval: float = 0.0025
    seed: int = 7
    correlation: float = 0.5
    label_delay: float = 0.25
    promotion_timeout: float = 240.0
    drain_timeout: float = 20.0
    max_lag: int = 1000
    lag_wait: float = 60.0


@dataclass
class DemoTimings:
    """Wall seconds per phase."""

    up_s: float = 0.0
    bootstrap_s: float = 0.0
    healthy_s: float = 0.0
    simulate_s: float = 0.0
    down_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Rounded, JSON-ready."""
        return {name: round(value, 1) for name, value in asdict(self).items()}


class DemoRun:
    """One demo run.

    Parameters
    ----------
    config, config_path
        The demo config (``examples/demo.yaml``) and its file.
    plan
        Sizes and timing.
    fresh
        Stop anything the config's stack runs and delete its ``state_dir`` first.
    keep_running
        Leave the stack running at the end.
    view
        A :class:`~simulator.live_view.LiveView` to update (``None``: no live view).
    manage_broker
        Start/stop the embedded broker; ``False`` uses ``kafka.bootstrap_servers`` as is.
    dashboard
        Serve the dashboard (:mod:`driftline.dashboard`) while the demo runs, on
        ``dashboard.port`` (any free port when that one is taken); the summary links to it.
    report
        Write a static HTML report of the run there (every task before / during / after the
        drift, the alerts, the retrain and the promotion); implies ``dashboard``.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        config_path: Path,
        plan: DemoPlan | None = None,
        fresh: bool = True,
        keep_running: bool = False,
        view: Any | None = None,
        manage_broker: bool = True,
        dashboard: bool = True,
        report: Path | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.plan = plan or DemoPlan()
        self.fresh = fresh
        self.keep_running = keep_running
        self.view = view
        self.manage_broker = manage_broker
        self.dashboard = dashboard or report is not None
        self.report = report
        self._reset()
        unknown = [t for t in self.plan.drifted if t not in config.tasks]
        if unknown:
            raise SimulatorError(f"cannot drift {unknown}: not tasks of {config.model!r} ({sorted(config.tasks)})")  # fmt: skip

    def _reset(self) -> None:
        self._started = time.monotonic()
        self._timeline: list[str] = []
        self._drift_time: float | None = None
        self._service: Any = None

    def _say(self, line: str) -> None:
        elapsed = time.monotonic() - self._started
        self._timeline.append(f"{elapsed:6.1f}s {line}")
        if self.view is not None:
            self.view.log(self._timeline[-1])

    def run(self, refresh: Any = None) -> dict[str, Any]:
        """Run the whole loop; return the summary (see ``docs/demo.md``)."""
        from simulator.stack import LocalStack

        self._reset()
        started = self._started
        timings = DemoTimings()
        stack = LocalStack(self.config, self.config_path, manage_broker=self.manage_broker)
        if self.fresh:
            stack.down()
            state = self.config.state_dir.resolve()
            if state.exists() and state != Path.cwd().resolve():
                shutil.rmtree(state)
        self._phase("starting broker, monitor, retrainer", refresh)

        def progress(message: str) -> None:
            self._say(message)
            if refresh is not None:
                refresh()

        # Feast and torch take several seconds to import here: do it while the broker starts.
        threading.Thread(target=_import_training_stack, name="demo-imports", daemon=True).start()
        try:
            tick = time.monotonic()
            bootstrap = stack.start_broker(progress)
            if self.dashboard:
                self._service = self._start_dashboard(stack.client_config())
            # The monitor and the retrainer apply the Feast repo themselves when it is missing:
            # apply it once here first, so that they find it and do not apply it all at once.
            # Their start-up (internal topics, imports) still overlaps the bootstrap below.
            stack.apply_feature_repo(progress)
            stack.start_services(bootstrap, progress)
            timings.up_s = time.monotonic() - tick
            summary = self._loop(stack, bootstrap, timings, refresh, progress)
            if self._service is not None:
                summary["dashboard_url"] = self._service.url
            if self.report is not None and self._service is not None:
                summary["report"] = str(self._write_report(summary))
        finally:
            if self._service is not None:
                self._service.stop()
            if not self.keep_running:
                tick = time.monotonic()
                self._phase("stopping", refresh)
                stack.down()
                timings.down_s = time.monotonic() - tick
        summary["timings"] = timings.as_dict()
        summary["wall_s"] = round(time.monotonic() - started, 1)
        summary["timeline"] = list(self._timeline)
        return summary

    def _start_dashboard(self, config: DriftlineConfig) -> Any:
        """The dashboard on ``dashboard.port``, or on any free port when that one is taken."""
        from driftline.dashboard import DashboardService

        service = DashboardService(config, host="127.0.0.1")
        try:
            service.start()
        except (RuntimeError, OSError):
            service = DashboardService(config, host="127.0.0.1", port=0)
            service.start()
        self._say(f"dashboard: {service.url}")
        return service

    def _write_report(self, summary: dict[str, Any], settle: float = 10.0) -> Path:
        """The static report, once the dashboard has read what the topics hold (it reads until
        ``settle`` seconds pass, or 1 s passes without a new event)."""
        from driftline.dashboard import write_report
        from driftline.dashboard.figures import switch_time

        service = self._service
        deadline, seen = time.monotonic() + settle, -1
        while time.monotonic() < deadline and service.feed.read != seen:
            seen = service.feed.read
            time.sleep(1.0)
        history = service.history
        model = self.config.model
        promoted = [
            u
            for u in history.updates(model)
            if u.status == "promoted" and u.version != summary.get("bootstrap_version")
        ]
        series = {task: history.series(model, task) for task in self.config.tasks}
        ends = [points[-1].t for points in series.values() if points]
        phases: dict[str, list[tuple[float, float, str]]] = {}
        if self._drift_time is not None and ends:
            end = max(ends)
            change = end
            if promoted:  # when the new version's predictions reach the monitor (event time)
                change = min(switch_time(points, promoted[0]) for points in series.values())
            for task in self.config.tasks:
                drifted = task in self.plan.drifted
                phases[task] = [
                    (self._drift_time, change, "drift, old model" if drifted else "others drift"),
                    *([(change, end, "after the retrain")] if promoted else []),
                ]
        path = write_report(
            self.report or Path("demo-report.html"), history, model, phases, summary,
            title=f"driftline demo: {model}",
        )  # fmt: skip
        self._say(f"report: {path}")
        return path

    def _phase(self, name: str, refresh: Any) -> None:
        if self.view is not None:
            self.view.phase = name
        if refresh is not None:
            refresh()

    def _loop(
        self, stack: Any, bootstrap: str, timings: DemoTimings, refresh: Any, progress: Any
    ) -> dict[str, Any]:
        from simulator.bootstrap import bootstrap_champion
        from simulator.labels import LabelPlan
        from simulator.outputs import SystemOutputs
        from simulator.phases import PhaseTracker
        from simulator.schedule import ConceptDrift, DriftSchedule
        from simulator.simulation import Simulation, SimulationStats
        from simulator.synthetic import SyntheticStream

        plan = self.plan
        config = stack.client_config()
        drift_at = plan.history + plan.before
        schedule = DriftSchedule(
            tuple(ConceptDrift(t, drift_at, plan.severity) for t in plan.drifted)
        )
        start = time.time() - plan.history * plan.interval
        self._drift_time = start + drift_at * plan.interval
        stream = SyntheticStream.from_config(
            config, correlation=plan.correlation, schedule=schedule, seed=plan.seed,
            start=start, interval=plan.interval, run=f"demo{plan.seed}",
        )  # fmt: skip
        tick = time.monotonic()
        self._phase("bootstrapping the first champion from history", refresh)
        report = bootstrap_champion(config, stream.events(0, plan.history))
        timings.bootstrap_s = time.monotonic() - tick
        self._say(f"bootstrap: v{report.version} trained on {report.rows} historical rows "
                  f"in {report.wall_s:.1f} s")  # fmt: skip
        tick = time.monotonic()
        stack.wait_healthy(bootstrap, progress)
        timings.healthy_s = time.monotonic() - tick
        # the same stream, its live part dated from now: the bootstrap and the health checks
        # took seconds, and live event times behind the wall clock would sort the champion's
        # promotion (dated when it happened) after predictions it already served
        start = time.time() - plan.history * plan.interval
        self._drift_time = start + drift_at * plan.interval
        stream = SyntheticStream.from_config(
            config, correlation=plan.correlation, schedule=schedule, seed=plan.seed,
            start=start, interval=plan.interval, run=f"demo{plan.seed}",
        )  # fmt: skip
        outputs = SystemOutputs(config)
        tracker = PhaseTracker(config, drift_at)
        simulation = Simulation(
            config, stream, LabelPlan.from_config(config, plan.label_delay, seed=plan.seed),
            rate=1.0 / plan.interval, tracker=tracker, offset=plan.history,
        )  # fmt: skip
        if self.view is not None:
            self.view.outputs = outputs
        state: dict[str, Any] = {"promoted_at": None, "swaps": 1, "deadline": None, "checked": 0.0}
        first_seen: dict[str, int] = {}
        lag: dict[str, int | None] = {"at_drift": None, "max": None, "at_end": None}

        def on_batch(stats: SimulationStats) -> None:
            index = plan.history + stats.events
            if time.monotonic() - state["checked"] > 2.0:
                stack.check_alive()  # a dead monitor or retrainer ends the demo with its log
                state["checked"] = time.monotonic()
            self._read(outputs, index, first_seen)
            behind = self._hold_back(outputs, stats, index, first_seen, refresh)
            if behind is not None:
                lag["max"] = max(lag["max"] or 0, behind)
            if index >= drift_at and state["deadline"] is None:
                state["deadline"] = time.monotonic() + plan.promotion_timeout
                lag["at_drift"] = behind
                self._say(f"event {drift_at}: concept drift injected on {', '.join(plan.drifted)}"
                          f" (monitor {behind if behind is not None else '?'} events behind)")  # fmt: skip
                self._phase("drift: waiting for the monitor and the retrainer", refresh)
            if len(stats.swaps) > state["swaps"]:  # the latest champion must serve `after` events
                state["swaps"] = len(stats.swaps)
                state["promoted_at"] = stats.events
                self._say(f"event {stats.swaps[-1][0]}: simulator now scores with v{stats.version}")
                self._phase("recovering on the new champion", refresh)
            if self.view is not None:
                self.view.stats = stats
                self.view.lag = behind
            if refresh is not None:
                refresh()

        def done(stats: SimulationStats) -> bool:
            if stats.events >= plan.max_events:
                return True
            if state["promoted_at"] is not None:
                return bool(stats.events - state["promoted_at"] >= plan.after)
            deadline = state["deadline"]
            return deadline is not None and time.monotonic() > deadline

        tick = time.monotonic()
        self._phase("traffic before drift", refresh)
        stats = simulation.run(until=done, on_batch=on_batch)
        self._phase("waiting for the monitor to see the last labels", refresh)
        lag["at_end"] = self._drain(outputs, stats, first_seen, refresh)
        outputs.close()
        timings.simulate_s = time.monotonic() - tick
        summary = self._summary(config, stats, outputs, tracker, report, drift_at, first_seen)
        summary["monitor_lag_events"] = lag
        return summary

    def _read(self, outputs: Any, index: int, first_seen: dict[str, int], budget: int = 500) -> None:  # fmt: skip
        """Read what the system said; note the event index at which each task's first alert came."""
        for event in outputs.poll(budget):
            self._narrate(event)
            if type(event).__name__ == "Alert":
                first_seen.setdefault(event.task, index)

    def _hold_back(self, outputs: Any, stats: Any, index: int, first_seen: dict[str, int], refresh: Any) -> int | None:  # fmt: skip
        """Backpressure: while the monitor is more than ``max_lag`` events behind (or has not
        reported yet), wait for it (at most ``lag_wait`` s). Returns its lag."""
        plan = self.plan
        deadline = time.monotonic() + plan.lag_wait
        while True:
            behind = monitor_lag(outputs, stats.event_time, plan.interval)
            pending = stats.events if behind is None else behind
            if pending <= plan.max_lag or time.monotonic() > deadline:
                return behind
            if self.view is not None:
                self.view.lag = behind
            if refresh is not None:
                refresh()
            time.sleep(0.2)
            self._read(outputs, index, first_seen)

    def _drain(self, outputs: Any, stats: Any, first_seen: dict[str, int], refresh: Any) -> int | None:  # fmt: skip
        """Read the system's outputs until the monitor has processed the whole run (its metric
        snapshots reach the last event's time) or ``drain_timeout`` passes; return its lag then."""
        plan = self.plan
        slack = self.config.monitor.snapshot_interval + 0.5
        deadline = time.monotonic() + plan.drain_timeout
        while True:
            self._read(outputs, plan.history + stats.events, first_seen, 5000)
            behind = monitor_lag(outputs, stats.event_time, plan.interval)
            if self.view is not None:
                self.view.lag = behind
            caught_up = behind is not None and behind * plan.interval <= slack
            if caught_up or time.monotonic() > deadline:
                return behind
            if refresh is not None:
                refresh()
            time.sleep(0.5)

    def _narrate(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "Alert":
            was = "" if event.baseline is None else f" (was {event.baseline:.3f})"
            self._say(f"alert: {event.task} {event.metric} {event.value:.3f}{was}, "
                      f"{event.detector.split('/')[0]} on {event.signal} ({event.severity}, "
                      f"v{event.model_version})")  # fmt: skip
        elif kind == "RetrainRequest":
            self._say(f"retrain requested for {', '.join(event.tasks)}")
        elif kind == "ModelUpdate":
            compared = [
                f"{task} {metric} {event.metrics[task][metric]:.3f} vs {event.champion_metrics[task][metric]:.3f}"
                for task, metric in ((t, str(c.primary_metric)) for t, c in self.config.tasks.items())
                if metric in event.metrics.get(task, {}) and metric in event.champion_metrics.get(task, {})
            ]  # fmt: skip
            if event.status == "promoted" and compared:
                detail = f" (candidate vs champion: {', '.join(compared)})"
            else:
                detail = f": {event.reason[:160]}" if event.reason else ""
            self._say(f"model update: v{event.version} {event.status}{detail}")

    def _summary(self, config: DriftlineConfig, stats: Any, outputs: Any, tracker: Any,
                 report: Any, drift_at: int, first_seen: dict[str, int]) -> dict[str, Any]:  # fmt: skip
        """``detection_delay``: events the simulator had played between the drift and the moment
        it saw the task's first alert on ``drift-alerts`` (label delay and pipeline included)."""
        plan = self.plan
        alerts: dict[str, int] = {task: 0 for task in config.tasks}
        for alert in outputs.alerts:
            alerts[alert.task] = alerts.get(alert.task, 0) + 1
        delay = {task: first_seen[task] - drift_at for task in plan.drifted if task in first_seen}
        promoted = [u.version for u in outputs.updates
                    if u.status == "promoted" and u.version != str(report.version)]  # fmt: skip
        tasks = tracker.summary()
        for entry in tasks.values():
            before, after = entry["before"], entry["after"]
            entry["after_vs_before"] = (
                round((after - before) / abs(before), 4) if before and after is not None else None
            )
        return {
            "events": plan.history + stats.events,
            "live_events": stats.events,
            "history_events": plan.history,
            "labels": stats.labels,
            "drift_at": drift_at,
            "drifted_tasks": list(plan.drifted),
            "alerts": alerts,
            "detection_delay": delay,
            "retrain_requests": len(outputs.requests),
            "bootstrap_version": str(report.version),
            "promoted_versions": promoted,
            "model_updates": [
                {"version": u.version, "status": u.status, "reason": u.reason}
                for u in outputs.updates
            ],
            "tasks": tasks,
            "simulator": stats.as_dict(),
            "finished_at": datetime.now(UTC).isoformat(),
        }


def monitor_lag(outputs: Any, event_time: float, interval: float) -> int | None:
    """How many events the monitor is behind the simulator: the simulator's event time minus the
    newest task-metrics snapshot's, in events (``None`` before the first snapshot).

    >>> from types import SimpleNamespace
    >>> from datetime import datetime, UTC
    >>> snap = SimpleNamespace(event_time=datetime.fromtimestamp(100.0, UTC))
    >>> monitor_lag(SimpleNamespace(latest_metrics={"churn": snap}), 102.0, 0.004)
    500
    """
    times: list[float] = [m.event_time.timestamp() for m in outputs.latest_metrics.values()]
    if not times or not event_time:
        return None
    return max(0, round((event_time - max(times)) / interval))


def _import_training_stack() -> None:
    """Import Feast and torch (both needed for the bootstrap) ahead of their first use."""
    import feast  # noqa: F401
    import torch  # noqa: F401
