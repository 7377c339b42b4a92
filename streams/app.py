"""The Faust app, read top to bottom as the topology.

    predictions + labels ──► join (stage 1) ──► outcomes ──► monitor (stage 2) ──► drift-alerts
    model-updates ─────────► version outcomes ──┘                           ├──► retrain-requests
                                                                            ├──► task-metrics
    anything unusable ──► dead-letters                                      └──► Feast (labels)

All logic lives in plain classes (:class:`JoinStage`, :class:`MonitorStage`); this module only
wires them to Kafka, holds acks until a :class:`Checkpoint` and stores state in Faust tables.
A rebalance aborts the checkpoints in progress and drops the in-memory state of both stages
(nothing is written while partitions move); Faust then seeks every partition back to its
committed offset and the stages reload their state from the tables.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from typing import Any, NoReturn

import faust
from prometheus_client import generate_latest

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import Alert, ModelUpdate, RetrainRequest, decode, decode_record, encode
from driftline.kafka_settings import librdkafka_settings
from streams.checkpoint import Checkpoint, CheckpointRule
from streams.dead_letters import dead_letter
from streams.delivery_order import AckGate, DeliveryOrder, StartSeek, group_start, hole_check
from streams.errors import (
    RESTART_EXIT_CODE,
    STATE_LIMIT_EXIT_CODE,
    StateRefusedError,
    StateTooLargeError,
)
from streams.faust_compat import (
    after_assignment_seek,
    caught_up,
    check_faust_version,
    committed_offsets,
    consumer_lag,
    drain_producer,
    fair_fetch_order,
    filter_acks,
    hold_back,
    in_event_context,
    tables_recovered,
    unacked_events,
)
from streams.feature_sink import FeatureSink
from streams.idle_sources import IdleSources
from streams.input_alignment import InputAlignment
from streams.join_changelog import JoinChangelog, changelog_topic
from streams.join_stores import JoinStores
from streams.kafka_auth import faust_credentials
from streams.outcome import encode_outcomes, monitor_key
from streams.stages import JoinStage, MonitorStage, version_outcomes
from streams.web import monitor_registry

__all__ = ["build_app"]

log = logging.getLogger("driftline.monitor")

OUTCOMES_PER_ENVELOPE = 500
MAX_STATE_BYTES = 900 * 1024
"""A task monitor's state value must stay under Kafka's 1 MB record limit."""
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
_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


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
    mon, names = config.monitor, config.topics
    servers = bootstrap or config.kafka.bootstrap_servers  # $DRIFTLINE_...: the loader applied it
    worker = worker_id or f"worker-{worker_index}"
    datadir = config.state_dir / "monitor" / worker
    datadir.mkdir(parents=True, exist_ok=True)
    fair_fetch_order()
    app = faust.App(
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
    partitions = config.kafka.partitions

    # ---------------------------------------------------------------------------- topics, tables
    inputs = app.topic(names.predictions, names.labels, **_RAW)
    outcomes = app.topic(names.outcomes, partitions=partitions, internal=True, **_RAW)
    model_updates = app.topic(names.model_updates, **_RAW)
    alerts_out = app.topic(names.drift_alerts, **_RAW)
    requests_out = app.topic(names.retrain_requests, **_RAW)
    metrics_out = app.topic(names.task_metrics, **_RAW)
    dead_out = app.topic(names.dead_letters, **_RAW)
    monitor_table = app.Table("monitor", key_type=str, value_type=bytes, partitions=partitions)

    gate = AckGate([names.predictions, names.labels, names.outcomes])
    kafka_settings = librdkafka_settings(config.kafka, **{"bootstrap.servers": servers})
    rebalances = _Rebalances(app, kafka_settings, gate)

    # ---------------------------------------------------------------------------- stage 1: join
    join_stores = JoinStores(
        config,
        datadir / "join" if mon.store == "rocksdb" else None,
        JoinChangelog(kafka_settings, changelog_topic(mon.app_id)),
    )
    join_stage = JoinStage(config, partitions, open_store=join_stores.opened)
    join_loaded: set[int] = set()
    join_lock = asyncio.Lock()
    join_out: dict[str, list[list[Any]]] = defaultdict(list)
    join_dead: list[Any] = []
    join_reroutes: list[Any] = []
    join_sent: list[Any] = []  # delivery futures of the checkpoint in progress
    # input frontier of the last completed checkpoint, and of the one in progress, per partition
    join_durable: dict[int, dict[str, int]] = {}
    join_written: dict[int, dict[str, int]] = {}
    # the prediction and label stream times of each partition's last completed checkpoint
    # (stage 2 orders by the smaller: the watermark)
    durable_times: dict[int, tuple[float, float]] = {}
    written_times: dict[int, tuple[float, float]] = {}
    task_keys = [monitor_key(config.model, task) for task in sorted(config.tasks)]

    # the input partitions this worker reads, and which of them it declares idle to stage 2
    sources = IdleSources(mon.source_idle_timeout)
    next_offsets: dict[tuple[str, int], int] = {}
    input_topics = [names.predictions, names.labels]

    def progress() -> tuple[dict[int, float], list[int], set[int]]:
        """Per input partition, the watermark of its last completed checkpoint without the
        topics declared idle; the partitions this worker reads, and those wholly idle."""
        idle = sources.idle(lambda topic, p: caught_up(app, topic, p, next_offsets))
        marks = {}
        for p, times in durable_times.items():
            mark = min(
                (t for topic, t in zip(input_topics, times, strict=True) if (topic, p) not in idle),
                default=float("inf"),
            )
            if float("-inf") < mark < float("inf"):
                marks[p] = mark
        owned = sources.owned
        return marks, owned, {p for p in owned if all((t, p) in idle for t in input_topics)}

    alignment = InputAlignment(mon.input_alignment)

    def align_inputs() -> None:
        """Hold back the input partitions running ahead of the others in event time."""
        if not tables_recovered(app):
            return
        times = {}
        for topic, p in sources.topic_partitions:
            join = join_stage.joins.get(p)
            times[(topic, p)] = (
                float("-inf")
                if join is None
                else join.prediction_time
                if topic == names.predictions
                else join.label_time
            )
        hold_back(alignment.update(times, lambda tp: not caught_up(app, *tp, next_offsets)))

    async def send_heartbeats() -> None:
        """Stage 1's progress, at once when it changed: the last outcomes of a stream that
        stops need it to be applied."""
        now = progress()
        if now != heard[0]:
            heard[0] = now
            marks, owned, idle = now
            for key in task_keys:
                value = encode_outcomes([], {}, join_durable, marks, owned, idle)
                await outcomes.send(key=key.encode(), value=value)

    heard: list[tuple[dict[int, float], list[int], set[int]] | None] = [None]

    async def send_join_outputs() -> None:
        frontiers = {p: join.frontier() for p, join in join_stage.joins.items()}
        marks, owned, idle = progress()
        for key in task_keys:  # every task hears every partition's progress (a heartbeat)
            items = join_out.pop(key, [])
            for start in range(0, max(1, len(items)), OUTCOMES_PER_ENVELOPE):
                chunk = items[start : start + OUTCOMES_PER_ENVELOPE]
                if not chunk and not marks and not owned:
                    continue
                value = encode_outcomes(chunk, frontiers, join_durable, marks, owned, idle)
                join_sent.append(await outcomes.send(key=key.encode(), value=value))
        for key, items in join_out.items():  # another model's (stage 2 dead-letters them)
            for start in range(0, len(items), OUTCOMES_PER_ENVELOPE):
                chunk = items[start : start + OUTCOMES_PER_ENVELOPE]
                value = encode_outcomes(chunk, frontiers, join_durable, marks, owned, idle)
                join_sent.append(await outcomes.send(key=key.encode(), value=value))
        join_out.clear()
        await _send_dead(dead_out, join_dead, join_sent)
        for reroute in join_reroutes:
            join_sent.append(
                await app.topic(reroute.topic, **_RAW).send(
                    key=reroute.key, value=reroute.value, partition=reroute.partition
                )
            )
        join_reroutes.clear()

    async def write_join_state() -> None:
        """Each partition's changes: one changelog transaction, then the local store."""
        loop = asyncio.get_running_loop()

        async def write(partition: int) -> None:
            join = join_stage.joins[partition]
            records, batch = join_stage.checkpoint(partition)
            offset = await loop.run_in_executor(None, join_stores.commit, partition, records)
            join.commit(batch, offset)
            join_written[partition] = join.frontier()
            written_times[partition] = (join.prediction_time, join.label_time)

        held = _last_event_per_partition(join_checkpoint.held)
        await asyncio.gather(*(write(p) for p in sorted(held) if p in join_stage.joins))

    def join_committed() -> None:
        join_durable.update(join_written)
        join_written.clear()
        durable_times.update(written_times)
        written_times.clear()

    join_checkpoint = Checkpoint(
        CheckpointRule(mon.checkpoint_envelopes, mon.checkpoint_interval),
        send_join_outputs,
        write_join_state,
        lambda: _flush(app, join_sent),
        join_committed,
        gate.ack,
    )

    async def load_join(partition: int) -> None:
        await asyncio.get_running_loop().run_in_executor(None, join_stores.load, partition)
        join_stage.join_for(partition)
        join_loaded.add(partition)

    async def join_record(event: Any) -> None:
        message = event.message
        sources.read(message.topic, message.partition)
        next_offsets[(message.topic, message.partition)] = message.offset + 1
        if message.partition not in join_loaded:
            await load_join(message.partition)
        result = join_stage.process(
            message.topic, message.partition, message.offset, message.key, message.value
        )
        for outcome in result.outcomes:
            join_out[outcome.key].append(outcome.to_wire())
        join_dead.extend(result.dead_letters)
        join_reroutes.extend(result.reroutes)
        if join_checkpoint.hold(event):
            await join_checkpoint.run()
            align_inputs()

    @app.agent(inputs, concurrency=1)
    async def join(stream: faust.StreamT[bytes]) -> None:
        async for event in unacked_events(stream):
            read_in = rebalances.count
            async with join_lock:
                # read before a rebalance: it comes again; delivered again: processed already
                if rebalances.count == read_in and rebalances.check(event.message):
                    await _or_exit(join_record(event), "join")

    # ------------------------------------------------------------------ model updates → stage 2
    @app.agent(model_updates, concurrency=1)
    async def versions(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            where = (message.topic, message.partition, message.offset)
            key, value = message.key, message.value or b""
            try:
                raws = decode_record(value)
            except Exception as exc:  # a bad record must not stop the worker
                reason = getattr(exc, "reason", str(exc))
                await _send_dead(dead_out, [dead_letter(reason, (*where, None), value, key, "versions")])  # fmt: skip
                continue
            for index, raw in enumerate(raws):  # each update alone: a bad one is dead-lettered
                try:
                    update = decode(raw)
                    if not isinstance(update, ModelUpdate):
                        raise EventValidationError(f"expected {ModelUpdate.SCHEMA}")
                except Exception as exc:
                    reason = getattr(exc, "reason", str(exc))
                    letter = dead_letter(reason, (*where, index), raw, key, "versions")
                    await _send_dead(dead_out, [letter])
                    continue
                for outcome in version_outcomes(config, update, where):
                    value = encode_outcomes([outcome.to_wire()], {}, {})
                    sent = await outcomes.send(key=outcome.key.encode(), value=value)
                    await sent  # delivered before this update is acknowledged

    # --------------------------------------------------------------------- stage 2: monitor
    def load_monitor(key: str) -> bytes | None:
        data: bytes | None = monitor_table.get(key)
        return data

    monitor_stage = MonitorStage(config, seed=seed, load=load_monitor, spill_dir=datadir / "held")
    monitor_lock = asyncio.Lock()
    monitor_out: list[tuple[Any, bytes, bytes]] = []
    monitor_dead: list[Any] = []
    monitor_sent: list[Any] = []
    monitor_labelled: list[Any] = []  # for the feature sink, handed over at the checkpoint
    touched: dict[str, int] = {}
    partition_of: dict[str, int] = {}  # the outcomes partition of each model/task read
    restored: list[bool] = []  # the monitors of the assigned partitions were loaded
    sink = FeatureSink(config, feature_sink) if mon.feature_sink else None

    async def send_monitor_outputs() -> None:
        for topic, key, value in monitor_out:
            monitor_sent.append(await topic.send(key=key, value=value))
        monitor_out.clear()
        await _send_dead(dead_out, monitor_dead, monitor_sent)
        if sink is not None:
            for outcome in monitor_labelled:
                sink.add(outcome)
            monitor_labelled.clear()
            await asyncio.get_running_loop().run_in_executor(None, sink.flush)

    async def write_monitor_state() -> None:
        events = _last_event_per_partition(monitor_checkpoint.held)
        for key, partition in sorted(touched.items()):
            monitor = monitor_stage.monitors.get(key)
            event = events.get(partition)
            if monitor is None or event is None:
                continue
            with in_event_context(event):
                monitor_table[key] = _checked(
                    monitor.dump(), f"monitor {key}", "use fewer slices or a smaller window"
                )
        touched.clear()

    def held_back() -> dict[tuple[str, int], int]:
        """Per outcomes partition, the lowest record an outcome still waits in: not acked."""
        bounds: dict[tuple[str, int], int] = {}
        for key, offset in monitor_stage.holding().items():
            where = (names.outcomes, partition_of[key])
            bounds[where] = min(offset, bounds.get(where, offset))
        return bounds

    monitor_checkpoint = Checkpoint(
        CheckpointRule(mon.checkpoint_envelopes, mon.checkpoint_interval),
        send_monitor_outputs,
        write_monitor_state,
        lambda: _flush(app, monitor_sent),
        acknowledge=gate.ack,
        holdback=held_back,
    )
    topic_of = {"Alert": alerts_out, "RetrainRequest": requests_out, "TaskMetrics": metrics_out}

    def take(result: Any) -> None:
        """Buffer what applying outcomes produced, for the next checkpoint."""
        for key in result.touched:
            touched[key] = partition_of[key]
        for output in result.outputs:
            name = type(output).__name__
            key = (
                output.model
                if isinstance(output, RetrainRequest)
                else monitor_key(output.model, output.task)
            )
            monitor_out.append((topic_of[name], key.encode(), encode(output)))
            if isinstance(output, Alert):
                log.warning(
                    "drift alert %s on %s/%s: %s %s=%.4g (%s)",
                    output.alert_id,
                    output.model,
                    output.task,
                    output.detector,
                    output.metric,
                    output.value,
                    output.severity,
                )
        monitor_dead.extend(result.dead_letters)
        if sink is not None:
            monitor_labelled.extend(result.labelled)

    async def monitor_record(event: Any) -> None:
        message = event.message
        if message.key:
            partition_of[message.key.decode()] = message.partition
        result = monitor_stage.process(
            message.topic, message.partition, message.offset, message.value, message.key
        )
        take(result)
        if monitor_checkpoint.hold(event):
            await monitor_checkpoint.run()

    @app.agent(outcomes, concurrency=1)
    async def monitor(stream: faust.StreamT[bytes]) -> None:
        async for event in unacked_events(stream):
            read_in = rebalances.count
            async with monitor_lock:
                # read before a rebalance: it comes again; delivered again: processed already
                if rebalances.count == read_in and rebalances.check(event.message):
                    await _or_exit(monitor_record(event), "monitor")

    # ------------------------------------------------------------------ timers and rebalances
    @app.timer(max(0.05, mon.checkpoint_interval))  # type: ignore[untyped-decorator]
    async def checkpoint_idle() -> None:
        async with monitor_lock:  # outcomes of a source that went idle are due now
            if not restored and tables_recovered(app):
                # every task of the assigned partitions, not only those that get records again:
                # /metrics must not lose a task's counts to a rebalance at the end of a stream
                for key in list(monitor_table.keys()):
                    model, _, task = key.rpartition("/")
                    if task in config.tasks and model == config.model:
                        monitor_stage.monitor_for(model, task)
                restored.append(True)
            released = monitor_stage.release_due()
            if released.outputs or released.touched:
                take(released)
                monitor_checkpoint.rule.record()
        for lock, checkpoint in ((join_lock, join_checkpoint), (monitor_lock, monitor_checkpoint)):
            async with lock:
                if checkpoint.rule.due():
                    await _or_exit(checkpoint.run(), "checkpoint")
        async with join_lock:
            if not tables_recovered(app):
                sources.waiting()  # nothing is read while the tables recover: not idle
            align_inputs()
            await _or_exit(send_heartbeats(), "heartbeat")

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: Iterable[Any], **_: Any) -> None:
        """The input partitions this worker reads from now on (it speaks for them to stage 2)."""
        sources.assigned((tp.topic, tp.partition) for tp in assigned if tp.topic in input_topics)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: Iterable[Any], **_: Any) -> None:
        """Abort, never write: Faust seeks every partition back to its committed offset."""
        rebalances.begin()
        async with join_lock:
            join_checkpoint.abort()
            join_out.clear()
            join_dead.clear()
            join_reroutes.clear()
            join_sent.clear()
            join_written.clear()
            join_durable.clear()
            written_times.clear()
            durable_times.clear()
            heard[0] = None
            sources.revoked()
            alignment.reset()
            hold_back([])
            next_offsets.clear()
            join_stage.close()
            join_stores.release()
            join_loaded.clear()
        async with monitor_lock:
            monitor_checkpoint.abort()
            monitor_out.clear()
            monitor_dead.clear()
            monitor_sent.clear()
            touched.clear()
            partition_of.clear()
            restored.clear()
            monitor_stage.monitors.clear()
            monitor_labelled.clear()
        for tp in revoked:
            join_checkpoint.ledger.forget(tp.topic, tp.partition)
            monitor_checkpoint.ledger.forget(tp.topic, tp.partition)

    # ------------------------------------------------------------------------------- web
    registry = monitor_registry(
        join_stage, monitor_stage, lambda: consumer_lag(app), lambda: alignment.held
    )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type="text/plain")

    filter_acks(app.consumer, gate.allows)  # only the checkpoints acknowledge the stages' records
    after_assignment_seek(app.consumer, StartSeek(gate.topics).targets)  # what recovery dropped
    return app


