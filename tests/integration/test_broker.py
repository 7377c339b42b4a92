"""The local broker for real: ``driftline broker start|stop|status`` and the SASL/SCRAM listener.

One extra broker is started here (via the CLI, on free ports in a temporary state dir, with the
SASL listener on), separate from the session's ``kafka_bootstrap`` broker. The tests of the
``cli_broker`` fixture run in file order; the last one stops it.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from driftline.broker import fetch_topics
from driftline.broker.network import port_is_free
from driftline.kafka_logs import kafka_logger

DRIFTLINE = Path(sys.executable).with_name("driftline")
REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "alice", "pa ss,w]ord-" + uuid.uuid4().hex[:6]


@dataclass
class CliBroker:
    state_dir: Path
    env: dict[str, str]
    pid: int
    bootstrap: str
    sasl: str


def driftline(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DRIFTLINE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def broker_processes(state_dir: Path) -> list[int]:
    properties = str(state_dir / "server.properties")
    return [
        p.pid
        for p in psutil.process_iter(["cmdline", "status"])
        if "kafka.Kafka" in (p.info["cmdline"] or [])
        and properties in p.info["cmdline"]
        and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


@pytest.fixture(scope="module")
def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFTLINE_CONFIG"}
    env.setdefault("DRIFTLINE_KAFKA_LIBS", str(REPO / ".driftline" / "kafka" / "libs"))
    env["DRIFTLINE_KAFKA_USERNAME"], env["DRIFTLINE_KAFKA_PASSWORD"] = USER, PASSWORD
    return env


@pytest.fixture(scope="module")
def cli_broker(
    tmp_path_factory: pytest.TempPathFactory, cli_env: dict[str, str]
) -> Iterator[CliBroker]:
    state = tmp_path_factory.mktemp("cli-broker")
    args = ("broker", "start", "--state-dir", str(state), "--port", "0", "--controller-port", "0")
    first = driftline(*args, "--sasl-port", "0", env=cli_env, cwd=state)
    assert first.returncode == 0, first.stdout + first.stderr
    found = re.search(r"started at (\S+) \(pid (\d+)\)", first.stdout)
    sasl = re.search(r"SASL_PLAINTEXT \(SCRAM-SHA-512\) at (\S+)", first.stdout)
    assert found and sasl, first.stdout
    yield CliBroker(state, cli_env, int(found.group(2)), found.group(1), sasl.group(1))
    driftline("broker", "stop", "--state-dir", str(state), env=cli_env, cwd=state)


def test_session_broker_and_new_topic(kafka_bootstrap: str, new_topic: object) -> None:
    name = new_topic("smoke", partitions=3)  # type: ignore[operator]
    assert fetch_topics(kafka_bootstrap)[name] == 3


def test_second_start_reports_the_running_broker(cli_broker: CliBroker) -> None:
    again = driftline(
        "broker", "start", "--state-dir", str(cli_broker.state_dir), "--port", "0",
        env=cli_broker.env, cwd=cli_broker.state_dir,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"already running at {cli_broker.bootstrap} (pid {cli_broker.pid})" in again.stdout
    assert broker_processes(cli_broker.state_dir) == [cli_broker.pid]


def test_status_shows_address_pid_listeners_and_topics(cli_broker: CliBroker) -> None:
    admin = AdminClient({"logger": kafka_logger(), "bootstrap.servers": cli_broker.bootstrap})
    admin.create_topics([NewTopic("status-topic", 3, 1)])["status-topic"].result(timeout=30)
    result = driftline(
        "broker", "status", "--state-dir", str(cli_broker.state_dir),
        env=cli_broker.env, cwd=cli_broker.state_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"running at {cli_broker.bootstrap} (pid {cli_broker.pid})" in result.stdout
    assert re.search(rf"SASL_PLAINTEXT\s+{re.escape(cli_broker.sasl)}", result.stdout)
    assert re.search(r"status-topic\s+3 partition\(s\)", result.stdout)


def sasl_settings(address: str, password: str) -> dict[str, object]:
    return {
        "logger": kafka_logger(),
        "bootstrap.servers": address,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": USER,
        "sasl.password": password,
    }


def test_sasl_listener_accepts_the_right_password(cli_broker: CliBroker) -> None:
    topic = f"sasl-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"logger": kafka_logger(), "bootstrap.servers": cli_broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    settings = sasl_settings(cli_broker.sasl, PASSWORD)
    delivered: list[KafkaError | None] = []
    producer = Producer(settings)
    producer.produce(topic, b"over scram", on_delivery=lambda err, _msg: delivered.append(err))
    assert producer.flush(30) == 0 and delivered == [None]
    consumer = Consumer({**settings, "group.id": "sasl-test", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        message = None
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.value() == b"over scram"
    finally:
        consumer.close()


def test_sasl_listener_rejects_a_wrong_password(cli_broker: CliBroker) -> None:
    errors: list[KafkaError] = []
    settings = {**sasl_settings(cli_broker.sasl, "wrong"), "error_cb": errors.append}
    producer = Producer(settings)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not errors:
        producer.poll(0.2)
    assert errors, "no error reported for a wrong password"
    assert errors[0].code() == KafkaError._AUTHENTICATION, errors[0]


def test_stop_frees_the_ports_and_status_exits_3(cli_broker: CliBroker) -> None:
    cwd, env, state = cli_broker.state_dir, cli_broker.env, str(cli_broker.state_dir)
    stopped = driftline("broker", "stop", "--state-dir", state, env=env, cwd=cwd)
    assert stopped.returncode == 0 and f"stopped (pid {cli_broker.pid})" in stopped.stdout
    assert broker_processes(cli_broker.state_dir) == []
    assert not (cli_broker.state_dir / "broker.pid").exists()
    for address in (cli_broker.bootstrap, cli_broker.sasl):
        host, port = address.rsplit(":", 1)
        assert port_is_free(host, int(port)), f"{address} still bound after stop"
    status = driftline("broker", "status", "--state-dir", state, env=env, cwd=cwd)
    assert status.returncode == 3 and "not running" in status.stdout


def test_failed_start_exits_1_with_the_log_tail(tmp_path: Path, cli_env: dict[str, str]) -> None:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'ERROR Exiting Kafka due to fatal exception'\nexec sleep 60\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "state" / "data").mkdir(parents=True)
    (tmp_path / "state" / "data" / "meta.properties").write_text("cluster.id=x\n")
    env = {**cli_env, "JAVA_HOME": str(tmp_path / "jdk")}
    result = driftline(
        "broker", "start", "--state-dir", str(tmp_path / "state"), "--port", "0",
        "--controller-port", "0", "--timeout", "1", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Kafka did not start" in result.stderr
    assert "ERROR Exiting Kafka due to fatal exception" in result.stderr
    assert not (tmp_path / "state" / "broker.pid").exists()
