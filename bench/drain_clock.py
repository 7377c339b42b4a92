"""How fast a worker drains a backlog, from its applied-event count sampled over time.

A drain has three phases: the worker starts and loads its state, it applies the backlog at its
sustained rate, and its last events wait. Stage 2 applies a task's outcomes in event-time order
across input partitions (:mod:`streams.outcome_order`), so the outcomes at the very end of a
stream that stops wait until each partition is declared idle (``monitor.source_idle_timeout``,
10 s by default). That wait is latency at the end of a stream, not throughput: a live stream
never stops, and a worker catching up on a backlog keeps reading. So the figure a benchmark
reports as ``events_per_s`` is the **sustained** rate, between the moments 10 % and 90 % of the
events were applied; the rate from the first to the last applied event and the wait for the
last 1 % are reported next to it.

Examples
--------
>>> now = [0.0]
>>> clock = DrainClock(1000, clock=lambda: now[0])
>>> for t, applied in [(1, 0), (2, 100), (3, 300), (4, 500), (5, 700), (6, 900), (7, 990),
...                    (17, 1000)]:
...     now[0] = float(t); clock.observe(applied)
>>> clock.sustained_rate(), clock.first_to_last_rate(), clock.last_events_wait_s()
(200.0, 60.0, 10.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["DrainClock"]

SUSTAINED_FROM, SUSTAINED_TO = 0.1, 0.9
"""The sustained rate is timed between these fractions of the events applied."""
LAST_EVENTS = 0.99
"""The wait for the last events starts when this fraction was applied."""


class DrainClock:
    """Applied-event counts of one drain of ``sent`` events, as they grow.

    Parameters
    ----------
    sent
        Events in the backlog.
    clock
        Seconds (monotonic).
    """

    def __init__(self, sent: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.sent = sent
        self.clock = clock
        self.samples: list[tuple[float, float]] = []  # (time, applied) whenever it grew

    def observe(self, applied: float) -> None:
        """A new reading of the applied count (kept only when it grew)."""
        if applied > self.done:
            self.samples.append((self.clock(), applied))

    @property
    def done(self) -> float:
        """Events applied so far."""
        return self.samples[-1][1] if self.samples else 0.0

    @property
    def complete(self) -> bool:
        """Every event was applied."""
        return self.done >= self.sent

    def stalled(self, seconds: float) -> bool:
        """Nothing more was applied for ``seconds`` since the first applied event."""
        return bool(self.samples) and self.clock() - self.samples[-1][0] > seconds

    def first_to_last_rate(self) -> float:
        """Events/s from the first to the last reading that grew (0 with fewer than two)."""
        if len(self.samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return (n1 - n0) / (t1 - t0)

    def sustained_rate(self) -> float:
        """Events/s between 10 % and 90 % of the events applied (first to last when the drain
        did not get that far, or too few readings fall in between)."""
        start, end = self._reached(SUSTAINED_FROM), self._reached(SUSTAINED_TO)
        if start is None or end is None or end[0] <= start[0]:
            return self.first_to_last_rate()
        return (end[1] - start[1]) / (end[0] - start[0])

    def last_events_wait_s(self) -> float | None:
        """Seconds from 99 % of the events applied to the last one (``None``: not all were)."""
        start = self._reached(LAST_EVENTS)
        if start is None or not self.complete:
            return None
        return self.samples[-1][0] - start[0]

    def report(self) -> dict[str, Any]:
        """The JSON fields of a drain."""
        wait = self.last_events_wait_s()
        return {
            "events": self.sent,
            "applied": int(self.done),
            "complete": self.complete,  # False: events were lost (or the drain stalled)
            "events_per_s": round(self.sustained_rate()),
            "first_to_last_events_per_s": round(self.first_to_last_rate()),
            "last_events_wait_s": None if wait is None else round(wait, 1),
        }

    def _reached(self, fraction: float) -> tuple[float, float] | None:
        """The first reading at or above ``fraction`` of the events."""
        for sample in self.samples:
            if sample[1] >= fraction * self.sent:
                return sample
        return None
