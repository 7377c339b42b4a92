"""``driftline demo``: the closed loop on the embedded default, nothing faked.

up (broker, monitor, retrainer) → bootstrap a champion from pre-drift history → play traffic →
concept drift on some tasks → the monitor alerts and requests a retrain → the retrainer trains,
gates and promotes → the simulator hot-swaps to the new champion → the metrics recover →
summary → down.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
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

    history: int = 6000
    before: int = 4000
    after: int = 4000
    max_events: int = 60_000
    drifted: tuple[str, ...] = ("churn", "category")
    severity: float = 1.0
    interval: float = 0.002
    seed: int = 7
    correlation: float = 0.5
    label_delay: float = 0.25
    promotion_timeout: float = 240.0


@dataclass
class DemoTimings:
    """Wall seconds per phase."""

    up_s: float = 0.0
    bootstrap_s: float = 0.0
    simulate_s: float = 0.0
    down_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


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
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.plan = plan or DemoPlan()
        self.fresh = fresh
        self.keep_running = keep_running
        self.view = view
        self.manage_broker = manage_broker
        unknown = [t for t in self.plan.drifted if t not in config.tasks]
        if unknown:
            raise SimulatorError(f"cannot drift {unknown}: not tasks of {config.model!r} ({sorted(config.tasks)})")  # fmt: skip

    def _say(self, line: str) -> None:
        if self.view is not None:
            self.view.log(line)

    def run(self, refresh: Any = None) -> dict[str, Any]:
        """Run the whole loop; return the summary (see ``docs/demo.md``)."""
        from simulator.stack import LocalStack

        started = time.monotonic()
        timings = DemoTimings()
        stack = LocalStack(self.config, self.config_path, manage_broker=self.manage_broker)
        if self.fresh:
            stack.down()
            state = self.config.state_dir.resolve()
            if state.exists() and state != Path.cwd().resolve():
                shutil.rmtree(state)
        tick = time.monotonic()
        self._phase("starting broker, monitor, retrainer", refresh)

        def progress(message: str) -> None:
            self._say(message)
            if refresh is not None:
                refresh()

        stack.up(progress=progress)
        timings.up_s = time.monotonic() - tick
        config = stack.client_config()
        try:
            summary = self._loop(config, timings, refresh)
        finally:
            if not self.keep_running:
                tick = time.monotonic()
                self._phase("stopping", refresh)
                stack.down()
                timings.down_s = time.monotonic() - tick
        summary["timings"] = {
            "up_s": round(timings.up_s, 1),
            "bootstrap_s": round(timings.bootstrap_s, 1),
            "simulate_s": round(timings.simulate_s, 1),
            "down_s": round(timings.down_s, 1),
        }
        summary["wall_s"] = round(time.monotonic() - started, 1)
        return summary

    def _phase(self, name: str, refresh: Any) -> None:
        if self.view is not None:
            self.view.phase = name
        if refresh is not None:
            refresh()

    def _loop(self, config: DriftlineConfig, timings: DemoTimings, refresh: Any) -> dict[str, Any]:
        from simulator.bootstrap import bootstrap_champion
        from simulator.labels import LabelPlan
        from simulator.outputs import SystemOutputs
        from simulator.phases import PhaseTracker
        from simulator.schedule import ConceptDrift, DriftSchedule
        from simulator.simulation import Simulation, SimulationStats
        from simulator.synthetic import SyntheticStream

        plan = self.plan
        drift_at = plan.history + plan.before
        schedule = DriftSchedule(
            tuple(ConceptDrift(t, drift_at, plan.severity) for t in plan.drifted)
        )
        start = time.time() - plan.history * plan.interval
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
        outputs = SystemOutputs(config)
        tracker = PhaseTracker(config, drift_at)
        simulation = Simulation(
            config, stream, LabelPlan.from_config(config, plan.label_delay, seed=plan.seed),
            rate=1.0 / plan.interval, tracker=tracker, offset=plan.history,
        )  # fmt: skip
        if self.view is not None:
            self.view.outputs = outputs
        state: dict[str, float | None] = {"promoted_at": None, "deadline": None}
        first_seen: dict[str, int] = {}

        def on_batch(stats: SimulationStats) -> None:
            index = plan.history + stats.events
            for event in outputs.poll():
                self._narrate(event, start)
                if type(event).__name__ == "Alert":
                    first_seen.setdefault(event.task, index)
            if index >= drift_at and state["deadline"] is None:
                state["deadline"] = time.monotonic() + plan.promotion_timeout
                self._say(f"event {drift_at}: concept drift injected on {', '.join(plan.drifted)}")
                self._phase("drift: waiting for the monitor and the retrainer", refresh)
            if len(stats.swaps) > 1 and state["promoted_at"] is None:
                state["promoted_at"] = stats.events
                self._say(f"event {index}: simulator now scores with v{stats.version}")
                self._phase("recovering on the new champion", refresh)
            if self.view is not None:
                self.view.stats = stats
            if refresh is not None:
                refresh()

        def done(stats: SimulationStats) -> bool:
            if stats.events >= plan.max_events:
                return True
            if state["promoted_at"] is not None:
                return stats.events - state["promoted_at"] >= plan.after
            deadline = state["deadline"]
            return deadline is not None and time.monotonic() > deadline

        tick = time.monotonic()
        self._phase("traffic before drift", refresh)
        stats = simulation.run(until=done, on_batch=on_batch)
        time.sleep(3.0)  # let the monitor catch up with the last labels
        for event in outputs.poll(5000):
            self._narrate(event, start)
            if type(event).__name__ == "Alert":
                first_seen.setdefault(event.task, plan.history + stats.events)
        outputs.close()
        timings.simulate_s = time.monotonic() - tick
        return self._summary(config, stats, outputs, tracker, report, drift_at, first_seen)

    def _narrate(self, event: Any, start: float) -> None:
        kind = type(event).__name__
        if kind == "Alert":
            self._say(f"alert: {event.task} {event.detector} {event.metric}={event.value:.3f} "
                      f"({event.severity}, v{event.model_version})")  # fmt: skip
        elif kind == "RetrainRequest":
            self._say(f"retrain requested for {', '.join(event.tasks)}")
        elif kind == "ModelUpdate":
            self._say(f"model update: v{event.version} {event.status} {event.reason[:60]}")

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
