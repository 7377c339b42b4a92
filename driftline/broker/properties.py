"""Render the files the broker reads: ``server.properties`` and its log4j2 configuration."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BrokerProperties", "parse_properties", "render_log4j2"]

_SASL_MECHANISM = "SCRAM-SHA-512"
_PROTOCOL = {
    "PLAINTEXT": "PLAINTEXT",
    "CONTROLLER": "PLAINTEXT",
    "SASL_PLAINTEXT": "SASL_PLAINTEXT",
}


class BrokerProperties:
    """The ``server.properties`` of a single-node Kafka running as broker and controller (KRaft).

    Parameters
    ----------
    data_dir
        Where Kafka keeps its log segments and metadata (``log.dirs``).
    port
        Port of the ``PLAINTEXT`` client listener.
    controller_port
        Port of the KRaft controller listener (never advertised to clients).
    sasl_port
        Port of an extra ``SASL_PLAINTEXT`` listener that authenticates with SCRAM-SHA-512, or
        ``None`` for no such listener. The ``PLAINTEXT`` listener stays for local tooling.
    host
        Address every listener binds to and advertises.
    num_partitions
        Partition count of topics created without an explicit count.
    auto_create_topics
        Whether the broker creates a topic when a client first names it.

    Examples
    --------
    >>> props = BrokerProperties(Path("/tmp/k/data"), port=9092, controller_port=9093)
    >>> text = props.render()
    >>> print([line for line in text.splitlines() if line.startswith("listeners=")][0])
    listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
    >>> parse_properties(text)["offsets.topic.replication.factor"]
    '1'
    >>> BrokerProperties(Path("/d"), 9092, 9093, sasl_port=9094).listeners()["SASL_PLAINTEXT"]
    '127.0.0.1:9094'
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        sasl_port: int | None = None,
        host: str = "127.0.0.1",
        num_partitions: int = 1,
        auto_create_topics: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.controller_port = controller_port
        self.sasl_port = sasl_port
        self.host = host
        self.num_partitions = num_partitions
        self.auto_create_topics = auto_create_topics

    def listeners(self) -> dict[str, str]:
        """Listener name → ``host:port``, the controller included."""
        ports = {"PLAINTEXT": self.port, "CONTROLLER": self.controller_port}
        if self.sasl_port is not None:
            ports["SASL_PLAINTEXT"] = self.sasl_port
        used = [port for port in ports.values() if port != 0]
        if len(used) != len(set(used)):
            raise ValueError(f"listener ports must differ, got {ports}")
        return {name: f"{self.host}:{port}" for name, port in ports.items()}

    def render(self) -> str:
        """The file's text; every value a single-node cluster needs is set explicitly."""
        listeners = self.listeners()
        advertised = {name: addr for name, addr in listeners.items() if name != "CONTROLLER"}
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": listeners["CONTROLLER"],
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": _join(listeners),
            "advertised.listeners": _join(advertised),
            "listener.security.protocol.map": ",".join(
                f"{name}:{_PROTOCOL[name]}" for name in listeners
            ),
            "log.dirs": str(self.data_dir),
            "num.partitions": str(self.num_partitions),
            "auto.create.topics.enable": str(self.auto_create_topics).lower(),
            # A single node cannot replicate: internal topics must ask for one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # Tests join consumer groups often; do not wait 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
        }
        if self.sasl_port is not None:
            lines["sasl.enabled.mechanisms"] = _SASL_MECHANISM
            lines[f"listener.name.sasl_plaintext.{_SASL_MECHANISM.lower()}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        body = "\n".join(f"{key}={value}" for key, value in lines.items())
        return f"# Written by `driftline broker start`; rewritten on every start.\n{body}\n"


def _join(listeners: dict[str, str]) -> str:
    return ",".join(f"{name}://{addr}" for name, addr in listeners.items())


def parse_properties(text: str) -> dict[str, str]:
    """Read ``key=value`` lines of a Java properties file (comments and blank lines skipped).

    >>> parse_properties("# c\\nnode.id=1\\nlisteners = A://h:1\\n")
    {'node.id': '1', 'listeners': 'A://h:1'}
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def render_log4j2(logs_dir: Path) -> str:
    """A log4j2 properties file that writes the broker's log to ``logs_dir/server.log``.

    The file rolls at 10 MB and keeps three old files; the console stays quiet.

    >>> "fileName = /tmp/logs/server.log" in render_log4j2(Path("/tmp/logs"))
    True
    """
    log = logs_dir / "server.log"
    return "\n".join(
        [
            "# Written by `driftline broker start`.",
            "status = warn",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {log}",
            f"appender.file.filePattern = {log}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 10MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = info",
            "rootLogger.appenderRef.file.ref = file",
            "logger.kafka.name = kafka",
            "logger.kafka.level = info",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = warn",
            "",
        ]
    )
