"""What the dashboard has read from the driftline topics, kept in memory and bounded.

:class:`RunHistory` takes decoded events (task-metric snapshots, alerts, retrain requests, model
updates, dead letters) in any order and any number of times (ids are deterministic, so a record
read twice is counted once) and answers the views the pages draw. It is thread-safe: the topic
feed writes while the web server reads.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from driftline.alerts.seen_ids import SeenIds
from driftline.config.models import DriftlineConfig
from driftline.events import Alert, DeadLetter, ModelUpdate, RetrainRequest, TaskMetrics

__all__ = ["MetricPoint", "RunHistory", "reason_kind"]

SliceKey = str
"""``"segment=value"`` (``""`` for the whole task)."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One task-metrics snapshot, reduced to what the charts draw."""

    t: float
    version: str
    primary: float | None
    cumulative: float | None
    coverage: float | None
    labels: int
    predictions: int


@dataclass
class _Bounded:
    """An insertion-ordered dict that drops its oldest entries past ``limit``."""

    limit: int
    items: OrderedDict[str, Any] = field(default_factory=OrderedDict)

    def put(self, key: str, value: Any) -> bool:
        if key in self.items:
            return False
        self.items[key] = value
        while len(self.items) > self.limit:
            self.items.popitem(last=False)
        return True

    def values(self) -> list[Any]:
        return list(self.items.values())


