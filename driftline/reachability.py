"""Is the configured Kafka there? One bounded metadata request, and one line when it is not.

Every command that talks to Kafka asks this first (``kafka.connect_timeout``, 10 s by default), so
a broker that is down or a wrong host ends the command with one clear line and exit 69 instead of
librdkafka retrying for minutes.
"""

from __future__ import annotations

from typing import Any

from driftline.config.models import KafkaConfig
from driftline.errors import BrokerUnreachableError

__all__ = ["reason", "require_broker", "require_topics", "unreachable_message"]


def unreachable_message(servers: str, timeout: float, detail: str = "") -> str:
    """The one line a command prints when no broker answers.

    >>> unreachable_message("kafka:9092", 10)
    'no Kafka broker answered at kafka:9092 within 10 s: start one (`driftline broker start`) \
or point kafka.bootstrap_servers ($DRIFTLINE_BOOTSTRAP_SERVERS) at a running broker'
    """
    why = f" ({detail})" if detail else ""
    return (
        f"no Kafka broker answered at {servers} within {timeout:g} s{why}: start one "
        "(`driftline broker start`) or point kafka.bootstrap_servers ($DRIFTLINE_BOOTSTRAP_SERVERS) "
        "at a running broker"
    )


def require_broker(
    kafka: KafkaConfig, admin: Any | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """The broker's topics (name → ``TopicMetadata``), or :class:`BrokerUnreachableError`.

    ``admin`` is a confluent-kafka ``AdminClient`` (default: one on ``kafka``'s settings);
    ``timeout`` defaults to ``kafka.connect_timeout``.
    """
    wait = kafka.connect_timeout if timeout is None else timeout
    if admin is None:
        from driftline.kafka_clients import admin as admin_client

        admin = admin_client(kafka)
    try:
        return dict(admin.list_topics(timeout=wait).topics)
    except Exception as exc:  # KafkaException: _TRANSPORT, timed out, name resolution, ...
        raise BrokerUnreachableError(
            unreachable_message(kafka.bootstrap_servers, wait, reason(exc))
        ) from None


def reason(exc: Exception) -> str:
    """librdkafka's reason in a few words (``Local: Broker transport failure``)."""
    describe = getattr(exc.args[0] if exc.args else None, "str", None)
    text = describe() if callable(describe) else str(exc)
    return str(text).removeprefix("Failed to get metadata: ")


def require_topics(kafka: KafkaConfig, names: list[str], admin: Any | None = None) -> None:
    """:func:`require_broker`, then a :class:`DriftlineError` naming any topic that is missing."""
    from driftline.errors import DriftlineError

    topics = require_broker(kafka, admin)
    missing = [name for name in names if name not in topics]
    if missing:
        raise DriftlineError(
            f"topic(s) {', '.join(missing)} do not exist on {kafka.bootstrap_servers}: "
            "create them with `driftline topics create`"
        )
