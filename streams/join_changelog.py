"""The join's changelog topic: what rebuilds a join partition's store on another disk.

Each checkpoint of a join partition is one Kafka **transaction** on the compacted topic
``<monitor.app_id>-join-store-changelog`` (partition = input partition): the meta record first,
then one record per changed entry (a tombstone for a removed one). A transaction is all or
nothing, so a worker killed in the middle of one leaves nothing a reader sees (readers use
``read_committed``), and Kafka's log cleaner drops aborted records instead of letting them shadow
committed ones. Each partition has its own ``transactional.id``: whoever loads the partition next
(the same worker restarted, or another taking it over) fences the old writer and aborts its open
transaction when it opens its :class:`ChangelogWriter`.

Local stores record the offset of the last record they reflect; :meth:`JoinChangelog.read`
replays the records after it (or the whole partition, for a store that is new on this disk).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from streams.errors import StreamsError

__all__ = [
    "ChangelogWriter",
    "JoinChangelog",
    "Records",
    "StaleStoreError",
    "StoreAheadError",
    "changelog_topic",
]

log = logging.getLogger("driftline.monitor")
kafka_log = logging.getLogger("driftline.kafka")
"""librdkafka's own log lines (served through Python logging, not printed to stderr)."""

Records = list[tuple[bytes, bytes | None]]


def changelog_topic(app_id: str) -> str:
    """The join store changelog of a monitor.

    >>> changelog_topic("driftline-monitor")
    'driftline-monitor-join-store-changelog'
    """
    return f"{app_id}-join-store-changelog"


class ChangelogWriter:
    """Writes one partition's checkpoints, each as one transaction (see the module docstring)."""

    def __init__(
        self, settings: dict[str, Any], topic: str, partition: int, timeout: float
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.timeout = timeout
        self._producer = Producer(
            {
                **settings,
                "logger": kafka_log,
                "transactional.id": f"{topic}-{partition}",
                "transaction.timeout.ms": 60_000,
                "linger.ms": 5,
                "batch.size": 1_000_000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 1_000_000,
            }
        )
        self._producer.init_transactions(timeout)  # fences the last writer, aborts its txn

    def commit(self, records: Records) -> int:
        """Write ``records`` in one transaction; the offset of the last one."""
        producer, last = self._producer, [-1]

        def delivered(error: Any, message: Any) -> None:
            if error is None:
                last[0] = message.offset()

        producer.begin_transaction()
        try:
            for n, (key, value) in enumerate(records):
                callback = delivered if n == len(records) - 1 else None
                while True:
                    try:
                        producer.produce(
                            self.topic, value, key, self.partition, on_delivery=callback
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.flush(self.timeout)
            producer.commit_transaction(self.timeout)
        except KafkaException as exc:
            _abort(producer, self.timeout, exc)
            raise StreamsError(
                f"the join changelog {self.topic}[{self.partition}] refused a checkpoint: {exc}"
            ) from exc
        if last[0] < 0:
            raise StreamsError(f"the join changelog {self.topic}[{self.partition}]: no offset")
        return last[0]

    def close(self) -> None:
        self._producer.flush(self.timeout)


def _abort(producer: Producer, timeout: float, exc: KafkaException) -> None:
    error = exc.args[0] if exc.args else None
    if error is not None and getattr(error, "txn_requires_abort", lambda: False)():
        try:
            producer.abort_transaction(timeout)
        except KafkaException:
            log.warning("could not abort a join changelog transaction", exc_info=True)


class JoinChangelog:
    """The changelog topic of the join stores.

    Parameters
    ----------
    settings
        librdkafka settings (bootstrap servers, security).
    topic
        :func:`changelog_topic` of the monitor.
    timeout
        Seconds a transaction or a read may wait for the broker.
    """

    def __init__(self, settings: dict[str, Any], topic: str, timeout: float = 60.0) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout = timeout

    def writer(self, partition: int) -> ChangelogWriter:
        return ChangelogWriter(self.settings, self.topic, partition, self.timeout)

    def read(
        self,
        partition: int,
        start: int,
        apply: Callable[[Records, int], None],
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 50_000,
    ) -> int:
        """Replay the committed records from offset ``start`` on, in chunks:
        ``apply(records, last offset)``; the number of records read.

        Raises :class:`StreamsError` when ``start`` is below the partition's first offset (the
        records a store needs are gone: rebuild it from the start) or when the broker stops
        answering.
        """
        consumer = Consumer(
            {
                **self.settings,
                "logger": kafka_log,
                "group.id": f"{self.topic}-restore",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "error",
                "fetch.wait.max.ms": 10,
            }
        )
        try:
            where = TopicPartition(self.topic, partition)
            low, high = consumer.get_watermark_offsets(where, timeout=self.timeout)
            if start < low:
                raise StaleStoreError(f"{self.topic}[{partition}] starts at {low}, after {start}")
            if start > high:
                raise StoreAheadError(f"{self.topic}[{partition}] ends at offset {high}")
            if start == high:
                return 0
            consumer.assign([TopicPartition(self.topic, partition, start)])
            return self._replay(consumer, partition, high, apply, progress, chunk)
        finally:
            consumer.close()

    def _replay(
        self,
        consumer: Consumer,
        partition: int,
        high: int,
        apply: Callable[[Records, int], None],
        progress: Callable[[int, int], None] | None,
        chunk: int,
    ) -> int:
        records: Records = []
        read, last, quiet_since = 0, -1, time.monotonic()
        while True:
            messages = consumer.consume(10_000, 0.5)
            if messages:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > self.timeout:
                raise StreamsError(
                    f"the join changelog {self.topic}[{partition}] stopped answering at "
                    f"offset {last + 1} of {high}"
                )
            end = False
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        end = True
                        continue
                    raise StreamsError(f"reading {self.topic}[{partition}]: {error}")
                records.append((message.key() or b"", message.value()))
                last = message.offset() or 0
            if len(records) >= chunk or (end and records):
                apply(records, last)
                read += len(records)
                records = []
                if progress is not None:
                    progress(last + 1, high)
            if end and max(last + 1, _position(consumer, self.topic, partition)) >= high:
                return read


def _position(consumer: Consumer, topic: str, partition: int) -> int:
    """The next offset the consumer reads: past the last committed transaction's markers.

    A ``read_committed`` consumer reports the end of the partition at its last stable offset,
    and the coordinator writes a committed transaction's markers after ``commit_transaction``
    returned: right after a takeover, the previous owner's last checkpoint can still be
    "open" for a moment. Reading until the position reaches the high watermark taken after the
    fencing (no transaction can be open then, only finishing) waits for it.
    """
    (where,) = consumer.position([TopicPartition(topic, partition)])
    return int(where.offset)


class StaleStoreError(StreamsError):
    """A local store is older than what the changelog still holds: rebuild it."""


class StoreAheadError(StreamsError):
    """A local store reflects changelog records the topic does not hold."""
