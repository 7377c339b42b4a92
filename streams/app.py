"""The Faust app, read top to bottom as the topology.

    predictions + labels ──► join (stage 1) ──► outcomes ──► monitor (stage 2) ──► drift-alerts
    model-updates ─────────► version outcomes ──┘                           ├──► retrain-requests
                                                                            ├──► task-metrics
    anything unusable ──► dead-letters                                      └──► Feast (labels)

Each stage runs in a plain class that owns its buffers, its :class:`~streams.checkpoint.Checkpoint`
and its part of a rebalance (:class:`~streams.join_runner.JoinRunner`,
:class:`~streams.monitor_runner.MonitorRunner`); they hold acks until a checkpoint and store
state in the join stores and a Faust table, through the I/O edges of
:mod:`streams.faust_edges`. This module only wires them to Kafka. A rebalance aborts the
checkpoints in progress and drops the in-memory state of both stages (nothing is written while
partitions move); Faust then seeks every partition back to its committed offset and the stages
reload their state from the tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faust
from prometheus_client import generate_latest

from driftline.config.models import DriftlineConfig
from driftline.kafka_settings import librdkafka_settings
from streams.delivery_order import AckGate, StartSeek
from streams.faust_compat import (
    after_assignment_seek,
    check_faust_version,
    consumer_lag,
    fair_fetch_order,
    filter_acks,
    unacked_events,
)
from streams.faust_edges import RAW, EventTable, stage_io
from streams.feature_sink import FeatureSink
from streams.join_changelog import JoinChangelog, changelog_topic
from streams.join_runner import JoinRunner
from streams.join_stores import JoinStores
from streams.kafka_auth import faust_credentials
from streams.model_updates import forward_model_updates
from streams.monitor_runner import MonitorRunner
from streams.rebalances import Rebalances
from streams.stages import JoinStage, MonitorStage
from streams.web import monitor_registry

__all__ = ["build_app"]

PRODUCER_BATCH_BYTES = 1_000_000
"""aiokafka sends one batch per partition per request and one request at a time: batches of
16 KiB (its default) made a checkpoint's changelog writes (about 1.4 MB) some 40 round trips."""
POLL_RECORDS = 10
"""Records (envelopes of up to 100 events) Faust takes from the fetcher at a time; with
:func:`~streams.faust_compat.fair_fetch_order` each partition gets its turn every call or two.
100 made a turn 10 000 events of one partition (20 minutes of event time for the predictions of
``bench horizon``), and stage 2 held every outcome of a round of turns for its order."""
STREAM_BUFFER = 64
"""Records an agent's stream buffers ahead of it (Faust's default, 4 096 envelopes, is 400 000
events: the fetcher's hold-back of the partitions running ahead came that much too late)."""