# ------------------------------------------------------------------------------------ helpers


class _Rebalances:
    """What the agents must know of rebalances.

    ``count``: how many began. A record an agent read before one must not be processed after it:
    the tables are being recovered then (a state restored now would come back empty), and Faust
    seeks the partition back and delivers the record again anyway.

    :meth:`check`: each partition's records must reach the stage in order from the committed
    offset (:class:`streams.delivery_order.DeliveryOrder`); one delivered again is skipped
    (``False``); after a break the worker exits before acknowledging anything past it, and a
    restart reads from the committed offset.
    """

    def __init__(self, app: faust.App, kafka_settings: dict[str, Any], gate: AckGate) -> None:
        self.count = 0
        self.gate = gate
        self.order = DeliveryOrder(
            lambda where: committed_offsets(app.consumer).get(where),
            hole_check(kafka_settings),
            self._broken,
            group_start(kafka_settings, app.conf.id),
        )

    def begin(self) -> None:
        self.count += 1
        self.order.reset()
        self.gate.reset()

    def check(self, message: Any) -> bool:
        return self.order.check(message.topic, message.partition, message.offset)

    @staticmethod
    def _broken(what: str) -> None:
        _exit_for_restart(
            "%s: records reached the stage out of order; exiting so that a restart reads from "
            "the committed offset",
            what,
        )


