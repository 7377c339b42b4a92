"""Every client built from the config gets the same settings: bootstrap, security, logger."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from driftline import kafka_clients
from driftline.config.models import KafkaConfig, SecurityConfig
from driftline.kafka_logs import LOGGER_NAME

SASL = KafkaConfig(
    bootstrap_servers="kafka-1:9092,kafka-2:9092",
    client_id="shop",
    security=SecurityConfig(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512"),
)


class _Client:
    """What the callers use of a client while these tests run."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def poll(self, timeout: float = 0) -> None:
        return None

    def flush(self, timeout: float = 0) -> int:
        return 0

    def close(self) -> None:
        return None


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    import confluent_kafka
    import confluent_kafka.admin

    made: list[tuple[str, dict[str, Any]]] = []
    for module, name in ((confluent_kafka, "Producer"), (confluent_kafka, "Consumer"),
                         (confluent_kafka.admin, "AdminClient")):  # fmt: skip
        monkeypatch.setattr(
            module,
            name,
            lambda settings, kind=name: made.append((kind, settings)) or _Client(settings),
        )
    monkeypatch.setenv("DRIFTLINE_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("DRIFTLINE_KAFKA_PASSWORD", "s3cret")
    return made


def test_each_kind_of_client_gets_the_configs_settings(built: list[Any]) -> None:
    kafka_clients.producer(SASL, acks="all")
    kafka_clients.consumer(SASL, "readers", **{"enable.auto.commit": False})
    kafka_clients.admin(SASL)
    assert [kind for kind, _ in built] == ["Producer", "Consumer", "AdminClient"]
    for _, settings in built:
        assert settings["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
        assert settings["client.id"] == "shop"
        assert settings["security.protocol"] == "sasl_ssl"
        assert (settings["sasl.username"], settings["sasl.password"]) == ("alice", "s3cret")
        assert settings["allow.auto.create.topics"] is False
        assert isinstance(settings["logger"], logging.Logger)
        assert settings["logger"].name == LOGGER_NAME
    assert built[0][1]["acks"] == "all"
    assert built[1][1]["group.id"] == "readers" and built[1][1]["enable.auto.commit"] is False


def test_a_callers_setting_wins_over_the_default(built: list[Any]) -> None:
    kafka_clients.producer(SASL, **{"client.id": "shop-retrainer"})
    assert built[0][1]["client.id"] == "shop-retrainer"


def test_the_sdk_client_and_the_retrainer_build_theirs_here(built: list[Any]) -> None:
    from driftline.client import Client
    from driftline.config import parse_config
    from retrainer.publisher import update_producer
    from retrainer.worker import request_consumer

    config = parse_config(
        "model: shop\nkafka: {bootstrap_servers: 'k:9092', security: {protocol: SASL_PLAINTEXT,"
        " sasl_mechanism: PLAIN}}\ntasks: {churn: {type: binary}}\n"
    )
    Client(config, producer_settings={"linger.ms": 50}).close()
    update_producer(config)
    request_consumer(config)
    sdk, retrainer, requests = (settings for _, settings in built)
    assert sdk["linger.ms"] == 50 and sdk["enable.idempotence"] is True
    assert retrainer["client.id"].endswith("-retrainer") and retrainer["acks"] == "all"
    assert requests["group.id"] == config.retrainer.group_id
    assert all(s["sasl.username"] == "alice" for s in (sdk, retrainer, requests))
