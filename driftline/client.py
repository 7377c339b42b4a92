"""The producer SDK: log predictions and labels from a production system.

Events are validated (contract and config rules), packed per partition into
``driftline.batch/1`` envelopes (so the monitor pays Kafka's per-record cost once per envelope) and
sent with an idempotent, ``acks=all`` producer. The partition of each event is Kafka's murmur2 of
its ``prediction_id``, so envelopes land where Java clients, Faust and kcat
(``-X partitioner=murmur2_random``) would put the single events.

Nothing is dropped silently: a delivery failure raises :class:`DeliveryError` from the next call
or from :meth:`Client.flush`; a full local buffer blocks (``producer.on_buffer_full: block``, up to
``block_timeout``) or raises :class:`ProducerBufferFullError`.

Usage::

    with driftline.Client(config) as client:
        client.log_prediction("p-1", {"churn": {"score": 0.8}}, model_version="3",
                              entity_id="cust-42", features={"tenure": 14})
        client.log_label("p-1", "churn", 1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from driftline import kafka_clients
from driftline.config.models import DriftlineConfig
from driftline.errors import DeliveryError, EventValidationError, ProducerBufferFullError
from driftline.events import Contract, Label, Prediction, validation_reason
from driftline.partitioning import partition_for
from driftline.validation import EventRules

__all__ = ["Client"]

_ENVELOPE_HEAD = b'{"schema":"driftline.batch/1","events":['


def _validated(cls: type[Any], data: Mapping[str, Any]) -> Any:
    try:
        return cls.model_validate(_plain(data))
    except ValidationError as exc:
        raise EventValidationError(validation_reason(exc, cls.SCHEMA)) from None


def _plain(value: Any) -> Any:
    """Python values as the contract takes them: any mapping as a dict, numpy scalars as
    ``int``/``float``/``bool`` (model outputs often are ``numpy.float32``). What goes on the wire
    is the validated event's JSON, with exact types, either way."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return value


class _Envelope:
    """Events waiting for one (topic, partition), already serialized."""

    __slots__ = ("events", "opened", "size")

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self.size = len(_ENVELOPE_HEAD) + 2
        self.opened = time.monotonic()


