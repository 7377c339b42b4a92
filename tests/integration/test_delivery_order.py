"""The delivery-order checks read a real broker: a transaction marker is no record, a skipped
one is; a group starts a partition at its committed offset, else at the earliest."""

from __future__ import annotations

from typing import Any

from driftline.kafka_logs import kafka_logger
from streams.delivery_order import group_start, hole_check


def _transactional(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "logger": kafka_logger(),
            "bootstrap.servers": bootstrap,
            "transactional.id": "hole-check-test",
        }
    )
    producer.init_transactions(30)
    return producer


def test_a_hole_of_transaction_markers_holds_no_records(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic("holes")
    producer = _transactional(kafka_bootstrap)
    for value in (b"a", b"b"):  # offsets 0 and 2; the commit marker of the first is offset 1
        producer.begin_transaction()
        producer.produce(topic, value=value, partition=0)
        producer.commit_transaction(30)
    has_records = hole_check({"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap})
    assert has_records(topic, 0, 1, 2) is False  # only the marker: a stage may go from 0 to 2
    assert has_records(topic, 0, 0, 2) is True  # offset 0 is a record


def test_a_group_starts_where_it_committed_else_at_the_earliest(
    kafka_bootstrap: str, new_topic
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = new_topic("starts")
    producer = Producer({"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap})
    for n in range(5):
        producer.produce(topic, value=b"%d" % n, partition=0)
    producer.flush(30)
    start = group_start(
        {"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap}, "start-test"
    )
    assert start(topic, 0) == 0  # nothing committed: the earliest offset
    member = Consumer(
        {"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap, "group.id": "start-test"}
    )
    member.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    member.close()
    assert start(topic, 0) == 3
    assert (
        group_start(
            {"logger": kafka_logger(), "bootstrap.servers": kafka_bootstrap}, "other-group"
        )(topic, 0)
        == 0
    )
