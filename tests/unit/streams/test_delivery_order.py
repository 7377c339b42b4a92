"""Records reach a stage in order from the committed offset; only checkpoints acknowledge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faust.types import TP

from streams.checkpoint import Checkpoint, CheckpointRule
from streams.delivery_order import AckGate, DeliveryOrder, StartSeek
from streams.faust_compat import filter_acks


def _order(committed: int | None, holes_hold_records: bool = True) -> tuple[DeliveryOrder, list]:
    """The order of partition 0 (committed at ``committed``); other partitions have none."""
    broken: list[str] = []
    order = DeliveryOrder(
        lambda where: committed if where[1] == 0 else None,
        lambda *hole: holes_hold_records,
        broken.append,
    )
    return order, broken


def test_records_in_order_from_where_the_group_committed_pass() -> None:
    order, broken = _order(committed=10)
    for offset in range(10, 20):
        order.check("labels", 0, offset)
    order.check("labels", 1, 3)  # nothing committed there yet: any first offset
    assert broken == []


def test_a_first_record_past_where_the_group_committed_breaks_the_order() -> None:
    order, broken = _order(committed=10)
    order.check("labels", 0, 12)
    assert broken == [
        "labels[0]: the first record after the assignment is offset 12, the committed offset is 10"
    ]


def test_without_a_commit_the_first_record_is_checked_against_the_group_start() -> None:
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


def test_a_record_delivered_again_is_skipped_and_a_rebalance_starts_over() -> None:
    """Faust lets a record through again when a seek meets records it had fetched: the stage
    processed it already, so it is skipped (not processed twice, no restart)."""
    order, broken = _order(committed=4)
    assert [order.check("outcomes", 0, offset) for offset in (4, 5, 4, 5, 6)] == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert broken == []
    order.reset()
    assert order.check("outcomes", 0, 4) is True  # read again from the committed offset
    assert broken == []


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
    filter_acks(consumer, gate.allows)
    assert _Event(consumer, 1).ack() is False  # Faust skipping a stale record
    assert _Event(consumer, 2, topic="model-updates").ack() is True  # not a stage topic
    checkpoint = Checkpoint(CheckpointRule(), _nothing, _nothing, _nothing, acknowledge=gate.ack)
    for offset in (5, 6):
        checkpoint.hold(_Event(consumer, offset))
    asyncio.run(checkpoint.run())
    assert consumer.acked == [2, 5, 6]
    assert gate.refused == 1


def test_partitions_the_group_never_committed_are_read_again_from_the_start() -> None:
    committed: dict[TP, int | None] = {
        TP("labels", 0): 12,  # aiokafka seeked it
        TP("labels", 1): None,  # none committed: it stayed after the dropped records
        TP("labels", 2): 0,  # committed at 0: aiokafka does not seek it either
        TP("outcomes", 0): -1,
        TP("join-changelog", 0): None,  # not a stage topic: recovery reads it
    }
    targets = StartSeek({"labels", "outcomes"}).targets(committed)
    assert targets == {TP("labels", 1): 0, TP("labels", 2): 0, TP("outcomes", 0): 0}


def test_no_seek_when_every_partition_has_a_commit() -> None:
    assert StartSeek({"labels"}).targets({TP("labels", 0): 3, TP("labels", 1): 9}) == {}
