"""Give the C heap that was freed back to the operating system, now and then.

glibc's allocator keeps memory that was freed at the top of its heaps, for the next allocation,
and returns it only when ``malloc_trim`` asks. A worker working through a label horizon frees
a lot of it: RocksDB's block reads and cache evictions, decoded envelopes, outcome batches. In
``bench horizon`` at 3.9 million pending predictions the worker's RSS was 926 MB, and one
``malloc_trim(0)`` (called from a debugger) brought it to 756 MB at once. :class:`HeapTrim`
calls it every ``every`` seconds, in a thread (ctypes releases the GIL, so the event loop goes
on). Where the C library is not glibc there is nothing to call, and it does nothing.

Examples
--------
>>> now = [0.0]
>>> trim = HeapTrim(every=30.0, clock=lambda: now[0])
>>> trim.due()
False
>>> now[0] = 31.0
>>> trim.due(), HeapTrim(every=0.0).due()
(True, False)
>>> trim.run(); trim.due(), trim.runs == (1 if trim.available else 0)
(False, True)
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

__all__ = ["HeapTrim"]


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols the process already has, or ``None`` where the
    C library has none."""
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return function


class HeapTrim:
    """Calls ``malloc_trim(0)`` at most every ``every`` seconds (``0``: never).

    Parameters
    ----------
    every
        Seconds between trims (``monitor.heap_trim_interval``).
    clock
        Monotonic time (tests pass their own).
    """

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._trim = _malloc_trim()
        self._last = clock()
        self.runs = 0

    @property
    def available(self) -> bool:
        """Whether this C library can give memory back (glibc)."""
        return self._trim is not None

    def due(self) -> bool:
        """Whether a trim is due now."""
        return self.every > 0 and self.clock() - self._last >= self.every

    def run(self) -> None:
        """Trim now (blocking; the worker runs it in a thread)."""
        self._last = self.clock()
        if self._trim is not None:
            self._trim(0)
            self.runs += 1
