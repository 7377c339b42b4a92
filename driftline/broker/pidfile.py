"""The broker's pid file, and the check that a pid really is the broker this state dir started."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import psutil

__all__ = ["BrokerPidFile", "is_broker_cmdline"]

_MAIN_CLASS = "kafka.Kafka"


def is_broker_cmdline(cmdline: Sequence[str], properties: Path) -> bool:
    """Whether a command line runs ``kafka.Kafka`` with exactly this ``server.properties``.

    >>> props = Path("/s/kafka/server.properties")
    >>> is_broker_cmdline(["java", "-cp", "x", "kafka.Kafka", "/s/kafka/server.properties"], props)
    True
    >>> is_broker_cmdline(["java", "kafka.Kafka", "/other/server.properties"], props)
    False
    >>> is_broker_cmdline(["python", "server.properties"], props)
    False
    """
    args = list(cmdline)
    if _MAIN_CLASS not in args:
        return False
    after_main = args[args.index(_MAIN_CLASS) + 1 :]
    return str(properties) in after_main


class BrokerPidFile:
    """``broker.pid``: the pid of the broker that ``driftline broker start`` launched.

    A pid counts only while its process is alive (not a zombie) and its command line runs
    ``kafka.Kafka`` with this state dir's ``server.properties``, so a stale file whose pid was
    reused by another process never leads ``stop`` to signal a stranger.

    Parameters
    ----------
    path
        The pid file.
    properties
        The ``server.properties`` the broker was started with (absolute path).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> pid_file = BrokerPidFile(root / "broker.pid", root / "server.properties")
    >>> pid_file.write(os.getpid())
    >>> pid_file.read() == os.getpid()
    True
    >>> pid_file.live_pid() is None  # this process is not a Kafka broker
    True
    >>> pid_file.remove(); pid_file.read() is None
    True
    """

    def __init__(self, path: Path, properties: Path) -> None:
        self.path = path
        self.properties = properties

    def read(self) -> int | None:
        """The recorded pid, or ``None`` when the file is missing or does not hold a number."""
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def write(self, pid: int) -> None:
        """Record ``pid`` (atomically: written to a temporary file, then renamed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(self.path)

    def remove(self) -> None:
        """Delete the file if it exists."""
        self.path.unlink(missing_ok=True)

    def live_pid(self) -> int | None:
        """The recorded pid if that process is alive and is this state dir's broker."""
        pid = self.read()
        if pid is None or not is_alive(pid):
            return None
        try:
            cmdline = psutil.Process(pid).cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None
        return pid if is_broker_cmdline(cmdline, self.properties) else None


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie child of this process is reaped and counts as dead."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: someone else reaps it
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
