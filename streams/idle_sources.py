"""Which input topic partitions this worker declares idle to stage 2.

Stage 2 applies a task's outcomes in event-time order across every input partition
(:mod:`streams.outcome_order`), so it waits for each partition's watermark, the smaller of its
prediction and label stream times. A topic partition that gets no records (labels that have not
started to come, a partition nobody writes to, the end of a finite stream) would hold every
task back for good. Its owner (the worker that reads it, and the only one that knows) therefore
declares it **idle** when it is caught up (nothing left to read) and has had no record for
``after`` seconds: the partition's watermark for stage 2 then leaves that topic out, and a
partition whose two topics are idle is not waited for at all. The declaration travels in the
outcome envelopes, so it is part of stage 2's input: a partition whose owner is gone (a
takeover, a restart, a rebalance) is never declared idle by anyone, and stage 2 waits for it.

Examples
--------
>>> now = [0.0]
>>> sources = IdleSources(after=10.0, clock=lambda: now[0])
>>> sources.assigned([("labels", 0), ("predictions", 0), ("labels", 1)])
>>> sources.read("labels", 0); now[0] = 11.0
>>> sorted(sources.idle(caught_up=lambda topic, p: True))
[('labels', 0), ('labels', 1), ('predictions', 0)]
>>> sorted(sources.idle(caught_up=lambda topic, p: p == 1))  # partition 0: records left
[('labels', 1)]
>>> sources.read("labels", 1); sorted(sources.idle(caught_up=lambda topic, p: True))
[('labels', 0), ('predictions', 0)]
>>> now[0] = 11.0 + 6 * 10.0  # quiet for six times ``after``: idle even if the lag is unknown
>>> len(sources.idle(caught_up=lambda topic, p: False)), sources.owned
(3, [0, 1])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

__all__ = ["IdleSources"]

QUIET_ANYWAY = 6  # quiet this many times ``after``: idle even when the lag cannot be known

TopicPartition = tuple[str, int]


class IdleSources:
    """The idle ones among this worker's assigned input topic partitions.

    Parameters
    ----------
    after
        Seconds without a record before a caught-up topic partition is idle
        (``monitor.source_idle_timeout``).
    clock
        Monotonic time (tests pass their own).
    """

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self._last: dict[TopicPartition, float] = {}  # when assigned or last read

    @property
    def owned(self) -> list[int]:
        """The input partitions this worker reads now, in order."""
        return sorted({partition for _, partition in self._last})

    @property
    def topic_partitions(self) -> list[TopicPartition]:
        """The input topic partitions this worker reads now, in order."""
        return sorted(self._last)

    def assigned(self, topic_partitions: Iterable[TopicPartition]) -> None:
        """The input topic partitions assigned now (quiet time starts at the assignment)."""
        now = self.clock()
        self._last = {tp: self._last.get(tp, now) for tp in topic_partitions}

    def revoked(self) -> None:
        """Every partition was taken away (a rebalance): this worker speaks for none."""
        self._last.clear()

    def read(self, topic: str, partition: int) -> None:
        """A record of ``topic``'s ``partition`` was read."""
        self._last[(topic, partition)] = self.clock()

    def waiting(self) -> None:
        """The worker cannot read now (its tables are being recovered): quiet time restarts."""
        now = self.clock()
        self._last = dict.fromkeys(self._last, now)

    def idle(self, caught_up: Callable[[str, int], bool]) -> set[TopicPartition]:
        """The owned topic partitions quiet for ``after`` seconds with nothing left to read (or
        quiet for ``QUIET_ANYWAY`` times that, when ``caught_up`` cannot tell)."""
        now = self.clock()
        out = set()
        for (topic, partition), last in self._last.items():
            quiet = now - last
            if quiet >= QUIET_ANYWAY * self.after or (
                quiet >= self.after and caught_up(topic, partition)
            ):
                out.add((topic, partition))
        return out
