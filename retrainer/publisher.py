"""Sending model updates and dead letters: an idempotent confluent-kafka producer, flushed.

``publish_update(config, update)`` is the one-shot form used by ``driftline models
promote|rollback``; the worker keeps one :class:`UpdatePublisher` and flushes it before it
commits request offsets.
"""

from __future__ import annotations

import logging
from typing import Any

from driftline import kafka_clients
from driftline.config import DriftlineConfig
from driftline.events import DeadLetter, ModelUpdate, encode
from retrainer.errors import PublishError

__all__ = ["UpdatePublisher", "publish_update", "update_producer"]

logger = logging.getLogger("retrainer.publisher")


def update_producer(config: DriftlineConfig) -> Any:
    """The retrainer's idempotent confluent-kafka producer (security from ``kafka.security``)."""
    return kafka_clients.producer(
        config.kafka,
        **{
            "client.id": f"{config.kafka.client_id}-retrainer",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        },
    )


class UpdatePublisher:
    """Produces model updates (key = model) and dead letters; :meth:`flush` confirms delivery.

    Parameters
    ----------
    config
        The driftline config (topics, Kafka settings).
    producer
        A confluent-kafka ``Producer`` to use (default: :func:`update_producer`).
    """

    def __init__(self, config: DriftlineConfig, producer: Any | None = None) -> None:
        self.config = config
        self.producer = producer
        self._reset()

    def _reset(self) -> None:
        self._errors: list[str] = []
        self.sent = 0

    def _producer(self) -> Any:
        if self.producer is None:
            self.producer = update_producer(self.config)
        return self.producer

    def send_update(self, update: ModelUpdate) -> None:
        """Queue one update on ``topics.model_updates``."""
        self._send(self.config.topics.model_updates, update.model, encode(update))
        logger.info(
            "model update %s: %s v%s %s", update.update_id, update.model, update.version,
            update.status,
        )  # fmt: skip

    def send_dead_letter(self, letter: DeadLetter) -> None:
        """Queue one dead letter on ``topics.dead_letters``."""
        self._send(self.config.topics.dead_letters, letter.key, encode(letter))

    def _send(self, topic: str, key: str | None, value: bytes) -> None:
        producer = self._producer()
        while True:
            try:
                producer.produce(
                    topic, value=value, key=key.encode() if key else None, on_delivery=self._ack
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)

    def _ack(self, error: Any, message: Any) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")
        else:
            self.sent += 1

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued is delivered; raise :class:`PublishError` otherwise."""
        if self.producer is None:
            return
        left = self.producer.flush(timeout)
        if left or self._errors:
            errors, self._errors = self._errors, []
            raise PublishError(
                f"{left} message(s) undelivered after {timeout}s, errors: {errors or 'none'}; "
                f"is Kafka at {self.config.kafka.bootstrap_servers} reachable?"
            )

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and release the producer (a later send makes a new one)."""
        try:
            self.flush(timeout)
        finally:
            self.producer = None


def publish_update(config: DriftlineConfig, update: ModelUpdate | dict[str, Any]) -> None:
    """Send one model update and wait for its delivery (for CLI promotions and rollbacks)."""
    event = update if isinstance(update, ModelUpdate) else ModelUpdate.model_validate(update)
    publisher = UpdatePublisher(config)
    publisher.send_update(event)
    publisher.close()
