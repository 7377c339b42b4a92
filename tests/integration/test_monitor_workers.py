"""``driftline monitor --workers 2``: two processes share the partitions, and when one is
SIGKILLed the supervisor logs it and starts it again while the other takes over its partitions.
They end with the stream's exact per-task counts and with exactly the alerts, retrain requests
and task-metrics snapshots (ids and bodies) of one uninterrupted worker (the stream and that
``reference`` run: ``fixtures_chaos.py``).
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

from driftline.kafka_logs import kafka_logger
from tests.integration.fixtures_chaos import (
    Outputs,
    chaos_worker,
    differences,
    inputs_of,
    outputs_of,
    produce_half,
    wait_exact,
)


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


@pytest.mark.slow
def test_two_workers_share_partitions_and_survive_a_kill(
    kafka_bootstrap: str, tmp_path: Path, reference: Outputs
) -> None:
    worker = chaos_worker(kafka_bootstrap, tmp_path, workers=2)
    topics = set(inputs_of(worker).values())

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
        produce_half(kafka_bootstrap, worker, 0)
        while not all(_input_partitions(port, topics) for port in ports):
            assert time.monotonic() < deadline, "both workers should hold input partitions"
            time.sleep(1.0)
        # a worker may have exited 70 and been restarted by now: kill the one running
        killed = psutil.Process(parent.pid).children()[0]
        killed.kill()  # its partitions move to the other, then back to its restart
        produce_half(kafka_bootstrap, worker, 1)
        wait_exact(worker, timeout=300, restart=lambda: None)  # the supervisor restarts
        found = differences(outputs_of(worker), reference)
        assert not found, "\n".join(found)
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
