"""``driftline monitor --workers N``: keep N worker processes running.

Every worker that ends is logged with why (its exit code, or the signal that killed it: a
``kill -9`` or the kernel's OOM killer leave no line of their own). One that ended while the
supervisor was not stopping is started again after a backoff that doubles with each *quick*
failure (one within ``quick_seconds`` of its start) and resets after a worker ran longer. After
``max_quick_failures`` quick failures in a row the supervisor gives that worker up, with a line
that says so; the others go on (Kafka hands them its partitions). A worker whose exit says a
restart cannot help (:data:`~streams.errors.STATE_LIMIT_EXIT_CODE`, a usage or config error) is
not started again either.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from streams.errors import RESTART_EXIT_CODE, STATE_LIMIT_EXIT_CODE

__all__ = ["FINAL_EXIT_CODES", "WorkerSupervisor", "describe_exit"]

log = logging.getLogger("driftline.monitor")

FINAL_EXIT_CODES = {
    2: "a usage or config error",
    STATE_LIMIT_EXIT_CODE: "its stored state was refused (see its log)",
}
"""Exit codes after which a restart would fail the same way: the worker is not started again."""


class WorkerHandle(Protocol):
    """What the supervisor needs of a worker process (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...


def describe_exit(code: int) -> str:
    """Why a process ended, in words.

    >>> describe_exit(-9), describe_exit(70), describe_exit(0)
    ('was killed by SIGKILL', 'exited with code 70 (it asked for a restart)', 'exited with code 0')
    """
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    if code == RESTART_EXIT_CODE:
        return f"exited with code {code} (it asked for a restart)"
    if code in FINAL_EXIT_CODES:
        return f"exited with code {code} ({FINAL_EXIT_CODES[code]})"
    return f"exited with code {code}"


@dataclass
class _Slot:
    """One worker index: its process, when it started, and its run of quick failures."""

    process: WorkerHandle | None
    started: float
    quick_failures: int = 0
    restart_at: float | None = None
    final: int | None = None


class WorkerSupervisor:
    """Starts ``count`` workers with ``start(index)`` and keeps them running until stopped.

    Parameters
    ----------
    start
        Starts worker ``index`` and returns its process.
    count
        Number of workers.
    quick_seconds
        A worker that ends sooner than this after its start failed *quickly*.
    max_quick_failures
        Quick failures in a row after which a worker is given up.
    backoff, max_backoff
        Seconds before a restart: ``backoff`` doubled per quick failure in a row, at most
        ``max_backoff``.
    clock, sleep
        Time sources (tests pass fakes).

    Examples
    --------
    >>> class Done:
    ...     pid = 1
    ...     def poll(self): return 2
    ...     def send_signal(self, sig): pass
    >>> WorkerSupervisor(lambda index: Done(), count=2).run()
    2
    """

    def __init__(
        self,
        start: Callable[[int], WorkerHandle],
        count: int,
        quick_seconds: float = 60.0,
        max_quick_failures: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.start = start
        self.count = count
        self.quick_seconds = quick_seconds
        self.max_quick_failures = max_quick_failures
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self.sleep = sleep
        self._reset()

    def _reset(self) -> None:
        self.slots: list[_Slot] = []
        self.stopping: int | None = None
        self.restarts = 0

    def stop(self, signum: int) -> None:
        """Forward a stop signal to every running worker; start none again."""
        self.stopping = signum
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signum)

    def run(self, interval: float = 0.2) -> int:
        """Supervise until every worker has ended for good; the worst exit code (0: all
        stopped cleanly)."""
        now = self.clock()
        self.slots = [_Slot(self.start(index), now) for index in range(self.count)]
        while any(slot.final is None for slot in self.slots):
            for index, slot in enumerate(self.slots):
                self._check(index, slot)
            self.sleep(interval)
        codes = [slot.final for slot in self.slots if slot.final is not None]
        return max(codes, key=abs)

    def _check(self, index: int, slot: _Slot) -> None:
        now = self.clock()
        if slot.final is not None:
            return
        if slot.process is None:  # waiting out a backoff
            if self.stopping is not None:
                slot.final = 0
            elif slot.restart_at is not None and now >= slot.restart_at:
                slot.process, slot.started, slot.restart_at = self.start(index), now, None
                self.restarts += 1
                log.warning("monitor worker %d started again (pid %d)", index, slot.process.pid)
            return
        code = slot.process.poll()
        if code is None:
            return
        pid, lived = slot.process.pid, now - slot.started
        slot.process = None
        what = f"monitor worker {index} (pid {pid}) {describe_exit(code)} after {lived:.1f} s"
        if self.stopping is not None:
            log.info("%s", what)
            slot.final = 0 if code in (0, -self.stopping) else code
            return
        if code in FINAL_EXIT_CODES:
            log.error("%s; not starting it again", what)
            slot.final = code
            return
        slot.quick_failures = slot.quick_failures + 1 if lived < self.quick_seconds else 1
        if slot.quick_failures >= self.max_quick_failures:
            log.error(
                "%s; giving it up: it failed %d times in a row within %.0f s of starting "
                "(its partitions go to the other workers)",
                what,
                slot.quick_failures,
                self.quick_seconds,
            )
            slot.final = code or 1
            return
        delay = min(self.max_backoff, self.backoff * 2 ** (slot.quick_failures - 1))
        slot.restart_at = now + delay
        log.warning("%s; starting it again in %.1f s", what, delay)
