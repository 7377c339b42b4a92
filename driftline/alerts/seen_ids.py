"""A bounded memory of ids already handled (oldest forgotten first)."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SeenIds"]


class SeenIds:
    """The last ``capacity`` ids added; :meth:`add` tells whether an id is new.

    Parameters
    ----------
    capacity
        How many ids to remember.

    Examples
    --------
    >>> seen = SeenIds(2)
    >>> seen.add("a"), seen.add("a"), seen.add("b"), seen.add("c"), "a" in seen
    (True, False, True, True, False)
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> bool:
        """Remember ``item``; ``False`` when it was remembered already."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return False
        self._ids[item] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)
