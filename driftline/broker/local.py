"""Start, stop and inspect a real single-node Apache Kafka (KRaft) running from Maven jars."""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import functools
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from driftline.broker.errors import BrokerError, BrokerStartError
from driftline.broker.jars import KafkaJars, default_libs_dir, default_pom
from driftline.broker.network import fetch_topics, pick_free_port, port_is_free, port_is_open
from driftline.broker.pidfile import BrokerPidFile, is_alive
from driftline.broker.properties import BrokerProperties, parse_properties, render_log4j2
from driftline.broker.scram import upsert_scram_user
from driftline.broker.status import BrokerStatus
from driftline.config.models import LocalBrokerConfig, SecurityConfig

__all__ = ["LocalBroker", "find_java"]

Progress = Callable[[str], None]
_HEAP = re.compile(r"^\d+[kKmMgG]?$")
_LOG_TAIL_LINES = 40


class LocalBroker:
    """One Kafka process (broker + controller, KRaft) whose files all live in ``state_dir``.

    ``start`` formats the storage once, writes ``server.properties`` and a log4j2 config, launches
    ``kafka.Kafka`` in its own session (it outlives the caller) and returns once the broker answers
    a metadata request. It is idempotent: a running broker is left alone. ``stop`` signals only the
    process recorded in ``broker.pid``, and only if it runs this state dir's ``server.properties``.

    Parameters
    ----------
    state_dir
        Holds ``data/``, ``logs/``, ``server.properties``, ``log4j2.properties`` and ``broker.pid``.
    port, controller_port
        Client (PLAINTEXT) and KRaft controller ports; ``0`` picks a free port at start.
    sasl_port
        Port of an extra SASL_PLAINTEXT listener with SCRAM-SHA-512, or ``None``; ``0`` picks one.
    heap
        JVM heap (``-Xmx``/``-Xms``), e.g. ``"512m"``.
    start_timeout, stop_timeout
        Seconds to wait for the broker to answer after launch / to exit after SIGTERM.
    jars
        Where the Kafka jars are; default: ``$DRIFTLINE_KAFKA_LIBS`` or ``.driftline/kafka/libs``,
        fetched with the checkout's ``infra/kafka/pom.xml``.
    host
        Address the listeners bind to and advertise.
    username_env, password_env
        Environment variables holding the SCRAM user of the SASL listener (read at start only).
    auto_create_topics
        ``auto.create.topics.enable``; on by default (Kafka's default) so clients that name a
        topic before ``driftline topics create`` ran still work.

    Examples
    --------
    >>> import tempfile
    >>> broker = LocalBroker(Path(tempfile.mkdtemp()), port=0, controller_port=0)
    >>> broker.status().running
    False
    >>> LocalBroker(Path("s"), heap="lots")
    Traceback (most recent call last):
    ...
    ValueError: heap must look like 512m or 2g, got 'lots'
    """

    def __init__(
        self,
        state_dir: Path = Path(".driftline/kafka"),
        port: int = 9092,
        controller_port: int = 9093,
        sasl_port: int | None = None,
        heap: str = "512m",
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        jars: KafkaJars | None = None,
        host: str = "127.0.0.1",
        username_env: str = "DRIFTLINE_KAFKA_USERNAME",
        password_env: str = "DRIFTLINE_KAFKA_PASSWORD",
        auto_create_topics: bool = True,
    ) -> None:
        if not _HEAP.match(heap):
            raise ValueError(f"heap must look like 512m or 2g, got {heap!r}")
        for name, value in (("port", port), ("controller_port", controller_port)):
            if not 0 <= value <= 65535:
                raise ValueError(f"{name} must be 0..65535, got {value}")
        self.state_dir = state_dir
        self.port = port
        self.controller_port = controller_port
        self.sasl_port = sasl_port
        self.heap = heap
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.jars = jars
        self.host = host
        self.username_env = username_env
        self.password_env = password_env
        self.auto_create_topics = auto_create_topics

    @classmethod
    def from_config(
        cls,
        local: LocalBrokerConfig,
        security: SecurityConfig,
        state_dir: Path,
        **overrides: object,
    ) -> LocalBroker:
        """Build from the ``kafka.local`` and ``kafka.security`` config sections."""
        kwargs: dict[str, object] = {
            "state_dir": state_dir,
            "port": local.port,
            "controller_port": local.controller_port,
            "sasl_port": local.sasl_port,
            "heap": local.heap,
            "start_timeout": local.start_timeout,
            "username_env": security.username_env,
            "password_env": security.password_env,
        }
        kwargs.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------ paths

    @property
    def root(self) -> Path:
        """``state_dir`` as an absolute path."""
        return self.state_dir.resolve()

    @property
    def properties_path(self) -> Path:
        """The ``server.properties`` the broker runs with."""
        return self.root / "server.properties"

    @property
    def logs_dir(self) -> Path:
        """Where ``server.log`` (log4j2) and ``stdout.log`` (the JVM's own output) go."""
        return self.root / "logs"

    @property
    def data_dir(self) -> Path:
        """Kafka's ``log.dirs``; ``meta.properties`` in it keeps the cluster id."""
        return self.root / "data"

    @property
    def pid_file(self) -> BrokerPidFile:
        """``broker.pid``, tied to this state dir's ``server.properties``."""
        return BrokerPidFile(self.root / "broker.pid", self.properties_path)

    # ------------------------------------------------------------------------------ commands

    def status(self, with_topics: bool = True) -> BrokerStatus:
        """The broker's pid, listeners and (when running and asked for) its topics."""
        pid = self.pid_file.live_pid()
        listeners = self._written_listeners()
        topics = None
        if pid is not None and with_topics and "PLAINTEXT" in listeners:
            try:
                topics = fetch_topics(listeners["PLAINTEXT"], timeout=5.0)
            except BrokerError:
                topics = None
        return BrokerStatus(self.root, pid, listeners, topics)

    def start(self, progress: Progress | None = None) -> BrokerStatus:
        """Start the broker unless it runs; return its status once it answers metadata requests.

        Raises :class:`BrokerStartError` (with the log tail) when it does not come up within
        ``start_timeout``; the half-started process is killed first.
        """
        say = progress or (lambda _message: None)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._start_lock():
            running = self.pid_file.live_pid()
            if running is not None:
                return dataclasses.replace(self.status(), already_running=True)
            self.pid_file.remove()
            credentials = self._scram_credentials()
            properties = self._write_config()
            java = find_java()
            jars = self.jars or KafkaJars(default_libs_dir(), default_pom())
            if not jars.is_current():
                say(f"Fetching the Kafka jars with Maven into {jars.libs_dir} (once, ~40 s)")
                jars.ensure()
            if not (self.data_dir / "meta.properties").is_file():
                say("Formatting Kafka storage")
                self._format(java, jars)
            say(f"Starting Kafka on {properties.listeners()['PLAINTEXT']}")
            process = self._launch(java, jars)
            self.pid_file.write(process.pid)
            self._wait_ready(process, properties, say)
            if credentials is not None:
                say(f"Creating SCRAM user for the SASL listener from ${self.username_env}")
                upsert_scram_user(properties.listeners()["PLAINTEXT"], *credentials)
        return self.status()

    def stop(self) -> bool:
        """Stop the broker this state dir started; return whether one was running.

        SIGTERM first (a clean shutdown), SIGKILL after ``stop_timeout`` seconds; returns once the
        process is gone, the pid file removed and the listener ports free.
        """
        pid = self.pid_file.live_pid()
        if pid is None:
            self.pid_file.remove()
            return False
        os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: not is_alive(pid), self.stop_timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not is_alive(pid), 10.0)
        self.pid_file.remove()
        for address in self._written_listeners().values():
            host, port = address.rsplit(":", 1)
            _wait_until(functools.partial(port_is_free, host, int(port)), 10.0)
        return True

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of ``server.log``, plus the JVM's own output if it had any."""
        parts = []
        for name in ("stdout.log", "server.log"):
            text = _tail(self.logs_dir / name, lines)
            if text:
                parts.append(f"--- {self.logs_dir / name} (last lines) ---\n{text}")
        return "\n".join(parts) or f"(no log files in {self.logs_dir})"

    # ------------------------------------------------------------------------------ steps

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        with (self.root / "broker.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _scram_credentials(self) -> tuple[str, str] | None:
        if self.sasl_port is None:
            return None
        username = os.environ.get(self.username_env)
        password = os.environ.get(self.password_env)
        if not username or not password:
            raise BrokerError(
                f"the SASL listener (port {self.sasl_port}) needs a SCRAM user: set "
                f"${self.username_env} and ${self.password_env} (names from kafka.security)"
            )
        return username, password

    def _write_config(self) -> BrokerProperties:
        ports = {"port": self.port, "controller_port": self.controller_port}
        if self.sasl_port is not None:
            ports["sasl_port"] = self.sasl_port
        chosen: dict[str, int] = {}
        for name, port in ports.items():
            if port == 0:
                port = pick_free_port(self.host)
                while port in chosen.values():
                    port = pick_free_port(self.host)
            elif not port_is_free(self.host, port):
                raise BrokerError(
                    f"{self.host}:{port} ({name}) is in use by another process; stop it or "
                    f"choose another port (--port/--controller-port/--sasl-port, kafka.local.*)"
                )
            chosen[name] = port
        properties = BrokerProperties(
            self.data_dir,
            port=chosen["port"],
            controller_port=chosen["controller_port"],
            sasl_port=chosen.get("sasl_port"),
            host=self.host,
            auto_create_topics=self.auto_create_topics,
        )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text(properties.render())
        (self.root / "log4j2.properties").write_text(render_log4j2(self.logs_dir))
        return properties

    def _format(self, java: str, jars: KafkaJars) -> None:
        command = [
            java,
            "-cp",
            jars.classpath(),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(self.properties_path),
            "--standalone",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerStartError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {result.returncode}); "
                f"delete {self.data_dir} to start afresh",
                (result.stdout + result.stderr).strip(),
            )

    def _launch(self, java: str, jars: KafkaJars) -> subprocess.Popen[bytes]:
        command = [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            jars.classpath(),
            "kafka.Kafka",
            str(self.properties_path),
        ]
        with (self.logs_dir / "stdout.log").open("wb") as out:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )

    def _wait_ready(
        self, process: subprocess.Popen[bytes], properties: BrokerProperties, say: Progress
    ) -> None:
        address = properties.listeners()["PLAINTEXT"]
        host, port = address.rsplit(":", 1)
        say(f"Waiting for Kafka to answer on {address}")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._give_up(process, f"the broker exited with code {process.returncode}")
            if port_is_open(host, int(port)):
                try:
                    fetch_topics(address, timeout=min(2.0, max(deadline - time.monotonic(), 0.1)))
                    return
                except BrokerError:
                    pass
            time.sleep(0.2)
        self._give_up(process, f"the broker did not answer on {address} in {self.start_timeout}s")

    def _give_up(self, process: subprocess.Popen[bytes], reason: str) -> None:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        self.pid_file.remove()
        raise BrokerStartError(
            f"Kafka did not start: {reason}; see {self.logs_dir}/server.log", self.log_tail()
        )

    def _written_listeners(self) -> dict[str, str]:
        try:
            text = self.properties_path.read_text()
        except FileNotFoundError:
            return {}
        values = parse_properties(text).get("listeners", "")
        listeners = {}
        for entry in filter(None, values.split(",")):
            name, _, address = entry.partition("://")
            listeners[name] = address
        return listeners


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` when ``$JAVA_HOME`` is set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
        raise BrokerError(
            f"$JAVA_HOME is {java_home} but {candidate} does not exist; fix or unset it"
        )
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            "java is not on PATH; install Java 17 (apt-get install openjdk-17-jre-headless)"
        )
    return found


def new_cluster_id() -> str:
    """A random Kafka cluster id (base64url of 16 random bytes, as ``StorageTool random-uuid``).

    >>> len(new_cluster_id())
    22
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
