"""The alert router: one delivery loop per sink, each with its own consumer group and thread.

Each loop reads ``drift-alerts`` in the group ``<alerts.group_id>-<sink name>``, hands every
alert to its :class:`~driftline.alerts.delivery.SinkDelivery` and commits the record's offset
only after the alert was delivered (or given up on and sent to ``dead-letters`` with the reason).
So a sink that is slow, failing or dead holds back only its own loop: the monitor never waits
for a sink (it only writes the topic), and the other sinks go on. A router stopped mid-retry
leaves the record uncommitted, and the next start delivers it (at least once; the receiver can
drop a repeat by its ``Idempotency-Key`` header, the ``alert_id``).

De-duplication survives a restart: before it subscribes, each loop reads the last
``alerts.remember`` records below its group's committed offsets and remembers their alert ids as
handled, so an alert the monitor emits again later (its ids are deterministic) is dropped.

A group's first start (no committed offsets) begins at the alerts produced ``alerts.lookback``
before it, not at the topic's beginning: a new sink is not flooded with a month of history.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from driftline import kafka_clients
from driftline.alerts.delivery import Attempt, DeliveryOutcome, SinkDelivery
from driftline.alerts.stats import RoutingCollector, RoutingStats
from driftline.config.models import DriftlineConfig, WebhookSinkConfig
from driftline.errors import ConfigError, EventValidationError
from driftline.events import Alert, DeadLetter, RecordSource, decode, encode, split_record

__all__ = ["RESTART_WAIT", "AlertRouter"]

log = logging.getLogger("driftline.alerts")

RESTART_WAIT = 5.0
"""Seconds before a sink's loop starts again after a Kafka error."""

Post = Callable[[bytes, Mapping[str, str]], Attempt]


