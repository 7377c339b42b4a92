"""A seeded synthetic multi-task stream for the monitor's benchmarks and kill tests.

Three tasks (two binary, one regression); every prediction carries all three heads and a per-key
sequence number in its features; each label is delayed by a random number of predictions
(``0..max_lag``) and some never come. Event time grows one second per prediction and a label's
event time is its prediction's plus its lag (always inside ``label_delay``), so the per-task
counts an uninterrupted run produces are a function of the stream alone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftline.partitioning import partition_for

__all__ = ["TASKS_YAML", "Workload", "iso", "produce"]

T0 = 1_700_000_000.0

TASKS_YAML = """\
  churn: {type: binary, label_delay: 600, detectors: [{kind: adwin, severity: critical},
          {kind: page_hinkley, params: {threshold: 50}}],
          policy: {min_samples: 300, warmup: 300, cooldown: 100000}, retrain: {min_labels: 100}}
  fraud: {type: binary, label_delay: 600, detectors: [{kind: adwin, severity: critical},
          {kind: page_hinkley, params: {threshold: 50}}],
          policy: {min_samples: 300, warmup: 300, cooldown: 100000}, retrain: {min_labels: 100}}
  spend: {type: regression, label_delay: 600, detectors: [{kind: adwin},
          {kind: page_hinkley, params: {threshold: 200}}],
          policy: {min_samples: 300, warmup: 300, cooldown: 100000}}
