"""``driftline monitor``: run the streaming monitor (one Faust worker, or N worker processes).

Before the Faust worker starts, each worker process

1. creates the monitor's internal topics (``outcomes`` and the two table changelogs) when they
   are missing, and waits until the broker's metadata lists them: see
   :func:`create_internal_topics`;
2. with ``monitor.feature_sink``, applies the generated Feast repo when its registry lacks any
   object (a fresh state dir) and opens the label sink, so importing Feast happens here and not
   inside the first checkpoint, and a store that cannot work stops the monitor at start with one
   line: see :func:`streams.feature_sink.open_label_sink`.

A broker that does not answer within ``kafka.connect_timeout`` also stops it at start (exit 69).
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from driftline.cli.options import (
    config_option,
    configure_logging,
    load_or_exit,
    log_level_option,
)
from driftline.config.environment import environment
from driftline.config.models import DriftlineConfig
from driftline.errors import ConfigError
from streams.errors import StreamsError

__all__ = [
    "INTERNAL_TABLES",
    "InternalTopic",
    "create_internal_topics",
    "internal_topics",
    "monitor",
    "prepare",
]

log = logging.getLogger("driftline.monitor")

INTERNAL_TABLES = ("monitor",)
"""The Faust tables of ``streams/app.py``; Faust names their changelogs
``<monitor.app_id>-<table>-changelog``."""
FORMER_JOIN_TABLE = "join"
"""The Faust table that held the join's state before it moved to RocksDB
(:mod:`streams.join_store`); a monitor whose old changelog still holds records refuses to
start rather than lose the predictions it held."""


@click.command()
@config_option
@log_level_option("info")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes on this host sharing the partitions (default: monitor.workers).",
)
@click.option(
    "--worker-id",
    default=lambda: environment().worker_id,
    metavar="NAME",
    callback=lambda _ctx, _param, value: _worker_name(value),
    help="This replica's name (one per container: its state dir, and its group.instance.id with "
    "monitor.static_membership) [$DRIFTLINE_WORKER_ID; default: worker-<index>].",
)
@click.option("--worker-index", type=click.IntRange(0, 63), default=0, hidden=True)
def monitor(
    config_path: str | None,
    log_level: str,
    workers: int | None,
    worker_id: str | None,
    worker_index: int,
) -> None:
    """Run the streaming monitor: join, per-task metrics, drift detectors, alerts.

    With N workers, worker i serves Prometheus on ``monitor.web_port + i`` and keeps its state
    under ``state_dir/monitor/worker-i``; SIGTERM/SIGINT stops them all. Before any worker
    starts, the broker must answer within ``kafka.connect_timeout`` and, with
    ``monitor.feature_sink``, the generated Feast repo is applied when it is missing; either
    failing ends the command with one line.
    """
    from driftline.config import find_config
    from streams.faust_compat import check_faust_version

    check_faust_version()  # one line, before anything connects, when Faust is outside the range
    path = Path(find_config(config_path))
    config = load_or_exit(str(path))
    count = workers or config.monitor.workers
    # Until the Faust worker sets up its own logging (it replaces these handlers).
    configure_logging(log_level, "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    if count == 1 and worker_index == 0:  # once: not by the supervisor and every worker
        _warn_of_state_budget(config, path)
    label_sink = prepare(config, open_sink=count == 1)
    if count > 1:
        raise SystemExit(_run_workers(path, log_level, count, worker_id))

    import faust

    from streams.app import build_app
    from streams.gc_tuning import tune_collector

    wait_for_web_port(config.monitor.web_port, worker_index)
    app = build_app(config, worker_index=worker_index, worker_id=worker_id, feature_sink=label_sink)
    _start_beside_worker(config, worker_index)
    worker = faust.Worker(app, loglevel=log_level, quiet=True)
    tune_collector()
    worker.execute_from_commandline()


def _warn_of_state_budget(config: DriftlineConfig, path: Path) -> None:
    """Log the ``PATH:LINE`` warnings of :mod:`streams.state_budget` (a task state over its
    budget, a capped slice): the worker runs either way."""
    from streams.state_budget import check_state_budget

    for line in check_state_budget(config, path.read_text(encoding="utf-8"), str(path)):
        log.warning("%s", line)


def _worker_name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", value):
        raise click.BadParameter(f"{value!r}: letters, digits, '_', '.', '-' (at most 63)")
    return value


def wait_for_web_port(base: int, worker_index: int, timeout: float = 15.0) -> None:
    """Wait until this worker's ``/metrics`` port (``base + worker_index``, on every address, as
    Faust binds it) is free: a predecessor may still be letting it go. Raises
    :class:`~streams.errors.WebPortInUseError`, one line that names the port and the setting,
    when it stays taken for ``timeout`` seconds.
    """
    from driftline.broker.network import ephemeral_ports, port_is_free
    from streams.errors import WebPortInUseError

    port, deadline = base + worker_index, time.monotonic() + timeout
    while not port_is_free("0.0.0.0", port):  # Faust's web_bind: every address
        if time.monotonic() >= deadline:
            ephemeral = ephemeral_ports()
            which = f"monitor.web_port {base} + worker {worker_index}"
            raise WebPortInUseError(
                f"port {port} ({which}, where this worker serves /metrics) is in use by another "
                f"process; stop it or set monitor.web_port to free ports below the OS's "
                f"ephemeral range {ephemeral.start}-{ephemeral.stop - 1}, where outgoing "
                f"connections take their ports"
            )
        time.sleep(0.5)


def prepare(config: DriftlineConfig, open_sink: bool = True) -> Any:
    """What a worker needs before Faust starts; the opened label sink (or ``None``).

    Creates the internal topics (:func:`create_internal_topics`; the broker must answer within
    ``kafka.connect_timeout``) and, with ``monitor.feature_sink``, applies the Feast repo when it
    is missing. With ``open_sink`` the label sink is opened too (the supervisor of ``--workers N``
    prepares once and lets each worker open its own).
    """
    created = create_internal_topics(config)
    log.info("internal topics: %s", ", ".join(f"{n} {s}" for n, s in created.items()))
    if not config.monitor.feature_sink:
        return None
    from streams.feature_sink import ensure_feature_repo, open_label_sink

    if open_sink:
        return open_label_sink(config)
    from featurestore import FeatureRepo

    ensure_feature_repo(FeatureRepo(config))
    return None


def _start_beside_worker(config: DriftlineConfig, worker_index: int) -> None:
    """What runs in the worker's process beside Faust, in daemon threads of their own: the
    alert router (``alerts.sinks`` with ``alerts.route_with_monitor``; its counts join this
    worker's ``/metrics``) and, in worker 0 with ``dashboard.with_monitor``, the dashboard.

    Neither can hold the monitor back: the router only reads ``drift-alerts`` and waits for
    sinks in its own threads; the dashboard only reads topics.
    """
    if config.alerts.sinks and config.alerts.route_with_monitor:
        from prometheus_client import REGISTRY

        from driftline.alerts import AlertRouter

        router = AlertRouter(config)
        try:
            router.start()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        REGISTRY.register(router.collector)  # streams.web.monitor_registry serves REGISTRY too
    if config.dashboard.with_monitor and worker_index == 0:
        from driftline.dashboard import DashboardService

        service = DashboardService(config)
        service.start()
        log.info("dashboard at %s", service.url)


@dataclass(frozen=True)
class InternalTopic:
    """A topic the monitor reads and writes itself (never a user's input or output)."""

    name: str
    partitions: int
    replicas: int
    settings: dict[str, str]


def internal_topics(config: DriftlineConfig) -> list[InternalTopic]:
    """``outcomes`` (stage 1 → stage 2), the join stores' changelog and the changelogs of the
    monitor's Faust tables.

    All have ``kafka.partitions`` partitions: Faust requires a table's changelog to have as many
    partitions as the topic its agent reads (``outcomes``, or the co-partitioned inputs), and a
    join store's changelog partition is its input partition.

    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\nkafka: {partitions: 3}\\nmonitor: {app_id: mon}\\n"
    ...                    "tasks: {a: {type: binary}}\\n")
    >>> for topic in internal_topics(cfg):
    ...     print(topic.name, topic.partitions, topic.settings["cleanup.policy"])
    outcomes 3 delete
    mon-join-store-changelog 3 compact
    mon-monitor-changelog 3 compact
    """
    kafka = config.kafka
    retention = str(int(config.topics.input_retention * 1000))
    outcomes = InternalTopic(
        config.topics.outcomes,
        kafka.partitions,
        kafka.replication_factor,
        {"cleanup.policy": "delete", "retention.ms": retention},
    )
    from streams.join_changelog import changelog_topic

    join_store = InternalTopic(
        changelog_topic(config.monitor.app_id),
        kafka.partitions,
        kafka.replication_factor,
        # a removed entry's tombstone stays this long (streams.join_stores.MAX_AGE is half)
        {"cleanup.policy": "compact", "delete.retention.ms": str(86_400_000)},
    )
    changelogs = [
        InternalTopic(
            f"{config.monitor.app_id}-{table}-changelog",
            kafka.partitions,
            kafka.replication_factor,
            {"cleanup.policy": "compact"},
        )
        for table in INTERNAL_TABLES
    ]
    return [outcomes, join_store, *changelogs]


def create_internal_topics(
    config: DriftlineConfig, admin: Any | None = None, timeout: float | None = None
) -> dict[str, str]:
    """Create the missing :func:`internal_topics`; return ``{name: "created" | "exists"}``.

    Waits until the broker's metadata lists every one with its partitions. Faust can create these
    topics itself, but on a fresh broker it may join its consumer group before the metadata shows
    them, assign no changelog partitions ("Ignoring missing topic") and crash at the first table
    write with ``PartitionsMismatch`` (seen with faust-streaming 0.15.3); topics that exist before
    the worker starts avoid that race, and Faust leaves existing topics as they are. Idempotent
    and safe when several workers start at once.

    Raises :class:`~driftline.errors.BrokerUnreachableError` when the broker does not answer
    within ``timeout`` (default ``kafka.connect_timeout``), :class:`StreamsError` when a topic
    cannot be created or an existing one has another partition count than ``kafka.partitions``.
    """
    if timeout is None:
        timeout = config.kafka.connect_timeout
    if admin is None:
        from driftline import kafka_clients

        admin = kafka_clients.admin(config.kafka)
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    from driftline.errors import DriftlineError
    from driftline.topics import create_missing

    where = f"Kafka at {config.kafka.bootstrap_servers}"
    wanted = internal_topics(config)
    new = [NewTopic(t.name, t.partitions, t.replicas, config=t.settings) for t in wanted]
    existing = _list_topics(admin, where, timeout)
    try:
        result = create_missing(admin, new, existing, timeout)
    except DriftlineError as exc:
        raise StreamsError(
            f"{exc} (a topic of the monitor, on {where}); create it yourself (compacted for a "
            "changelog) or grant the monitor's principal CREATE on the cluster"
        ) from exc
    _wait_listed(admin, wanted, where, timeout)
    former = f"{config.monitor.app_id}-{FORMER_JOIN_TABLE}-changelog"
    if former in _list_topics(admin, where, timeout):
        _refuse_former_join_state(config, former, where, timeout)
    return result


def _refuse_former_join_state(
    config: DriftlineConfig, name: str, where: str, timeout: float
) -> None:
    """Raise when the changelog of the former join table still holds records."""
    from confluent_kafka import TopicPartition

    from driftline import kafka_clients

    consumer = kafka_clients.consumer(config.kafka, f"{name}-check")
    try:
        topics = consumer.list_topics(name, timeout=timeout).topics
        for partition in topics[name].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout)
            if high > low:
                from streams.errors import RESET_STATE

                raise StreamsError(
                    f"{name} on {where} holds join state of an earlier driftline (a Faust "
                    "table; the join keeps its state in RocksDB and the topic "
                    f"{config.monitor.app_id}-join-store-changelog now, and cannot read the "
                    f"old one): {RESET_STATE}"
                )
    finally:
        consumer.close()


def _list_topics(admin: Any, where: str, timeout: float) -> dict[str, Any]:
    from driftline.errors import BrokerUnreachableError
    from driftline.reachability import reason, unreachable_message

    try:
        return dict(admin.list_topics(timeout=timeout).topics)
    except Exception as exc:  # KafkaException: the broker does not answer
        servers = where.removeprefix("Kafka at ")
        raise BrokerUnreachableError(unreachable_message(servers, timeout, reason(exc))) from None


def _wait_listed(admin: Any, wanted: list[InternalTopic], where: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topics = _list_topics(admin, where, timeout)
        counts = {t.name: len(topics[t.name].partitions) if t.name in topics else 0 for t in wanted}
        wrong = {t.name: counts[t.name] for t in wanted if counts[t.name] not in (0, t.partitions)}
        if wrong:
            raise StreamsError(
                f"the monitor's topics {wrong} on {where} do not have kafka.partitions = "
                f"{wanted[0].partitions} partitions (Faust needs a changelog to match the topic "
                "its table is filled from): set kafka.partitions to their count, or delete them "
                "(the monitor's state stored in them is lost) and start again"
            )
        if all(counts[t.name] == t.partitions for t in wanted):
            return
        if time.monotonic() > deadline:
            absent = sorted(name for name, count in counts.items() if not count)
            raise StreamsError(f"{where} does not list the monitor's topics {absent} after {timeout:.0f} s")  # fmt: skip
        time.sleep(0.2)


def _run_workers(path: Path, loglevel: str, count: int, worker_id: str | None = None) -> int:
    """Start ``count`` single-worker processes and supervise them until a stop signal
    (:class:`~streams.supervisor.WorkerSupervisor`: every death logged, restarts with backoff,
    a worker given up after repeated quick failures). Returns the worst exit code once every
    worker has ended."""
    from streams.supervisor import WorkerSupervisor

    script = Path(sys.executable).parent / "driftline"
    command = [str(script) if script.exists() else "driftline", "monitor", "--config", str(path)]
    options = ["--log-level", loglevel, "--workers", "1", "--worker-index"]

    def start(index: int) -> subprocess.Popen[bytes]:
        name = ["--worker-id", f"{worker_id}-{index}"] if worker_id else []
        return subprocess.Popen([*command, *options, str(index), *name])

    supervisor = WorkerSupervisor(start, count)
    signal.signal(signal.SIGTERM, lambda signum, _frame: supervisor.stop(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: supervisor.stop(signum))
    return supervisor.run()
