"""Stage 2 on a worker: the task monitors, their buffered outputs and their checkpoint.

:class:`MonitorRunner` reads the outcomes, applies them in their order (:class:`MonitorStage`),
buffers the alerts, retrain requests, snapshots, dead letters and labelled outcomes until a
:class:`~streams.checkpoint.Checkpoint` sends them (and hands the labelled ones to the feature
sink), writes the touched monitors' state to their table and acknowledges the outcomes read,
except those still waiting for their turn. A rebalance drops all of it
(:meth:`MonitorRunner.revoke`); the monitors reload from the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from driftline.config.models import DriftlineConfig
from driftline.events import Alert, RetrainRequest, encode
from streams.checkpoint import Checkpoint, CheckpointRule
from streams.feature_sink import FeatureSink
from streams.outcome import monitor_key
from streams.stage_io import Deliveries, StageIO, last_event_per_partition
from streams.stage_runner import StageRunner
from streams.stages import MonitorResult, MonitorStage

__all__ = ["MonitorRunner", "StateTable"]

log = logging.getLogger("driftline.monitor")


class StateTable(Protocol):
    """The task monitors' table (the app's Faust table, written in a record's context)."""

    def get(self, key: str) -> bytes | None: ...

    def keys(self) -> Iterable[str]: ...

    def write(self, key: str, value: bytes, event: Any) -> None:
        """Store ``value`` as of ``event`` (its changelog record goes to event's partition)."""
        ...


class MonitorRunner(StageRunner):
    """Stage 2 of one worker.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    stage
        The task monitors (loading from ``table``).
    table
        Where the monitors' state is stored.
    io
        The I/O edges.
    sink
        Where labelled outcomes go at each checkpoint (``monitor.feature_sink``), or ``None``.
    """

    name = "monitor"

    def __init__(
        self,
        config: DriftlineConfig,
        stage: MonitorStage,
        table: StateTable,
        io: StageIO,
        sink: FeatureSink | None = None,
    ) -> None:
        mon, self.topics = config.monitor, config.topics
        super().__init__(io)
        self.config, self.stage, self.table, self.sink = config, stage, table, sink
        self.deliveries = Deliveries(io)
        self.checkpoint = Checkpoint(
            CheckpointRule(mon.checkpoint_events, mon.checkpoint_interval),
            self._send_outputs,
            self._write_state,
            self.deliveries.flush,
            acknowledge=io.acknowledge,
            holdback=self._held_back,
        )
        self._topic_of = {
            "Alert": self.topics.drift_alerts,
            "RetrainRequest": self.topics.retrain_requests,
            "TaskMetrics": self.topics.task_metrics,
        }
        self._reset()

    def _reset(self) -> None:
        """Nothing buffered or known of any task (a new worker, or a rebalance)."""
        self._out: list[tuple[str, bytes, bytes]] = []
        self._dead: list[Any] = []
        self._labelled: list[Any] = []  # for the feature sink, handed over at the checkpoint
        self.deliveries.clear()
        self._touched: dict[str, int] = {}
        self._partition_of: dict[str, int] = {}  # the outcomes partition of each model/task read
        self._restored = False  # the monitors of the assigned partitions were loaded
        self.stage.monitors.clear()

    # ------------------------------------------------------------------------------ records
    async def record(self, event: Any) -> None:
        """Apply one outcomes record; run the checkpoint when it is due."""
        message = event.message
        if message.key:
            self._partition_of[message.key.decode()] = message.partition
        result = self.stage.process(
            message.topic, message.partition, message.offset, message.value, message.key
        )
        self._take(result)
        if self.checkpoint.hold(event, result.applied + result.skipped):
            await self.checkpoint.run()

    def _take(self, result: MonitorResult) -> None:
        """Buffer what applying outcomes produced, for the next checkpoint."""
        for key in result.touched:
            self._touched[key] = self._partition_of[key]
        for output in result.outputs:
            name = type(output).__name__
            key = (
                output.model
                if isinstance(output, RetrainRequest)
                else monitor_key(output.model, output.task)
            )
            self._out.append((self._topic_of[name], key.encode(), encode(output)))
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
        self._dead.extend(result.dead_letters)
        if self.sink is not None:
            self._labelled.extend(result.labelled)

    async def release_due(self) -> None:
        """The timer's turn: load every task of the assigned partitions once the tables are
        recovered, and apply the outcomes that became due without a new record (a source now
        counts as idle)."""
        async with self.lock:
            if not self._restored and self.io.tables_recovered():
                # every task of the assigned partitions, not only those that get records again:
                # /metrics must not lose a task's counts to a rebalance at the end of a stream
                for key in list(self.table.keys()):
                    model, _, task = key.rpartition("/")
                    if task in self.config.tasks and model == self.config.model:
                        self.stage.monitor_for(model, task)
                self._restored = True
            released = self.stage.release_due()
            if released.outputs or released.touched:
                self._take(released)
                self.checkpoint.rule.record()

    # --------------------------------------------------------------------------- checkpoint
    async def _send_outputs(self) -> None:
        """Step 1: alerts, requests, snapshots, dead letters; the labelled outcomes to the sink."""
        for topic, key, value in self._out:
            await self.deliveries.send(topic, key, value)
        self._out.clear()
        await self.deliveries.send_dead(self.topics.dead_letters, self._dead)
        if self.sink is not None:
            for outcome in self._labelled:
                self.sink.add(outcome)
            self._labelled.clear()
            await asyncio.get_running_loop().run_in_executor(None, self.sink.flush)

    async def _write_state(self) -> None:
        """Step 3: each touched monitor's state, as of the last held event of its partition."""
        events = last_event_per_partition(self.checkpoint.held)
        for key, partition in sorted(self._touched.items()):
            monitor = self.stage.monitors.get(key)
            event = events.get(partition)
            if monitor is None or event is None:
                continue
            self.table.write(key, monitor.dump(), event)
        self._touched.clear()

    def _held_back(self) -> dict[tuple[str, int], int]:
        """Per outcomes partition, the lowest record an outcome still waits in: not acked."""
        bounds: dict[tuple[str, int], int] = {}
        for key, offset in self.stage.holding().items():
            where = (self.topics.outcomes, self._partition_of[key])
            bounds[where] = min(offset, bounds.get(where, offset))
        return bounds

    # ---------------------------------------------------------------------------- rebalance
    async def revoke(self, revoked: Iterable[tuple[str, int]]) -> None:
        """Abort, never write: every partition is read again from its committed offset (the
        ``revoked`` topic partitions' acknowledged offsets are forgotten: a new assignment may
        start lower)."""
        async with self.lock:
            self._abort(revoked)
