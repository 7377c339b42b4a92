"""Kafka client settings from the config, with security passed through and secrets from the env.

>>> from driftline.config.models import KafkaConfig
>>> librdkafka_settings(KafkaConfig(bootstrap_servers="b:9092"))["bootstrap.servers"]
'b:9092'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from driftline.config.models import KafkaConfig, SecurityConfig
from driftline.errors import ConfigError

__all__ = ["KafkaCredentials", "credentials", "librdkafka_settings"]


@dataclass(frozen=True)
class KafkaCredentials:
    """Resolved security settings; ``repr`` never shows the password."""

    protocol: str
    mechanism: str | None
    username: str | None
    password: str | None
    cafile: str | None
    certfile: str | None
    keyfile: str | None
    key_password: str | None

    def __repr__(self) -> str:
        return f"KafkaCredentials(protocol={self.protocol!r}, mechanism={self.mechanism!r}, username={self.username!r}, password=***)"


def credentials(security: SecurityConfig) -> KafkaCredentials:
    """Read the secrets that ``security`` names from the environment; fail if one is missing."""
    username = password = None
    if security.protocol.startswith("SASL"):
        username = _required_env(security.username_env, "the Kafka SASL username")
        password = _required_env(security.password_env, "the Kafka SASL password")
    return KafkaCredentials(
        protocol=security.protocol,
        mechanism=security.sasl_mechanism,
        username=username,
        password=password,
        cafile=str(security.ssl_cafile) if security.ssl_cafile else None,
        certfile=str(security.ssl_certfile) if security.ssl_certfile else None,
        keyfile=str(security.ssl_keyfile) if security.ssl_keyfile else None,
        key_password=os.environ.get(security.ssl_key_password_env),
    )


def librdkafka_settings(kafka: KafkaConfig, **overrides: Any) -> dict[str, Any]:
    """Settings for confluent-kafka clients: bootstrap, client id and security.

    Clients never ask the broker to create a topic they name (librdkafka's producers do by
    default): an auto-created topic gets the broker's partition count, not the co-partitioned
    one of ``driftline topics create``, and a metadata lookup for a missing topic must say it
    is missing rather than race its creation. librdkafka's own log lines go to
    :func:`driftline.kafka_logs.kafka_logger` (Python logging, rate-limited), never to stderr.
    """
    from driftline.kafka_logs import kafka_logger

    creds = credentials(kafka.security)
    settings: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": kafka.client_id,
        "security.protocol": creds.protocol.lower(),
        "allow.auto.create.topics": False,
        "logger": kafka_logger(),
    }
    if creds.mechanism:
        settings["sasl.mechanisms"] = creds.mechanism
        settings["sasl.username"] = creds.username
        settings["sasl.password"] = creds.password
    optional = {
        "ssl.ca.location": creds.cafile,
        "ssl.certificate.location": creds.certfile,
        "ssl.key.location": creds.keyfile,
        "ssl.key.password": creds.key_password,
    }
    settings.update({k: v for k, v in optional.items() if v})
    settings.update(overrides)
    return settings


def _required_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable ${name} ({what}) is not set")
    return value
