"""Which input topic partitions wait while the others catch up in event time.

Stage 2 applies a task's outcomes in event-time order across every input partition
(:mod:`streams.outcome_order`): an outcome waits until every partition's watermark has passed
it. While a worker works through a backlog, the fetcher hands out batches partition by
partition, and a batch spans very different stretches of event time on different topics: 100
envelopes of predictions at 30 per second cover about twenty minutes, 100 envelopes of labels
(three tasks' labels per prediction) a third of that. Read in turns, the prediction partitions
ran hours ahead of the label partitions, and stage 2 held every score outcome of those hours:
249 326 for one task of ``bench horizon`` at one million predictions, most of the worker's RSS.

So, as Kafka Streams picks the partition with the smallest timestamp, a worker reads its input
partitions in step: a topic partition more than ``window`` seconds of event time ahead of the
slowest one that still has records to read is **held** (the fetcher leaves its records
buffered, :func:`streams.faust_compat.fair_fetch_order`) until that one catches up. A caught-up
partition never holds the others back (it has nothing to read, and its owner declares it idle,
:mod:`streams.idle_sources`), and the slowest partition is never held, so reading always goes
on. Live, every partition is caught up and nothing is held. What is read in which order only
changes when outcomes are produced, never which (stage 2's order is by event time).

Examples
--------
>>> align = InputAlignment(window=600.0)
>>> times = {("predictions", 0): 5000.0, ("labels", 0): 1000.0, ("predictions", 1): 1500.0}
>>> sorted(align.update(times, backlog=lambda tp: True))
[('predictions', 0)]
>>> times.update({("labels", 0): 4900.0, ("predictions", 1): 4800.0})  # caught up: in step
>>> sorted(align.update(times, backlog=lambda tp: True)), align.holds
([], 1)
>>> times[("labels", 0)] = 1000.0  # far behind, but nothing left to read: it holds no one
>>> sorted(align.update(times, backlog=lambda tp: tp != ("labels", 0)))
[]
>>> sorted(InputAlignment(window=None).update(times, backlog=lambda tp: True))  # switched off
[]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["InputAlignment"]

TopicPartition = tuple[str, int]


class InputAlignment:
    """The input topic partitions to hold back, from their stream times.

    Parameters
    ----------
    window
        Seconds of event time a topic partition may run ahead of the slowest one with a backlog
        (``monitor.input_alignment``); ``None``: never hold any.
    """

    def __init__(self, window: float | None) -> None:
        self.window = window
        self.held: frozenset[TopicPartition] = frozenset()
        self.holds = 0  # how many times a partition was held back (for /metrics)

    def update(
        self,
        times: Mapping[TopicPartition, float],
        backlog: Callable[[TopicPartition], bool],
    ) -> frozenset[TopicPartition]:
        """The partitions to hold now: ``times`` is each assigned input topic partition's
        stream time (``-inf`` before its first event), ``backlog(tp)`` whether records are left
        to read on it."""
        behind = [t for tp, t in times.items() if backlog(tp)]
        if self.window is None or not behind:
            held: frozenset[TopicPartition] = frozenset()
        else:
            limit = min(behind) + self.window
            held = frozenset(tp for tp, t in times.items() if t > limit)
        self.holds += len(held - self.held)
        self.held = held
        return held

    def reset(self) -> None:
        """Partitions were revoked: hold none until they are read again."""
        self.held = frozenset()
