"""The one place that owns the checkpoint: when it is due, and the order of its steps.

A stage processes records without acknowledging them, buffers its outputs and marks its state
dirty; a checkpoint then runs, in this order (as Kafka Streams and Quix Streams do):

1. send the buffered outputs (outcomes, alerts, requests, snapshots, dead letters, re-routes)
   and hand labelled outcomes to the sinks;
2. flush the producer and confirm delivery of 1;
3. write the dirty state values (each carries the input offsets it reflects) to the tables;
4. flush the producer and confirm delivery of 3 (the changelogs);
5. acknowledge the held input records, so Faust commits their offsets (never before 4).

Step 2 comes before step 3 because a RocksDB table write is durable on local disk at once: a
state value that reflects records whose outputs were still in the producer's buffer would, after
``kill -9``, make the replay skip those records and their outputs would be lost for good (seen in
the kill test before this order: a task's monitor ended ~200 outcomes short).

A crash anywhere re-processes the records after the last committed offset; the offsets inside
the state values make that replay skip what was applied, and stage 2 recognises the outcomes
stage 1 sends again (:class:`streams.replay_filter.ReplayFilter`). A rebalance never writes:
it aborts the checkpoint in progress (:meth:`Checkpoint.abort`: nothing acknowledged, outputs
dropped), the stage drops its in-memory state, and Faust seeks every partition back to its
committed offset.
A recorded offset that goes backwards within one assignment is a bug and raises.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.errors import CheckpointError

__all__ = ["Checkpoint", "CheckpointRule", "OffsetLedger"]


class CheckpointRule:
    """When a checkpoint is due: every ``events`` input events or every ``interval`` seconds.

    Events, not records: an envelope of 100 events counts 100, so a stream of one event per
    record checkpoints no more often than one of envelopes (every 50 records made it one
    transaction per 50 events: 1 300 events/s where envelopes drained 10 000).

    Parameters
    ----------
    events
        Events between checkpoints.
    interval
        Seconds between checkpoints while records keep coming.
    clock
        The time source (``time.monotonic``; tests pass their own).

    Examples
    --------
    >>> now = [0.0]
    >>> rule = CheckpointRule(events=300, interval=1.0, clock=lambda: now[0])
    >>> [rule.record(100) for _ in range(3)]
    [False, False, True]
    >>> rule.done(); now[0] = 1.5
    >>> rule.record()
    True
    """

    def __init__(
        self,
        events: int = 5000,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if events < 1 or interval < 0:
            raise ValueError("events must be >= 1 and interval >= 0")
        self.events = events
        self.interval = interval
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self._count = 0
        self._since = self.clock()

    def record(self, events: int = 1) -> bool:
        """Count a processed record of ``events`` events; ``True`` when a checkpoint is due."""
        self._count += max(events, 1)
        return self.due()

    def due(self) -> bool:
        """Whether a checkpoint is due now (there is something to checkpoint)."""
        if self._count == 0:
            return False
        return self._count >= self.events or self.clock() - self._since >= self.interval

    @property
    def pending(self) -> int:
        """Events processed since the last checkpoint."""
        return self._count

    def done(self) -> None:
        """A checkpoint completed: start counting again."""
        self._reset()


class OffsetLedger:
    """The highest offset acknowledged per (topic, partition); it must never go back.

    Examples
    --------
    >>> ledger = OffsetLedger()
    >>> ledger.record("labels", 0, 10); ledger.record("labels", 0, 12)
    >>> try:
    ...     ledger.record("labels", 0, 11)
    ... except CheckpointError as exc:
    ...     print(exc)
    offset of labels[0] went back from 12 to 11: a checkpoint must never move offsets backwards
    """

    def __init__(self) -> None:
        self._offsets: dict[tuple[str, int], int] = {}

    def record(self, topic: str, partition: int, offset: int) -> None:
        """Record an acknowledged offset; raise :class:`CheckpointError` when it goes back."""
        key = (topic, partition)
        last = self._offsets.get(key)
        if last is not None and offset < last:
            raise CheckpointError(
                f"offset of {topic}[{partition}] went back from {last} to {offset}: "
                "a checkpoint must never move offsets backwards"
            )
        self._offsets[key] = offset

    def forget(self, topic: str, partition: int) -> None:
        """The partition was revoked: a new assignment may start lower (a replay)."""
        self._offsets.pop((topic, partition), None)

    def get(self, topic: str, partition: int) -> int | None:
        """The last acknowledged offset, or ``None``."""
        return self._offsets.get((topic, partition))


class Checkpoint:
    """Runs the checkpoint steps in order for one stage.

    Parameters
    ----------
    rule
        When a checkpoint is due.
    send_outputs
        Step 1: sends the buffered outputs (and flushes sinks).
    write_state
        Step 3: writes the dirty state values.
    flush_producer
        Steps 2 and 4: flushes the producer and confirms delivery.
    committed
        Called after step 5: the state written in step 3 is durable and its input acknowledged.
    acknowledge
        Step 5 for one held event (``event.ack()``; the app passes its
        :class:`streams.delivery_order.AckGate`).
    holdback
        Per (topic, partition), the lowest offset that must stay unacknowledged (stage 2's
        outcomes still waiting for their turn): step 5 acknowledges only the held events below
        it, in order, and keeps the others for a later checkpoint.
    """

    def __init__(
        self,
        rule: CheckpointRule,
        send_outputs: Callable[[], Awaitable[None]],
        write_state: Callable[[], Awaitable[None]],
        flush_producer: Callable[[], Awaitable[None]],
        committed: Callable[[], None] = lambda: None,
        acknowledge: Callable[[Any], Any] = lambda event: event.ack(),
        holdback: Callable[[], dict[tuple[str, int], int]] = dict,
    ) -> None:
        self.rule = rule
        self.send_outputs = send_outputs
        self.write_state = write_state
        self.flush_producer = flush_producer
        self.committed = committed
        self.acknowledge = acknowledge
        self.holdback = holdback
        self.ledger = OffsetLedger()
        self._held: list[Any] = []
        self.completed = 0

    def hold(self, event: Any, events: int = 1) -> bool:
        """Hold a processed record's event (a record of ``events`` input events)
        unacknowledged; ``True`` when a checkpoint is due."""
        self._held.append(event)
        return self.rule.record(events)

    @property
    def held(self) -> list[Any]:
        """Events processed but not yet acknowledged (the state writer uses them for context)."""
        return self._held

    async def run(self) -> None:
        """Steps 1–5, in order; on an exception nothing is acknowledged (the records replay)."""
        if not self._held:
            self.rule.done()
            return
        await self.send_outputs()
        await self.flush_producer()
        await self.write_state()
        await self.flush_producer()
        bounds = self.holdback()
        held, self._held = self._held, []
        stopped: set[tuple[str, int]] = set()
        for event in held:
            message = event.message
            where = (message.topic, message.partition)
            if where in stopped or message.offset >= bounds.get(where, message.offset + 1):
                stopped.add(where)  # this one and every later one of its partition wait
                self._held.append(event)
                continue
            self.ledger.record(message.topic, message.partition, message.offset)
            self.acknowledge(event)
        self.rule.done()
        self.completed += 1
        self.committed()

    def abort(self) -> None:
        """Drop the held records unacknowledged (a rebalance): they are read again."""
        self._held = []
        self.rule.done()