class RunHistory:
    """The dashboard's memory of one deployment's topics.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (tasks and their primary metrics).
    points
        Snapshots kept per (model, task, slice); the oldest are dropped.
    events
        Alerts, retrain requests, model updates and dead letters kept (each).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> from driftline.events import decode
    >>> cfg = parse_config("model: shop\\ntasks:\\n  churn: {type: binary}\\n")
    >>> history = RunHistory(cfg)
    >>> snapshot = decode({"schema": "driftline.task-metrics/1", "snapshot_id": "s1",
    ...     "model": "shop", "model_version": "1", "task": "churn", "predictions": 10,
    ...     "labels": 8, "expired": 2, "duplicates": 0, "label_coverage": 0.8,
    ...     "rolling": {"roc_auc": 0.91}, "event_time": "2026-11-23T12:00:00Z"})
    >>> history.add(snapshot), history.add(snapshot)     # the second read is a repeat
    (True, False)
    >>> [(p.primary, p.coverage) for p in history.series("shop", "churn")]
    [(0.91, 0.8)]
    """

    def __init__(self, config: DriftlineConfig, points: int = 5000, events: int = 2000) -> None:
        self.config = config
        self.points = points
        self.events = events
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, SliceKey], deque[MetricPoint]] = {}
        self._snapshots = SeenIds(max(points * 8, 10_000))
        self._alerts = _Bounded(events)
        self._requests = _Bounded(events)
        self._updates = _Bounded(events)
        self._dead = _Bounded(events)
        self._dead_counts: Counter[tuple[str, str, str]] = Counter()
        self.unreadable = 0
        self.lag: list[dict[str, Any]] = []
        self.lag_error: str | None = None

    # ------------------------------------------------------------------------------ writing

    def add(self, event: Any) -> bool:
        """Take one decoded event; ``False`` when it was seen already or is not for a view."""
        with self._lock:
            if isinstance(event, TaskMetrics):
                return self._add_snapshot(event)
            if isinstance(event, Alert):
                return self._alerts.put(event.alert_id, event)
            if isinstance(event, RetrainRequest):
                return self._requests.put(event.request_id, event)
            if isinstance(event, ModelUpdate):
                return self._updates.put(event.update_id, event)
            if isinstance(event, DeadLetter):
                key = f"{event.source.topic}/{event.source.partition}/{event.source.offset}/{event.source.index}/{event.stage}"
                if not self._dead.put(key, event):
                    return False
                self._dead_counts[(event.source.topic, event.stage, reason_kind(event.reason))] += 1
                return True
        return False

    def _add_snapshot(self, snapshot: TaskMetrics) -> bool:
        if not self._snapshots.add(snapshot.snapshot_id):
            return False
        task = self.config.tasks.get(snapshot.task)
        metric = str(task.primary_metric) if task is not None else ""
        key = (snapshot.model, snapshot.task, _slice_key(snapshot.slice))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.points)
        labelled = snapshot.labels > 0  # before any label a metric is a placeholder 0
        point = MetricPoint(
            t=snapshot.event_time.timestamp(),
            version=snapshot.model_version,
            primary=snapshot.rolling.get(metric, snapshot.cumulative.get(metric))
            if labelled
            else None,
            cumulative=snapshot.cumulative.get(metric) if labelled else None,
            coverage=snapshot.label_coverage,
            labels=snapshot.labels,
            predictions=snapshot.predictions,
        )
        if series and point.t < series[-1].t:  # read out of order (several partitions)
            items = sorted([*series, point], key=lambda p: p.t)
            series.clear()
            series.extend(items[-self.points :])
        else:
            series.append(point)
        return True

    def set_lag(self, rows: list[dict[str, Any]], error: str | None = None) -> None:
        """The latest consumer-lag reading (see :mod:`driftline.dashboard.lag`)."""
        with self._lock:
            self.lag = rows
            self.lag_error = error

    # ------------------------------------------------------------------------------ reading

    def series(self, model: str, task: str, slice_: SliceKey = "") -> list[MetricPoint]:
        """The snapshots of one task (or one slice of it), oldest first."""
        with self._lock:
            return list(self._series.get((model, task, slice_), ()))

    def slices(self, model: str, task: str) -> list[SliceKey]:
        """The slices of a task that have snapshots (``"country=DE"``, ...), sorted."""
        with self._lock:
            return sorted(s for m, t, s in self._series if m == model and t == task and s)

    def alerts(self, model: str | None = None, task: str | None = None) -> list[Alert]:
        """Alerts in event-time order, optionally of one model and task."""
        with self._lock:
            alerts = self._alerts.values()
        chosen = [
            a
            for a in alerts
            if (model is None or a.model == model) and (task is None or a.task == task)
        ]
        return sorted(chosen, key=lambda a: a.event_time)

    def requests(self, model: str | None = None) -> list[RetrainRequest]:
        """Retrain requests in event-time order."""
        with self._lock:
            requests = self._requests.values()
        return sorted(
            (r for r in requests if model is None or r.model == model), key=lambda r: r.event_time
        )

    def updates(self, model: str | None = None) -> list[ModelUpdate]:
        """Model updates in event-time order."""
        with self._lock:
            updates = self._updates.values()
        return sorted(
            (u for u in updates if model is None or u.model == model), key=lambda u: u.event_time
        )

    def dead_letters(self) -> tuple[dict[tuple[str, str, str], int], list[DeadLetter]]:
        """Counts per (topic, stage, kind of reason), and the most recent letters (newest first)."""
        with self._lock:
            return dict(self._dead_counts), list(reversed(self._dead.values()))

    def lag_rows(self) -> tuple[list[dict[str, Any]], str | None]:
        """The latest consumer-lag rows and the error of the last reading, if any."""
        with self._lock:
            return list(self.lag), self.lag_error

    def tasks(self, model: str) -> list[str]:
        """The configured tasks, then any other task seen for ``model``."""
        with self._lock:
            seen = {t for m, t, _ in self._series if m == model}
            seen |= {a.task for a in self._alerts.values() if a.model == model}
        configured = list(self.config.tasks)
        return configured + sorted(seen - set(configured))


def reason_kind(reason: str) -> str:
    """A dead letter's reason without the details that make each one unique.

    >>> reason_kind("invalid driftline.label/1: label: Input should be a valid number")
    'invalid driftline.label/1: label'
    >>> reason_kind("event is 300000 bytes, over the 262144-byte limit")
    'event is N bytes, over the N-byte limit'
    """
    head = reason.split(";")[0]
    parts = head.split(":")
    kind = ":".join(parts[:2]) if len(parts) > 2 else head
    return re.sub(r"(?<![/\w.])\d+", "N", kind).strip()[:120]


def _slice_key(slice_: dict[str, str]) -> SliceKey:
    return ",".join(f"{k}={v}" for k, v in sorted(slice_.items()))
