"""Errors of the local broker, all rooted in :class:`driftline.errors.BrokerError`."""

from __future__ import annotations

from driftline.errors import BrokerError

__all__ = ["BrokerError", "BrokerStartError", "KafkaJarsError"]


class KafkaJarsError(BrokerError):
    """The Kafka jars are missing and cannot be fetched (no pom, no ``mvn``, or Maven failed)."""


class BrokerStartError(BrokerError):
    """The broker did not come up; ``log_tail`` holds the last lines of its log files."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail
