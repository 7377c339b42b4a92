"""``driftline monitor --workers N``'s supervisor: every worker death is logged (a SIGKILL too),
the worker is restarted with a backoff that doubles while it keeps failing quickly, and given up
after N quick failures in a row, with a line that says so."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from streams.errors import STATE_LIMIT_EXIT_CODE
from streams.supervisor import WorkerSupervisor


class Clock:
    """Fake time: ``sleep`` moves it on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeWorker:
    """A process that ends with ``code`` at ``ends_at`` (never when ``None``) or when signalled."""

    pids: Iterator[int] = iter(range(100, 10_000))

    def __init__(self, clock: Clock, ends_at: float | None, code: int) -> None:
        self.clock, self.ends_at, self.code = clock, ends_at, code
        self.pid = next(FakeWorker.pids)
        self.signals: list[int] = []

    def poll(self) -> int | None:
        if self.signals:
            return 0
        if self.ends_at is not None and self.clock() >= self.ends_at:
            return self.code
        return None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


def _supervise(
    plans: dict[int, list[tuple[float | None, int]]],
    stop_when: Callable[[dict[int, list[float]]], bool] = lambda starts: False,
    **options: float,
) -> tuple[WorkerSupervisor, dict[int, list[float]], Clock]:
    """A supervisor on fake time whose worker ``i``'s n-th start lives ``plans[i][n]`` =
    (seconds, exit code); it is sent SIGTERM once ``stop_when(starts)`` holds."""
    clock = Clock()
    starts: dict[int, list[float]] = {i: [] for i in plans}

    def start(index: int) -> FakeWorker:
        starts[index].append(clock())
        lives, code = plans[index][min(len(starts[index]) - 1, len(plans[index]) - 1)]
        return FakeWorker(clock, None if lives is None else clock() + lives, code)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if supervisor.stopping is None and stop_when(starts):
            supervisor.stop(signal.SIGTERM)

    supervisor = WorkerSupervisor(start, len(plans), clock=clock, sleep=sleep, **options)
    return supervisor, starts, clock


def test_a_sigkilled_worker_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "driftline.monitor")
    plans = {0: [(10.0, -signal.SIGKILL), (None, 0)], 1: [(None, 0)]}
    supervisor, starts, _ = _supervise(plans, lambda starts: len(starts[0]) == 2)
    assert supervisor.run(interval=0.5) == 0
    assert len(starts[0]) == 2 and len(starts[1]) == 1
    assert starts[0][1] - starts[0][0] == 11.0  # lived 10 s, then 1 s of backoff
    text = caplog.text
    assert "monitor worker 0 (pid" in text and "was killed by SIGKILL after 10.0 s" in text
    assert "starting it again in 1.0 s" in text and "monitor worker 0 started again" in text


def test_quick_failures_back_off_exponentially_then_the_worker_is_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plans = {0: [(2.0, 70)], 1: [(None, 0)]}
    supervisor, starts, _ = _supervise(
        plans, lambda starts: supervisor.slots[0].final is not None, max_quick_failures=5
    )
    assert supervisor.run(interval=0.5) == 70
    gaps = [b - a - 2.0 for a, b in zip(starts[0], starts[0][1:], strict=False)]
    assert gaps == [1, 2, 4, 8]  # four restarts, backoff doubling; the fifth failure gives up
    assert len(starts[1]) == 1  # the other worker went on
    assert "giving it up: it failed 5 times in a row within 60 s of starting" in caplog.text
    assert "exited with code 70 (it asked for a restart)" in caplog.text


def test_a_worker_that_ran_long_starts_its_backoff_again() -> None:
    plans = {0: [(2.0, 1), (2.0, 1), (100.0, 1), (2.0, 1), (None, 0)]}
    supervisor, starts, _ = _supervise(plans, lambda starts: len(starts[0]) >= 5)
    supervisor.run(interval=0.5)
    lives = [2.0, 2.0, 100.0, 2.0]
    gaps = [b - a - life for a, b, life in zip(starts[0], starts[0][1:], lives, strict=False)]
    assert gaps == [1, 2, 1, 2]


def test_a_worker_whose_stored_state_was_refused_is_not_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor, starts, _ = _supervise({0: [(5.0, STATE_LIMIT_EXIT_CODE)]})
    assert supervisor.run(interval=0.1) == STATE_LIMIT_EXIT_CODE
    assert len(starts[0]) == 1
    assert "its stored state was refused" in caplog.text and "not starting it again" in caplog.text


def test_real_processes_a_kill_is_seen_and_the_worker_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With real child processes: SIGKILL one, it is logged and started again; SIGTERM ends
    them all and the supervisor returns 0."""
    caplog.set_level(logging.INFO, "driftline.monitor")
    children: list[subprocess.Popen[bytes]] = []

    def start(index: int) -> subprocess.Popen[bytes]:
        code = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(60)"  # fmt: skip
        children.append(subprocess.Popen([sys.executable, "-c", code]))
        return children[-1]

    supervisor = WorkerSupervisor(start, 2, backoff=0.1)

    def scenario() -> None:
        _wait_for(lambda: len(children) == 2)
        time.sleep(0.3)
        children[0].kill()
        _wait_for(lambda: len(children) == 3)
        time.sleep(0.3)
        supervisor.stop(signal.SIGTERM)

    thread = threading.Thread(target=scenario)
    thread.start()
    try:
        assert supervisor.run(interval=0.02) == 0
    finally:
        thread.join()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert len(children) == 3
    assert f"monitor worker 0 (pid {children[0].pid}) was killed by SIGKILL" in caplog.text
    assert "monitor worker 0 started again" in caplog.text


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
