"""Read driftline events back from Kafka: single-event records and envelopes alike.

What a subscriber (``driftline alerts tail``, a test, your own service) uses::

    for item in EventReader(config, [config.topics.drift_alerts]).read(timeout=5):
        if item.error:
            print("bad record", item.source, item.error)
        else:
            print(item.event)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import RecordSource, decode, split_record
from driftline.kafka_settings import librdkafka_settings

__all__ = ["EventReader", "ReadItem"]


@dataclass(frozen=True)
class ReadItem:
    """One event read from Kafka, or the reason it could not be decoded."""

    source: RecordSource
    event: Any | None
    error: str | None = None


class EventReader:
    """A confluent-kafka consumer that yields validated driftline events.

    ``group_id=None`` reads without committing offsets (a fresh, throwaway group), from the
    beginning when ``from_beginning`` is true, else from the end.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        topics: list[str],
        group_id: str | None = None,
        from_beginning: bool = True,
    ) -> None:
        from confluent_kafka import Consumer

        settings = librdkafka_settings(
            config.kafka,
            **{
                "group.id": group_id or f"driftline-reader-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "enable.auto.commit": group_id is not None,
            },
        )
        self._consumer = Consumer(settings)
        self._consumer.subscribe(topics)

    def read(self, timeout: float = 10.0, idle: float | None = None) -> Iterator[ReadItem]:
        """Yield items until ``timeout`` seconds pass, or ``idle`` seconds without a record.

        ``timeout=0`` means forever (follow mode).
        """
        import time

        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            if timeout and now - start > timeout:
                return
            if idle is not None and now - last > idle:
                return
            msg = self._consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                continue
            last = time.monotonic()
            yield from _items(
                str(msg.topic()), msg.partition() or 0, msg.offset() or 0, msg.value() or b""
            )

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _items(topic: str, partition: int, offset: int, raw: bytes) -> Iterator[ReadItem]:
    try:
        events, envelope = split_record(raw)
    except EventValidationError as exc:
        yield ReadItem(
            RecordSource(topic=topic, partition=partition, offset=offset), None, exc.reason
        )
        return
    for index, data in enumerate(events):
        source = RecordSource(
            topic=topic, partition=partition, offset=offset, index=index if envelope else None
        )
        try:
            yield ReadItem(source, decode(data))
        except EventValidationError as exc:
            yield ReadItem(source, None, exc.reason)
