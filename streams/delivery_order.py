"""Guards between Faust's consumer and the stages: every record is processed, in order, once acked.

faust-streaming 0.15.3 and aiokafka 0.14 can move a committed offset past records no stage
processed (:mod:`streams.faust_compat` lists how: acknowledgements of skipped records, gaps, and
partitions its seek after an assignment leaves past the records dropped during recovery). The kill
test lost whole envelopes after a restart's rebalance this way (their labels became orphans).

:class:`AckGate` lets only the checkpoints acknowledge records of the stages' topics;
:class:`StartSeek` names the partitions that seek leaves where they are, to be read again from the
group's start; :class:`DeliveryOrder` checks that a partition's records reach the stage gap-free
from the committed offset on. A record out of that order ends the worker (exit 70) before anything
after it is acknowledged, so the restart reads again from the committed offset. The classes only
decide; :func:`streams.faust_compat.filter_acks` and
:func:`streams.faust_compat.after_assignment_seek` attach them to Faust's consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["AckGate", "DeliveryOrder", "StartSeek", "group_start", "hole_check"]

log = logging.getLogger("driftline.monitor")

HoleCheck = Callable[[str, int, int, int], bool]
"""``(topic, partition, first, end)`` → whether offsets ``first..end-1`` hold records."""
StartLookup = Callable[[str, int], int]
"""``(topic, partition)`` → the offset a group member must start at (read from the broker)."""


class AckGate:
    """Refuses acknowledgements of ``topics`` that do not come through :meth:`ack`.

    Examples
    --------
    >>> from streams.faust_compat import filter_acks
    >>> class Consumer:
    ...     def __init__(self): self.acked = []
    ...     def ack(self, message): self.acked.append(message.offset); return True
    >>> class Message:
    ...     topic, offset = "labels", 7
    >>> class Event:
    ...     message = Message()
    ...     def ack(self): return consumer.ack(self.message)
    >>> consumer = Consumer()
    >>> gate = AckGate({"labels"})
    >>> filter_acks(consumer, gate.allows)
    >>> Event().ack()  # Faust skipping a record
    False
    >>> gate.ack(Event())  # a checkpoint
    >>> consumer.acked
    [7]
    """

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)
        self.refused = 0
        self._open = False
        self._reported: set[tuple[str, int]] = set()

    def allows(self, message: Any) -> bool:
        """Whether Faust may acknowledge ``message`` now: not one of ``topics`` outside
        :meth:`ack` (a refusal is counted and reported once per partition and rebalance)."""
        if message.topic in self.topics and not self._open:
            self.refused += 1
            self._report(message)
            return False
        return True

    def _report(self, message: Any) -> None:
        where = (message.topic, getattr(message, "partition", -1))
        if where not in self._reported:  # once per partition and rebalance
            self._reported.add(where)
            log.warning(
                "refused Faust's own acknowledgement of %s[%s]@%s, a record it skipped in a "
                "rebalance (it is read again)",
                *where,
                message.offset,
            )

    def reset(self) -> None:
        """A rebalance began: report refusals again."""
        self._reported.clear()

    def ack(self, event: Any) -> None:
        """Acknowledge ``event`` (called by :class:`streams.checkpoint.Checkpoint`)."""
        self._open = True
        try:
            event.ack()
        finally:
            self._open = False


class StartSeek:
    """Completes Faust's seek to the committed offsets for the partitions of ``topics``.

    After a rebalance Faust seeks every assigned partition to the group's committed offset, but
    aiokafka moves only those above 0. A partition with none (or 0) keeps the position it had,
    after the records fetched and dropped during recovery; when no record follows, they are never
    processed and the worker idles with lag (seen in the ``--workers 2`` test: records 0..30 of a
    partition the killed worker had not committed yet). :meth:`targets` names such a partition
    to be sought to offset 0, where a group without a committed offset starts (the monitor reads
    with ``auto_offset_reset="earliest"``, so an offset 0 that retention removed resets to the
    earliest one).

    Examples
    --------
    >>> from faust.types import TP
    >>> committed = {TP("labels", 0): 12, TP("labels", 1): None, TP("join-changelog", 0): None}
    >>> StartSeek({"labels"}).targets(committed)
    {TP(topic='labels', partition=1): 0}
    """

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)

    def targets(self, committed: Mapping[Any, int | None]) -> dict[Any, int]:
        """The partitions of ``topics`` left unmoved by the seek to ``committed``, each to 0."""
        unmoved = {
            tp: 0
            for tp, offset in committed.items()
            if tp.topic in self.topics and not (offset and offset > 0)
        }
        if unmoved:
            log.info("seeking %d partitions without a committed offset to 0", len(unmoved))
        return unmoved


class DeliveryOrder:
    """Per partition since the last assignment: the first record is the committed offset, and
    each next one follows the last without a hole that holds records. A record at or below the
    last one was processed already (Faust's consumer lets a record through again when a seek
    meets records it had fetched): it is skipped, not processed twice.

    Parameters
    ----------
    committed
        ``(topic, partition)`` → the committed offset Faust knows, or ``None`` when it knows none
        (on assignment it loads the group's offsets, and maps "none yet" and 0 to ``None``).
    has_records
        Whether a range of offsets holds records (a hole left by transaction markers or
        compaction holds none, and is fine).
    on_disorder
        Called with a message when the order is broken (the app exits for a restart).
    start
        Where the first record must be when Faust knows no committed offset: the group's
        committed offset on the broker, else the partition's earliest offset
        (:func:`group_start`). Without it such a first record is not checked.

    Examples
    --------
    >>> broken = []
    >>> order = DeliveryOrder(lambda tp: 5, lambda *hole: True, broken.append)
    >>> [order.check("labels", 0, offset) for offset in (5, 6, 6, 8)]
    [True, True, False, False]
    >>> broken
    ['labels[0]: offset 8 after 6; offsets 7..7 were skipped']
    """

    def __init__(
        self,
        committed: Callable[[tuple[str, int]], int | None],
        has_records: HoleCheck,
        on_disorder: Callable[[str], None],
        start: StartLookup | None = None,
    ) -> None:
        self.committed = committed
        self.has_records = has_records
        self.on_disorder = on_disorder
        self.start = start
        self._last: dict[tuple[str, int], int] = {}
        self._repeated: set[tuple[str, int]] = set()

    def reset(self) -> None:
        """A rebalance began: every partition starts again from its committed offset."""
        self._last.clear()
        self._repeated.clear()

    def check(self, topic: str, partition: int, offset: int) -> bool:
        """Check the record at ``offset`` before the stage processes it; ``False`` when the stage
        already processed it since the assignment (a record delivered again: skip it)."""
        where = (topic, partition)
        last = self._last.get(where)
        if last is not None and offset <= last:
            self._report_repeat(where, offset, last)
            return False
        self._last[where] = offset
        if last is None:
            committed = self.committed(where)
            if committed is None and self.start is not None:
                committed = self.start(topic, partition)
            if committed is not None and offset != committed:
                self.on_disorder(
                    f"{topic}[{partition}]: the first record after the assignment is offset "
                    f"{offset}, the committed offset is {committed}"
                )
                return False
        elif offset != last + 1 and self.has_records(topic, partition, last + 1, offset):
            self.on_disorder(
                f"{topic}[{partition}]: offset {offset} after {last}; offsets "
                f"{last + 1}..{offset - 1} were skipped"
            )
            return False
        return True

    def _report_repeat(self, where: tuple[str, int], offset: int, last: int) -> None:
        if where not in self._repeated:  # once per partition and assignment
            self._repeated.add(where)
            log.info(
                "%s[%s]: offset %s delivered again after %s; skipped (already processed)",
                *where,
                offset,
                last,
            )


def hole_check(settings: dict[str, Any]) -> HoleCheck:
    """A :data:`HoleCheck` that reads the range with a short-lived confluent-kafka consumer."""

    def has_records(topic: str, partition: int, first: int, end: int) -> bool:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {
                **settings,
                "group.id": "driftline-hole-check",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            consumer.assign([TopicPartition(topic, partition, first)])
            message = consumer.poll(10.0)
            if message is None or message.error() is not None:
                return True  # cannot tell: assume records were skipped
            found = message.offset()
            if found is None or found < end:
                return True
            log.info("%s[%s]: offsets %s..%s hold no record", topic, partition, first, end - 1)
            return False
        finally:
            consumer.close()

    return has_records


def group_start(settings: dict[str, Any], group_id: str) -> StartLookup:
    """A :data:`StartLookup` for consumer group ``group_id``: its committed offset of the
    partition on the broker, or the partition's earliest offset when it has none (the monitor
    reads with ``auto.offset.reset: earliest``).

    On assignment Faust loads the group's committed offsets but keeps ``None`` for a partition
    that has none yet (or has 0), so the first record of such a partition went unchecked, and
    Faust may drop the first records it fetched while the tables were being recovered: in a
    kill-free ``--workers 2`` drain a worker given such an ``outcomes`` partition skipped 13
    records after the offset its restored state reflected (their counts never reached stage 2).
    """

    def start(topic: str, partition: int) -> int:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({**settings, "group.id": group_id, "enable.auto.commit": False})
        try:
            [committed] = consumer.committed([TopicPartition(topic, partition)], timeout=10.0)
            if committed.error is None and committed.offset >= 0:
                return int(committed.offset)
            low, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10.0)
            return int(low)
        finally:
            consumer.close()

    return start
