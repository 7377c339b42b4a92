"""broker.pid: only this state dir's kafka.Kafka process counts, never a stranger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.broker.pidfile import BrokerPidFile, is_alive, is_broker_cmdline

LOOP = "trap 'exit 0' TERM; while :; do sleep 0.05; done"


@pytest.fixture
def properties(tmp_path: Path) -> Path:
    return tmp_path / "server.properties"


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", LOOP, *args])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_cmdline_must_name_this_state_dirs_properties(properties: Path) -> None:
    java = ["java", "-Xmx512m", "-cp", "/libs/*", "kafka.Kafka"]
    assert is_broker_cmdline([*java, str(properties)], properties)
    assert not is_broker_cmdline([*java, "/elsewhere/server.properties"], properties)
    assert not is_broker_cmdline(["java", "kafka.tools.StorageTool", str(properties)], properties)
    # the properties path before the main class (a JVM flag) does not count
    assert not is_broker_cmdline(["java", str(properties), "kafka.Kafka"], properties)


def test_read_write_remove(tmp_path: Path, properties: Path) -> None:
    pid_file = BrokerPidFile(tmp_path / "sub" / "broker.pid", properties)
    assert pid_file.read() is None
    pid_file.write(1234)
    assert pid_file.read() == 1234
    pid_file.path.write_text("garbage\n")
    assert pid_file.read() is None
    pid_file.remove()
    pid_file.remove()  # twice is fine
    assert not pid_file.path.exists()


def test_live_pid_accepts_the_broker_process(
    tmp_path: Path, properties: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    broker = spawn("kafka.Kafka", str(properties))
    processes.append(broker)
    pid_file = BrokerPidFile(tmp_path / "broker.pid", properties)
    pid_file.write(broker.pid)
    assert pid_file.live_pid() == broker.pid


def test_live_pid_refuses_a_reused_pid(
    tmp_path: Path, properties: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    other_broker = spawn("kafka.Kafka", str(tmp_path / "other" / "server.properties"))
    stranger = spawn("unrelated")
    processes += [other_broker, stranger]
    pid_file = BrokerPidFile(tmp_path / "broker.pid", properties)
    for process in (other_broker, stranger):
        pid_file.write(process.pid)
        assert pid_file.live_pid() is None
    pid_file.write(os.getpid())
    assert pid_file.live_pid() is None


def test_dead_and_zombie_children_are_not_alive(properties: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    pid = child.pid
    # do not wait(): the exited child is a zombie until is_alive reaps it
    deadline = time.monotonic() + 10
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(pid)
    assert is_alive(os.getpid())
