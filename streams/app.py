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

import asyncio
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
    filter_acks,
    unacked_events,
)
from streams.faust_edges import PRODUCER_BATCH_BYTES, RAW, EventTable, faust_app, stage_io
from streams.feature_sink import FeatureSink
from streams.heap_trim import HeapTrim
from streams.join_changelog import JoinChangelog, changelog_topic
from streams.join_runner import JoinRunner
from streams.join_stores import JoinStores
from streams.model_updates import forward_model_updates
from streams.monitor_runner import MonitorRunner
from streams.rebalances import Rebalances
from streams.split_values import SplitValueTable
from streams.stage_io import StageIO
from streams.stages import JoinStage, MonitorStage
from streams.web import monitor_registry

__all__ = ["PRODUCER_BATCH_BYTES", "build_app"]


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

    ``worker_index`` (``driftline monitor --workers N``) or ``worker_id`` (one per container
    replica, ``--worker-id``) tells workers apart: see :func:`~streams.faust_edges.faust_app`.
    """
    check_faust_version()
    mon, names, partitions = config.monitor, config.topics, config.kafka.partitions
    servers = bootstrap or config.kafka.bootstrap_servers  # $DRIFTLINE_...: the loader applied it
    datadir = config.state_dir / "monitor" / (worker_id or f"worker-{worker_index}")
    app = faust_app(config, servers, datadir, worker_index, worker_id)

    # ---------------------------------------------------------------------------- topics, tables
    inputs = app.topic(names.predictions, names.labels, **RAW)
    outcomes = app.topic(names.outcomes, partitions=partitions, internal=True, **RAW)
    model_updates = app.topic(names.model_updates, **RAW)
    outputs = {  # the topics the stages send to
        name: outcomes if name == names.outcomes else app.topic(name, **RAW)
        for name in (names.outcomes, names.drift_alerts, names.retrain_requests,
                     names.task_metrics, names.dead_letters)
    }  # fmt: skip
    table = EventTable(app.Table("monitor", key_type=str, value_type=bytes, partitions=partitions))

    gate = AckGate([names.predictions, names.labels, names.outcomes])
    kafka_settings = librdkafka_settings(config.kafka, **{"bootstrap.servers": servers})
    rebalances = Rebalances(app, kafka_settings, gate)
    io = stage_io(app, outputs, gate.ack, rebalances)

    # ---------------------------------------------------------------------------- the stages
    stage1 = _join_runner(config, datadir, kafka_settings, io)
    stage2 = _monitor_runner(config, datadir, table, io, seed, feature_sink)

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
    heap = HeapTrim(mon.heap_trim_interval)

    @app.timer(max(0.05, mon.checkpoint_interval))  # type: ignore[untyped-decorator]
    async def checkpoint_idle() -> None:
        await stage2.release_due()  # outcomes of a source that went idle are due now
        await stage1.checkpoint_if_due()
        await stage2.checkpoint_if_due()
        await stage1.heartbeat()
        if heap.due():  # freed C memory back to the system, in a thread
            await asyncio.get_running_loop().run_in_executor(None, heap.run)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: Iterable[Any], **_: Any) -> None:
        """The input partitions this worker reads from now on (it speaks for them to stage 2)."""
        stage1.assigned((tp.topic, tp.partition) for tp in assigned)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: Iterable[Any], **_: Any) -> None:
        """Abort, never write: Faust seeks every partition back to its committed offset."""
        rebalances.begin()
        gone = [(tp.topic, tp.partition) for tp in revoked]
        await stage1.revoke(gone)
        await stage2.revoke(gone)

    _metrics_page(app, stage1, stage2)
    filter_acks(app.consumer, gate.allows)  # only the checkpoints acknowledge the stages' records
    after_assignment_seek(app.consumer, StartSeek(gate.topics).targets)  # what recovery dropped
    return app


def _metrics_page(app: faust.App, stage1: JoinRunner, stage2: MonitorRunner) -> None:
    """Prometheus ``/metrics`` on the worker's web port: both stages, lag and held-back inputs."""
    registry = monitor_registry(
        stage1.stage, stage2.stage, lambda: consumer_lag(app), lambda: stage1.alignment.held
    )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type="text/plain")


def _join_runner(
    config: DriftlineConfig, datadir: Path, kafka_settings: dict[str, Any], io: StageIO
) -> JoinRunner:
    """Stage 1: the join over its stores (RocksDB under ``datadir`` or in memory) and their
    changelog topic."""
    mon = config.monitor
    changelog = JoinChangelog(kafka_settings, changelog_topic(mon.app_id))
    stores = JoinStores(config, datadir / "join" if mon.store == "rocksdb" else None, changelog)
    stage = JoinStage(config, config.kafka.partitions, open_store=stores.opened)
    return JoinRunner(config, stage, stores, io)


def _monitor_runner(
    config: DriftlineConfig,
    datadir: Path,
    table: EventTable,
    io: StageIO,
    seed: int,
    feature_sink: Any | None,
) -> MonitorRunner:
    """Stage 2: the task monitors over their table (outcomes waiting for their turn spill
    under ``datadir``), handing labelled outcomes to ``feature_sink`` with
    ``monitor.feature_sink`` on."""
    values = SplitValueTable(table)  # a task's state may be larger than one record
    stage = MonitorStage(config, seed=seed, load=values.get, spill_dir=datadir / "held")
    sink = FeatureSink(config, feature_sink) if config.monitor.feature_sink else None
    return MonitorRunner(config, stage, values, io, sink)
