"""Records reach a stage in order from the committed offset; only checkpoints acknowledge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from streams.checkpoint import Checkpoint, CheckpointRule
from streams.delivery_order import AckGate, DeliveryOrder


def _order(committed: int | None, holes_hold_records: bool = True) -> tuple[DeliveryOrder, list]:
    """The order of partition 0 (committed at ``committed``); other partitions have none."""
    broken: list[str] = []
    order = DeliveryOrder(
        lambda where: committed if where[1] == 0 else None,
        lambda *hole: holes_hold_records,
        broken.append,
    )
    return order, broken


def test_records_in_order_from_the_committed_offset_pass() -> None:
    order, broken = _order(committed=10)
    for offset in range(10, 20):
        order.check("labels", 0, offset)
    order.check("labels", 1, 3)  # nothing committed there yet: any first offset
    assert broken == []


def test_a_first_record_past_the_committed_offset_breaks_the_order() -> None:
    order, broken = _order(committed=10)
    order.check("labels", 0, 12)
    assert broken == [
        "labels[0]: the first record after the assignment is offset 12, the committed offset is 10"
    ]


def test_without_a_committed_offset_the_first_record_is_checked_against_the_group_start() -> None:
    """Faust knows no committed offset of a partition another worker committed: the broker's
    (or the earliest offset) is where the first record must be."""
    broken: list[str] = []
    asked: list[tuple[str, int]] = []

    def start(topic: str, partition: int) -> int:
        asked.append((topic, partition))
        return 4

    order = DeliveryOrder(lambda where: None, lambda *hole: True, broken.append, start)
    order.check("outcomes", 0, 4)
    order.check("outcomes", 0, 5)
    order.check("outcomes", 1, 17)  # Faust dropped 4..16 while the tables were recovered
    assert asked == [("outcomes", 0), ("outcomes", 1)]  # once per partition and assignment
    assert broken == [
        "outcomes[1]: the first record after the assignment is offset 17, the committed offset is 4"
    ]


def test_a_skipped_record_breaks_the_order() -> None:
    order, broken = _order(committed=None)
    for offset in (0, 1, 2, 5):
        order.check("predictions", 1, offset)
    assert broken == ["predictions[1]: offset 5 after 2; offsets 3..4 were skipped"]


def test_a_hole_without_records_is_fine() -> None:
    """Transaction markers and compaction leave offsets without records."""
    order, broken = _order(committed=None, holes_hold_records=False)
    for offset in (0, 1, 3, 4):
        order.check("predictions", 0, offset)
    assert broken == []


def test_a_record_read_twice_breaks_the_order_and_a_rebalance_starts_over() -> None:
    order, broken = _order(committed=4)
    order.check("outcomes", 0, 4)
    order.check("outcomes", 0, 4)
    assert broken == ["outcomes[0]: offset 4 after 4 (read again)"]
    order.reset()
    order.check("outcomes", 0, 4)
    assert len(broken) == 1


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int


class _Consumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: _Message) -> bool:
        self.acked.append(message.offset)
        return True


class _Event:
    def __init__(self, consumer: _Consumer, offset: int, topic: str = "labels") -> None:
        self.consumer = consumer
        self.message = _Message(topic, 0, offset)

    def ack(self) -> bool:
        return self.consumer.ack(self.message)


async def _nothing() -> None:
    return None


def test_only_a_checkpoint_acknowledges_the_stage_topics() -> None:
    consumer = _Consumer()
    gate = AckGate({"labels"})
    gate.install(consumer)
    assert _Event(consumer, 1).ack() is False  # Faust skipping a stale record
    assert _Event(consumer, 2, topic="model-updates").ack() is True  # not a stage topic
    checkpoint = Checkpoint(CheckpointRule(), _nothing, _nothing, _nothing, acknowledge=gate.ack)
    for offset in (5, 6):
        checkpoint.hold(_Event(consumer, offset))
    asyncio.run(checkpoint.run())
    assert consumer.acked == [2, 5, 6]
    assert gate.refused == 1
