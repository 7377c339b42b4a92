"""One background process of the local stack: launched detached, tracked by a pid file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["BackgroundProcess", "log_tail"]


@dataclass(frozen=True)
class BackgroundProcess:
    """A command that runs in its own session, its output in ``log``, its pid in ``pid_file``.

    The pid file records the pid and the process's start time, so a stale file whose pid was
    reused by another program is never taken for this service (and never signalled).

    Examples
    --------
    >>> import sys, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> sleeper = BackgroundProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"],
    ...                             root / "sleeper.log", root / "sleeper.pid")
    >>> sleeper.pid() is None
    True
    >>> pid = sleeper.start()
    >>> sleeper.pid() == pid, sleeper.start() == pid      # a second start leaves it alone
    (True, True)
    >>> sleeper.stop(), sleeper.pid()
    (True, None)
    """

    name: str
    argv: Sequence[str]
    log: Path
    pid_file: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None

    def pid(self) -> int | None:
        """The live pid of this service, or ``None`` (no file, dead, zombie, or a reused pid)."""
        try:
            record = json.loads(self.pid_file.read_text())
            pid, started = int(record["pid"]), float(record["create_time"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            if abs(process.create_time() - started) > 1.0:
                return None
        except psutil.Error:
            return None
        return pid

    def start(self) -> int:
        """Launch unless it runs; return the pid. Output is appended to ``log``."""
        running = self.pid()
        if running is not None:
            return running
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(self.env or {})}
        with self.log.open("ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}: {' '.join(self.argv)}\n".encode())  # fmt: skip
            out.flush()
            process = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        record = {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time(),
                  "argv": list(self.argv)}  # fmt: skip
        tmp = self.pid_file.with_name(self.pid_file.name + ".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.pid_file)
        return process.pid

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout`` s; return whether it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        try:
            process = psutil.Process(pid)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except psutil.TimeoutExpired:
                process.kill()
                process.wait(10)
        except psutil.NoSuchProcess:
            pass
        self.pid_file.unlink(missing_ok=True)
        return True

    def exited(self) -> bool:
        """Whether a pid file exists but its process is gone (it crashed or was killed)."""
        return self.pid_file.exists() and self.pid() is None


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
