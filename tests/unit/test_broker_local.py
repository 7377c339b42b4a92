"""LocalBroker without a JVM: a fake ``java`` exercises start failures, idempotency and stop."""

from __future__ import annotations

import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from driftline.broker import BrokerError, BrokerStartError, KafkaJars, LocalBroker
from driftline.broker.local import find_java
from driftline.broker.pidfile import is_alive
from driftline.config.models import LocalBrokerConfig, SecurityConfig

FAKE_JAVA = """#!/bin/sh
case "$*" in
  *StorageTool*) echo "format: cannot write meta.properties"; exit 1 ;;
esac
echo "fake broker starting"
if [ -n "$FAKE_JAVA_EXIT" ]; then exit "$FAKE_JAVA_EXIT"; fi
trap 'exit 0' TERM
while :; do sleep 0.05; done
"""
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.05; done"


@pytest.fixture
def fake_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(FAKE_JAVA)
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    return java


@pytest.fixture
def jars(tmp_path: Path) -> KafkaJars:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.1.1.jar").touch()
    return KafkaJars(libs, pom=None)


@pytest.fixture
def broker(tmp_path: Path, jars: KafkaJars, fake_java: Path) -> LocalBroker:
    state = tmp_path / "state"
    (state / "data").mkdir(parents=True)
    (state / "data" / "meta.properties").write_text("cluster.id=x\n")  # already formatted
    return LocalBroker(state, port=0, controller_port=0, start_timeout=1.5, jars=jars)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def processes_running(properties: Path) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if str(properties) in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process.pid)
    return found


def test_timeout_kills_the_broker_and_reports_the_log_tail(broker: LocalBroker) -> None:
    with pytest.raises(
        BrokerStartError, match=r"did not answer on 127\.0\.0\.1:\d+ in 1\.5s"
    ) as info:
        broker.start()
    assert "fake broker starting" in info.value.log_tail
    assert broker.pid_file.read() is None
    assert processes_running(broker.properties_path) == []
    assert not broker.status().running


def test_a_broker_that_exits_fails_fast(
    broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_JAVA_EXIT", "3")
    started = time.monotonic()
    with pytest.raises(BrokerStartError, match="exited with code 3"):
        LocalBroker(broker.state_dir, port=0, controller_port=0, jars=broker.jars).start()
    assert time.monotonic() - started < 10


def test_format_failure_shows_the_tools_output(broker: LocalBroker) -> None:
    (broker.data_dir / "meta.properties").unlink()
    with pytest.raises(BrokerStartError, match="formatting Kafka storage") as info:
        broker.start()
    assert "cannot write meta.properties" in info.value.log_tail


def test_sasl_listener_needs_the_user_in_the_environment(
    broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_USER", raising=False)
    monkeypatch.setenv("MY_PASS", "secret")
    sasl = LocalBroker(
        broker.state_dir,
        sasl_port=0,
        jars=broker.jars,
        username_env="MY_USER",
        password_env="MY_PASS",
    )
    with pytest.raises(BrokerError, match=r"\$MY_USER and \$MY_PASS"):
        sasl.start()
    assert not (broker.logs_dir / "stdout.log").exists(), "launched without credentials"


def test_a_taken_port_is_a_clear_error(broker: LocalBroker) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = LocalBroker(broker.state_dir, port=port, controller_port=0, jars=broker.jars)
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port} \\(port\\) is in use"):
            busy.start()


def test_start_leaves_a_running_broker_alone(
    broker: LocalBroker, processes: list[subprocess.Popen[bytes]]
) -> None:
    running = subprocess.Popen(["sh", "-c", LOOP, "kafka.Kafka", str(broker.properties_path)])
    processes.append(running)
    broker.pid_file.write(running.pid)
    status = broker.start()
    assert status.already_running and status.pid == running.pid
    assert not (broker.logs_dir / "stdout.log").exists()


def test_stop_terminates_only_its_own_broker(
    broker: LocalBroker, processes: list[subprocess.Popen[bytes]]
) -> None:
    stranger = subprocess.Popen(["sh", "-c", LOOP, "not-kafka"])
    processes.append(stranger)
    broker.pid_file.write(stranger.pid)
    assert broker.stop() is False
    assert stranger.poll() is None, "stop signalled a process that is not its broker"
    assert broker.pid_file.read() is None

    own = subprocess.Popen(["sh", "-c", LOOP, "kafka.Kafka", str(broker.properties_path)])
    broker.pid_file.write(own.pid)
    assert broker.stop() is True
    assert not is_alive(own.pid)
    assert broker.pid_file.read() is None
    assert broker.stop() is False


def test_stop_kills_a_broker_that_ignores_sigterm(
    tmp_path: Path, jars: KafkaJars, processes: list[subprocess.Popen[bytes]]
) -> None:
    broker = LocalBroker(tmp_path / "s", stop_timeout=0.3, jars=jars)
    ready = tmp_path / "trap-installed"
    stubborn = subprocess.Popen(
        [
            "sh",
            "-c",
            f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done",
            "kafka.Kafka",
            str(broker.properties_path),
        ]
    )
    processes.append(stubborn)
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:  # SIGTERM before the trap kills it
        time.sleep(0.01)
    broker.pid_file.write(stubborn.pid)
    started = time.monotonic()
    assert broker.stop() is True
    assert time.monotonic() - started >= 0.3, "returned before the SIGTERM grace period"
    assert not is_alive(stubborn.pid)


def test_from_config_takes_config_values_and_flag_overrides(tmp_path: Path) -> None:
    local = LocalBrokerConfig(port=19092, controller_port=19093, sasl_port=19094, heap="1g")
    security = SecurityConfig(username_env="U", password_env="P")
    broker = LocalBroker.from_config(local, security, tmp_path, port=0, heap=None)
    assert (broker.port, broker.controller_port, broker.sasl_port) == (0, 19093, 19094)
    assert broker.heap == "1g" and broker.start_timeout == 60.0
    assert (broker.username_env, broker.password_env) == ("U", "P")


def test_java_home_is_honoured(fake_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_java() == str(fake_java)
    monkeypatch.setenv("JAVA_HOME", str(fake_java.parent / "nowhere"))
    with pytest.raises(BrokerError, match="does not exist"):
        find_java()
