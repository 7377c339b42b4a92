"""Kafka security from driftline.yaml reaches Faust as broker credentials."""

from __future__ import annotations

import faust
import pytest

from driftline.config.models import KafkaConfig, SecurityConfig
from driftline.errors import DriftlineError
from streams.kafka_auth import faust_credentials


def test_sasl_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("DRIFTLINE_KAFKA_PASSWORD", "s3cret")
    kafka = KafkaConfig(
        security=SecurityConfig(protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256")
    )
    creds = faust_credentials(kafka)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("alice", "s3cret")
    assert creds.mechanism.value == "SCRAM-SHA-256" and creds.ssl_context is None


def test_sasl_ssl_carries_an_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("DRIFTLINE_KAFKA_PASSWORD", "s3cret")
    kafka = KafkaConfig(security=SecurityConfig(protocol="SASL_SSL", sasl_mechanism="PLAIN"))
    creds = faust_credentials(kafka)
    assert creds.ssl_context is not None and creds.protocol.value == "SASL_SSL"
    assert isinstance(faust_credentials(KafkaConfig(security=SecurityConfig(protocol="SSL"))),
                      faust.SSLCredentials)  # fmt: skip


def test_missing_secret_fails_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_KAFKA_USERNAME", raising=False)
    kafka = KafkaConfig(security=SecurityConfig(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN"))
    with pytest.raises(DriftlineError, match="DRIFTLINE_KAFKA_USERNAME"):
        faust_credentials(kafka)