def build_app(
    config: DriftlineConfig,
    *,
    bootstrap: str | None = None,
    seed: int = 0,
    feature_sink: Any | None = None,
    worker_index: int = 0,
    worker_id: str | None = None,
) -> faust.App:
    """The monitor's Faust app for ``config`` (nothing connects until a worker starts it).

    ``worker_index`` tells the processes of ``driftline monitor --workers N`` apart: each has its
    own state directory and web port (``monitor.web_port + index``) and, with
    ``monitor.static_membership``, its own ``group.instance.id``, so a restarted worker takes its
    partitions back at once instead of after the session timeout. ``worker_id`` (one per
    container replica, ``driftline monitor --worker-id``) names both instead of the index.
    """
    check_faust_version()
    mon, names, partitions = config.monitor, config.topics, config.kafka.partitions
    servers = bootstrap or config.kafka.bootstrap_servers  # $DRIFTLINE_...: the loader applied it
    datadir = config.state_dir / "monitor" / (worker_id or f"worker-{worker_index}")
    datadir.mkdir(parents=True, exist_ok=True)
    app = _faust_app(config, servers, datadir, worker_index, worker_id)

    # ---------------------------------------------------------------------------- topics, tables
    inputs = app.topic(names.predictions, names.labels, **RAW)
    outcomes = app.topic(names.outcomes, partitions=partitions, internal=True, **RAW)
    model_updates = app.topic(names.model_updates, **RAW)
    outputs = {
        name: app.topic(name, **RAW)
        for name in (names.drift_alerts, names.retrain_requests, names.task_metrics)
    }
    outputs |= {names.outcomes: outcomes, names.dead_letters: app.topic(names.dead_letters, **RAW)}
    table = EventTable(app.Table("monitor", key_type=str, value_type=bytes, partitions=partitions))

    gate = AckGate([names.predictions, names.labels, names.outcomes])
    kafka_settings = librdkafka_settings(config.kafka, **{"bootstrap.servers": servers})
    rebalances = Rebalances(app, kafka_settings, gate)
    io = stage_io(app, outputs, gate.ack, rebalances)

    # ---------------------------------------------------------------------------- the stages
    changelog = JoinChangelog(kafka_settings, changelog_topic(mon.app_id))
    stores = JoinStores(config, datadir / "join" if mon.store == "rocksdb" else None, changelog)
    join_stage = JoinStage(config, partitions, open_store=stores.opened)
    stage1 = JoinRunner(config, join_stage, stores, io)
    monitor_stage = MonitorStage(config, seed=seed, load=table.get, spill_dir=datadir / "held")
    sink = FeatureSink(config, feature_sink) if mon.feature_sink else None
    stage2 = MonitorRunner(config, monitor_stage, table, io, sink)

    # ---------------------------------------------------------------------------- agents
    @app.agent(inputs, concurrency=1)
    async def join(stream: faust.StreamT[bytes]) -> None:
        async for event in unacked_events(stream):
            await stage1.receive(event)

    @app.agent(model_updates, concurrency=1)
    async def versions(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await forward_model_updates(config, event.message, io.send)

    @app.agent(outcomes, concurrency=1)
    async def monitor(stream: faust.StreamT[bytes]) -> None:
        async for event in unacked_events(stream):
            await stage2.receive(event)

    # ------------------------------------------------------------------ timer and rebalances
    @app.timer(max(0.05, mon.checkpoint_interval))  # type: ignore[untyped-decorator]
    async def checkpoint_idle() -> None:
        await stage2.release_due()  # outcomes of a source that went idle are due now
        await stage1.checkpoint_if_due()
        await stage2.checkpoint_if_due()
        await stage1.heartbeat()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: Iterable[Any], **_: Any) -> None:
        """The input partitions this worker reads from now on (it speaks for them to stage 2)."""
        stage1.assigned((tp.topic, tp.partition) for tp in assigned)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: Iterable[Any], **_: Any) -> None:
        """Abort, never write: Faust seeks every partition back to its committed offset."""
        rebalances.begin()
        await stage1.revoke()
        await stage2.revoke()
        gone = [(tp.topic, tp.partition) for tp in revoked]
        stage1.forget(gone)
        stage2.forget(gone)

    # ------------------------------------------------------------------------------- web
    registry = monitor_registry(
        join_stage, monitor_stage, lambda: consumer_lag(app), lambda: stage1.alignment.held
    )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type="text/plain")

    filter_acks(app.consumer, gate.allows)  # only the checkpoints acknowledge the stages' records
    after_assignment_seek(app.consumer, StartSeek(gate.topics).targets)  # what recovery dropped
    return app


def _faust_app(
    config: DriftlineConfig,
    servers: str,
    datadir: Path,
    worker_index: int,
    worker_id: str | None,
) -> faust.App:
    """The Faust app of one worker, its settings and membership."""
    mon = config.monitor
    fair_fetch_order()
    return faust.App(
        mon.app_id,
        broker=[f"kafka://{server.strip()}" for server in servers.split(",")],
        broker_credentials=faust_credentials(config.kafka),
        store="rocksdb://" if mon.store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=config.kafka.partitions,
        topic_replication_factor=config.kafka.replication_factor,
        web_port=mon.web_port + worker_index,
        consumer_group_instance_id=(
            f"{mon.app_id}-{worker_id or worker_index}" if mon.static_membership else None
        ),
        broker_session_timeout=mon.session_timeout,
        broker_heartbeat_interval=max(1.0, mon.session_timeout / 4),
        stream_wait_empty=False,
        processing_guarantee="at_least_once",
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=mon.fetch_bytes,
        broker_max_poll_records=POLL_RECORDS,
        stream_buffer_maxsize=STREAM_BUFFER,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
    )
