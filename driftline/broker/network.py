"""Small network probes: free ports, open ports, and a Kafka metadata request."""

from __future__ import annotations

import logging
import random
import socket
from pathlib import Path
from typing import Any

from driftline.errors import BrokerError

__all__ = ["ephemeral_ports", "fetch_topics", "pick_free_port", "port_is_free", "port_is_open"]


_HANDED_OUT: set[int] = set()


def ephemeral_ports() -> range:
    """The local ports the OS hands to outgoing connections (Linux: ``ip_local_port_range``).

    A listener chosen inside this range can find its port taken by some client's connection
    while it is down, e.g. a worker restarting. Elsewhere: the IANA range 49152–65535.

    >>> ports = ephemeral_ports()
    >>> 1024 <= ports.start < ports.stop <= 65536
    True
    """
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def pick_free_port(host: str = "127.0.0.1", count: int = 1) -> int:
    """The first of ``count`` consecutive TCP ports that are free right now on ``host`` and on
    every address, chosen below the OS's :func:`ephemeral_ports`, so that a listener can be
    stopped and started again on them without an outgoing connection taking one meanwhile.

    >>> port = pick_free_port(count=2)
    >>> 1024 <= port and port + 1 < ephemeral_ports().start
    True
    """
    highest = ephemeral_ports().start - count
    chooser = random.SystemRandom()
    for _ in range(200 if highest > 10000 else 0):
        first = chooser.randint(10000, highest)
        ports = range(first, first + count)
        if _HANDED_OUT.isdisjoint(ports) and all(_free_everywhere(host, p) for p in ports):
            _HANDED_OUT.update(ports)  # two calls in a row never give the same port
            return first
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # let the OS choose
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _free_everywhere(host: str, port: int) -> bool:
    return port_is_free(host, port) and port_is_free("0.0.0.0", port)


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
