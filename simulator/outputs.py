"""What the system says back while the simulator plays: alerts, retrain requests, model updates,
task-metric snapshots (read without blocking, for the demo's live view and summary)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.events import Alert, ModelUpdate, RetrainRequest, TaskMetrics

__all__ = ["SystemOutputs"]

log = logging.getLogger("driftline.simulator")


@dataclass
class SystemOutputs:
    """Collects the monitor's and the retrainer's output events of one model.

    ``poll()`` reads whatever arrived (non-blocking) and returns the new events; the lists keep
    everything seen, each event once (ids are deterministic, so a re-delivery is dropped).
    """

    config: DriftlineConfig
    alerts: list[Alert] = field(default_factory=list)
    requests: list[RetrainRequest] = field(default_factory=list)
    updates: list[ModelUpdate] = field(default_factory=list)
    latest_metrics: dict[str, TaskMetrics] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _reader: Any = None

    def poll(self, budget: int = 500) -> list[Any]:
        """New alerts, requests and updates since the last call (snapshots update
        ``latest_metrics``); reads at most ``budget`` records."""
        if self._reader is None:
            from driftline.reader import EventReader

            topics = self.config.topics
            self._reader = EventReader(
                self.config,
                [topics.drift_alerts, topics.retrain_requests, topics.model_updates,
                 topics.task_metrics],
            )  # fmt: skip
        fresh: list[Any] = []
        for item in self._reader.poll(max_records=budget):
            if item.error is not None:
                log.warning("skipping a bad record at %s: %s", item.source, item.error)
                continue
            fresh += self._add(item.event)
        return fresh

    def _add(self, event: Any) -> list[Any]:
        if getattr(event, "model", None) != self.config.model:
            return []
        if isinstance(event, TaskMetrics):
            if not event.slice:
                self.latest_metrics[event.task] = event
            return []
        key = getattr(event, "alert_id", None) or getattr(event, "request_id", None) or getattr(event, "update_id", None)  # fmt: skip
        if key is None or key in self._seen:
            return []
        self._seen.add(key)
        if isinstance(event, Alert):
            self.alerts.append(event)
        elif isinstance(event, RetrainRequest):
            self.requests.append(event)
        elif isinstance(event, ModelUpdate):
            self.updates.append(event)
        return [event]

    def close(self) -> None:
        """Leave the consumer group."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
