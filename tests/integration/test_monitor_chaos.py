"""Chaos on a real broker: a second worker joining mid-stream (its partitions' join state comes
from the changelog), and the broker itself killed with ``kill -9`` mid-stream (changelog
transactions and outcome sends in flight). Each run must end with the stream's exact per-task
counts: every prediction counted once and ended once (labelled or expired), no duplicates, no
orphans.

The stream is :class:`bench.workload.Workload` (three tasks, shuffled and missing labels) plus
its tail, which moves every partition's watermark past every budget. ``make test`` runs a short
stream; ``DRIFTLINE_NIGHTLY=1`` (``make test-nightly``) a long one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML, Workload, produce
from driftline.broker import LocalBroker
from streams.errors import RESTART_EXIT_CODE
from tests.integration.conftest import cached_jars

NIGHTLY = os.environ.get("DRIFTLINE_NIGHTLY") == "1"
PREDICTIONS = 40_000 if NIGHTLY else 6_000
TASKS = ("churn", "fraud", "spend")


def _expected(workload: Workload) -> dict[str, int]:
    expected = dict.fromkeys(TASKS, workload.predictions)
    for topic, _, event in workload.tail():
        if topic == "predictions":
            for task in event["outputs"]:
                expected[task] += 1
    return expected


def _producer(bootstrap: str):  # type: ignore[no-untyped-def]
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})


def _inputs(worker: WorkerProcess) -> dict[str, str]:
    return {"predictions": worker.config.topics.predictions, "labels": worker.config.topics.labels}


def _wait_exact(worker: WorkerProcess, expected: dict[str, int], timeout: float, restart) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    counts: dict[str, float] = {}
    while time.monotonic() < deadline:
        restart()
        counts = worker.scrape()
        if all(
            counts.get(f"{t}.predictions") == expected[t]
            and counts.get(f"{t}.labels", 0) + counts.get(f"{t}.expired", 0) == expected[t]
            for t in TASKS
        ):
            time.sleep(3)
            assert worker.scrape() == counts, "counts changed after the stream was done"
            for task in TASKS:
                assert counts.get(f"{task}.duplicates", 0) == 0, counts
                assert counts.get(f"{task}.orphans", 0) == 0, counts
            return
        time.sleep(1.0)
    pytest.fail(
        f"not exact after {timeout} s: {counts}; expected {expected}; see {worker.directory}"
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


@pytest.mark.slow
def test_a_worker_joining_mid_stream_takes_partitions_over_exactly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka_bootstrap, tmp_path, TASKS_YAML, partitions=4, workers=2)
    workload = Workload(predictions=PREDICTIONS, seed=21)
    events = list(workload.events())
    producer = _producer(kafka_bootstrap)
    first = _monitor(worker, 0)
    processes = [first]
    try:
        produce(producer, _inputs(worker), iter(events[: len(events) // 2]), 4, 100)
        deadline = time.monotonic() + 180
        while worker.inputs_done(worker.scrape(), TASKS) < len(events) // 4:
            assert first.poll() is None and time.monotonic() < deadline, "worker 0 made no progress"
            time.sleep(0.5)
        processes.append(_monitor(worker, 1))  # a rebalance: worker 0 gives up partitions
        produce(producer, _inputs(worker), iter(events[len(events) // 2 :]), 4, 100)
        produce(producer, _inputs(worker), workload.tail(), 4, 1)

        def alive() -> None:
            """Restart a worker that exited 70 to replay, as a supervisor would."""
            for index, process in enumerate(processes):
                if process.poll() == RESTART_EXIT_CODE:
                    processes[index] = _monitor(worker, index)
                assert processes[index].poll() is None, f"a worker exited {process.returncode}"

        _wait_exact(worker, _expected(workload), timeout=600 if NIGHTLY else 300, restart=alive)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_broker_killed_mid_stream_loses_and_repeats_nothing(tmp_path: Path) -> None:
    broker = LocalBroker(
        tmp_path / "kafka", port=_free_port(), controller_port=_free_port(), jars=cached_jars(),
        start_timeout=90.0,
    )  # fmt: skip
    bootstrap = broker.start().bootstrap_servers
    assert bootstrap is not None
    try:
        worker = WorkerProcess(bootstrap, tmp_path / "run", TASKS_YAML, "store: rocksdb")
        workload = Workload(predictions=PREDICTIONS, seed=22)
        events = list(workload.events())
        produce(_producer(bootstrap), _inputs(worker), iter(events[: len(events) // 2]), 2, 100)
        worker.start()
        deadline = time.monotonic() + 180
        while worker.inputs_done(worker.scrape(), TASKS) < len(events) // 4:
            worker.supervise()
            assert time.monotonic() < deadline, "no progress before the broker kill"
            time.sleep(0.2)
        pid = broker.status(with_topics=False).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # mid-stream: checkpoints and changelog commits in flight
        time.sleep(5)
        broker.pid_file.remove()
        assert broker.start().bootstrap_servers == bootstrap
        produce(_producer(bootstrap), _inputs(worker), iter(events[len(events) // 2 :]), 2, 100)
        produce(_producer(bootstrap), _inputs(worker), workload.tail(), 2, 1)
        _wait_exact(worker, _expected(workload), timeout=600, restart=worker.supervise)
        worker.stop()
    finally:
        broker.stop()
