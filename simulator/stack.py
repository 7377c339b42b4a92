"""``driftline up`` / ``down`` / ``status``: broker, monitor and retrainer as local processes.

Everything lives under the config's ``state_dir``: the broker in ``kafka/`` (its own pid file and
logs), the monitor's and retrainer's output in ``logs/<name>.log`` and their pid files in
``run/<name>.pid``. ``up`` is idempotent (a healthy service is left alone, a dead one restarted)
and returns once every service answers its health check:

broker
    answers a metadata request;
monitor
    its web server serves ``/metrics``;
retrainer
    its process is alive and its consumer group has a member.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.config.environment import env_name
from driftline.config.models import DriftlineConfig
from simulator.errors import ServiceError
from simulator.process import BackgroundProcess, log_tail

__all__ = ["LocalStack", "ServiceState"]

Progress = Callable[[str], None]
SERVICES = ("monitor", "retrainer")


@dataclass(frozen=True)
class ServiceState:
    """One service as ``status`` shows it."""

    name: str
    pid: int | None
    healthy: bool
    detail: str
    log: Path


class LocalStack:
    """The local processes of one driftline config.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    config_path
        Its file (the monitor and retrainer are started with ``--config`` on it).
    services
        Which background services to run besides the broker.
    manage_broker
        Run the embedded broker (``kafka.local``); ``False`` uses the broker at
        ``kafka.bootstrap_servers`` as it is (a cluster, or a test session's broker).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> stack = LocalStack(parse_config("model: m\\nstate_dir: /tmp/s\\ntasks: {a: {type: binary}}\\n"),
    ...                    Path("d.yaml"))
    >>> stack.process("monitor").log
    PosixPath('/tmp/s/logs/monitor.log')
    """

    def __init__(
        self,
        config: DriftlineConfig,
        config_path: Path,
        services: tuple[str, ...] = SERVICES,
        manage_broker: bool = True,
    ) -> None:
        unknown = set(services) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {SERVICES}")
        self.config = config
        self.config_path = config_path
        self.services = services
        self.manage_broker = manage_broker

    # ------------------------------------------------------------------------------ pieces

    @property
    def logs_dir(self) -> Path:
        """``<state_dir>/logs``."""
        return (self.config.state_dir / "logs").resolve()

    def broker(self) -> Any:
        """The embedded broker of this config."""
        from driftline.broker import LocalBroker

        kafka = self.config.kafka
        return LocalBroker.from_config(kafka.local, kafka.security, self.config.state_dir / "kafka")

    def process(self, name: str, bootstrap: str | None = None) -> BackgroundProcess:
        """The background process of ``name`` (``monitor`` or ``retrainer``)."""
        argv = [sys.executable, "-m", "driftline.cli", name, "--config", str(self.config_path.resolve())]  # fmt: skip
        env = {env_name("bootstrap_servers"): bootstrap} if bootstrap else None
        return BackgroundProcess(
            name, argv, self.logs_dir / f"{name}.log",
            (self.config.state_dir / "run" / f"{name}.pid").resolve(), env=env,
        )  # fmt: skip

    def bootstrap_servers(self) -> str:
        """Where clients reach the broker: the running local broker, else the config's servers."""
        if not self.manage_broker:
            return self.config.kafka.bootstrap_servers
        status = self.broker().status(with_topics=False)
        return status.bootstrap_servers if status.running and status.bootstrap_servers else self.config.kafka.bootstrap_servers  # fmt: skip

    def client_config(self) -> DriftlineConfig:
        """The config with ``kafka.bootstrap_servers`` pointing at the running broker."""
        kafka = self.config.kafka.model_copy(update={"bootstrap_servers": self.bootstrap_servers()})
        return self.config.model_copy(update={"kafka": kafka})

    # ------------------------------------------------------------------------------ commands

    def up(self, progress: Progress | None = None, timeout: float = 120.0) -> list[ServiceState]:
        """Start what is not running (broker, topics, Feast repo, services); wait until healthy."""
        bootstrap = self.start_broker(progress)
        self.apply_feature_repo(progress)
        self.start_services(bootstrap, progress)
        self.wait_healthy(bootstrap, progress, timeout)
        return self.status()

    def start_broker(self, progress: Progress | None = None) -> str:
        """Start the broker (when managed), create the topics; return the bootstrap servers."""
        say = progress or (lambda _m: None)
        if self.manage_broker:
            status = self.broker().start(progress=say)
            bootstrap = status.bootstrap_servers or self.config.kafka.bootstrap_servers
        else:
            bootstrap = self.config.kafka.bootstrap_servers
        say(f"broker at {bootstrap}")
        config = self.client_config()
        from driftline.topics import create_topics

        create_topics(config)  # the monitor creates its internal topics itself at start-up
        return bootstrap

    def apply_feature_repo(self, progress: Progress | None = None) -> None:
        """Generate and register the Feast repo (idempotent) when a service needs it."""
        config = self.config
        if config.monitor.feature_sink or "retrainer" in self.services:
            (progress or (lambda _m: None))("applying the Feast repo")
            from featurestore import FeatureRepo

            FeatureRepo(config).apply()

    def start_services(self, bootstrap: str, progress: Progress | None = None) -> None:
        """Launch the services that are not running (without waiting for them)."""
        say = progress or (lambda _m: None)
        for name in self.services:
            process = self.process(name, bootstrap)
            if process.pid() is None:
                say(f"starting the {name} (log: {_shown(process.log)})")
            process.start()

    def wait_healthy(
        self, bootstrap: str, progress: Progress | None = None, timeout: float = 120.0
    ) -> None:
        """Wait until every service answers its health check (see the module docstring)."""
        say = progress or (lambda _m: None)
        deadline = time.monotonic() + timeout
        for name in self.services:
            say(f"waiting for the {name} to be healthy")
            self._wait_healthy(name, bootstrap, deadline)

    def check_alive(self) -> None:
        """Raise :class:`ServiceError` (with its log tail) when a service has died since ``up``."""
        for name in self.services:
            process = self.process(name)
            if process.pid() is None:
                raise ServiceError(
                    f"the {name} is not running any more; see {process.log}:\n{log_tail(process.log)}"
                )

    def down(self, keep_broker: bool = False, progress: Progress | None = None) -> dict[str, bool]:
        """Stop the services (then the broker); ``{name: was_running}``."""
        say = progress or (lambda _m: None)
        from concurrent.futures import ThreadPoolExecutor

        say(f"stopping the {', '.join(reversed(self.services))}")
        with ThreadPoolExecutor(max(1, len(self.services))) as pool:  # SIGTERM all, then wait
            results = pool.map(lambda name: self.process(name).stop(), reversed(self.services))
            stopped = dict(zip(reversed(self.services), results, strict=True))
        if not keep_broker and self.manage_broker:
            say("stopping the broker")
            stopped["broker"] = self.broker().stop()
        return stopped

    def status(self) -> list[ServiceState]:
        """Every service with its pid and health."""
        broker = self.broker()
        if self.manage_broker:
            state = broker.status(with_topics=False)
            bootstrap, pid = state.bootstrap_servers, state.pid
            healthy = (
                state.running
                and bootstrap is not None
                and _broker_answers(bootstrap, self.config.kafka.connect_timeout)
            )
        else:
            bootstrap, pid = self.config.kafka.bootstrap_servers, None
            healthy = _broker_answers(bootstrap, self.config.kafka.connect_timeout)
        out = [ServiceState("broker", pid, healthy, bootstrap or "not started", broker.logs_dir / "server.log")]  # fmt: skip
        for name in self.services:
            process = self.process(name)
            pid = process.pid()
            # A service started by hand (`driftline monitor`, a container) has no pid file of
            # ours: its health check (the monitor's /metrics, the retrainer's consumer group)
            # still finds it.
            ok, detail = self._health(name, bootstrap) if healthy or name == "monitor" else (False, "")  # fmt: skip
            if pid is None and ok:
                detail = f"{detail} (not started by `driftline up`)"
            elif pid is None:
                detail = "exited (see its log)" if process.exited() else "not running"
            out.append(ServiceState(name, pid, ok, detail, process.log))
        return out

    # ------------------------------------------------------------------------------ health

    def _health(self, name: str, bootstrap: str | None) -> tuple[bool, str]:
        if name == "monitor":
            url = f"http://127.0.0.1:{self.config.monitor.web_port}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=2.0) as response:
                    return response.status == 200, url
            except OSError:
                return False, f"{url} does not answer yet"
        group = self.config.retrainer.group_id
        members = _group_members(bootstrap, group) if bootstrap else 0
        return members > 0, f"consumer group {group}: {members} member(s)"

    def _wait_healthy(self, name: str, bootstrap: str, deadline: float) -> None:
        process = self.process(name, bootstrap)
        detail = ""
        while time.monotonic() < deadline:
            if process.pid() is None:
                raise ServiceError(
                    f"the {name} exited during start-up; see {process.log}:\n{log_tail(process.log)}"
                )
            ok, detail = self._health(name, bootstrap)
            if ok:
                return
            time.sleep(0.5)
        raise ServiceError(
            f"the {name} is not healthy ({detail}); see {process.log}:\n{log_tail(process.log)}"
        )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _broker_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    from driftline.broker import BrokerError, fetch_topics

    try:
        fetch_topics(bootstrap, timeout=timeout)
    except BrokerError:
        return False
    return True


def _group_members(bootstrap: str, group: str) -> int:
    from confluent_kafka.admin import AdminClient

    from driftline.kafka_logs import kafka_logger

    settings: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": kafka_logger()}
    admin = AdminClient(settings)
    try:
        description = admin.describe_consumer_groups([group], request_timeout=5)[group].result(
            timeout=6
        )
    except Exception:  # an unknown group or a broker hiccup: no members (yet)
        return 0
    return len(description.members)
