"""Stage 1 on a worker: the join, its stores, its buffered outputs and its checkpoint.

:class:`JoinRunner` reads the predictions and labels, joins them (:class:`JoinStage`), buffers
the outcomes, dead letters and re-routes until a :class:`~streams.checkpoint.Checkpoint` sends
them, commits each partition's changelog transaction, writes its local store and acknowledges
the input. It tells stage 2 how far each input partition got (the frontiers and watermarks of
the last completed checkpoint, in every envelope and in heartbeats), which of its partitions
are idle, and holds back the partitions running ahead in event time. A rebalance drops all of
it (:meth:`JoinRunner.revoke`); the partitions' stores reload on their next record.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from driftline.config.models import DriftlineConfig
from driftline.events import DeadLetter
from streams.checkpoint import Checkpoint, CheckpointRule
from streams.dead_letters import dead_letter
from streams.idle_sources import IdleSources
from streams.input_alignment import InputAlignment
from streams.join_store import JoinStore
from streams.outcome import encode_outcomes, monitor_key
from streams.split_values import PART_BYTES
from streams.stage_io import Deliveries, StageIO, last_event_per_partition
from streams.stage_runner import StageRunner
from streams.stages import JoinStage

__all__ = ["ENVELOPE_BYTES", "OUTCOMES_PER_ENVELOPE", "JoinRunner", "Stores"]

log = logging.getLogger("driftline.monitor")

OUTCOMES_PER_ENVELOPE = 500
ENVELOPE_BYTES = PART_BYTES
"""The largest outcomes envelope sent (under Kafka's default 1 MB record limit)."""

Encode = Callable[[list[list[Any]]], bytes]
"""Encodes a chunk of wire outcomes as one envelope."""

Progress = tuple[dict[int, float], list[int], set[int]]
"""Per input partition the watermark of the last completed checkpoint, the partitions this
worker reads, and those wholly idle."""


class Stores(Protocol):
    """The join's stores by partition (:class:`streams.join_stores.JoinStores`)."""

    def load(self, partition: int) -> JoinStore: ...

    def commit(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> int: ...

    def release(self) -> None: ...


class JoinRunner(StageRunner):
    """Stage 1 of one worker.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    stage
        The join (its ``open_store`` takes what ``stores`` loaded).
    stores
        The partitions' stores and changelog writers.
    io
        The I/O edges.
    """

    name = "join"

    def __init__(
        self, config: DriftlineConfig, stage: JoinStage, stores: Stores, io: StageIO
    ) -> None:
        mon, self.topics = config.monitor, config.topics
        super().__init__(io)
        self.stage, self.stores = stage, stores
        self.task_keys = [monitor_key(config.model, task) for task in sorted(config.tasks)]
        self.input_topics = [self.topics.predictions, self.topics.labels]
        self.sources = IdleSources(mon.source_idle_timeout)
        self.alignment = InputAlignment(mon.input_alignment)
        self.deliveries = Deliveries(io)
        self.checkpoint = Checkpoint(
            CheckpointRule(mon.checkpoint_events, mon.checkpoint_interval),
            self._send_outputs,
            self._write_state,
            self.deliveries.flush,
            self._committed,
            io.acknowledge,
        )
        self._reset()

    def _reset(self) -> None:
        """Nothing loaded, buffered or known of any partition (a new worker, or a rebalance)."""
        self._loaded: set[int] = set()
        self._out: dict[str, list[list[Any]]] = defaultdict(list)
        self._dead: list[Any] = []
        self._reroutes: list[Any] = []
        self.deliveries.clear()
        # input frontier of the last completed checkpoint, and of the one in progress
        self._durable: dict[int, dict[str, int]] = {}
        self._written: dict[int, dict[str, int]] = {}
        # the prediction and label stream times of each partition's last completed checkpoint
        # (stage 2 orders by the smaller: the watermark)
        self._durable_times: dict[int, tuple[float, float]] = {}
        self._written_times: dict[int, tuple[float, float]] = {}
        self._heard: Progress | None = None
        self._next_offsets: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------------------------ records
    async def record(self, event: Any) -> None:
        """Join one record; run the checkpoint when it is due."""
        message = event.message
        self.sources.read(message.topic, message.partition)
        self._next_offsets[(message.topic, message.partition)] = message.offset + 1
        if message.partition not in self._loaded:
            await self._load(message.partition)
        result = self.stage.process(
            message.topic, message.partition, message.offset, message.key, message.value
        )
        for outcome in result.outcomes:
            self._out[outcome.key].append(outcome.to_wire())
        self._dead.extend(result.dead_letters)
        self._reroutes.extend(result.reroutes)
        if self.checkpoint.hold(event, result.events):
            await self.checkpoint.run()
            self.align()

    async def _load(self, partition: int) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stores.load, partition)
        self.stage.join_for(partition)
        self._loaded.add(partition)

    # --------------------------------------------------------------------------- checkpoint
    async def _send_outputs(self) -> None:
        """Step 1: the outcomes (an envelope per task at least: every task hears every
        partition's progress), then the dead letters and the re-routes."""
        frontiers = {p: join.frontier() for p, join in self.stage.joins.items()}
        marks, owned, idle = self.progress()
        outcomes = self.topics.outcomes

        def encode(chunk: list[list[Any]]) -> bytes:
            return encode_outcomes(chunk, frontiers, self._durable, marks, owned, idle)

        for key in self.task_keys:
            items = self._out.pop(key, [])
            if not items and not marks and not owned:
                continue
            for value in self._envelopes(items, encode, empty=True):
                await self.deliveries.send(outcomes, key.encode(), value)
        for key, items in self._out.items():  # another model's (stage 2 dead-letters them)
            for value in self._envelopes(items, encode, empty=False):
                await self.deliveries.send(outcomes, key.encode(), value)
        self._out.clear()
        await self.deliveries.send_dead(self.topics.dead_letters, self._dead)
        for reroute in self._reroutes:
            await self.deliveries.send(reroute.topic, reroute.key, reroute.value, reroute.partition)
        self._reroutes.clear()

    def _envelopes(self, items: list[list[Any]], encode: Encode, empty: bool) -> list[bytes]:
        values, oversized = envelopes(items, encode, empty)
        self._dead += [_oversized(wire, size) for wire, size in oversized]
        return values

    async def _write_state(self) -> None:
        """Step 3: each partition's changes, one changelog transaction, then the local store."""
        loop = asyncio.get_running_loop()

        async def write(partition: int) -> None:
            join = self.stage.joins[partition]
            records, batch = self.stage.checkpoint(partition)
            offset = await loop.run_in_executor(None, self.stores.commit, partition, records)
            join.commit(batch, offset)
            self._written[partition] = join.frontier()
            self._written_times[partition] = (join.prediction_time, join.label_time)

        held = last_event_per_partition(self.checkpoint.held)
        await asyncio.gather(*(write(p) for p in sorted(held) if p in self.stage.joins))

    def _committed(self) -> None:
        self._durable.update(self._written)
        self._written.clear()
        self._durable_times.update(self._written_times)
        self._written_times.clear()

    # ----------------------------------------------------------------- progress and sources
    def progress(self) -> Progress:
        """Per input partition, the watermark of its last completed checkpoint without the
        topics declared idle; the partitions this worker reads, and those wholly idle."""
        idle = self.sources.idle(self._caught_up)
        marks = {}
        for p, times in self._durable_times.items():
            live = [t for topic, t in zip(self.input_topics, times, strict=True) if (topic, p) not in idle]  # fmt: skip
            mark = min(live, default=float("inf"))
            if float("-inf") < mark < float("inf"):
                marks[p] = mark
        owned = self.sources.owned
        return marks, owned, {p for p in owned if all((t, p) in idle for t in self.input_topics)}

    def _caught_up(self, topic: str, partition: int) -> bool:
        return self.io.caught_up(topic, partition, self._next_offsets)

    def align(self) -> None:
        """Hold back the input partitions running ahead of the others in event time."""
        if not self.io.tables_recovered():
            return
        times = {}
        for topic, p in self.sources.topic_partitions:
            join = self.stage.joins.get(p)
            times[(topic, p)] = (
                float("-inf")
                if join is None
                else join.prediction_time
                if topic == self.topics.predictions
                else join.label_time
            )
        self.io.hold_back(self.alignment.update(times, lambda tp: not self._caught_up(*tp)))

    async def heartbeat(self) -> None:
        """The timer's turn: align the inputs, and tell stage 2 this stage's progress."""
        async with self.lock:
            if not self.io.tables_recovered():
                self.sources.waiting()  # nothing is read while the tables recover: not idle
            self.align()
            await self.io.guard(self._send_heartbeats(), "heartbeat")

    async def _send_heartbeats(self) -> None:
        """Stage 1's progress, at once when it changed: the last outcomes of a stream that
        stops need it to be applied."""
        now = self.progress()
        if now != self._heard:
            self._heard = now
            marks, owned, idle = now
            for key in self.task_keys:
                value = encode_outcomes([], {}, self._durable, marks, owned, idle)
                await self.io.send(self.topics.outcomes, key.encode(), value)

    # ---------------------------------------------------------------------------- rebalance
    def assigned(self, topic_partitions: Iterable[tuple[str, int]]) -> None:
        """The topic partitions assigned now (it speaks for its input partitions to stage 2)."""
        self.sources.assigned(tp for tp in topic_partitions if tp[0] in self.input_topics)

    async def revoke(self, revoked: Iterable[tuple[str, int]]) -> None:
        """Abort, never write: every partition is read again from its committed offset (the
        ``revoked`` topic partitions' acknowledged offsets are forgotten: a new assignment may
        start lower)."""
        async with self.lock:
            self._abort(revoked)
            self.sources.revoked()
            self.alignment.reset()
            self.io.hold_back([])
            self.stage.close()
            self.stores.release()


def envelopes(
    items: list[list[Any]], encode: Encode, empty: bool, limit: int = ENVELOPE_BYTES
) -> tuple[list[bytes], list[tuple[list[Any], int]]]:
    """The envelopes of ``items`` (wire outcomes, in order): at most
    :data:`OUTCOMES_PER_ENVELOPE` outcomes and ``limit`` bytes each (a chunk over it is halved:
    feature profiles of many features are large); ``empty``: one envelope even without items
    (the progress it carries). An outcome over the limit alone is returned apart, with its
    size, never sent: the broker would refuse it at every restart.

    >>> encode = lambda chunk: b"x" * sum(item[0] for item in chunk)
    >>> values, oversized = envelopes([[4], [4], [9], [3]], encode, empty=False, limit=8)
    >>> [len(v) for v in values], oversized
    ([8, 3], [([9], 9)])
    """
    chunks = [
        items[i : i + OUTCOMES_PER_ENVELOPE] for i in range(0, len(items), OUTCOMES_PER_ENVELOPE)
    ]
    if not chunks and empty:
        chunks = [[]]
    values: list[bytes] = []
    oversized: list[tuple[list[Any], int]] = []
    while chunks:
        chunk = chunks.pop(0)
        value = encode(chunk)
        if len(value) <= limit:
            values.append(value)
        elif len(chunk) > 1:
            chunks[:0] = [chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]]
        else:
            oversized.append((chunk[0], len(value)))
    if not values and empty:
        values.append(encode([]))
    return values, oversized


def _oversized(wire: list[Any], size: int) -> DeadLetter:
    """The dead letter of one outcome too large for a record (its features left out)."""
    topic, partition, offset, index = wire[6][:4]
    features = wire[15] if len(wire) > 15 and isinstance(wire[15], dict) else {}
    log.error(
        "a %s outcome of task %s (%s[%d]@%d) is %d bytes, over the %d-byte record limit: "
        "dead-lettered, not sent; monitor fewer features in feature_drift",
        wire[0], wire[3], topic, partition, offset, size, ENVELOPE_BYTES,
    )  # fmt: skip
    summary = {key: value for key, value in features.items() if key != "profile"}
    reason = (
        f"outcome too large: a {wire[0]} outcome of task {wire[3]} is {size} bytes, over the "
        f"{ENVELOPE_BYTES}-byte record limit (monitor fewer features in feature_drift)"
    )
    return dead_letter(
        reason, (topic, partition, offset, index), [*wire[:6], summary], None, "join"
    )
