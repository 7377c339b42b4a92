"""Real PostgreSQL and Redis servers for tests, started from Debian's packages in temp dirs.

Fixtures (registered in ``tests/conftest.py``), session-scoped, started on first use:

- ``postgres_server`` -> :class:`PostgresServer` (password auth, loopback only)
- ``redis_server`` -> :class:`RedisServer` (``requirepass`` set, loopback only)

A missing binary is a test *failure* with the install command, never a skip: ``make test``'s
setup installs ``postgresql`` and ``redis-server`` (``infra/setup-system.sh``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from driftline.broker import pick_free_port

__all__ = ["PostgresServer", "RedisServer", "postgres_server", "redis_server"]

_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _wait_for_port(port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s\n{tail}")


def _pg_binary(name: str) -> str:
    for bin_dir in _PG_BIN_DIRS:
        if (bin_dir / name).exists():
            return str(bin_dir / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(
            f"PostgreSQL binary {name!r} not found: run `make setup` (apt-get install postgresql)"
        )
    return found


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster owned by the ``postgres`` OS user (postgres refuses root)."""

    root: Path
    port: int = field(default_factory=pick_free_port)
    user: str = "driftline"
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    host: str = "127.0.0.1"

    def start(self) -> None:
        data, log = self.root / "data", self.root / "postgres.log"
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        shutil.chown(self.root, "postgres")
        shutil.chown(pwfile, "postgres")
        self._as_postgres(
            _pg_binary("initdb"), "-D", str(data), "-U", self.user, "--pwfile", str(pwfile),
            "-A", "scram-sha-256", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._as_postgres(
            _pg_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"
        )
        _wait_for_port(self.port, 30, "PostgreSQL", log)

    def stop(self) -> None:
        data = self.root / "data"
        if data.exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", _pg_binary("pg_ctl"), "-D", str(data),
                 "-m", "immediate", "stop"],
                capture_output=True, check=False,
            )  # fmt: skip

    def create_database(self, name: str) -> None:
        """Create database ``name`` (no error when it exists)."""
        import psycopg

        dsn = f"host={self.host} port={self.port} user={self.user} password={self.password}"
        with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def sqlalchemy_url(self, dbname: str, with_password: bool = True) -> str:
        """Create ``dbname`` and return its ``postgresql+psycopg://`` URL."""
        self.create_database(dbname)
        auth = f"{self.user}:{self.password}" if with_password else self.user
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{dbname}"

    def _as_postgres(self, *argv: str) -> None:
        if not shutil.which("runuser"):
            pytest.fail("`runuser` (util-linux) is needed to run PostgreSQL as its own user")
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}")


@dataclass
class RedisServer:
    """A throwaway ``redis-server`` on loopback with a password and no persistence."""

    root: Path
    port: int = field(default_factory=pick_free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    host: str = "127.0.0.1"
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server not found: run `make setup` (apt-get install redis-server)")
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "redis.log"
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--requirepass", self.password, "--dir", str(self.root),
             "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port, 15, "redis-server", log)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test session."""
    root = Path(tempfile.mkdtemp(prefix="driftline-pg-"))
    os.chmod(root, 0o755)
    server = PostgresServer(root=root / "cluster")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server for the whole test session."""
    root = Path(tempfile.mkdtemp(prefix="driftline-redis-"))
    server = RedisServer(root=root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
