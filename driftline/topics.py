"""The topics driftline uses, and how to provision them.

``predictions``, ``labels`` and the internal ``outcomes`` topic share one partition count
(co-partitioned: a prediction and its labels meet on the same partition number). Output topics
keep ``topics.output_retention``; ``model-updates`` has one partition so every consumer sees
updates in the order they were made.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import DriftlineError

__all__ = ["TopicSpec", "create_missing", "create_topics", "topic_specs"]


@dataclass(frozen=True)
class TopicSpec:
    """One topic to provision."""

    name: str
    partitions: int
    retention_ms: int
    role: str


def topic_specs(config: DriftlineConfig) -> list[TopicSpec]:
    """Every topic the config names, with partitions and retention."""
    t, n = config.topics, config.kafka.partitions
    inputs = int(t.input_retention * 1000)
    outputs = int(t.output_retention * 1000)
    return [
        TopicSpec(t.predictions, n, inputs, "input: predictions (key prediction_id)"),
        TopicSpec(t.labels, n, inputs, "input: labels (key prediction_id)"),
        TopicSpec(t.outcomes, n, inputs, "internal: joined outcomes (key model/task)"),
        TopicSpec(t.drift_alerts, n, outputs, "output: drift alerts"),
        TopicSpec(t.retrain_requests, n, outputs, "output: retrain requests"),
        TopicSpec(t.model_updates, 1, outputs, "output: model updates (ordered)"),
        TopicSpec(t.task_metrics, n, outputs, "output: per-task metric snapshots"),
        TopicSpec(t.dead_letters, n, outputs, "output: dead letters"),
    ]


def create_topics(config: DriftlineConfig, timeout: float = 30.0) -> dict[str, str]:
    """Create missing topics; return ``{name: "created" | "exists"}``.

    Raises :class:`DriftlineError` when ``predictions`` and ``labels`` exist with different
    partition counts (the join would silently miss labels), and
    :class:`~driftline.errors.BrokerUnreachableError` when no broker answers within
    ``kafka.connect_timeout``.
    """
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    from driftline import kafka_clients
    from driftline.reachability import require_broker

    admin = kafka_clients.admin(config.kafka)
    existing = require_broker(config.kafka, admin)
    replicas = config.kafka.replication_factor
    wanted = [
        NewTopic(
            spec.name, spec.partitions, replicas, config={"retention.ms": str(spec.retention_ms)}
        )
        for spec in topic_specs(config)
    ]
    result = create_missing(admin, wanted, existing, timeout)
    _check_copartitioned(admin, config, timeout)
    return result


def create_missing(
    admin: Any, topics: list[Any], existing: Collection[str], timeout: float
) -> dict[str, str]:
    """Create each ``NewTopic`` whose name is not in ``existing``; ``{name: "created" | "exists"}``.

    A topic another process creates at the same moment counts as ``"exists"``; any other failure
    raises :class:`DriftlineError` naming the topic.
    """
    result = {t.topic: "exists" for t in topics if t.topic in existing}
    new = [t for t in topics if t.topic not in existing]
    futures = admin.create_topics(new, request_timeout=timeout) if new else {}
    for name, future in futures.items():
        try:
            future.result()
            result[name] = "created"
        except Exception as exc:  # TOPIC_ALREADY_EXISTS when another process raced us
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise DriftlineError(f"could not create topic {name!r}: {exc}") from exc
            result[name] = "exists"
    return {t.topic: result[t.topic] for t in topics}


def _check_copartitioned(admin: Any, config: DriftlineConfig, timeout: float) -> None:
    names = (config.topics.predictions, config.topics.labels)
    deadline = time.monotonic() + timeout
    while True:  # a topic created a moment ago may not be in the metadata yet
        topics = admin.list_topics(timeout=timeout).topics
        if all(name in topics and topics[name].partitions for name in names):
            break
        if time.monotonic() > deadline:
            raise DriftlineError(f"topics {names} did not appear in the metadata within {timeout}s")
        time.sleep(0.2)
    counts = {name: len(topics[name].partitions) for name in names}
    if len(set(counts.values())) > 1:
        raise DriftlineError(
            f"topics {names[0]!r} and {names[1]!r} must have the same partition count, "
            f"found {counts}; recreate one of them"
        )
