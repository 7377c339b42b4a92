"""Stage 2's apply order: a task's outcomes by ``(tau, origin)``, once every source has passed.

The outcomes of one task come from every input partition (each a *source*), and a worker reads
those partitions and their two topics in an order that changes with every restart, rebalance or
backlog: applied as they come, a task's detectors saw partitions hours of event time apart after
a takeover and fired on "drifts" that were not there. So stage 2 applies them in an order that
depends on the input alone:

* every outcome carries ``tau`` (:attr:`streams.outcome.Outcome.tau`), an event time stage 1
  derives from the input alone: the stream time of the topic whose event caused it (the largest
  event time read on that topic so far, which does not depend on how the two topics interleave),
  or the deadline that ended it;
* every stage 1 checkpoint reports, per source, the join **watermark** of its last completed
  checkpoint; no outcome that source sends later has a smaller ``tau`` (a replay after a crash
  starts from that checkpoint);
* :class:`OutcomeOrder` holds a task's outcomes and releases them in ``(tau, origin)`` order
  (origins are unique) while ``tau`` is below every source's watermark.

A source can be **idle**: its owner (the stage 1 worker that reads it) declares so when the
partition is caught up and has had no record for ``monitor.source_idle_timeout``
(:class:`streams.idle_sources.IdleSources`); an idle source is not waited for until its owner
says it is active again. Idleness is part of the input stage 2 reads (the envelopes carry it),
never a guess from stage 2's own clock: a source whose owner is gone (a takeover, a restart, a
rebalance) is waited for, however long that takes. An outcome a source sends after it was idle
that sorts before what was applied already is applied at once (counted in
:attr:`OutcomeOrder.unordered`, not reordered): that is the one case in which the order depends
on timing, and only on a partition that went quiet with nothing left to read.

The held outcomes are not stored with the task's state (at most ``memory_items`` stay in memory,
the rest spill to a scratch database: :class:`~streams.held_outcomes.HeldOutcomes`): the app
acknowledges an ``outcomes`` record only once every
outcome in it was applied, so after a restart they are read again (:attr:`read_through` tells a
record read before from a new one).

Examples
--------
>>> from streams.outcome import Outcome
>>> def outcome(tau, partition, offset):
...     return Outcome("labelled", "m", "1", "churn", "p", tau, ("labels", partition, offset, 0, 0),
...                    tau=tau)
>>> order = OutcomeOrder(sources=2)
>>> order.offer(outcome(5.0, 1, 0), None, None, record=0)
[]
>>> order.offer(outcome(3.0, 0, 0), None, None, record=1)
[]
>>> order.advance(0, 10.0); [h.outcome.tau for h in order.release()]  # source 1 not heard
[]
>>> order.advance(1, 4.0); [h.outcome.tau for h in order.release()]
[3.0]
>>> order.advance(1, 9.0); [h.outcome.tau for h in order.release()]
[5.0]
>>> order.held, order.holding_from
(0, None)
>>> order.offer(outcome(20.0, 0, 1), None, None, record=2)
[]
>>> order.advance(0, 30.0); order.declare(1, idle=True); [h.outcome.tau for h in order.release()]
[20.0]
>>> [h.outcome.tau for h in order.offer(outcome(15.0, 1, 1), None, None, record=3)]
[15.0]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.held_outcomes import HELD_IN_MEMORY, HeldOutcomes
from streams.outcome import Origin, Outcome

__all__ = ["Held", "OutcomeOrder"]

Key = tuple[float, Origin]
_NO_TIME = float("-inf")


@dataclass(slots=True)
class Held:
    """An outcome released for its turn, with what its envelope said (for the replay filter)."""

    outcome: Outcome
    frontier: dict[str, int] | None
    durable: dict[str, int] | None
    record: int


class OutcomeOrder:
    """The apply order of one task's outcomes (see the module docstring).

    Parameters
    ----------
    sources
        Input partitions (stage 1's sources); each must report a watermark or be idle.
    spill_dir
        Where held outcomes beyond ``memory_items`` go (:class:`HeldOutcomes`).
    """

    def __init__(
        self, sources: int, spill_dir: Path | None = None, memory_items: int = HELD_IN_MEMORY
    ) -> None:
        self.sources = sources
        self.spill_dir = spill_dir
        self.memory_items = memory_items
        self.watermarks: dict[int, float] = {}
        self.idle: set[int] = set()  # sources their owner declared idle
        self.applied: Key | None = None  # the last key applied in order
        self.read_through = -1  # the highest outcomes record offered whole
        self.unordered = 0  # outcomes applied out of order (the stage counts them: replays are not)
        self._transient()

    def _transient(self) -> None:
        self._held = HeldOutcomes(self.memory_items, self.spill_dir)
        self._records: dict[int, int] = {}  # outcomes record offset -> outcomes held from it

    def __getstate__(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "watermarks": self.watermarks,
            "idle": self.idle,
            "applied": self.applied,
            "read_through": self.read_through,
            "unordered": self.unordered,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.spill_dir = None  # the restoring worker's: spill_to()
        self.memory_items = HELD_IN_MEMORY  # the restoring worker's configuration: spill_to()
        self._transient()

    def spill_to(self, directory: Path | None, memory_items: int = HELD_IN_MEMORY) -> None:
        """Spill held outcomes under ``directory`` (this worker's state directory), keeping at
        most ``memory_items`` in memory (``monitor.held_in_memory``)."""
        self.spill_dir = self._held.directory = directory
        self.memory_items = self._held.memory_items = max(2, memory_items)

    # ------------------------------------------------------------------------------ input

    def advance(self, source: int, watermark: float) -> None:
        """A source reported the watermark of its last completed checkpoint."""
        if watermark > self.watermarks.get(source, _NO_TIME):
            self.watermarks[source] = watermark

    def declare(self, source: int, idle: bool) -> None:
        """A source's owner declared it idle (caught up, no records) or active again."""
        if idle:
            self.idle.add(source)
        else:
            self.idle.discard(source)

    def offer(
        self,
        outcome: Outcome,
        frontier: dict[str, int] | None,
        durable: dict[str, int] | None,
        record: int,
    ) -> list[Held]:
        """Hold ``outcome`` (read in ``outcomes`` record ``record``) for its turn.

        Returns what must be applied at once: an outcome of a new record that sorts before what
        was applied (an idle source's, or one stage 1 sends again: the replay filter drops
        those). An outcome of a record read before a restart that sorts before what was applied
        was applied then, and is dropped.
        """
        key = (outcome.tau, outcome.origin)
        if self.applied is not None and key <= self.applied:
            if record > self.read_through:
                return [Held(outcome, frontier, durable, record)]
            return []
        if self._held.push((outcome.tau, outcome.origin, outcome, frontier, durable, record)):
            self._records[record] = self._records.get(record, 0) + 1
        return []

    def read(self, record: int) -> None:
        """Every outcome of ``record`` was offered."""
        if record > self.read_through:
            self.read_through = record

    # ------------------------------------------------------------------------------ output

    def release(self, until: float | None = None) -> Iterator[Held]:
        """The held outcomes whose turn has come (``tau`` below ``until``, by default the
        sources' watermarks), in order."""
        bound = self.bound() if until is None else until
        held, records = self._held, self._records
        while (first := held.first_tau()) is not None and first < bound:
            tau, origin, outcome, frontier, durable, record = held.pop()
            self.applied = (tau, origin)
            left = records[record] - 1
            if left:
                records[record] = left
            else:
                del records[record]
            yield Held(outcome, frontier, durable, record)

    def bound(self) -> float:
        """The smallest watermark of the sources waited for (``inf``: none is)."""
        low = float("inf")
        for source in range(self.sources):
            if source not in self.idle:
                low = min(low, self.watermarks.get(source, _NO_TIME))
        return low

    @property
    def held(self) -> int:
        """Outcomes waiting for their turn."""
        return len(self._held)

    @property
    def holding_from(self) -> int | None:
        """The lowest ``outcomes`` record offset an outcome still waits from (records from here
        on must not be acknowledged), ``None`` when nothing waits."""
        return min(self._records, default=None)