"""
"""Three tasks, ADWIN and PageHinkley on each (the workload's config section)."""


def iso(t: float) -> str:
    """ISO-8601 UTC text of an epoch time.

    >>> iso(0.0)
    '1970-01-01T00:00:00Z'
    """
    text = datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


@dataclass(frozen=True)
class Workload:
    """The stream: ``predictions`` predictions, labels for each task unless missing.

    Parameters
    ----------
    predictions
        How many predictions (events = predictions + labels sent).
    seed
        Seed of everything random.
    missing
        Fraction of labels that never come.
    max_lag
        A label follows its prediction after up to this many predictions (shuffled labels).
    drift_at
        Prediction index from which ``fraud`` gets 30 % accuracy (``None``: no drift).
    model
        The model name.

    Examples
    --------
    >>> w = Workload(predictions=100, seed=1)
    >>> events = list(w.events())
    >>> sum(1 for topic, _, _ in events if topic == "predictions")
    100
    >>> len(events) == w.expected_events()
    True
    """

    predictions: int
    seed: int = 0
    missing: float = 0.1
    max_lag: int = 50
    drift_at: int | None = None
    model: str = "shop"
    t0: float = T0
    spacing: float = 1.0
    """Event-time seconds between two predictions (a label's time is its prediction's + lag)."""

    def events(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """``(topic, key, event)`` in production order (labels after their predictions)."""
        rng = random.Random(self.seed)
        waiting: dict[int, list[dict[str, Any]]] = {}
        for i in range(self.predictions):
            pid = f"p-{i}"
            t = self.t0 + i * self.spacing
            churn_y, churn_s = _binary(rng, 0.9)
            fraud_acc = 0.9 if self.drift_at is None or i < self.drift_at else 0.3
            fraud_y, fraud_s = _binary(rng, fraud_acc)
            spend_y = 10.0 + rng.gauss(0, 1)
            yield (
                "predictions",
                pid,
                {
                    "schema": "driftline.prediction/1",
                    "prediction_id": pid,
                    "model": self.model,
                    "model_version": "1",
                    "entity_id": f"e-{i % 1000}",
                    "event_time": iso(t),
                    "outputs": {
                        "churn": {"score": churn_s},
                        "fraud": {"score": fraud_s},
                        "spend": {"value": 10.0},
                    },
                    "features": {"seq": i},
                },
            )
            for task, value in (("churn", churn_y), ("fraud", fraud_y), ("spend", spend_y)):
                if rng.random() < self.missing:
                    continue
                lag = rng.randint(0, self.max_lag)
                label: dict[str, Any] = {
                    "schema": "driftline.label/1",
                    "prediction_id": pid,
                    "task": task,
                    "label": value,
                    "event_time": iso(t + lag * self.spacing),
                }
                waiting.setdefault(i + lag, []).append(label)
            for label in waiting.pop(i, []):
                yield "labels", label["prediction_id"], label
        for i in sorted(waiting):
            for label in waiting.pop(i):
                yield "labels", label["prediction_id"], label

    def tail(self) -> list[tuple[str, str, dict[str, Any]]]:
        """One prediction and label per partition far in the future: every budget runs out."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        t = self.t0 + self.predictions * self.spacing + 10 * 86400
        for k in range(64):
            pid = f"tick-{k}"
            out.append(
                (
                    "predictions",
                    pid,
                    {
                        "schema": "driftline.prediction/1",
                        "prediction_id": pid,
                        "model": self.model,
                        "model_version": "1",
                        "entity_id": "tick",
                        "event_time": iso(t),
                        "outputs": {"churn": {"score": 0.5}},
                    },
                )
            )
            out.append(
                (
                    "labels",
                    pid,
                    {
                        "schema": "driftline.label/1",
                        "prediction_id": pid,
                        "task": "churn",
                        "label": 1,
                        "event_time": iso(t + 1),
                    },
                )
            )
        return out

    def expected_events(self) -> int:
        """How many events :meth:`events` yields."""
        return sum(1 for _ in self.events())


def _binary(rng: random.Random, accuracy: float) -> tuple[int, float]:
    y = int(rng.random() < 0.5)
    right = rng.random() < accuracy
    return y, (0.8 if y else 0.2) if right else (0.2 if y else 0.8)


def ordered_producer(bootstrap: str, **settings: Any) -> Any:
    """A confluent-kafka producer that keeps each partition's records in the order produced,
    retries included (idempotence; librdkafka's default retries with several requests in flight
    can reorder them), with ``settings`` (librdkafka names) added.

    The counts of a run are a function of its input *in that order*: a prediction delivered
    after later ones by more than its task's label budget expires, and its labels are orphans.
    """
    from confluent_kafka import Producer

    from driftline.kafka_logs import kafka_logger

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "logger": kafka_logger(),
            **settings,
        }
    )


def produce(
    producer: Any,
    topics: dict[str, str],
    events: Iterator[tuple[str, str, dict[str, Any]]] | list[tuple[str, str, dict[str, Any]]],
    partitions: int,
    envelope: int = 100,
    flush: bool = True,
) -> int:
    """Send ``events`` with ``producer`` (confluent-kafka), in envelopes of ``envelope`` events
    per partition (``envelope=1``: one event per record); returns how many were sent."""
    buffers: dict[tuple[str, int], list[bytes]] = {}
    sent = 0
    warm: set[str] = set()

    def send(topic: str, partition: int, items: list[bytes], key: str) -> None:
        if len(items) == 1 and envelope == 1:
            value = items[0]
        else:
            value = b'{"schema":"driftline.batch/1","events":[' + b",".join(items) + b"]}"
        while True:
            try:
                producer.produce(topics[topic], value=value, key=key.encode(), partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if topic not in warm:
            # records produced before librdkafka knows the topic's partitions are appended
            # after later ones: deliver the first record first to keep the produce order
            producer.flush(30)
            warm.add(topic)

    for topic, key, event in events:
        partition = partition_for(key, partitions)
        data = json.dumps(event, separators=(",", ":")).encode()
        sent += 1
        if envelope == 1:
            send(topic, partition, [data], key)
            continue
        items = buffers.setdefault((topic, partition), [])
        items.append(data)
        if len(items) >= envelope:
            send(topic, partition, items, key)
            buffers[(topic, partition)] = []
    for (topic, partition), items in buffers.items():
        if items:
            send(topic, partition, items, f"batch-{partition}")
    if flush:
        producer.flush(60)
    return sent
