"""The production simulator's loop: score events with the champion, log predictions and labels.

Event time drives everything: labels are released when the stream's event time passes their
arrival time, and features are written to Feast at the event's time. Wall-clock pacing
(``rate``) only decides how fast the stream is played, never what it contains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from driftline.config.models import DriftlineConfig
from simulator.event import SimEvent
from simulator.labels import LabelPlan, LabelQueue
from simulator.phases import PhaseTracker
from simulator.scorer import ChampionScorer, ModelUpdateWatcher

__all__ = ["EventSource", "Simulation", "SimulationStats"]


class EventSource(Protocol):
    """Anything that returns events ``start .. start + count - 1`` (synthetic, Yeast)."""

    def events(self, start: int, count: int) -> list[SimEvent]: ...


@dataclass
class SimulationStats:
    """What the simulation has done so far (handed to ``on_batch`` after every batch)."""

    events: int = 0
    labels: int = 0
    labels_lost: int = 0
    feature_rows: int = 0
    version: str | None = None
    swaps: list[tuple[int, str]] = field(default_factory=list)
    event_time: float = 0.0
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "events": self.events,
            "labels": self.labels,
            "labels_lost": self.labels_lost,
            "feature_rows": self.feature_rows,
            "version": self.version,
            "swaps": [{"at_event": i, "version": v} for i, v in self.swaps],
            "event_time": datetime.fromtimestamp(self.event_time, UTC).isoformat(),
            "wall_s": round(self.wall_s, 2),
        }


class Simulation:
    """Plays an event source into Kafka (and Feast) as a production system would.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` with ``kafka.bootstrap_servers`` of a running broker.
    source
        The events (:class:`~simulator.synthetic.SyntheticStream`, :class:`~simulator.yeast.YeastStream`).
    plan
        When labels arrive and which are lost.
    scorer
        The champion; default: :class:`ChampionScorer` on ``config.registry``.
    batch
        Events scored and sent together.
    rate
        Events per wall-clock second at most (``None``: as fast as possible).
    push_features
        Write each batch's feature values to Feast's online store (serving path).
    watch_updates
        Follow ``model-updates`` and swap to a newly promoted champion at once.
    tracker
        Collects per-phase metrics (see :class:`~simulator.phases.PhaseTracker`).
    client
        A :class:`driftline.Client` to send with (default: one made and closed here).
    offset
        Index of the first event to play (events before it are history, e.g. the bootstrap's).
    """

    def __init__(
        self,
        config: DriftlineConfig,
        source: EventSource,
        plan: LabelPlan,
        scorer: ChampionScorer | None = None,
        batch: int = 250,
        rate: float | None = None,
        push_features: bool = True,
        watch_updates: bool = True,
        tracker: PhaseTracker | None = None,
        client: Any | None = None,
        offset: int = 0,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0 events/s, got {rate}")
        self.config = config
        self.source = source
        self.plan = plan
        self.scorer = scorer
        self.batch = batch
        self.rate = rate
        self.push_features = push_features
        self.watch_updates = watch_updates
        self.tracker = tracker
        self.client = client
        self.offset = offset
        self._reset()

    def _reset(self) -> None:
        self.stats = SimulationStats()
        self._queue = LabelQueue()
        self._sent: dict[str, tuple[int, str, dict[str, Any]]] = {}
        self._repo: Any = None
        self._due = 0.0

    def run(
        self,
        count: int | None = None,
        until: Callable[[SimulationStats], bool] | None = None,
        on_batch: Callable[[SimulationStats], None] | None = None,
        drain_labels: bool = True,
    ) -> SimulationStats:
        """Send events until ``count`` are sent or ``until(stats)`` is true, then (by default)
        the labels still due, and flush. Returns the final stats."""
        if count is None and until is None:
            raise ValueError("run() needs `count`, `until`, or both")
        from driftline.client import Client

        scorer = self.scorer or ChampionScorer(self.config)
        self.scorer = scorer
        scorer.refresh()
        watcher = ModelUpdateWatcher(self.config) if self.watch_updates else None
        client = self.client or Client(self.config)
        started = time.monotonic()
        try:
            while (count is None or self.stats.events < count) and not (
                until and until(self.stats)
            ):
                if watcher is not None and watcher.poll():
                    scorer.refresh()
                size = self.batch if count is None else min(self.batch, count - self.stats.events)
                self._step(
                    client, scorer, self.source.events(self.offset + self.stats.events, size)
                )
                self.stats.wall_s = time.monotonic() - started
                if on_batch is not None:
                    on_batch(self.stats)
                self._pace(size)
            if drain_labels:
                self._send_labels(client, self._queue.drain())
            client.flush()
        finally:
            if self.client is None:
                client.close()
            if watcher is not None:
                watcher.close()
        self.stats.wall_s = time.monotonic() - started
        return self.stats

    def _step(self, client: Any, scorer: ChampionScorer, events: list[SimEvent]) -> None:
        outputs = scorer.score(events)
        version = scorer.version or "0"
        if self.stats.version != version:
            self.stats.version = version
            self.stats.swaps.append((events[0].index, version))
        for event, output in zip(events, outputs, strict=True):
            client.log_prediction(
                event.prediction_id,
                output,
                model_version=version,
                entity_id=event.entity_id,
                event_time=datetime.fromtimestamp(event.t, UTC),
                features=event.features,
                segments=event.segments,
            )
            due = self.plan.due(event)
            self.stats.labels_lost += len(event.labels) - len(due)
            self._queue.push(due)
            if due:
                self._sent[event.prediction_id] = (event.index, version, output)
        if self.push_features:
            self._write_features(events)
        self.stats.events += len(events)
        self.stats.event_time = events[-1].t
        self._send_labels(client, self._queue.pop_until(events[-1].t))

    def _send_labels(self, client: Any, labels: list[Any]) -> None:
        for due in labels:
            client.log_label(
                due.prediction_id,
                due.task,
                due.label,
                event_time=datetime.fromtimestamp(due.t, UTC),
            )
            self.stats.labels += 1
            sent = self._sent.get(due.prediction_id)
            if sent is not None and self.tracker is not None:
                index, version, output = sent
                self.tracker.add(index, version, due.task, due.label, output[due.task])

    def _write_features(self, events: list[SimEvent]) -> None:
        from featurestore import FeatureRepo, push_features

        if self._repo is None:
            self._repo = FeatureRepo(self.config)
        entity = self.config.entity
        rows = [
            {entity: e.entity_id, "event_time": datetime.fromtimestamp(e.t, UTC), **e.features}
            for e in events
        ]
        report = push_features(self.config, rows, to="online", repo=self._repo, source="simulator")
        self.stats.feature_rows += report.pushed

    def _pace(self, size: int) -> None:
        """Sleep so that at most ``rate`` events per second are sent. Time lost elsewhere (a
        slow batch, a caller pausing in ``on_batch``) is not made up by a burst afterwards."""
        if self.rate is None:
            return
        now = time.monotonic()
        step = size / self.rate
        self._due = max(self._due, now - step) + step
        if self._due > now:
            time.sleep(self._due - now)
