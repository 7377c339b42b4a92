"""EventReader without a broker: a stand-in consumer feeds it records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.events import Label, encode
from driftline.reader import EventReader
from tests.kafka_fakes import Message

CONFIG = parse_config("model: m\ntasks: {churn: {type: binary}}\n")


def _label(n: int) -> Label:
    return Label.model_validate({"schema": "driftline.label/1", "prediction_id": f"p-{n}",
                                 "task": "churn", "label": 1, "event_time": "2026-11-23T12:00:00Z"})  # fmt: skip


class Consumer:
    """Hands out the queued messages; records every poll's timeout."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.queue: list[Message] = []
        self.timeouts: list[float] = []
        self.subscribed: list[str] = []
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = topics

    def poll(self, timeout: float) -> Message | None:
        self.timeouts.append(timeout)
        return self.queue.pop(0) if self.queue else None

    def close(self) -> None:
        self.closed = True


def test_poll_returns_what_has_arrived_envelopes_and_bad_events_item_by_item() -> None:
    consumer = Consumer()
    envelope = {"schema": "driftline.batch/1",
                "events": [json.loads(encode(_label(1))), {"schema": "driftline.label/1"},
                           json.loads(encode(_label(2)))]}  # fmt: skip
    consumer.queue = [
        Message(encode(_label(0)), 10),
        Message(b"", 11, error="_PARTITION_EOF"),
        Message(json.dumps(envelope).encode(), 12),
        Message(b"not json", 13),
    ]
    reader = EventReader(CONFIG, ["labels"], consumer=consumer)
    items = reader.poll(timeout=0.5)
    assert consumer.subscribed == ["labels"]
    assert [(i.source.offset, i.source.index) for i in items] == [
        (10, None), (12, 0), (12, 1), (12, 2), (13, None)
    ]  # fmt: skip
    assert [i.event.prediction_id for i in items if i.event is not None] == ["p-0", "p-1", "p-2"]
    assert [i.error is not None for i in items] == [False, False, True, False, True]
    # it waited (at most the timeout) for the first record only, then took what was there
    assert consumer.timeouts == [0.5, 0.0, 0.0, 0.0, 0.0]
    assert reader.poll() == [] and consumer.timeouts[-1] == 0.0


def test_poll_stops_after_max_records() -> None:
    consumer = Consumer()
    consumer.queue = [Message(encode(_label(n)), n) for n in range(5)]
    reader = EventReader(CONFIG, ["labels"], consumer=consumer)
    assert [i.source.offset for i in reader.poll(max_records=3)] == [0, 1, 2]
    assert [i.source.offset for i in reader.poll()] == [3, 4]


def test_the_consumer_is_made_at_the_first_read_with_a_throwaway_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import confluent_kafka

    made: list[Consumer] = []
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda s: made.append(Consumer(s)) or made[-1])
    reader = EventReader(CONFIG, ["a", "b"], from_beginning=False)
    assert made == []  # the constructor stores its arguments only
    assert reader.poll() == []
    settings = made[0].settings or {}
    assert settings["group.id"].startswith("driftline-reader-")
    assert settings["auto.offset.reset"] == "latest" and settings["enable.auto.commit"] is False
    assert settings["bootstrap.servers"] == CONFIG.kafka.bootstrap_servers
    assert made[0].subscribed == ["a", "b"]
    with reader:
        reader.poll()
    assert made[0].closed and len(made) == 1
    EventReader(CONFIG, ["a"], group_id="mine").poll()
    assert made[1].settings and made[1].settings["group.id"] == "mine"
    assert made[1].settings["enable.auto.commit"] is True


def test_read_stops_when_idle() -> None:
    consumer = Consumer()
    consumer.queue = [Message(encode(_label(0)), 0)]
    items = list(EventReader(CONFIG, ["labels"], consumer=consumer).read(timeout=5, idle=0.3))
    assert [i.event.prediction_id for i in items] == ["p-0"]


def test_read_to_end_stops_at_the_end_offsets_taken_before_the_first_read() -> None:
    """``calibrate --from-topics``: every record there is when it starts, then stop, without
    waiting ``idle`` (which on a loaded machine could also end the read part way)."""
    from types import SimpleNamespace

    class Ended(Consumer):
        def list_topics(self, topic: str, timeout: float) -> Any:
            partitions = {1: None, 2: None}  # partition 2 holds nothing
            return SimpleNamespace(topics={topic: SimpleNamespace(partitions=partitions)})

        def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
            return (0, 3) if tp.partition == 1 else (5, 5)

    consumer = Ended()
    consumer.queue = [Message(encode(_label(n)), n) for n in range(5)]  # 3 and 4 came later
    reader = EventReader(CONFIG, ["labels"], consumer=consumer)
    items = list(reader.read_to_end(idle=3600.0))
    assert [i.source.offset for i in items] == [0, 1, 2]
    assert len(consumer.timeouts) == 3  # no wait after the end offset
