"""Stand-ins for confluent-kafka objects, for unit tests that run without a broker."""

from __future__ import annotations


class Message:
    """A consumed record: what ``confluent_kafka.Message`` answers that driftline reads."""

    def __init__(
        self,
        value: bytes,
        offset: int,
        error: str | None = None,
        topic: str = "labels",
        partition: int = 1,
    ) -> None:
        self._value, self._offset, self._error = value, offset, error
        self._topic, self._partition = topic, partition

    def error(self) -> str | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value
