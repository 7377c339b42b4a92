"""Every use of Faust's (and aiokafka's) private internals, in one module.

The monitor relies on a few parts of faust-streaming that are not its public API: the context
variable behind ``faust.current_event()``, the consumer's committed offsets, its ``ack`` and its
seek after an assignment, the producer's buffer, the tables' recovery and a stream without
acknowledgements. They were read in faust-streaming 0.15.3 with aiokafka 0.14; each is used only
through a small function here, and :func:`check_faust_version` refuses a faust-streaming outside
the range they were checked against (:data:`SUPPORTED_FAUST`, pinned in ``pyproject.toml``), so an
upgrade fails at start-up with one line instead of losing records at run time.

Two faust-streaming 0.15.3 behaviours can move a committed offset past records no stage
processed, hence :func:`filter_acks`:

* a stream **acknowledges by itself** a record it skips because it was fetched in an older
  consumer generation or while flow control was off (a rebalance), even on a ``noack()`` stream;
* the consumer counts offsets between the last record read and a higher one as a **gap** it
  treats as acknowledged, drops records below its read offset, and commits over a one-record
  hole at the head of its acknowledged offsets.

and aiokafka 0.14 adds a third, hence :func:`after_assignment_seek`:

* on assignment the consumer fetches a partition's records while the tables recover, and Faust
  **drops them**, then seeks every partition back to its committed offset (the consumer's
  ``seek_to_committed``); but aiokafka seeks only where the committed offset is above 0, so a
  partition the group never committed (or committed at 0) stays past the dropped records.

and aiokafka 0.14 hands out fetched records partition by partition, draining one before the
next, so a backlog on the inputs starved stage 2's ``outcomes``: hence :func:`fair_fetch_order`.

The decisions (which acknowledgement to refuse, which partition to seek where) are plain classes
in :mod:`streams.delivery_order`; this module only attaches them to Faust.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Any, cast

import faust
from faust.streams import _current_event

from streams.errors import UnsupportedFaustError

__all__ = [
    "SUPPORTED_FAUST",
    "after_assignment_seek",
    "caught_up",
    "check_faust_version",
    "committed_offsets",
    "consumer_lag",
    "drain_producer",
    "fair_fetch_order",
    "filter_acks",
    "in_event_context",
    "tables_recovered",
    "unacked_events",
]

SUPPORTED_FAUST = ((0, 11), (0, 16))
"""faust-streaming versions the hooks below were checked against: ``>=0.11,<0.16`` (the range
``pyproject.toml`` pins; a test keeps the two equal)."""

Seeks = Callable[[Mapping[Any, int | None]], Mapping[Any, int]]
"""Committed offsets per topic partition (after Faust's seek) → further seeks to make."""


def check_faust_version(version: str | None = None) -> str:
    """The installed faust-streaming version; :class:`UnsupportedFaustError` (one line) when it is
    outside :data:`SUPPORTED_FAUST`.

    Examples
    --------
    >>> check_faust_version("0.15.3")
    '0.15.3'
    >>> check_faust_version("0.16.0")
    Traceback (most recent call last):
    ...
    streams.errors.UnsupportedFaustError: faust-streaming 0.16.0 is not supported by the monitor \
(it needs >=0.11,<0.16, whose internals streams/faust_compat.py was checked against); install \
a supported one: pip install 'faust-streaming>=0.11,<0.16'
    """
    found = version if version is not None else metadata.version("faust-streaming")
    (low, high), wanted = SUPPORTED_FAUST, _spec()
    match = re.match(r"(\d+)\.(\d+)", found)
    release = (int(match[1]), int(match[2])) if match else None
    if release is None or not low <= release < high:
        raise UnsupportedFaustError(
            f"faust-streaming {found} is not supported by the monitor (it needs {wanted}, whose "
            f"internals streams/faust_compat.py was checked against); install a supported one: "
            f"pip install 'faust-streaming{wanted}'"
        )
    return found


def _spec() -> str:
    (low, high) = SUPPORTED_FAUST
    return f">={low[0]}.{low[1]},<{high[0]}.{high[1]}"


@contextmanager
def in_event_context(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so a table write inside goes to its partition.

    Examples
    --------
    >>> class Event: ...
    >>> event = Event()
    >>> with in_event_context(event):
    ...     faust.current_event() is event
    True
    >>> faust.current_event() is None
    True
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def committed_offsets(consumer: Any) -> Mapping[Any, int | None]:
    """Faust's committed offset (the next to process) per topic partition of ``consumer``; keys
    compare equal to ``(topic, partition)`` tuples. Faust maps "none yet" and 0 to ``None``.

    Examples
    --------
    >>> from faust.types import TP
    >>> class Consumer:
    ...     _committed_offset = {TP("labels", 0): 12}
    >>> committed_offsets(Consumer()).get(("labels", 0))
    12
    >>> committed_offsets(object())
    {}
    """
    offsets: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    return offsets


def tables_recovered(app: faust.App) -> bool:
    """Whether Faust finished restoring the tables of the current assignment."""
    recovery = getattr(app.tables, "recovery", None)
    return recovery is not None and recovery.completed.is_set() and not app.rebalancing


def unacked_events(stream: faust.StreamT[bytes]) -> AsyncIterator[Any]:
    """The stream's events, none acknowledged by Faust: the checkpoints acknowledge them."""
    events: AsyncIterator[Any] = cast(faust.Stream[bytes], stream).noack().events()
    return events


async def drain_producer(producer: Any) -> None:
    """Every record Faust's ``producer`` buffered (table writes included) handed to the client,
    then the client flushed.

    Faust's own ``producer.flush()`` gives up on its buffer after 0.1 s without progress (table
    writes can still be queued): this drains the buffer until it is empty first.
    """
    while producer.buffer.size:
        await producer.buffer.flush()
    await producer.flush()


def consumer_lag(app: Any) -> dict[tuple[str, int], int]:
    """Records not processed yet per topic partition assigned to ``app``'s consumer: the high
    watermark less the committed offset (best effort: what it could read while rebalancing).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from faust.types import TP
    >>> class Consumer:
    ...     _committed_offset = {TP("labels", 0): 12, TP("labels", 1): None}
    ...     def assignment(self): return [TP("labels", 0), TP("labels", 1)]
    ...     def highwater(self, tp): return 20
    >>> consumer_lag(SimpleNamespace(consumer=Consumer()))
    {('labels', 0): 8}
    """
    lag: dict[tuple[str, int], int] = {}
    try:
        consumer = app.consumer
        committed = committed_offsets(consumer)
        for tp in consumer.assignment():
            high = consumer.highwater(tp)  # the offset the next record will get
            position = committed.get(tp)  # the next offset to process
            if high is not None and position is not None:
                lag[(tp.topic, tp.partition)] = max(0, high - position)
    except Exception:  # lag is best effort while rebalancing
        return lag
    return lag


def caught_up(
    app: Any, topic: str, partition: int, next_offsets: Mapping[tuple[str, int], int]
) -> bool:
    """Whether nothing is left to read on ``topic``'s ``partition``: its high watermark is known
    and at most the next offset to read (``next_offsets``: after the last record read; or the
    committed offset). ``False`` when it cannot be told (while rebalancing).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from faust.types import TP
    >>> class Consumer:
    ...     _committed_offset = {TP("labels", 0): 12}
    ...     def highwater(self, tp): return {"labels": 20, "predictions": 0}[tp.topic]
    >>> app = SimpleNamespace(consumer=Consumer())
    >>> caught_up(app, "labels", 0, {}), caught_up(app, "predictions", 0, {})
    (False, True)
    >>> caught_up(app, "labels", 0, {("labels", 0): 20})
    True
    """
    from faust.types import TP

    try:
        tp = TP(topic, partition)
        high = app.consumer.highwater(tp)
        committed = committed_offsets(app.consumer).get(tp) or 0
        position = max(next_offsets.get((topic, partition), 0), committed)
    except Exception:  # the consumer is being replaced (a rebalance): it cannot be told
        return False
    return high is not None and position >= high


_HELD_BACK: set[tuple[str, int]] = set()
"""The topic partitions whose fetched records wait (:func:`hold_back`): one worker per process."""


def hold_back(topic_partitions: Iterable[tuple[str, int]]) -> None:
    """From now on the fetcher leaves the records of these topic partitions buffered (and
    fetches no more of them), until another call leaves them out
    (:class:`streams.input_alignment.InputAlignment` picks them).

    Examples
    --------
    >>> hold_back([("predictions", 0)]); sorted(_HELD_BACK)
    [('predictions', 0)]
    >>> hold_back([]); _HELD_BACK
    set()
    """
    _HELD_BACK.clear()
    _HELD_BACK.update(topic_partitions)


def fair_fetch_order() -> None:
    """Hand out a worker's fetched records partition by partition in turn (aiokafka 0.14), none
    of a partition held back (:func:`hold_back`).

    aiokafka's fetcher returns buffered records in the order the partitions were fetched,
    draining the first one before the next, and Faust delivers them through one loop that
    waits whenever an agent's buffer is full. With a backlog on the input topics (16 MiB
    fetches per partition) stage 2's ``outcomes`` records waited behind every input partition's
    buffer: a minute and more, in which stage 2 applied nothing and stage 1 stopped for its
    checkpoints with nothing else to run (and in ``bench horizon`` stage 2 had applied nothing
    after five minutes). With ``broker_max_poll_records`` set, each call now serves the
    partition served least recently first. A held-back partition's records stay in the
    fetcher's buffer, and aiokafka fetches no more for a partition while it has buffered ones.

    Examples
    --------
    >>> fair_fetch_order(); fair_fetch_order()  # idempotent
    >>> from aiokafka.consumer.fetcher import Fetcher
    >>> Fetcher.fetched_records.__name__
    'fair_fetched_records'
    """
    from aiokafka.consumer.fetcher import Fetcher

    original = Fetcher.fetched_records
    if original.__name__ == "fair_fetched_records":
        return

    async def fair_fetched_records(
        self: Any, partitions: Any, timeout: float = 0, max_records: int | None = None
    ) -> Any:
        if _HELD_BACK and partitions:
            # never all of them: an empty list would mean every partition to aiokafka
            partitions = [tp for tp in partitions if tp not in _HELD_BACK] or partitions
        drained = await original(self, partitions, timeout=timeout, max_records=max_records)
        for tp in drained:
            if tp in self._records:
                self._records.move_to_end(tp)  # served now: the others come first next time
        return drained

    Fetcher.fetched_records = fair_fetched_records


def filter_acks(consumer: Any, allows: Callable[[Any], bool]) -> None:
    """Refuse the acknowledgements ``allows(message)`` rejects: wraps ``consumer.ack``, the one
    place Faust marks an offset committable (a refused one returns ``False``, as for a record
    acknowledged already).

    Examples
    --------
    >>> class Consumer:
    ...     def __init__(self): self.acked = []
    ...     def ack(self, message): self.acked.append(message); return True
    >>> consumer = Consumer()
    >>> filter_acks(consumer, lambda message: message != "refused")
    >>> consumer.ack("refused"), consumer.ack("allowed"), consumer.acked
    (False, True, ['allowed'])
    """
    original = consumer.ack

    def ack(message: Any) -> bool:
        if not allows(message):
            return False
        return bool(original(message))

    consumer.ack = ack


def after_assignment_seek(consumer: Any, seeks: Seeks) -> None:
    """After Faust's seek to the committed offsets (once per assignment), seek the partitions
    ``seeks(committed)`` names where it says; Faust still gets the committed offsets.

    Examples
    --------
    >>> import asyncio
    >>> class Consumer:
    ...     async def seek_to_committed(self): return {"labels-0": 12, "labels-1": None}
    ...     async def seek_wait(self, partitions): print("seek", partitions)
    >>> consumer = Consumer()
    >>> after_assignment_seek(consumer, lambda c: {tp: 0 for tp, o in c.items() if not o})
    >>> asyncio.run(consumer.seek_to_committed())
    seek {'labels-1': 0}
    {'labels-0': 12, 'labels-1': None}
    """
    original: Callable[[], Awaitable[Mapping[Any, int | None]]] = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[Any, int | None]:
        committed = await original()
        more = seeks(committed)
        if more:
            await consumer.seek_wait(dict(more))
        return committed

    consumer.seek_to_committed = seek_to_committed
