"""Integration tests run against a real Apache Kafka broker, started once per test session.

Fixtures
--------
``kafka_bootstrap`` (session)
    ``"host:port"`` of a running broker. When ``$DRIFTLINE_BOOTSTRAP_SERVERS`` is set, that broker
    is used (it must answer, or the session fails). Otherwise the session starts its own broker on
    free ports in a temporary state dir, reusing the cached jars (``$DRIFTLINE_KAFKA_LIBS`` or the
    checkout's ``.driftline/kafka/libs``), and stops it at the end. A broker that cannot start
    fails the tests loudly with its log tail; they are never skipped.
``new_topic(name_prefix, partitions=1, config=None)`` (function)
    Creates a topic with a unique name starting with ``name_prefix``, waits until every partition
    has a leader, returns the name, and deletes the topic after the test.

Every test under ``tests/integration/`` is marked ``integration`` automatically.

Adding your own fixtures
------------------------
Fixtures for one test file go in that file. Fixtures several files share go in a module of your
own next to this one named ``fixtures_<area>.py`` (e.g. ``fixtures_streams.py``): this conftest
loads every ``fixtures_*.py`` and exposes its fixtures to all integration tests, so nobody needs to
edit this file. Build on ``kafka_bootstrap`` / ``new_topic`` by naming them as parameters.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline.broker import BrokerError, KafkaJars, LocalBroker, fetch_topics
from driftline.broker.jars import LIBS_ENV, default_pom
from driftline.kafka_logs import kafka_logger

BOOTSTRAP_ENV = "DRIFTLINE_BOOTSTRAP_SERVERS"
REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

NewTopic = Callable[..., str]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory as ``integration``."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def cached_jars() -> KafkaJars:
    """The cached Kafka jars of this checkout (or ``$DRIFTLINE_KAFKA_LIBS``)."""
    libs = Path(os.environ.get(LIBS_ENV) or REPO / ".driftline" / "kafka" / "libs")
    return KafkaJars(libs, default_pom())


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Kafka broker for the whole session (see the module docstring)."""
    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        try:
            fetch_topics(external, timeout=15.0)
        except BrokerError as exc:
            pytest.fail(f"${BOOTSTRAP_ENV}={external} does not answer: {exc}", pytrace=False)
        yield external
        return
    broker = LocalBroker(
        tmp_path_factory.mktemp("kafka"),
        port=0,
        controller_port=0,
        jars=cached_jars(),
        start_timeout=90.0,
    )
    try:
        status = broker.start()
    except BrokerError as exc:
        tail = getattr(exc, "log_tail", "")
        pytest.fail(f"the test broker did not start: {exc}\n{tail}", pytrace=False)
    assert status.bootstrap_servers is not None
    try:
        yield status.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[NewTopic]:
    """Factory: ``new_topic("orders", partitions=4)`` → a fresh topic's unique name."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin import NewTopic as KafkaNewTopic

    admin = AdminClient({"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def create(name_prefix: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{name_prefix}-{uuid.uuid4().hex[:10]}"
        spec = KafkaNewTopic(name, partitions, 1, config=config or {})
        admin.create_topics([spec], operation_timeout=15.0)[name].result(timeout=30.0)
        created.append(name)
        _wait_for_leaders(admin, name, partitions)
        return name

    yield create
    if created:
        for future in admin.delete_topics(created, operation_timeout=15.0).values():
            with contextlib.suppress(Exception):  # best effort: the topic is throwaway
                future.result(timeout=30.0)


def _wait_for_leaders(admin: Any, name: str, partitions: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topic = admin.list_topics(topic=name, timeout=5.0).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {name} has no leader for every partition after {timeout}s")


def _load_shared_fixtures() -> None:
    """Expose the fixtures of every ``fixtures_*.py`` beside this file (see the docstring)."""
    for path in sorted(HERE.glob("fixtures_*.py")):
        spec = importlib.util.spec_from_file_location(f"driftline_it_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, value in vars(module).items():
            if not name.startswith("_") and name not in globals():
                globals()[name] = value


_load_shared_fixtures()
