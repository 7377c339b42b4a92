"""Consumer lag: committed offsets of a consumer group against the end of each partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline.config.models import DriftlineConfig

__all__ = ["TopicLag", "consumer_lag"]


@dataclass(frozen=True)
class TopicLag:
    """Lag of one consumer group on one topic, summed over its partitions.

    ``committed`` is ``None`` when the group has committed nothing on the topic yet (then the
    lag counts every record).
    """

    group: str
    topic: str
    end: int
    committed: int | None
    lag: int


def consumer_lag(config: DriftlineConfig, groups: dict[str, list[str]], timeout: float = 5.0) -> list[TopicLag]:  # fmt: skip
    """For each ``group → topics``: end offsets, committed offsets and lag per topic."""
    from confluent_kafka import TopicPartition

    from driftline import kafka_clients

    out: list[TopicLag] = []
    for group, topics in groups.items():
        consumer: Any = kafka_clients.consumer(config.kafka, group, **{"enable.auto.commit": False})
        try:
            metadata = consumer.list_topics(timeout=timeout).topics
            for topic in topics:
                info = metadata.get(topic)
                if info is None or info.error is not None:
                    continue
                parts = [TopicPartition(topic, p) for p in sorted(info.partitions)]
                committed = consumer.committed(parts, timeout=timeout)
                end_total, done_total, lag, any_commit = 0, 0, 0, False
                for tp in committed:
                    _low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
                    end_total += high
                    if tp.offset >= 0:
                        any_commit = True
                        done_total += tp.offset
                        lag += max(0, high - tp.offset)
                    else:
                        lag += high - max(_low, 0)
                out.append(
                    TopicLag(group, topic, end_total, done_total if any_commit else None, lag)
                )
        finally:
            consumer.close()
    return out