async def _or_exit(work: Awaitable[None], stage: str) -> None:
    """Run one step of a stage; on any error end the process at once (exit 70), like a crash.

    A Faust agent that raises is restarted by Faust with the stream moved on and our in-memory
    state half-applied: records would be lost until the next restart. Exiting keeps the state
    guarantee (a restart restores the tables and replays from the committed offsets, exactly as
    after ``kill -9``) and lets the supervisor (``--workers``, systemd, Kubernetes) see it.
    A state value over Kafka's record limit ends it with :data:`STATE_LIMIT_EXIT_CODE` instead:
    a restart would meet the same limit, over and over.
    """
    try:
        await work
    except StateTooLargeError as exc:
        _exit(
            STATE_LIMIT_EXIT_CODE,
            "the %s stage's state outgrew the record limit; stopping (nothing past the last "
            "checkpoint is acknowledged, and a restart would meet the same limit): %s",
            stage,
            exc,
        )
    except StateRefusedError as exc:
        _exit(
            STATE_LIMIT_EXIT_CODE,
            "the %s stage cannot use its stored state; stopping (a restart would meet it "
            "again): %s",
            stage,
            exc,
        )
    except Exception:
        _exit_for_restart(
            "the %s stage failed; exiting so that a restart replays from the last checkpoint",
            stage,
            exc_info=True,
        )


