"""The join stores' changelog on a real broker: transactions, fencing, rebuilding on another
disk, and the states a worker must refuse."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from confluent_kafka import Producer

from driftline.config import parse_config
from streams import cli as monitor_cli
from streams.errors import StateRefusedError, StreamsError
from streams.join import LabelJoin
from streams.join_changelog import JoinChangelog
from streams.join_stores import JoinStores
from streams.records import LabelRecord, PredictionRecord

YAML = """
model: m
kafka: {{bootstrap_servers: '{bootstrap}', partitions: 1}}
monitor: {{app_id: {app}, feature_sink: false}}
tasks:
  churn: {{type: binary, label_delay: 3600}}
  spend: {{type: regression, label_delay: 86400}}
"""


def _feed(join: LabelJoin, start: int, n: int, stores: JoinStores) -> None:
    """``n`` predictions (and churn labels for most) from ``start`` on, one checkpoint per 100."""
    rng = random.Random(start)
    for i in range(start, start + n):
        t = 1_700_000_000.0 + 10 * i
        outputs = {"churn": {"score": rng.random()}, "spend": {"value": 3.0}}
        join.add(PredictionRecord(f"p-{i}", "m", "1", "e", t, outputs), ("predictions", 0, i, 0))
        join.mark_applied("predictions", i)
        if rng.random() < 0.8:
            join.add(LabelRecord(f"p-{i}", "churn", 1, t + 5), ("labels", 0, i, 0))
            join.mark_applied("labels", i)
        if (i + 1) % 100 == 0:
            records, batch = join.checkpoint()
            join.commit(batch, stores.commit(0, records))


def _stores(config, directory: Path) -> JoinStores:  # type: ignore[no-untyped-def]
    from driftline.kafka_settings import librdkafka_settings
    from streams.join_changelog import changelog_topic

    settings = librdkafka_settings(config.kafka)
    return JoinStores(
        config, directory, JoinChangelog(settings, changelog_topic(config.monitor.app_id))
    )


@pytest.fixture
def config(kafka_bootstrap: str, new_topic, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = new_topic("app")  # a unique name; the monitor's topics are created from it
    cfg = parse_config(YAML.format(bootstrap=kafka_bootstrap, app=app))
    monitor_cli.create_internal_topics(cfg, timeout=30)
    return cfg


def test_a_takeover_rebuilds_the_join_from_the_changelog(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = _stores(config, tmp_path / "worker-0")
    join = LabelJoin(config, first.load(0))
    _feed(join, 0, 1000, first)
    _feed(join, 1000, 50, first)  # changes after the last checkpoint: never committed
    expected = (join.store.meta.stamp, join.store.meta.pending)
    # worker-1 takes the partition over: no store of its own; worker-0 is never closed (killed)
    second = _stores(config, tmp_path / "worker-1")
    taken = LabelJoin(config, second.load(0))
    assert second.restored_records > 1000
    assert (taken.store.meta.stamp, taken.store.meta.pending) == expected
    assert taken.pending == 1000 and taken.store.meta.stamp == {"predictions": 999, "labels": 999}
    # the zombie is fenced: its next checkpoint fails, nothing of it lands
    records, _ = join.checkpoint()
    with pytest.raises(StreamsError, match="refused a checkpoint"):
        first.commit(0, records)
    _feed(taken, 1000, 100, second)  # the new owner goes on
    third = _stores(config, tmp_path / "worker-2")
    assert LabelJoin(config, third.load(0)).pending == 1100


def test_a_restart_on_the_same_disk_replays_only_the_tail(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stores = _stores(config, tmp_path / "worker-0")
    join = LabelJoin(config, stores.load(0))
    _feed(join, 0, 500, stores)
    join.close()
    stores.release()
    again = _stores(config, tmp_path / "worker-0")
    restored = LabelJoin(config, again.load(0))
    assert again.restored_records == 0 and restored.pending == 500


def test_a_store_ahead_of_its_changelog_is_refused(
    config, kafka_bootstrap: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    stores = _stores(config, tmp_path / "worker-0")
    join = LabelJoin(config, stores.load(0))
    _feed(join, 0, 300, stores)
    join.close()
    stores.release()
    other = config.model_copy(
        update={
            "monitor": config.monitor.model_copy(update={"app_id": config.monitor.app_id + "x"})
        }
    )
    monitor_cli.create_internal_topics(other, timeout=30)  # an empty changelog: "recreated"
    with pytest.raises(StateRefusedError, match=r"changelog topic was deleted or recreated"):
        _stores(other, tmp_path / "worker-0").load(0)


def test_the_former_join_tables_state_is_refused(config, kafka_bootstrap: str) -> None:  # type: ignore[no-untyped-def]
    former = f"{config.monitor.app_id}-join-changelog"
    from confluent_kafka.admin import AdminClient, NewTopic

    from driftline.kafka_logs import kafka_logger

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "logger": kafka_logger()})
    admin.create_topics([NewTopic(former, 1, 1)])[former].result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "logger": kafka_logger()})
    producer.produce(former, b"old state", b"0/base/0")
    producer.flush(30)
    with pytest.raises(StreamsError, match=r"join state of an earlier driftline.*reset"):
        monitor_cli.create_internal_topics(config, timeout=30)
