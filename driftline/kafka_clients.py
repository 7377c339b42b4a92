"""The one place driftline builds confluent-kafka clients from its config.

Every :func:`producer`, :func:`consumer` and :func:`admin` starts from
:func:`driftline.kafka_settings.librdkafka_settings` (bootstrap servers, client id, security with
its secrets from the environment, no topic auto-creation, librdkafka's log lines through
:func:`driftline.kafka_logs.kafka_logger`); a caller adds only what is its own (acks, group,
offsets), as librdkafka property names. confluent-kafka is imported when a client is built.

Clients driftline builds outside a config stay outside: the local broker's own admin calls
(``driftline.broker``, before any config), the benchmarks' clients of the broker they start, and
the monitor's internal clients, built from the settings its app resolved once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftline.kafka_settings import librdkafka_settings

if TYPE_CHECKING:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    from driftline.config.models import KafkaConfig

__all__ = ["admin", "consumer", "producer"]


def producer(kafka: KafkaConfig, **overrides: Any) -> Producer:
    """A ``confluent_kafka.Producer`` for ``kafka`` with ``overrides`` (e.g. ``acks="all"``)."""
    from confluent_kafka import Producer

    return Producer(librdkafka_settings(kafka, **overrides))


def consumer(kafka: KafkaConfig, group_id: str, **overrides: Any) -> Consumer:
    """A ``confluent_kafka.Consumer`` of group ``group_id`` for ``kafka`` with ``overrides``."""
    from confluent_kafka import Consumer

    return Consumer(librdkafka_settings(kafka, **{"group.id": group_id, **overrides}))


def admin(kafka: KafkaConfig, **overrides: Any) -> AdminClient:
    """A ``confluent_kafka.admin.AdminClient`` for ``kafka`` with ``overrides``."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(librdkafka_settings(kafka, **overrides))