def _exit_for_restart(message: str, *args: Any, exc_info: bool = False) -> NoReturn:
    """Log ``message`` and end the process with :data:`RESTART_EXIT_CODE`, without cleanup."""
    _exit(RESTART_EXIT_CODE, message, *args, exc_info=exc_info)


def _exit(code: int, message: str, *args: Any, exc_info: bool = False) -> NoReturn:
    """Log ``message`` and end the process with ``code`` at once, without cleanup."""
    log.critical(message, *args, exc_info=exc_info)
    logging.shutdown()
    os._exit(code)


def _last_event_per_partition(events: list[Any]) -> dict[int, Any]:
    last: dict[int, Any] = {}
    for event in events:
        last[event.message.partition] = event
    return last


def _checked(data: bytes, what: str, hint: str) -> bytes:
    if len(data) > MAX_STATE_BYTES:
        raise StateTooLargeError(
            f"{what} is {len(data)} bytes, over the {MAX_STATE_BYTES}-byte limit; {hint}"
        )
    return data


async def _send_dead(topic: Any, letters: list[Any], sent: list[Any] | None = None) -> None:
    for letter in letters:
        future = await topic.send(key=letter.source.topic.encode(), value=encode(letter))
        if sent is not None:
            sent.append(future)
    letters.clear()


async def _flush(app: faust.App, sent: list[Any]) -> None:
    """Steps 2 and 4 of a checkpoint: every buffered record handed to the client and delivered.

    The producer drained (:func:`streams.faust_compat.drain_producer`: table writes included),
    then each send's delivery result checked (a failed send raises, so nothing is acknowledged).
    """
    await drain_producer(app.producer)
    futures, sent[:] = list(sent), []
    for future in futures:
        await future
