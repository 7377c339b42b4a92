"""How often ``driftline monitor --workers N`` restarts a worker before it gives up on it."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["RestartBudget"]


class RestartBudget:
    """Allow ``limit`` restarts per worker within any ``window`` seconds.

    A worker that exits asking for a restart (exit 70) more often than that meets the same error
    again at each start (a store that cannot be written, a setting that cannot work): restarting
    it forever only fills the log, so the supervisor stops it and exits with its code.

    Parameters
    ----------
    limit
        Restarts allowed within ``window``.
    window
        Seconds.
    clock
        Returns the time in seconds (default: ``time.monotonic``).

    Examples
    --------
    >>> now = [0.0]
    >>> budget = RestartBudget(limit=2, window=60.0, clock=lambda: now[0])
    >>> [budget.allow(0) for _ in range(3)]
    [True, True, False]
    >>> budget.allow(1)
    True
    >>> now[0] = 61.0
    >>> budget.allow(0)
    True
    """

    def __init__(
        self, limit: int = 5, window: float = 120.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 0 or window <= 0:
            raise ValueError("limit must be >= 0 and window > 0")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self._restarts: dict[int, deque[float]] = {}

    def allow(self, worker: int) -> bool:
        """Whether ``worker`` may be restarted now (counts the restart when it may)."""
        now = self.clock()
        times = self._restarts.setdefault(worker, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True
