"""The broker a benchmark runs against: the one given (``--bootstrap``), or a local one for it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["bench_broker"]


@contextmanager
def bench_broker(bootstrap: str | None, directory: Path | None = None) -> Iterator[str]:
    """Yield ``bootstrap``, or start a local Apache Kafka broker (the project's jars, free ports;
    its data in ``directory``, a new temporary one by default) for the duration and yield its
    address."""
    if bootstrap is not None:
        yield bootstrap
        return
    from driftline.broker import KafkaJars, LocalBroker
    from driftline.broker.jars import default_pom

    broker = LocalBroker(
        directory or Path(tempfile.mkdtemp(prefix="bench-kafka-")),
        port=0,
        controller_port=0,
        jars=KafkaJars(Path(".driftline/kafka/libs"), default_pom()),
    )
    started = broker.start().bootstrap_servers
    assert started is not None
    try:
        yield started
    finally:
        broker.stop()
