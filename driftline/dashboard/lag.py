"""Consumer lag of driftline's consumer groups: records between a group's committed offset and
the end of each partition it reads."""

from __future__ import annotations

from typing import Any

from driftline import kafka_clients
from driftline.config.models import DriftlineConfig

__all__ = ["ConsumerLag", "watched_groups"]


def watched_groups(config: DriftlineConfig) -> dict[str, list[str]]:
    """Consumer group → the topics it reads: the monitor, the retrainer, each alert sink.

    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks: {a: {type: binary}}\\n")
    >>> sorted(watched_groups(cfg))
    ['driftline-monitor', 'driftline-retrainer']
    >>> watched_groups(cfg)["driftline-retrainer"]
    ['retrain-requests']
    """
    topics = config.topics
    groups = {
        config.monitor.app_id: [
            topics.predictions,
            topics.labels,
            topics.outcomes,
            topics.model_updates,
        ],
        config.retrainer.group_id: [topics.retrain_requests],
    }
    for sink in config.alerts.sinks:
        groups[f"{config.alerts.group_id}-{sink.name}"] = [topics.drift_alerts]
    return groups


class ConsumerLag:
    """Reads committed offsets and high watermarks; never joins a group (no rebalance).

    :meth:`read` returns rows ``{group, topic, partition, committed, end, lag}``; a group that
    has committed nothing on a partition has ``committed: None`` and its lag counts the whole
    partition.
    """

    def __init__(self, config: DriftlineConfig, timeout: float = 5.0) -> None:
        self.config = config
        self.timeout = timeout
        self._consumers: dict[str, Any] = {}

    def _consumer(self, group: str) -> Any:
        consumer = self._consumers.get(group)
        if consumer is None:
            consumer = self._consumers[group] = kafka_clients.consumer(
                self.config.kafka, group, **{"enable.auto.commit": False}
            )
        return consumer

    def read(self) -> list[dict[str, Any]]:
        """One row per (group, topic, partition) that exists."""
        from confluent_kafka import TopicPartition

        rows: list[dict[str, Any]] = []
        for group, topics in watched_groups(self.config).items():
            consumer = self._consumer(group)
            metadata = consumer.list_topics(timeout=self.timeout).topics
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                if topic in metadata and metadata[topic].error is None
                for p in sorted(metadata[topic].partitions)
            ]
            if not partitions:
                continue
            committed = consumer.committed(partitions, timeout=self.timeout)
            for tp in committed:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=self.timeout, cached=False
                )
                offset = tp.offset if tp.offset >= 0 else None
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": offset,
                        "end": high,
                        "lag": max(0, high - (offset if offset is not None else low)),
                    }
                )
        return rows

    def close(self) -> None:
        """Close the consumers (they never joined their groups)."""
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()
