"""``driftline monitor --workers 2``: two processes share the partitions and together count
exactly what the stream holds, and when one is SIGKILLed the supervisor logs it and starts it
again, the other takes over its partitions meanwhile, and they still end with the exact counts.

The stream (:class:`bench.workload.Workload`) makes the final per-task counts a function of the
stream alone: every prediction of every task ends labelled or expired.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML, Workload, produce
from driftline.kafka_logs import kafka_logger

TASKS = ("churn", "fraud", "spend")
PREDICTIONS = 6000


def _input_partitions(port: int, topics: set[str]) -> set[tuple[str, str]]:
    """The input partitions a worker is assigned and has a committed offset for (from the lag
    it reports on ``/metrics``; join state would not do: a worker whose records were all
    processed before a rebalance holds none)."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return set()
    found = re.findall(r'driftline_consumer_lag\{partition="(\d+)",topic="([^"]+)"', body.decode())
    return {(topic, partition) for partition, topic in found if topic in topics}


def _expected_predictions() -> dict[str, int]:
    """Per task: the workload's predictions plus its tail's (which carry only some heads)."""
    workload = Workload(predictions=PREDICTIONS, seed=5)
    expected = dict.fromkeys(TASKS, PREDICTIONS)
    for topic, _, event in workload.tail():
        if topic == "predictions":
            for task in event["outputs"]:
                expected[task] += 1
    return expected


EXPECTED = _expected_predictions()


def _members(bootstrap: str, group: str) -> int:
    """Members of the workers' consumer group once it is stable (partitions assigned)."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"logger": kafka_logger(), "bootstrap.servers": bootstrap})
    try:
        (description,) = [f.result(10) for f in admin.describe_consumer_groups([group]).values()]
    except Exception:  # the group does not exist yet
        return 0
    return len(description.members) if description.state == ConsumerGroupState.STABLE else 0


def _done(counts: dict[str, float]) -> bool:
    return all(
        counts.get(f"{t}.predictions") == EXPECTED[t]
        and counts.get(f"{t}.labels", 0) + counts.get(f"{t}.expired", 0) == EXPECTED[t]
        for t in TASKS
    )


def _wait(worker: WorkerProcess, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    counts: dict[str, float] = {}
    while time.monotonic() < deadline:
        counts = worker.scrape()  # summed over both workers
        if _done(counts):
            return counts
        time.sleep(1.0)
    pytest.fail(f"not done after {timeout} s: {counts}; see {worker.directory}/worker.log")


@pytest.mark.slow
def test_two_workers_share_partitions_and_survive_a_kill(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        kafka_bootstrap, tmp_path, TASKS_YAML, "store: rocksdb", partitions=4, workers=2
    )
    from confluent_kafka import Producer

    producer = Producer(
        {"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap, "linger.ms": 20}
    )
    topics = {
        "predictions": worker.config.topics.predictions,
        "labels": worker.config.topics.labels,
    }
    workload = Workload(predictions=PREDICTIONS, seed=5)
    events = list(workload.events())
    half = len(events) // 2

    env = {**os.environ, "DRIFTLINE_BOOTSTRAP_SERVERS": kafka_bootstrap}
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115
    command = [str(Path(sys.executable).parent / "driftline"), "monitor", "--config"]
    parent = subprocess.Popen(
        [*command, str(worker.path), "--workers", "2", "--loglevel", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    ports = [worker.port, worker.port + 1]
    try:
        deadline = time.monotonic() + 180
        children = psutil.Process(parent.pid).children()
        while len(children) < 2:
            assert time.monotonic() < deadline and parent.poll() is None, children
            time.sleep(0.5)
            children = psutil.Process(parent.pid).children()
        while _members(kafka_bootstrap, worker.config.monitor.app_id) < 2:
            assert time.monotonic() < deadline, "both workers should join the group"
            time.sleep(1.0)
        produce(producer, topics, iter(events[:half]), 4, 100)
        while not all(_input_partitions(port, set(topics.values())) for port in ports):
            assert time.monotonic() < deadline, "both workers should hold input partitions"
            time.sleep(1.0)
        # a worker may have exited 70 and been restarted by now: kill the one running
        killed = psutil.Process(parent.pid).children()[0]
        killed.kill()  # its partitions move to the other, then back to its restart
        produce(producer, topics, iter(events[half:]), 4, 100)
        produce(producer, topics, workload.tail(), 4, 1)
        counts = _wait(worker, timeout=240)
        for task in TASKS:
            assert counts[f"{task}.predictions"] == EXPECTED[task]
            assert counts[f"{task}.labels"] + counts[f"{task}.expired"] == EXPECTED[task]
            assert counts[f"{task}.duplicates"] == 0 and counts[f"{task}.orphans"] == 0
        supervisor_log = (tmp_path / "worker.log").read_text(errors="replace")
        assert f"(pid {killed.pid}) was killed by SIGKILL" in supervisor_log
        assert "started again" in supervisor_log
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            parent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            parent.kill()
            parent.wait()
    assert parent.returncode is not None
