"""Read driftline events back from Kafka: single-event records and envelopes alike.

What a subscriber (``driftline alerts tail``, a test, your own service) uses::

    for item in EventReader(config, [config.topics.drift_alerts]).read(timeout=5):
        if item.error:
            print("bad record", item.source, item.error)
        else:
            print(item.event)

and what a loop that must not block (a simulator, a live view) uses between its own work::

    reader = EventReader(config, [config.topics.model_updates])
    while running:
        for item in reader.poll():      # whatever has arrived, at once
            ...
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from driftline import kafka_clients
from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import RecordSource, decode, split_record

__all__ = ["EventReader", "ReadItem"]


@dataclass(frozen=True)
class ReadItem:
    """One event read from Kafka, or the reason it could not be decoded."""

    source: RecordSource
    event: Any | None
    error: str | None = None


class EventReader:
    """A confluent-kafka consumer that yields validated driftline events.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (``kafka``: servers and security).
    topics
        The topics to read.
    group_id
        ``None`` reads without committing offsets (a fresh, throwaway group).
    from_beginning
        Where a group without committed offsets starts: the oldest record, else the end.
    consumer
        An object with confluent-kafka's ``subscribe``/``poll``/``close``; default: a
        ``confluent_kafka.Consumer`` on the config's settings, created (and subscribed) at the
        first read.

    Examples
    --------
    >>> from types import SimpleNamespace as Record
    >>> from driftline.config import parse_config
    >>> from driftline.events import encode, Label
    >>> class Records:  # stands in for a confluent_kafka.Consumer
    ...     def __init__(self, *values): self.values = list(values)
    ...     def subscribe(self, topics): pass
    ...     def poll(self, timeout):
    ...         if not self.values: return None
    ...         value = self.values.pop(0)
    ...         return Record(error=lambda: None, topic=lambda: "t", partition=lambda: 0,
    ...                       offset=lambda: 7, value=lambda: value)
    ...     def close(self): pass
    >>> config = parse_config("model: m\\ntasks: {churn: {type: binary}}\\n")
    >>> label = Label(schema="driftline.label/1", prediction_id="p-1", task="churn", label=1,
    ...               event_time="2026-11-23T12:00:00Z")
    >>> reader = EventReader(config, ["t"], consumer=Records(encode(label), b"{oops"))
    >>> [(i.source.offset, type(i.event).__name__, i.error is not None) for i in reader.poll()]
    [(7, 'Label', False), (7, 'NoneType', True)]
    >>> reader.poll()
    []
    """

    def __init__(
        self,
        config: DriftlineConfig,
        topics: list[str],
        group_id: str | None = None,
        from_beginning: bool = True,
        consumer: Any | None = None,
    ) -> None:
        self.config = config
        self.topics = topics
        self.group_id = group_id
        self.from_beginning = from_beginning
        self.consumer = consumer
        self._subscribed = False

    def _consumer(self) -> Any:
        if self.consumer is None:
            self.consumer = kafka_clients.consumer(
                self.config.kafka,
                self.group_id or f"driftline-reader-{uuid.uuid4().hex[:12]}",
                **{
                    "auto.offset.reset": "earliest" if self.from_beginning else "latest",
                    "enable.auto.commit": self.group_id is not None,
                },
            )
        if not self._subscribed:
            self.consumer.subscribe(self.topics)
            self._subscribed = True
        return self.consumer

    def read(self, timeout: float = 10.0, idle: float | None = None) -> Iterator[ReadItem]:
        """Yield items until ``timeout`` seconds pass, or ``idle`` seconds without a record.

        ``timeout=0`` means forever (follow mode).
        """
        consumer = self._consumer()
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            if timeout and now - start > timeout:
                return
            if idle is not None and now - last > idle:
                return
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            last = time.monotonic()
            yield from _items(msg)

    def read_to_end(self, idle: float, timeout: float = 10.0) -> Iterator[ReadItem]:
        """Yield the items of every record there is now: up to each partition's end offset,
        taken before the first read (later records are left for another read). Stops early
        only after ``idle`` seconds without a record (a broker that stopped answering);
        ``timeout``: seconds for the broker to give the end offsets."""
        consumer = self._consumer()
        ends = _end_offsets(consumer, self.topics, timeout)
        last = time.monotonic()
        while ends and time.monotonic() - last <= idle:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            last = time.monotonic()
            where = (msg.topic(), msg.partition())
            if where not in ends:
                continue
            if msg.offset() < ends[where]:
                yield from _items(msg)
            if msg.offset() + 1 >= ends[where]:
                del ends[where]

    def poll(self, timeout: float = 0.0, max_records: int = 500) -> list[ReadItem]:
        """The items of the records that have arrived, without waiting (or ``timeout`` seconds
        at most for the first one); at most ``max_records`` records per call."""
        consumer = self._consumer()
        items: list[ReadItem] = []
        wait = timeout
        for _ in range(max_records):
            msg = consumer.poll(wait)
            if msg is None:
                break
            wait = 0.0
            if not msg.error():
                items += _items(msg)
        return items

    def close(self) -> None:
        """Leave the consumer group (a later read joins again with a new consumer)."""
        if self.consumer is not None and self._subscribed:
            self.consumer.close()
            self.consumer = None
            self._subscribed = False

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _end_offsets(consumer: Any, topics: list[str], timeout: float) -> dict[tuple[str, int], int]:
    """Per partition of ``topics`` that holds records, its end offset now."""
    from confluent_kafka import TopicPartition

    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            if high > low:
                ends[(topic, partition)] = high
    return ends


def _items(msg: Any) -> Iterator[ReadItem]:
    topic, partition, offset = str(msg.topic()), msg.partition() or 0, msg.offset() or 0
    try:
        events, envelope = split_record(msg.value() or b"")
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
