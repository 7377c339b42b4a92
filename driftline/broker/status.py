"""What ``driftline broker status`` reports about the local broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrokerStatus"]


@dataclass(frozen=True)
class BrokerStatus:
    """A snapshot of the local broker.

    Parameters
    ----------
    state_dir
        The broker's state directory (data, logs, ``server.properties``, ``broker.pid``).
    pid
        The broker's process id, or ``None`` when it is not running.
    listeners
        Listener name → ``host:port`` as written in ``server.properties`` (empty before the first
        start).
    topics
        Topic name → partition count, or ``None`` when the broker was not asked.
    already_running
        ``True`` when ``start`` found the broker running and left it alone.

    Examples
    --------
    >>> status = BrokerStatus(Path("/s"), pid=42, listeners={"PLAINTEXT": "127.0.0.1:9092"})
    >>> status.running, status.bootstrap_servers
    (True, '127.0.0.1:9092')
    >>> BrokerStatus(Path("/s"), pid=None).running
    False
    """

    state_dir: Path
    pid: int | None
    listeners: dict[str, str] = field(default_factory=dict)
    topics: dict[str, int] | None = None
    already_running: bool = False

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self.pid is not None

    @property
    def bootstrap_servers(self) -> str | None:
        """``host:port`` of the PLAINTEXT listener, the address local clients use."""
        return self.listeners.get("PLAINTEXT")
