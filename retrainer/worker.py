"""The retrainer worker: a confluent-kafka consumer group on ``retrain-requests``.

One thread polls Kafka, queues requests (coalesced per model) and commits; one background thread
runs the training (:class:`~retrainer.job.RetrainJob`), so polling — and group membership —
go on during a long run. The order for every answered run is fixed: updates produced → producer
flushed (delivery confirmed) → request offsets committed. A worker killed at any point
therefore leaves its requests uncommitted, and they are redone after the restart; the registry's
request-id lookup turns a redo of an already registered version into a re-announcement with the
same ``update_id`` instead of a second training.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from driftline import kafka_clients
from driftline.config import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import (
    DeadLetter,
    RecordSource,
    RejectedItem,
    RetrainRequest,
    decode,
    split_record,
)
from retrainer.job import JobOutcome, RetrainJob
from retrainer.offsets import OffsetTracker
from retrainer.planner import PendingRetrain
from retrainer.publisher import UpdatePublisher
from retrainer.queue import RequestQueue
from retrainer.updates import rejected_update

__all__ = ["RetrainWorker", "request_consumer"]

logger = logging.getLogger("retrainer.worker")
MAX_ATTEMPTS = 3
PAYLOAD_LIMIT = 64 * 1024


def request_consumer(config: DriftlineConfig) -> Any:
    """The retrainer's consumer of retrain requests: group ``retrainer.group_id``, manual
    commits, earliest offset, short session timeout."""
    session_ms = max(6000, int(config.retrainer.session_timeout * 1000))
    return kafka_clients.consumer(
        config.kafka,
        config.retrainer.group_id,
        **{
            "client.id": f"{config.kafka.client_id}-retrainer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(1000, session_ms // 3),
            "max.poll.interval.ms": max(300_000, session_ms + 1000),
        },
    )


class RetrainWorker:
    """Consumes retrain requests and answers each with model updates.

    Parameters
    ----------
    config
        The driftline config.
    job
        What answers a batch of coalesced requests (default: :class:`RetrainJob`).
    publisher
        Where updates and dead letters go (default: :class:`UpdatePublisher`).
    consumer
        A confluent-kafka ``Consumer`` (default: :func:`request_consumer`).
    poll_timeout
        Seconds one poll waits for a record.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        job: RetrainJob | None = None,
        publisher: UpdatePublisher | None = None,
        consumer: Any | None = None,
        poll_timeout: float = 0.2,
    ) -> None:
        self.config = config
        self.job = job
        self.publisher = publisher
        self.consumer = consumer
        self.poll_timeout = poll_timeout
        self._reset()

    def _reset(self) -> None:
        self._queue = RequestQueue(self.config.retrainer.coalesce_window)
        self._offsets = OffsetTracker()
        self._announced: set[str] = set()
        self._attempts: dict[tuple[str, ...], int] = {}
        self._running: tuple[PendingRetrain, Future[list[JobOutcome]]] | None = None
        self._imports: threading.Thread | None = None
        self._assigned: set[tuple[str, int]] = set()
        self.runs = 0
        self.outcomes: list[JobOutcome] = []

    # ------------------------------------------------------------------ lifecycle

    def run(
        self,
        stop: threading.Event | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
    ) -> None:
        """Poll, train and publish until ``stop`` is set; then finish the running job."""
        from retrainer.heartbeat import Heartbeat

        stop = stop or threading.Event()
        self._start()
        heartbeat = Heartbeat(self.config.state_dir / "run" / "retrainer.heartbeat")
        executor = ThreadPoolExecutor(1, thread_name_prefix="retrain")
        try:
            while not stop.is_set():
                heartbeat.beat()
                self._poll_once()
                self._collect(on_outcome, wait=False)
                self._start_next(executor)
                self._commit()
            if self._running is not None:
                logger.info("stopping: waiting for the running retrain to finish")
            self._collect(on_outcome, wait=True)
            self._commit()
        finally:
            executor.shutdown(wait=True)
            assert self.consumer is not None and self.publisher is not None
            self.consumer.close()
            self.publisher.close()
            logger.info("retrainer stopped (%d run(s))", self.runs)

    def _start(self) -> None:
        from models import Registry

        config = self.config
        registry = Registry.from_config(config.registry)
        removed = registry.cleanup_orphans(min_age_s=config.retrainer.orphan_min_age)
        if removed:
            logger.info("removed %d orphan staging artifact(s)", len(removed))
        if self.job is None:
            from featurestore import FeatureRepo

            self.job = RetrainJob(config, registry, FeatureRepo(config))
        # Feast and torch take 5-20 s to import on a small machine: import them beside the
        # polling now, so that the first request does not wait for them. A retrain waits for
        # this thread: two threads importing Feast at once fail on its circular imports
        # ("partially initialized module"), seen in CI-like runs.
        self._imports = threading.Thread(
            target=_import_training_stack, name="retrain-imports", daemon=True
        )
        self._imports.start()
        self.publisher = self.publisher or UpdatePublisher(config)
        if self.consumer is None:
            self.consumer = request_consumer(config)
        self.consumer.subscribe(
            [config.topics.retrain_requests], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        logger.info(
            "retrainer for %s: group %s on %s (coalesce %.1fs)",
            config.model, config.retrainer.group_id, config.topics.retrain_requests,
            config.retrainer.coalesce_window,
        )  # fmt: skip

    @property
    def assigned(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this worker owns now."""
        return set(self._assigned)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._assigned |= {(p.topic, p.partition) for p in partitions}
        logger.info("assigned %s", sorted(p.partition for p in partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._commit(only=revoked)
        dropped = self._queue.drop_partitions(revoked)
        self._offsets.forget(revoked)
        self._assigned -= revoked
        logger.info(
            "revoked %s (%d pending request record(s) left to the new owner)",
            sorted(p for _, p in revoked), len(dropped),
        )  # fmt: skip

    # ------------------------------------------------------------------ records

    def _poll_once(self) -> None:
        assert self.consumer is not None
        message = self.consumer.poll(self.poll_timeout)
        if message is None:
            return
        if message.error():
            logger.warning("consumer error: %s", message.error())
            return
        self.handle_record(message.topic(), message.partition(), message.offset(),
                           message.key(), message.value() or b"")  # fmt: skip

    def handle_record(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes
    ) -> None:
        """Queue the requests of one record; dead-letter what is not a valid request."""
        where = (topic, partition)
        self._offsets.track(where, offset)
        queued = 0
        try:
            events, _ = split_record(value)
        except EventValidationError as exc:
            self._dead_letter(exc.reason if hasattr(exc, "reason") else str(exc),
                              topic, partition, offset, None, key, value)  # fmt: skip
            events = []
        for index, raw in enumerate(events):
            try:
                event = decode(raw)
            except EventValidationError as exc:
                self._dead_letter(str(exc), topic, partition, offset, index, key, raw)
                continue
            if not isinstance(event, RetrainRequest):
                reason = f"expected {RetrainRequest.SCHEMA}, got {type(event).SCHEMA}"
                self._dead_letter(reason, topic, partition, offset, index, key, raw)
                continue
            if event.model != self.config.model:
                logger.warning(
                    "skipping request %s for model %r: this retrainer serves %r",
                    event.request_id, event.model, self.config.model,
                )  # fmt: skip
                continue
            self._queue.add(event, (topic, partition, offset), time.monotonic())
            queued += 1
        if not queued:
            self._offsets.done(where, offset)

    def _dead_letter(
        self,
        reason: str,
        topic: str,
        partition: int,
        offset: int,
        index: int | None,
        key: bytes | None,
        payload: Any,
    ) -> None:
        import json

        if isinstance(payload, RejectedItem):
            payload = payload.item
        try:
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else (
                json.dumps(payload, default=str)
            )  # fmt: skip
        except (RecursionError, ValueError):  # nested deeper than json writes, lone surrogates
            text = repr(type(payload))
        letter = DeadLetter.model_validate(
            {
                "schema": DeadLetter.SCHEMA,
                "reason": reason,
                "source": RecordSource(
                    topic=topic, partition=partition, offset=offset, index=index
                ),
                "key": key.decode("utf-8", "replace") if key else None,
                "payload": text[:PAYLOAD_LIMIT],
                "truncated": len(text) > PAYLOAD_LIMIT,
                "stage": "retrainer",
                "received_at": datetime.now(UTC),
            }
        )
        logger.warning("dead letter from %s[%d]@%d: %s", topic, partition, offset, reason)
        assert self.publisher is not None
        self.publisher.send_dead_letter(letter)

    # ------------------------------------------------------------------ runs

    def _start_next(self, executor: ThreadPoolExecutor) -> None:
        if self._running is not None:
            return
        pending = self._queue.pop_ready(time.monotonic())
        if pending is None:
            return
        assert self.job is not None
        logger.info(
            "retrain of %s for request(s) %s (tasks %s)",
            pending.model, ", ".join(pending.request_ids), pending.tasks,
        )  # fmt: skip
        self._running = (pending, executor.submit(self._run_after_imports, pending))

    def _run_after_imports(self, pending: PendingRetrain) -> list[JobOutcome]:
        if self._imports is not None:
            self._imports.join()
        assert self.job is not None
        return self.job.run(pending)

    def _collect(self, on_outcome: Callable[[JobOutcome], None] | None, wait: bool) -> None:
        if self._running is None:
            return
        pending, future = self._running
        if not wait and not future.done():
            return
        self._running = None
        try:
            outcomes = future.result()
        except Exception as exc:  # a failed run must not stop the worker
            retry = self._failed(pending, exc)
            if retry is None:
                self._queue.finish(pending.model)
                self._requeue(pending)
                return
            outcomes = retry
        self.runs += 1
        assert self.publisher is not None
        started = time.perf_counter()
        for outcome in outcomes:
            if outcome.update.update_id in self._announced:
                logger.info("update %s already announced", outcome.update.update_id)
                continue
            self.publisher.send_update(outcome.update)
        self.publisher.flush()
        publish_s = time.perf_counter() - started
        for outcome in outcomes:
            outcome.phases["publish_s"] = publish_s
            self._announced.add(outcome.update.update_id)
            self.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        for topic, partition, offset in pending.sources:
            self._offsets.done((topic, partition), offset)
        self._queue.finish(pending.model)

    def _requeue(self, pending: PendingRetrain) -> None:
        by_id = {r.request_id: r for r in pending.requests}
        for source, request_id in pending.origins.items():
            self._queue.add(by_id[request_id], source, time.monotonic())

    def _failed(self, pending: PendingRetrain, exc: Exception) -> list[JobOutcome] | None:
        """None: try again later; else the ``rejected`` outcome after the last attempt."""
        key = tuple(sorted(pending.request_ids))
        attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
        logger.error("retrain of %s failed (attempt %d/%d)", key, attempts, MAX_ATTEMPTS,
                     exc_info=exc)  # fmt: skip
        if attempts < MAX_ATTEMPTS:
            return None
        reason = f"retrain failed {attempts} times: {type(exc).__name__}: {exc}"
        update = rejected_update(
            pending.model, pending.tasks, pending.request_ids, pending.alert_ids, reason
        )
        return [JobOutcome(update, trained=False)]

    def _commit(self, only: set[tuple[str, int]] | None = None) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        offsets = {
            tp: offset
            for tp, offset in self._offsets.committable().items()
            if tp in self._assigned and (only is None or tp in only)
        }
        if not offsets:
            return
        assert self.consumer is not None and self.publisher is not None
        self.publisher.flush()  # dead letters of these records are delivered first
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            logger.warning("commit of %s failed (will retry): %s", offsets, exc)
            return
        self._offsets.committed(offsets)


def _import_training_stack() -> None:
    """Import what a retrain needs (Feast for the training set, torch for training)."""
    import feast  # noqa: F401
    import torch  # noqa: F401
