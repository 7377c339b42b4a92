"""Chaos on a real broker: a second worker joining mid-stream (its partitions' join state comes
from the changelog), one of two workers SIGKILLed (the other takes its partitions over, then it
comes back), a SIGTERM and restart, and the broker itself killed with ``kill -9`` mid-stream
(changelog transactions and outcome sends in flight); in each the second half of the stream is
produced after the interruption, a backlog the workers then catch up on. Each run must end with the stream's exact per-task
counts (every prediction counted once and ended once, labelled or expired; no duplicates, no
orphans) and with exactly the alerts, retrain requests and task-metrics snapshots (ids and
bodies) of one uninterrupted worker on the same stream.

The stream is :class:`bench.workload.Workload` (three tasks, shuffled and missing labels, an
abrupt drift on ``fraud``) plus its tail, which moves every partition's watermark past every
budget. ``make test`` runs a short stream; ``DRIFTLINE_NIGHTLY=1`` (``make test-nightly``) a
long one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML, Workload, produce
from driftline.broker import LocalBroker
from streams.errors import RESTART_EXIT_CODE
from tests.integration.conftest import cached_jars

NIGHTLY = os.environ.get("DRIFTLINE_NIGHTLY") == "1"
PREDICTIONS = 40_000 if NIGHTLY else 8_000
TASKS = ("churn", "fraud", "spend")
PARTITIONS = 4
MONITOR = "checkpoint_interval: 0.5, snapshot_interval: 600"
OUTPUTS = (("drift_alerts", "alert_id"), ("retrain_requests", "request_id"),
           ("task_metrics", "snapshot_id"))  # fmt: skip


def _workload() -> Workload:
    return Workload(predictions=PREDICTIONS, seed=21, drift_at=PREDICTIONS // 2)


def _outputs(worker: WorkerProcess) -> dict[str, dict[str, dict]]:
    return {topic: worker.by_id(topic, key) for topic, key in OUTPUTS}


def _differences(actual: dict, expected: dict) -> list[str]:  # type: ignore[type-arg]
    """What differs between two runs' outputs, id by id and field by field."""
    lines = []
    for topic, events in expected.items():
        got = actual.get(topic, {})
        lines += [f"{topic}: missing {key}" for key in sorted(events.keys() - got.keys())]
        lines += [f"{topic}: extra {key}" for key in sorted(got.keys() - events.keys())]
        for key in sorted(events.keys() & got.keys()):
            fields = {f for f in events[key].keys() | got[key].keys()
                      if events[key].get(f) != got[key].get(f)}  # fmt: skip
            lines += [f"{topic} {key} {f}: {got[key].get(f)!r} != {events[key].get(f)!r}"
                      for f in sorted(fields)]  # fmt: skip
    return lines


@pytest.fixture(scope="module")
def reference(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """What one uninterrupted worker makes of the stream."""
    worker = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("reference"), TASKS_YAML,
                           MONITOR, partitions=PARTITIONS)  # fmt: skip
    workload = _workload()
    events = list(workload.events())
    producer = _producer(kafka_bootstrap)
    # the same records as the chaos runs, which produce the stream in two halves: a record's
    # boundaries are part of the input (a task without a score signal counts its predictions
    # once per record)
    produce(producer, _inputs(worker), iter(events[: len(events) // 2]), PARTITIONS, 100)
    produce(producer, _inputs(worker), iter(events[len(events) // 2 :]), PARTITIONS, 100)
    produce(producer, _inputs(worker), workload.tail(), PARTITIONS, 1)
    worker.start()
    try:
        _wait_exact(worker, _expected(workload), timeout=600, restart=worker.supervise)
    finally:
        worker.stop()
    outputs = _outputs(worker)
    assert outputs["drift_alerts"] and outputs["task_metrics"], outputs
    return outputs


def _expected(workload: Workload) -> dict[str, int]:
    expected = dict.fromkeys(TASKS, workload.predictions)
    for topic, _, event in workload.tail():
        if topic == "predictions":
            for task in event["outputs"]:
                expected[task] += 1
    return expected


def _producer(bootstrap: str):  # type: ignore[no-untyped-def]
    from confluent_kafka import Producer

    from driftline.kafka_logs import kafka_logger

    # librdkafka's lines through logging: a producer outliving its broker must not print
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "logger": kafka_logger()})


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


def _interrupted(
    bootstrap: str,
    tmp_path: Path,
    reference: dict,  # type: ignore[type-arg]
    start: int,
    interrupt: Callable[[list[Popen], WorkerProcess], None],
) -> list[str]:
    """Run the stream with ``start`` workers (one process each), ``interrupt`` them once a
    quarter of the events is applied (the second half is produced after it), restart a worker
    that exits 70 as a supervisor would; what differs from the uninterrupted run."""
    worker = WorkerProcess(bootstrap, tmp_path, TASKS_YAML, MONITOR, partitions=PARTITIONS,
                           workers=2)  # fmt: skip
    workload = _workload()
    events = list(workload.events())
    producer = _producer(bootstrap)
    processes = [_monitor(worker, index) for index in range(start)]

    def alive() -> None:
        for index, process in enumerate(processes):
            if process.poll() == RESTART_EXIT_CODE:
                processes[index] = _monitor(worker, index)
            assert processes[index].poll() is None, f"a worker exited {process.returncode}"

    try:
        produce(producer, _inputs(worker), iter(events[: len(events) // 2]), PARTITIONS, 100)
        deadline = time.monotonic() + 180
        while worker.inputs_done(worker.scrape(), TASKS) < len(events) // 4:
            alive()
            assert time.monotonic() < deadline, "no progress before the interruption"
            time.sleep(0.5)
        interrupt(processes, worker)
        produce(producer, _inputs(worker), iter(events[len(events) // 2 :]), PARTITIONS, 100)
        produce(producer, _inputs(worker), workload.tail(), PARTITIONS, 1)
        _wait_exact(worker, _expected(workload), timeout=600 if NIGHTLY else 300, restart=alive)
        return _differences(_outputs(worker), reference)
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
    reference: dict,
    start: int,
    interrupt: Callable,  # type: ignore[type-arg]
) -> None:
    differences = _interrupted(kafka_bootstrap, tmp_path, reference, start, interrupt)
    assert not differences, "\n".join(differences)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_broker_killed_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, reference: dict
) -> None:  # type: ignore[type-arg]
    broker = LocalBroker(
        tmp_path / "kafka", port=_free_port(), controller_port=_free_port(), jars=cached_jars(),
        start_timeout=90.0,
    )  # fmt: skip
    bootstrap = broker.start().bootstrap_servers
    assert bootstrap is not None
    try:
        worker = WorkerProcess(bootstrap, tmp_path / "run", TASKS_YAML, MONITOR,
                               partitions=PARTITIONS)  # fmt: skip
        workload = _workload()
        events = list(workload.events())
        first = iter(events[: len(events) // 2])
        produce(_producer(bootstrap), _inputs(worker), first, PARTITIONS, 100)
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
        rest = iter(events[len(events) // 2 :])
        produce(_producer(bootstrap), _inputs(worker), rest, PARTITIONS, 100)
        produce(_producer(bootstrap), _inputs(worker), workload.tail(), PARTITIONS, 1)
        _wait_exact(worker, _expected(workload), timeout=600, restart=worker.supervise)
        worker.stop()
        differences = _differences(_outputs(worker), reference)
        assert not differences, "\n".join(differences)
    finally:
        broker.stop()
