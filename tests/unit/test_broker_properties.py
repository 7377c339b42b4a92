"""server.properties and log4j2 rendering of the local broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.broker.properties import BrokerProperties, parse_properties, render_log4j2


def render(**kwargs: object) -> dict[str, str]:
    return parse_properties(BrokerProperties(Path("/state/data"), **kwargs).render())  # type: ignore[arg-type]


def test_single_node_kraft_settings() -> None:
    props = render(port=19092, controller_port=19093)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/state/data"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "num.partitions",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_controller_is_not_advertised() -> None:
    props = render(port=19092, controller_port=19093)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "sasl.enabled.mechanisms" not in props


def test_sasl_listener_uses_scram_sha_512_and_keeps_plaintext() -> None:
    props = render(port=1, controller_port=2, sasl_port=3)
    assert props["listeners"].split(",") == [
        "PLAINTEXT://127.0.0.1:1",
        "CONTROLLER://127.0.0.1:2",
        "SASL_PLAINTEXT://127.0.0.1:3",
    ]
    assert "SASL_PLAINTEXT://127.0.0.1:3" in props["advertised.listeners"]
    assert "SASL_PLAINTEXT:SASL_PLAINTEXT" in props["listener.security.protocol.map"]
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    jaas = props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.scram.ScramLoginModule required")
    assert "password" not in BrokerProperties(Path("/d"), 1, 2, sasl_port=3).render().lower()


def test_auto_create_flag_and_host() -> None:
    assert render(auto_create_topics=False)["auto.create.topics.enable"] == "false"
    assert render()["auto.create.topics.enable"] == "true"
    assert render(host="0.0.0.0", port=5)["listeners"].startswith("PLAINTEXT://0.0.0.0:5")


def test_equal_ports_are_rejected() -> None:
    with pytest.raises(ValueError, match="ports must differ"):
        BrokerProperties(Path("/d"), port=9092, controller_port=9092).render()


def test_parse_properties_skips_comments_and_keeps_equals_in_values() -> None:
    text = "# comment\n! also\n\na = b=c\nflag\n"
    assert parse_properties(text) == {"a": "b=c"}


def test_log4j2_writes_to_the_logs_dir(tmp_path: Path) -> None:
    text = render_log4j2(tmp_path / "logs")
    assert f"appender.file.fileName = {tmp_path / 'logs' / 'server.log'}" in text
    assert "rootLogger.appenderRef.file.ref = file" in text
    assert "Console" not in text
