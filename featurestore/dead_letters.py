"""Dead-lettering for the feature-store ingest paths: a JSONL file, and Kafka when given a producer.

Each rejected row becomes a :class:`driftline.events.DeadLetter` whose ``source`` says where it
came from: ``topic`` is ``file:<path>`` (or ``python:<caller>``), ``offset`` the 1-based line
(file) or position (Python iterable), ``stage`` the ingest path (``features.push`` or
``features.label_sink``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from driftline.events import DeadLetter, RecordSource, encode

__all__ = ["DeadLetterWriter", "KafkaProducerLike"]

MAX_PAYLOAD_CHARS = 16_384


class KafkaProducerLike(Protocol):
    """What :class:`DeadLetterWriter` needs of a producer (``confluent_kafka.Producer`` fits)."""

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> Any: ...

    def flush(self, timeout: float = ...) -> Any: ...


class DeadLetterWriter:
    """Appends dead letters to ``path`` (JSONL) and, when ``producer`` is set, to ``topic``.

    Parameters
    ----------
    path
        JSONL file, created with its directory on first write.
    stage
        Which ingest path rejected the rows (goes into ``DeadLetter.stage``).
    producer
        Optional Kafka producer; ``None`` keeps Kafka out of this path entirely.
    topic
        The dead-letters topic (``topics.dead_letters`` in the config).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dl.jsonl"
    >>> writer = DeadLetterWriter(path, stage="features.push")
    >>> writer.write("x: unknown feature", {"x": 1}, source="file:f.jsonl", line=3, key="c-1")
    >>> json.loads(path.read_text())["source"]
    {'topic': 'file:f.jsonl', 'partition': 0, 'offset': 3, 'index': None}
    """

    def __init__(
        self,
        path: Path,
        stage: str,
        producer: KafkaProducerLike | None = None,
        topic: str = "dead-letters",
    ) -> None:
        self.path = path
        self.stage = stage
        self.producer = producer
        self.topic = topic
        self.count = 0

    def write(self, reason: str, payload: Any, source: str, line: int, key: str | None) -> None:
        """Record one rejected row (``payload`` is the row as read, or its raw text)."""
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        letter = DeadLetter.model_validate(
            {
                "schema": DeadLetter.SCHEMA,
                "reason": reason,
                "source": RecordSource(topic=source, partition=0, offset=max(line, 0)),
                "key": key,
                "payload": text[:MAX_PAYLOAD_CHARS],
                "truncated": len(text) > MAX_PAYLOAD_CHARS,
                "stage": self.stage,
                "received_at": datetime.now(UTC),
            }
        )
        raw = encode(letter)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            file.write(raw + b"\n")
        if self.producer is not None:
            self.producer.produce(self.topic, value=raw, key=key.encode() if key else None)
        self.count += 1

    def flush(self) -> None:
        """Flush the Kafka producer, when there is one."""
        if self.producer is not None:
            self.producer.flush()
