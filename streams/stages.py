"""The two stages as plain processors of Kafka records (no Faust here; the app wires them).

:class:`JoinStage` takes records of ``predictions``/``labels`` and returns outcomes, dead letters
and re-routes; :class:`MonitorStage` takes records of ``outcomes`` and returns alerts, retrain
requests and snapshots. Both accept a single event or a ``driftline.batch/1`` envelope per record;
a bad event in an envelope is dead-lettered alone.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import DeadLetter, ModelUpdate, decode_record, split_record
from driftline.partitioning import partition_for
from streams.alert_stats import AlertStats
from streams.dead_letters import dead_letter
from streams.decoding import EventDecoder
from streams.features import PartitionedProfiles, feature_kinds
from streams.features.stored_profile import stored_reference
from streams.join import LabelJoin
from streams.join_store import JoinStore
from streams.outcome import OUTCOMES_ENVELOPE, Outcome, monitor_key
from streams.outcome_order import OutcomeOrder
from streams.records import LabelRecord, PredictionRecord
from streams.task_monitor import MonitorOutput, TaskMonitor

log = logging.getLogger("driftline.monitor")

__all__ = [
    "JoinResult",
    "JoinStage",
    "MonitorResult",
    "MonitorStage",
    "Reroute",
    "version_outcomes",
]


@dataclass(frozen=True, slots=True)
class Reroute:
    """An event that sits on the wrong partition for its key: send it to ``partition``."""

    topic: str
    partition: int
    key: bytes
    value: bytes


@dataclass(slots=True)
class JoinResult:
    """What one input record produced in stage 1."""

    outcomes: list[Outcome] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reroutes: list[Reroute] = field(default_factory=list)
    events: int = 0


@dataclass(slots=True)
class MonitorResult:
    """What one ``outcomes`` record produced in stage 2."""

    outputs: list[MonitorOutput] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    labelled: list[Outcome] = field(default_factory=list)
    applied: int = 0
    skipped: int = 0


class JoinStage:
    """Stage 1: decode, validate, route and join one partition's records at a time.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    partitions
        Partition count of ``predictions``/``labels`` (for the murmur2 routing check).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\nkafka: {partitions: 1}\\ntasks:\\n  churn: {type: binary}\\n")
    >>> stage = JoinStage(cfg, partitions=1)
    >>> result = stage.process("predictions", 0, 0, b"p-1", b'{"schema": "driftline.batch/1",'
    ...     b' "events": [{"schema": "driftline.prediction/1", "prediction_id": "p-1",'
    ...     b' "model": "m", "model_version": "1", "entity_id": "e", "event_time":'
    ...     b' "2026-11-23T12:00:00Z", "outputs": {"churn": {"score": 0.7}}}, {"bad": 1}]}')
    >>> [o.kind for o in result.outcomes], [d.source.index for d in result.dead_letters]
    (['predicted'], [1])
    """

    def __init__(
        self,
        config: DriftlineConfig,
        partitions: int,
        open_store: Callable[[int], JoinStore] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.partitions = partitions
        self.open_store = open_store
        self.clock = clock
        self._decoder = EventDecoder(config)
        self._skew = config.monitor.max_event_skew
        self.joins: dict[int, LabelJoin] = {}
        self.rerouted = 0
        self.dead_lettered = 0
        self.too_far_ahead = 0
        self.profiles = PartitionedProfiles(config) if config.feature_drift.enabled else None

    def join_for(self, partition: int) -> LabelJoin:
        """The join of one input partition: its store opened by ``open_store`` (a new one in
        memory without it)."""
        join = self.joins.get(partition)
        if join is None:
            store = self.open_store(partition) if self.open_store is not None else None
            join = self.joins[partition] = LabelJoin(self.config, store, partition=partition)
            if self.profiles is not None:
                stored = join.store.attached(_PROFILES)
                if stored is not None:
                    self.profiles.load(partition, stored)
        return join

    def checkpoint(self, partition: int) -> tuple[list[tuple[bytes, bytes | None]], Any]:
        """The changelog records and local batch of ``partition``'s checkpoint: its join state
        and, with feature drift on, its feature profiles (stored atomically with it)."""
        join = self.joins[partition]
        if self.profiles is not None:
            join.store.attach(_PROFILES, self.profiles.dump(partition))
        return join.checkpoint()

    def close(self) -> None:
        """Close every partition's store (a rebalance, or the end)."""
        for join in self.joins.values():
            join.close()
        self.joins.clear()
        if self.profiles is not None:
            self.profiles.partitions.clear()

    def _reject(
        self,
        result: JoinResult,
        reason: str,
        where: tuple[str, int, int, int | None],
        payload: Any,
        key: bytes | None,
    ) -> None:
        """Dead-letter what ``where`` (topic, partition, offset, index in the envelope or
        ``None``) held, and count it."""
        result.dead_letters.append(dead_letter(reason, where, payload, key, "join"))
        self.dead_lettered += 1

    def _too_far_ahead(self, join: LabelJoin, t: float) -> str:
        """Count an event dated too far ahead; the reason it is dead-lettered."""
        self.too_far_ahead += 1
        return (
            f"event_time is {join.ahead_of(t):.0f} s ahead of the partition's stream time and "
            f"more than monitor.max_event_skew ({self._skew:.0f} s) ahead of the "
            "clock: a wrong timestamp would expire every pending prediction"
        )

    def _profile(
        self,
        result: JoinResult,
        join: LabelJoin,
        record: PredictionRecord,
        where: tuple[str, int, int, int],
    ) -> str | None:
        """Add a prediction to its partition's feature profiles (the profiles of windows it
        closed go out as outcomes); the reason when they could not take it."""
        assert self.profiles is not None
        try:
            for profile in self.profiles.observe(where[1], record, where[2:]):
                profile.tau = join.prediction_time  # a window closed: apply it here
                result.outcomes.append(profile)
        except Exception as exc:
            log.exception("the feature profiles could not take %s[%d]@%d #%d", *where)
            return (
                "the feature profiles could not take this event (the join applied it; "
                f"{type(exc).__name__}: {exc})"
            )
        return None

    def process(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> JoinResult:
        """Process one Kafka record (an event or an envelope)."""
        result = JoinResult()
        join = self.join_for(partition)
        if join.is_replay(topic, offset):
            return result  # applied and sent before the restart
        whole = (topic, partition, offset, None)
        try:
            raws, envelope = split_record(
                value or b"", max_event_bytes=self.config.producer.max_event_bytes
            )
        except EventValidationError as exc:
            self._reject(result, exc.reason, whole, value or b"", key)
            join.mark_applied(topic, offset)
            return result
        decode, skew, partitions = self._decoder.decode, self._skew, self.partitions
        outcomes = result.outcomes
        for index, raw in enumerate(raws):
            try:
                record = decode(raw)
                if not isinstance(record, _INPUT_RECORDS):
                    raise EventValidationError(
                        f"{type(record).__name__} does not belong on {topic!r}; "
                        "send model updates to the model-updates topic"
                    )
            except EventValidationError as exc:
                at = (topic, partition, offset, index if envelope else None)
                self._reject(result, exc.reason, at, raw, key)
                continue
            t = record.t
            if join.ahead_of(t) > skew and t > self.clock() + skew:
                at = (topic, partition, offset, index if envelope else None)
                self._reject(result, self._too_far_ahead(join, t), at, raw, key)
                continue
            result.events += 1
            home = _home(record.prediction_id, partitions)
            if home != partition:
                self.rerouted += 1
                result.reroutes.append(
                    Reroute(
                        topic,
                        home,
                        record.prediction_id.encode(),
                        json.dumps(raw, separators=(",", ":")).encode(),
                    )
                )
                continue
            where = (topic, partition, offset, index if envelope else 0)
            try:
                outcomes += join.add(record, where)
            except Exception as exc:  # a bug met by one event: it must not stop the worker
                log.exception("the join could not apply %s[%d]@%d #%d", *where)
                reason = f"the join could not apply this event ({type(exc).__name__}: {exc})"
                at = (topic, partition, offset, index if envelope else None)
                self._reject(result, reason, at, raw, key)
                continue
            if self.profiles is not None and isinstance(record, PredictionRecord):
                missed = self._profile(result, join, record, where)
                if missed is not None:  # the join applied it: only the profiles miss it
                    at = (topic, partition, offset, index if envelope else None)
                    self._reject(result, missed, at, raw, key)
        try:
            result.outcomes.extend(join.end_record())
        except Exception as exc:  # a bug: the record's predictions go uncounted, nothing stops
            log.exception("the join could not count the predictions of %s[%d]@%d", *whole[:3])
            reason = (
                f"the join could not count this record's predictions ({type(exc).__name__}: {exc})"
            )
            self._reject(result, reason, whole, value or b"", key)
        join.mark_applied(topic, offset)
        return result


class MonitorStage:
    """Stage 2: apply outcomes to the :class:`TaskMonitor` of their (model, task).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    seed
        Seed of randomised detectors.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        seed: int = 0,
        load: Callable[[str], bytes | None] | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.load = load
        self.spill_dir = spill_dir
        self.monitors: dict[str, TaskMonitor] = {}
        self._partitions: dict[str, int] = {}  # the outcomes partition of each model/task
        self.dead_lettered = 0
        self.alert_stats = AlertStats()

    def monitor_for(self, model: str, task: str) -> TaskMonitor:
        """The monitor of one (model, task) (created empty when new)."""
        key = monitor_key(model, task)
        monitor = self.monitors.get(key)
        if monitor is None:
            stored = self.load(key) if self.load is not None else None
            if stored is not None:
                monitor = TaskMonitor.load(self.config, stored)
            else:
                monitor = TaskMonitor(self.config, model, task, self.seed)
            self.monitors[key] = monitor
        return monitor

    def order_for(self, model: str, task: str) -> OutcomeOrder:
        """The apply order of one (model, task) (kept in its monitor's state)."""
        monitor = self.monitor_for(model, task)
        if monitor.order is None:
            monitor.order = OutcomeOrder(self.config.kafka.partitions)
        order, in_memory = monitor.order, self.config.monitor.held_in_memory
        if order.spill_dir != self.spill_dir or order.memory_items != in_memory:
            order.spill_to(self.spill_dir, in_memory)
        return order

    def _order_of(self, outcome: Outcome) -> OutcomeOrder:
        if outcome.task not in self.config.tasks:
            raise ValueError(f"unknown task {outcome.task!r}")
        return self.order_for(outcome.model, outcome.task)

    def process(
        self, topic: str, partition: int, offset: int, value: bytes | None, key: bytes | None = None
    ) -> MonitorResult:
        """Process one ``outcomes`` record (an envelope of outcomes of one model/task, or a
        heartbeat of stage 1's watermarks), then apply what is due
        (:class:`~streams.outcome_order.OutcomeOrder`)."""
        result = MonitorResult()
        try:
            envelope = _unwrap(decode_record(value or b""))
        except EventValidationError as exc:
            result.dead_letters.append(
                dead_letter(
                    exc.reason, (topic, partition, offset, None), value or b"", None, "monitor"
                )
            )
            self.dead_lettered += 1
            return result
        raws, frontiers, durables = envelope.events, envelope.frontiers, envelope.durables
        orders: dict[str, OutcomeOrder] = {}
        if (envelope.watermarks or envelope.owned) and key:
            model, _, task = key.decode().rpartition("/")
            if task in self.config.tasks and model == self.config.model:
                order = orders[monitor_key(model, task)] = self.order_for(model, task)
                for source, watermark in envelope.watermarks.items():
                    order.advance(source, watermark)
                for source in envelope.owned:
                    order.declare(source, idle=source in envelope.idle)
        partitions, monitors = self._partitions, self.monitors
        for index, raw in enumerate(raws):
            try:
                outcome = Outcome.from_wire(raw)
                outcome_key = outcome.key
                order = orders.get(outcome_key) or self._order_of(outcome)
            except (KeyError, TypeError, ValueError) as exc:
                result.dead_letters.append(
                    dead_letter(
                        f"bad outcome: {exc}",
                        (topic, partition, offset, index),
                        raw,
                        None,
                        "monitor",
                    )
                )
                self.dead_lettered += 1
                continue
            orders[outcome_key] = order
            source = outcome.origin[1]
            late = order.offer(outcome, frontiers.get(source), durables.get(source), offset)
            partitions[outcome_key] = partition
            for held in late:  # a source's after it was idle (or a replay, skipped)
                monitor = monitors[outcome_key]
                skipped = monitor.skipped
                self._apply(
                    monitor, outcome_key, held.outcome, result, held.frontier, held.durable, offset
                )
                order.unordered += monitor.skipped == skipped
        for order in orders.values():
            order.read(offset)
        self._release(orders, result)
        return result

    def release_due(self, final: bool = False) -> MonitorResult:
        """Apply what became due without a new record (a source now counts as idle); with
        ``final``, everything held (the input is over: tests and benchmarks)."""
        result = MonitorResult()
        orders = {k: m.order for k, m in self.monitors.items() if m.order}
        self._release(orders, result, float("inf") if final else None)
        return result

    def _release(
        self, orders: dict[str, OutcomeOrder], result: MonitorResult, until: float | None = None
    ) -> None:
        for key in sorted(orders):
            monitor = self.monitors[key]
            for held in orders[key].release(until):
                self._apply(
                    monitor, key, held.outcome, result, held.frontier, held.durable, held.record
                )

    def holding(self) -> dict[str, int]:
        """Per model/task, the lowest ``outcomes`` offset an outcome still waits from."""
        out: dict[str, int] = {}
        for key, monitor in self.monitors.items():
            offset = monitor.order.holding_from if monitor.order else None
            if offset is not None:
                out[key] = offset
        return out

    def apply(
        self,
        outcome: Outcome,
        result: MonitorResult,
        frontier: dict[str, int] | None = None,
        durable: dict[str, int] | None = None,
    ) -> None:
        """Apply one decoded outcome (the in-process path the benchmark also uses)."""
        monitor = self.monitor_for(outcome.model, outcome.task)
        self._apply(monitor, outcome.key, outcome, result, frontier, durable)

    def _apply(
        self,
        monitor: TaskMonitor,
        key: str,
        outcome: Outcome,
        result: MonitorResult,
        frontier: dict[str, int] | None,
        durable: dict[str, int] | None,
        record: int = -1,
    ) -> None:
        """Apply ``outcome`` to ``monitor`` (of model/task ``key``) into ``result``."""
        try:
            outputs = monitor.apply(outcome, frontier, durable)
        except Exception as exc:  # a bug met by one outcome: it must not stop the worker
            log.exception("stage 2 could not apply an outcome of %s", key)
            where = (
                self.config.topics.outcomes,
                self._partitions.get(key, -1),
                record,
                None,
            )
            result.dead_letters.append(
                dead_letter(
                    f"the monitor could not apply this outcome ({type(exc).__name__}: {exc})",
                    where,
                    outcome.to_wire(),
                    key.encode(),
                    "monitor",
                )
            )
            result.touched.add(key)  # it may have changed some of the task's state
            self.dead_lettered += 1
            return
        if outputs is None:
            result.skipped += 1
            return
        result.applied += 1
        result.touched.add(key)
        if outputs:
            result.outputs.extend(outputs)
            self.alert_stats.observe(outputs)
        if outcome.kind == "labelled":
            result.labelled.append(outcome)


def version_outcomes(
    config: DriftlineConfig, update: ModelUpdate, where: tuple[str, int, int]
) -> list[Outcome]:
    """The ``version`` outcomes a promotion/rollback sends to every task's monitor.

    With feature drift on and ``feature_drift.reference: champion``, each carries the feature
    drift reference of its task: the task's view of the training profile stored with the
    version (read and verified here, once: :func:`~streams.features.stored_profile.stored_reference`),
    or the reason it falls back to the version's first windows (logged once per update).
    """
    if update.model != config.model or update.status not in ("promoted", "rolled_back"):
        return []
    if update.version is None:
        return []
    topic, partition, offset = where
    references = _references(config, update)
    return [
        Outcome(
            "version",
            update.model,
            update.version,
            task,
            update.update_id,
            update.event_time.timestamp(),
            (topic, partition, offset, 0, seq),
            features=references.get(task),
            retrained=(task in update.tasks) if update.tasks else None,
            tau=update.event_time.timestamp(),
        )
        for seq, task in enumerate(sorted(config.tasks))
    ]


def _references(config: DriftlineConfig, update: ModelUpdate) -> dict[str, dict[str, Any]]:
    """Per task, the feature drift reference its ``version`` outcome carries (none without
    feature drift, or with a reference other than ``champion``). Never raises: a problem is a
    fallback to the version's first windows, with one log line."""
    section = config.feature_drift
    if not section.enabled or section.reference_kind != "champion":
        return {}
    try:
        profile, source = stored_reference(config, update)
    except Exception as exc:  # a bug: the version must still reach the monitors
        log.exception("reading the feature profile of %s v%s failed", update.model, update.version)
        profile, source = None, f"reading it failed ({type(exc).__name__}: {exc})"
    kinds = feature_kinds(
        [*config.features, *(f for t in config.tasks.values() for f in t.features)]
    )
    shared = [f.name for f in config.features]
    out: dict[str, dict[str, Any]] = {}
    unusable: dict[str, list[str]] = {}
    for task, spec in sorted(config.tasks.items()):
        view = shared + [f.name for f in spec.features]
        if profile is None:
            out[task] = {"reference": "first_windows", "why": source}
            continue
        lacking = [n for n in view if profile.kinds.get(n) != kinds[n]]
        if lacking:
            unusable[task] = lacking
            why = f"{source} lacks feature(s) {lacking} (or holds another kind)"
            out[task] = {"reference": "first_windows", "why": why}
        else:
            out[task] = {"reference": "champion", "profile": profile.view(view).to_wire()}
    if profile is None:
        log.warning(
            "feature drift reference of %s v%s: its first %d windows (%s)",
            update.model, update.version, section.reference_windows, source,
        )  # fmt: skip
    elif unusable:
        log.warning(
            "feature drift reference of %s v%s: %s, but for %s its first %d windows (the "
            "profile lacks %s)", update.model, update.version, source, sorted(unusable),
            section.reference_windows, sorted({n for names in unusable.values() for n in names}),
        )  # fmt: skip
    else:
        log.info("feature drift reference of %s v%s: %s", update.model, update.version, source)
    return out


Progress = dict[int, dict[str, int]]
"""Stage 1 offsets per input partition (frontiers or durable frontiers of an envelope)."""


@dataclass(slots=True)
class Envelope:
    """What one ``driftline.outcomes/2`` record carries (:func:`streams.outcome.encode_outcomes`)."""

    events: list[Any]
    frontiers: Progress
    durables: Progress
    watermarks: dict[int, float]
    owned: list[int]
    idle: set[int]


_INPUT_RECORDS = (PredictionRecord, LabelRecord)
"""What stage 1 takes from ``predictions``/``labels`` (a model update does not belong there)."""

_PROFILES = b"profiles"
"""The name the feature profiles of a partition are attached to its join state under."""


@functools.lru_cache(maxsize=65_536)
def _home(prediction_id: str, partitions: int) -> int:
    """The murmur2 partition of a prediction id (its prediction and labels repeat it)."""
    return partition_for(prediction_id, partitions)


def _unwrap(raws: list[dict[str, Any]]) -> Envelope:
    """The outcomes of a ``driftline.outcomes/2`` record, its frontiers, durable frontiers,
    durable watermarks, and the sender's owned and idle partitions."""
    envelope = raws[0]
    if len(raws) != 1 or envelope.get("schema") != OUTCOMES_ENVELOPE:
        raise EventValidationError(
            f"expected a {OUTCOMES_ENVELOPE} envelope (an outcomes record of another driftline "
            "version: stop every worker before an upgrade)"
        )
    events, frontiers, durables = envelope.get("events"), envelope.get("f"), envelope.get("d")
    if not isinstance(events, list) or not isinstance(frontiers, dict):
        raise EventValidationError(f"malformed {OUTCOMES_ENVELOPE} envelope: needs events and f")
    try:
        return Envelope(
            events,
            {int(p): dict(f) for p, f in frontiers.items()},
            {int(p): dict(d) for p, d in (durables or {}).items()},
            {int(p): float(w) for p, w in (envelope.get("w") or {}).items()},
            [int(p) for p in envelope.get("o") or ()],
            {int(p) for p in envelope.get("i") or ()},
        )
    except (TypeError, ValueError) as exc:
        raise EventValidationError(f"malformed {OUTCOMES_ENVELOPE} envelope: {exc}") from exc
