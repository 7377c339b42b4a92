"""Which request offsets may be committed: only those below every record still in flight."""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["OffsetTracker"]

Partition = tuple[str, int]


class OffsetTracker:
    """Per partition: offsets read but not yet answered, and the highest one answered.

    A partition's committable offset is one past the highest answered offset below its lowest
    unanswered one, so a record is never committed before it — or any earlier record — is
    fully handled.

    Examples
    --------
    >>> tracker = OffsetTracker()
    >>> for offset in (5, 6, 7):
    ...     tracker.track(("requests", 0), offset)
    >>> tracker.done(("requests", 0), 6)
    >>> tracker.committable()                      # 5 is still in flight
    {}
    >>> tracker.done(("requests", 0), 5)
    >>> tracker.committable()
    {('requests', 0): 7}
    >>> tracker.committed({("requests", 0): 7}); tracker.committable()
    {}
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._in_flight: dict[Partition, set[int]] = {}
        self._answered: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}
        self._first: dict[Partition, int] = {}

    def track(self, partition: Partition, offset: int) -> None:
        """A record was read and is now in flight."""
        self._in_flight.setdefault(partition, set()).add(offset)
        self._first.setdefault(partition, offset)

    def done(self, partition: Partition, offset: int) -> None:
        """A record is fully handled (its outputs delivered)."""
        flight = self._in_flight.get(partition)
        if flight is not None:
            flight.discard(offset)
        self._answered[partition] = max(self._answered.get(partition, -1), offset)

    def committable(self) -> dict[Partition, int]:
        """``{partition: next offset}`` that may be committed now and is not yet."""
        result = {}
        for partition, answered in self._answered.items():
            flight = self._in_flight.get(partition)
            limit = min(flight) if flight else answered + 1
            offset = min(limit, answered + 1)
            floor = max(self._committed.get(partition, -1), self._first.get(partition, -1))
            if offset > floor:
                result[partition] = offset
        return result

    def committed(self, offsets: dict[Partition, int]) -> None:
        """Record a successful commit; an offset going backwards is a bug."""
        for partition, offset in offsets.items():
            previous = self._committed.get(partition, -1)
            if offset < previous:
                raise RuntimeError(f"commit of {partition} went backwards: {offset} < {previous}")
            self._committed[partition] = offset

    def forget(self, partitions: Collection[Partition]) -> None:
        """Drop revoked partitions (their records will be redone by their new owner)."""
        for partition in partitions:
            self._in_flight.pop(partition, None)
            self._answered.pop(partition, None)
            self._committed.pop(partition, None)
            self._first.pop(partition, None)

    def in_flight(self) -> int:
        """Records read and not yet answered."""
        return sum(len(v) for v in self._in_flight.values())
