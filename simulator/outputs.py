"""What the system says back while the simulator plays: alerts, retrain requests, model updates,
task-metric snapshots (read without blocking, for the demo's live view and summary)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import Alert, ModelUpdate, RetrainRequest, TaskMetrics, decode, split_record

__all__ = ["SystemOutputs"]


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
    _consumer: Any = None

    def poll(self, budget: int = 500) -> list[Any]:
        """New alerts, requests and updates since the last call (snapshots update ``latest_metrics``)."""
        if self._consumer is None:
            from confluent_kafka import Consumer

            from driftline.kafka_settings import librdkafka_settings

            topics = self.config.topics
            self._consumer = Consumer(
                librdkafka_settings(
                    self.config.kafka,
                    **{
                        "group.id": f"driftline-demo-{uuid.uuid4().hex[:12]}",
                        "auto.offset.reset": "earliest",
                        "enable.auto.commit": False,
                    },
                )
            )
            self._consumer.subscribe(
                [
                    topics.drift_alerts,
                    topics.retrain_requests,
                    topics.model_updates,
                    topics.task_metrics,
                ]
            )
        fresh: list[Any] = []
        for _ in range(budget):
            msg = self._consumer.poll(0)
            if msg is None:
                break
            if msg.error():
                continue
            try:
                raws, _ = split_record(msg.value() or b"")
                events = [decode(raw) for raw in raws]
            except EventValidationError:
                continue
            for event in events:
                fresh += self._add(event)
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
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
