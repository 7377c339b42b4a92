"""Small network probes: free ports, open ports, and a Kafka metadata request."""

from __future__ import annotations

import logging
import socket
from typing import Any

from driftline.errors import BrokerError

__all__ = ["fetch_topics", "pick_free_port", "port_is_free", "port_is_open"]


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it).

    >>> 1024 <= pick_free_port() <= 65535
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """Whether a new listener could bind ``host:port`` (as the broker would, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def fetch_topics(
    bootstrap_servers: str, timeout: float = 5.0, settings: dict[str, Any] | None = None
) -> dict[str, int]:
    """Ask the broker for its metadata: topic name → partition count (internal topics included).

    Raises :class:`BrokerError` when no broker answers within ``timeout`` seconds.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    quiet = logging.getLogger("driftline.broker.librdkafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, **(settings or {})}, logger=quiet)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(f"no Kafka broker answered at {bootstrap_servers}: {exc}") from None
    return {name: len(topic.partitions) for name, topic in sorted(metadata.topics.items())}