class Client:
    """Producer SDK for prediction and label events (thread-safe).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``; its ``kafka``, ``topics`` and ``producer`` sections apply.
    producer_settings
        Extra librdkafka settings (override the defaults).
    envelopes
        ``False`` sends one event per record (what any other client may do).
    """

    def __init__(
        self,
        config: DriftlineConfig,
        producer_settings: Mapping[str, Any] | None = None,
        envelopes: bool = True,
    ) -> None:
        self.config = config
        self.envelopes = envelopes
        self._rules = EventRules(config)
        self._limits = config.producer
        settings: dict[str, Any] = {
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "compression.type": "lz4",
            "linger.ms": 5,
            "message.max.bytes": 1_000_000,
            **(producer_settings or {}),
        }
        self._producer = kafka_clients.producer(config.kafka, **settings)
        self._lock = threading.RLock()
        self._buffers: dict[tuple[str, int], _Envelope] = {}
        self._partitions: dict[str, int] = {}
        self._errors: list[str] = []
        self._sent = 0
        self._closed = threading.Event()
        self._linger = threading.Thread(
            target=self._linger_loop, name="driftline-linger", daemon=True
        )
        self._linger.start()

    # ------------------------------------------------------------------------------ public

    def log_prediction(
        self,
        prediction_id: str,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        model_version: str,
        entity_id: str,
        event_time: datetime | None = None,
        features: Mapping[str, Any] | None = None,
        segments: Mapping[str, str] | None = None,
        model: str | None = None,
    ) -> None:
        """Log all heads of one forward pass (``outputs``: task -> score/value/label/...)."""
        event = _validated(
            Prediction,
            {
                "schema": Prediction.SCHEMA,
                "prediction_id": prediction_id,
                "model": model or self.config.model,
                "model_version": model_version,
                "entity_id": entity_id,
                "event_time": event_time or datetime.now(UTC),
                "outputs": outputs,
                "features": features or {},
                "segments": segments or {},
            },
        )
        self.send(event)

    def log_label(
        self, prediction_id: str, task: str, label: Any, event_time: datetime | None = None
    ) -> None:
        """Log the ground truth of one task of one prediction."""
        event = _validated(
            Label,
            {
                "schema": Label.SCHEMA,
                "prediction_id": prediction_id,
                "task": task,
                "label": label,
                "event_time": event_time or datetime.now(UTC),
            },
        )
        self.send(event)

    def log_predictions(self, predictions: Iterable[Prediction | Mapping[str, Any]]) -> int:
        """Log many predictions (events or dicts in the contract's shape); return the count."""
        return self._send_many(Prediction, predictions)

    def log_labels(self, labels: Iterable[Label | Mapping[str, Any]]) -> int:
        """Log many labels (events or dicts in the contract's shape); return the count."""
        return self._send_many(Label, labels)

    def send(self, event: Prediction | Label) -> None:
        """Validate ``event`` against the config and queue it for its partition."""
        self._raise_delivery_errors()
        self._rules.check(event)
        payload = event.model_dump_json(by_alias=True).encode()
        if len(payload) > self._limits.max_event_bytes:
            raise EventValidationError(
                f"event {event.prediction_id!r} is {len(payload)} bytes, over producer.max_event_bytes"
                f" ({self._limits.max_event_bytes})"
            )
        topic = (
            self.config.topics.predictions
            if isinstance(event, Prediction)
            else self.config.topics.labels
        )
        key = event.prediction_id.encode()
        # The partition is computed here (murmur2, as librdkafka's murmur2_random would) rather
        # than left to librdkafka: records produced before it has the topic's metadata would
        # otherwise wait in an unassigned queue and could land after later records.
        partition = partition_for(key, self._partition_count(topic))
        if not self.envelopes:
            self._produce(topic, key, payload, partition)
            return
        with self._lock:
            envelope = self._buffers.setdefault((topic, partition), _Envelope())
            if envelope.events and envelope.size + len(payload) + 1 > self._limits.envelope_bytes:
                self._send_envelope(topic, partition)
                envelope = self._buffers.setdefault((topic, partition), _Envelope())
            envelope.events.append(payload)
            envelope.size += len(payload) + 1
            if len(envelope.events) >= self._limits.envelope_events:
                self._send_envelope(topic, partition)

    def flush(self, timeout: float = 60.0) -> int:
        """Send every pending envelope and wait for delivery; return events sent so far.

        Raises :class:`DeliveryError` when a record was not delivered (or not within ``timeout``).
        """
        with self._lock:
            for topic, partition in list(self._buffers):
                self._send_envelope(topic, partition)
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} record(s) not delivered within {timeout}s")
        self._raise_delivery_errors()
        return self._sent

    def close(self, timeout: float = 60.0) -> None:
        """Flush and stop the background linger thread."""
        try:
            self.flush(timeout)
        finally:
            self._closed.set()
            self._linger.join(timeout=2)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- private

    def _send_many(self, cls: type[Contract], events: Iterable[Any]) -> int:
        count = 0
        for item in events:
            event = item if isinstance(item, cls) else _validated(cls, item)
            self.send(event)  # type: ignore[arg-type]
            count += 1
        return count

    def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            meta = self._producer.list_topics(topic, timeout=30)
            info = meta.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                raise DeliveryError(
                    f"topic {topic!r} does not exist on {self.config.kafka.bootstrap_servers}; "
                    "run `driftline topics create`"
                )
            count = self._partitions[topic] = len(info.partitions)
        return count

    def _send_envelope(self, topic: str, partition: int) -> None:
        envelope = self._buffers.pop((topic, partition), None)
        if envelope is None or not envelope.events:
            return
        payload = _ENVELOPE_HEAD + b",".join(envelope.events) + b"]}"
        self._produce(topic, None, payload, partition, len(envelope.events))

    def _produce(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None, count: int = 1
    ) -> None:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                self._errors.append(f"{topic}[{partition}]: {err}")
            else:
                self._sent += count

        extra: dict[str, Any] = {} if partition is None else {"partition": partition}
        deadline = time.monotonic() + self._limits.block_timeout
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, on_delivery=on_delivery, **extra
                )
                break
            except BufferError:
                if self._limits.on_buffer_full == "raise" or time.monotonic() > deadline:
                    raise ProducerBufferFullError(
                        f"local producer buffer full for {topic!r}; "
                        "call flush(), raise queue.buffering.max.messages, or slow down"
                    ) from None
                self._producer.poll(0.05)
        self._producer.poll(0)

    def _linger_loop(self) -> None:
        interval = max(self._limits.linger_ms / 2000.0, 0.005)
        while not self._closed.wait(interval):
            now = time.monotonic()
            with self._lock:
                for (topic, partition), envelope in list(self._buffers.items()):
                    if (now - envelope.opened) * 1000 >= self._limits.linger_ms:
                        self._send_envelope(topic, partition)
            self._producer.poll(0)

    def _raise_delivery_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError(f"{len(errors)} record(s) failed: " + "; ".join(errors[:5]))