class AlertRouter:
    """Routes drift alerts to the configured sinks (``alerts.sinks``) until stopped.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (``alerts``, ``topics``, ``kafka``).
    stats
        Where the loops count their work (exposed by :attr:`collector`).
    posts
        Sink name → the callable that POSTs for it (default: the sink's webhook).

    ``start()`` refuses (:class:`~driftline.errors.ConfigError`) when a sink's URL variable is
    not set: a sink that can never deliver is a configuration error, said at once.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        stats: RoutingStats | None = None,
        posts: Mapping[str, Post] | None = None,
    ) -> None:
        self.config = config
        self.stats = stats or RoutingStats()
        self.posts = dict(posts or {})
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._producer: Any = None
        self._producer_lock = threading.Lock()

    @property
    def collector(self) -> RoutingCollector:
        """A Prometheus collector of this router's counts."""
        return RoutingCollector(self.stats)

    def check(self) -> None:
        """Raise :class:`ConfigError` naming every sink whose URL variable is unset."""
        missing = [
            f"alerts.sinks[{sink.name}]: ${sink.url_env} is not set (it holds the webhook URL)"
            for sink in self.config.alerts.sinks
            if sink.name not in self.posts and not os.environ.get(sink.url_env)
        ]
        if missing:
            raise ConfigError("; ".join(missing), missing)

    def start(self) -> None:
        """Start one daemon thread per sink (no-op without sinks)."""
        self.check()
        for sink in self.config.alerts.sinks:
            self.stats.declare(sink.name)
            thread = threading.Thread(
                target=self._run_sink, args=(sink,), name=f"alert-sink-{sink.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self._threads:
            names = ", ".join(s.name for s in self.config.alerts.sinks)
            log.info("alert router: delivering %s to %s", self.config.topics.drift_alerts, names)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loops (an alert being retried stays uncommitted) and wait for them."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self._producer is not None:
            self._producer.flush(5.0)

    @property
    def running(self) -> bool:
        """Whether any loop is alive."""
        return any(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------------ one sink's loop

    def _run_sink(self, sink: WebhookSinkConfig) -> None:
        """One sink's loop; a Kafka error (a broker restarting, a coordinator moving) starts
        it again after ``RESTART_WAIT`` seconds, with the same memory of delivered ids."""
        alerts = self.config.alerts
        delivery = SinkDelivery(
            sink,
            self.posts.get(sink.name),
            self.stats,
            alerts.remember,
            alerts.dashboard_url,
            wait=self._stop.wait,
        )
        group = f"{alerts.group_id}-{sink.name}"
        primed = False
        while not self._stop.is_set():
            try:
                if not primed:
                    handled = self._handled_ids(group)
                    for alert_id in handled:
                        delivery.remember_handled(alert_id)
                    if handled:
                        log.info("alert sink %s: %d alert ids handled before", sink.name, len(handled))  # fmt: skip
                    primed = True
                self._loop(delivery, group)
                return
            except Exception:  # keep the monitor's process alive, and try again
                log.exception(
                    "alert sink %s: the delivery loop failed; starting it again in %.0f s",
                    sink.name,
                    RESTART_WAIT,
                )
                self._stop.wait(RESTART_WAIT)

    def _loop(self, delivery: SinkDelivery, group: str) -> None:
        consumer = kafka_clients.consumer(
            self.config.kafka,
            group,
            **{"enable.auto.commit": False, "auto.offset.reset": "earliest"},
        )
        consumer.subscribe([self.config.topics.drift_alerts], on_assign=self._on_assign)
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.5)
                if message is None or message.error():
                    continue
                if not self._handle(delivery, message):
                    return  # stopping mid-retry: leave the record uncommitted
                consumer.commit(message=message, asynchronous=False)
        finally:
            consumer.close()

    def _handled_ids(self, group: str) -> list[str]:
        """The alert ids of up to ``alerts.remember`` records below ``group``'s committed
        offsets (oldest first): the ones this sink handled before a restart."""
        from confluent_kafka import KafkaException, TopicPartition

        topic = self.config.topics.drift_alerts
        reader = kafka_clients.consumer(self.config.kafka, group, **{"enable.auto.commit": False})
        try:
            metadata = reader.list_topics(topic, timeout=10.0).topics.get(topic)
            if metadata is None or metadata.error is not None:
                return []
            partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
            deadline = time.monotonic() + 60.0
            while True:  # a fresh broker answers NOT_COORDINATOR until its offsets topic is up
                try:
                    committed = reader.committed(partitions, timeout=10.0)
                    break
                except KafkaException:
                    if time.monotonic() > deadline or self._stop.is_set():
                        raise
                    self._stop.wait(0.5)
            ranges = []
            for tp in committed:
                if tp.offset <= 0:
                    continue
                low, _ = reader.get_watermark_offsets(tp, timeout=10.0)
                start = max(low, tp.offset - self.config.alerts.remember)
                if start < tp.offset:
                    ranges.append((tp.partition, start, tp.offset))
            if not ranges:
                return []
            reader.assign([TopicPartition(topic, p, start) for p, start, _ in ranges])
            ends = {p: end for p, _, end in ranges}
            ids: list[str] = []
            deadline = time.monotonic() + 30.0  # reading what was committed: bounded
            while ends and time.monotonic() < deadline and not self._stop.is_set():
                message = reader.poll(0.5)
                if message is None or message.error():
                    continue
                partition, offset = message.partition(), message.offset() or 0
                if partition in ends and offset < ends[partition]:
                    ids += _alert_ids(message.value() or b"")
                if partition in ends and offset >= ends[partition] - 1:
                    del ends[partition]
            return ids
        finally:
            reader.close()

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions without a committed offset start ``alerts.lookback`` back in time."""
        from confluent_kafka import OFFSET_END, KafkaException, TopicPartition

        try:
            committed = consumer.committed(partitions, timeout=10.0)
        except KafkaException as exc:  # the consumer's own fetch of committed offsets applies
            log.warning("alert router: committed offsets not read (%s); resuming from them", exc)
            consumer.assign(partitions)
            return
        since = int((time.time() - self.config.alerts.lookback) * 1000)
        fresh = [TopicPartition(p.topic, p.partition, since) for p in committed if p.offset < 0]
        if fresh:
            found = {(f.topic, f.partition): f.offset for f in consumer.offsets_for_times(fresh, timeout=10.0)}  # fmt: skip
            for partition in partitions:
                offset = found.get((partition.topic, partition.partition))
                if offset is not None:
                    partition.offset = offset if offset >= 0 else OFFSET_END
        consumer.assign(partitions)

    def _handle(self, delivery: SinkDelivery, message: Any) -> bool:
        """Deliver every alert of one record; ``False`` when stopping interrupted it."""
        name = delivery.sink.name
        kind, stamp = message.timestamp()
        produced_at = stamp / 1000 if kind and stamp > 0 else None
        source = (str(message.topic()), message.partition() or 0, message.offset() or 0)
        try:
            raws, envelope = split_record(message.value() or b"")
        except EventValidationError as exc:
            log.warning("alert sink %s: skipping a bad record at %s: %s", name, source, exc.reason)
            self.stats.count(name, "invalid")
            return True
        for index, raw in enumerate(raws):
            try:
                alert = decode(raw)
                if not isinstance(alert, Alert):
                    schema = raw.get("schema") if isinstance(raw, dict) else None
                    raise EventValidationError(f"expected {Alert.SCHEMA}, got {schema!r}")
            except EventValidationError as exc:
                log.warning("alert sink %s: skipping a bad event at %s: %s", name, source, exc.reason)  # fmt: skip
                self.stats.count(name, "invalid")
                continue
            outcome, reason = delivery.deliver(alert, produced_at)
            if outcome is DeliveryOutcome.STOPPED:
                return False
            if outcome is DeliveryOutcome.DELIVERED:
                log.info("alert sink %s: delivered alert %s (%s)", name, alert.alert_id, alert.task)
            elif outcome is DeliveryOutcome.FAILED:
                log.warning("%s; alert %s goes to %s", reason, alert.alert_id, self.config.topics.dead_letters)  # fmt: skip
                where = (*source, index if envelope else None)
                self._dead_letter(reason, where, encode(alert), name)
        return True

    def _dead_letter(
        self, reason: str, where: tuple[str, int, int, int | None], payload: bytes, sink: str
    ) -> None:
        topic, partition, offset, index = where
        letter = DeadLetter.model_validate(
            {
                "schema": DeadLetter.SCHEMA,
                "reason": reason,
                "source": RecordSource(
                    topic=topic, partition=partition, offset=offset, index=index
                ),
                "key": None,
                "payload": payload.decode(),
                "stage": f"alert-router/{sink}",
                "received_at": datetime.now(UTC),
            }
        )
        with self._producer_lock:
            if self._producer is None:
                self._producer = kafka_clients.producer(self.config.kafka, acks="all")
            self._producer.produce(
                self.config.topics.dead_letters, key=topic.encode(), value=encode(letter)
            )
            self._producer.flush(10.0)  # fmt: skip


def _alert_ids(value: bytes) -> list[str]:
    """The alert ids in one record (none when it cannot be read)."""
    try:
        raws, _ = split_record(value)
    except EventValidationError:
        return []
    return [
        str(raw["alert_id"])
        for raw in raws
        if isinstance(raw, dict) and isinstance(raw.get("alert_id"), str)
    ]
