"""Chaos on a real broker: a second worker joining mid-stream (its partitions' join state comes
from the changelog), one of two workers SIGKILLed (the other takes its partitions over, then it
comes back), a SIGTERM and restart, and the broker itself killed with ``kill -9`` mid-stream
(changelog transactions and outcome sends in flight); in each the second half of the stream is
produced after the interruption, a backlog the workers then catch up on. Each run must end with
the stream's exact per-task counts (every prediction counted once and ended once, labelled or
expired; no duplicates, no orphans) and with exactly the alerts, retrain requests and
task-metrics snapshots (ids and bodies) of one uninterrupted worker on the same stream (the
stream and that ``reference`` run: ``fixtures_chaos.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import pytest

from bench.worker_process import WorkerProcess
from driftline.broker import LocalBroker, pick_free_port
from streams.errors import RESTART_EXIT_CODE
from tests.integration.conftest import cached_jars
from tests.integration.fixtures_chaos import (
    NIGHTLY,
    TASKS,
    Outputs,
    chaos_worker,
    differences,
    outputs_of,
    produce_half,
    stream_events,
    wait_exact,
)


def _monitor(worker: WorkerProcess, index: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRIFTLINE_BOOTSTRAP_SERVERS": worker.bootstrap}
    log = open(worker.directory / f"worker-{index}.log", "ab")  # noqa: SIM115
    command = [
        str(Path(sys.executable).parent / "driftline"),
        "monitor",
        "--config",
        str(worker.path),
    ]
    return subprocess.Popen(
        [*command, "--loglevel", "warning", "--workers", "1", "--worker-index", str(index)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def _interrupted(
    bootstrap: str,
    tmp_path: Path,
    reference: Outputs,
    start: int,
    interrupt: Callable[[list[Popen], WorkerProcess], None],
) -> list[str]:
    """Run the stream with ``start`` workers (one process each), ``interrupt`` them once a
    quarter of the events is applied (the second half is produced after it), restart a worker
    that exits 70 as a supervisor would; what differs from the uninterrupted run."""
    worker = chaos_worker(bootstrap, tmp_path, workers=2)
    events = stream_events()
    processes = [_monitor(worker, index) for index in range(start)]

    def alive() -> None:
        for index, process in enumerate(processes):
            if process.poll() == RESTART_EXIT_CODE:
                processes[index] = _monitor(worker, index)
            if processes[index].poll() is not None:
                log = worker.log_tail(f"worker-{index}.log")
                pytest.fail(f"worker {index} exited {processes[index].returncode}:\n{log}")

    try:
        produce_half(bootstrap, worker, 0)
        deadline = time.monotonic() + 180
        while worker.inputs_done(worker.scrape(), TASKS) < events // 4:
            alive()
            assert time.monotonic() < deadline, "no progress before the interruption"
            time.sleep(0.5)
        interrupt(processes, worker)
        produce_half(bootstrap, worker, 1)
        wait_exact(worker, timeout=600 if NIGHTLY else 300, restart=alive)
        return differences(outputs_of(worker), reference)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _join(processes: list[Popen], worker: WorkerProcess) -> None:
    """A second worker joins: a rebalance, worker 0 gives up partitions."""
    processes.append(_monitor(worker, 1))


def _kill_beside(processes: list[Popen], worker: WorkerProcess) -> None:
    """One of two workers is SIGKILLed: the other takes its partitions over after the session
    timeout, and gives some back when it returns."""
    processes[1].kill()
    processes[1].wait()
    time.sleep(15)
    processes[1] = _monitor(worker, 1)


def _terminate(processes: list[Popen], worker: WorkerProcess) -> None:
    """SIGTERM (a clean stop: Faust finishes what it was doing) and a restart."""
    processes[0].send_signal(signal.SIGTERM)
    processes[0].wait(timeout=60)
    processes[0] = _monitor(worker, 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("start", "interrupt"),
    [(1, _join), (2, _kill_beside), (1, _terminate)],
    ids=["a-worker-joins", "one-of-two-killed-and-taken-over", "sigterm-and-restart"],
)
def test_an_interrupted_run_equals_the_uninterrupted_one(
    kafka_bootstrap: str,
    tmp_path: Path,
    reference: Outputs,
    start: int,
    interrupt: Callable,  # type: ignore[type-arg]
) -> None:
    found = _interrupted(kafka_bootstrap, tmp_path, reference, start, interrupt)
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_a_broker_killed_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, reference: Outputs
) -> None:
    broker = LocalBroker(
        tmp_path / "kafka", port=pick_free_port(), controller_port=pick_free_port(), jars=cached_jars(),
        start_timeout=90.0,
    )  # fmt: skip
    bootstrap = broker.start().bootstrap_servers
    assert bootstrap is not None
    try:
        worker = chaos_worker(bootstrap, tmp_path / "run")
        produce_half(bootstrap, worker, 0)
        worker.start()
        quarter, deadline = stream_events() // 4, time.monotonic() + 180
        while worker.inputs_done(worker.scrape(), TASKS) < quarter:
            worker.supervise()
            assert time.monotonic() < deadline, "no progress before the broker kill"
            time.sleep(0.2)
        pid = broker.status(with_topics=False).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # mid-stream: checkpoints and changelog commits in flight
        time.sleep(5)
        broker.pid_file.remove()
        assert broker.start().bootstrap_servers == bootstrap
        produce_half(bootstrap, worker, 1)
        wait_exact(worker, timeout=600, restart=worker.supervise)
        worker.stop()
        found = differences(outputs_of(worker), reference)
        assert not found, "\n".join(found)
    finally:
        broker.stop()
