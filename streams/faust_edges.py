"""The Faust side of a worker: its app's settings (:func:`faust_app`) and the stage runners'
I/O edges over it (:func:`stage_io`, :class:`EventTable`)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Any

import faust

from driftline.config.models import DriftlineConfig
from streams.faust_compat import (
    caught_up,
    drain_producer,
    fair_fetch_order,
    hold_back,
    in_event_context,
    tables_recovered,
)
from streams.kafka_auth import faust_credentials
from streams.stage_io import Rebalances, StageIO, or_exit

__all__ = ["PRODUCER_BATCH_BYTES", "RAW", "EventTable", "faust_app", "stage_io"]

PRODUCER_BATCH_BYTES = 1_000_000
"""aiokafka sends one batch per partition per request and one request at a time: batches of
16 KiB (its default) made a checkpoint's changelog writes (about 1.4 MB) some 40 round trips."""
POLL_RECORDS = 30
"""Records (envelopes of up to 100 events) Faust takes from the fetcher at a time; with
:func:`~streams.faust_compat.fair_fetch_order` each partition gets its turn every call or two.
100 made a turn 10 000 events of one partition (20 minutes of event time for the predictions of
``bench horizon``), and stage 2 held every outcome of a round of turns for its order; 10 cost a
third of a plain drain's speed. 300 000-event drains, same machine (2026-12-07): 100 and Faust's
default buffer 11 560 events/s, 30 and 256 10 702, 10 and 64 7 642; ``bench horizon`` at 300 000
predictions with 30 and 256: 36 138 outcomes waiting at peak (100 and 4 096: 142 620)."""
STREAM_BUFFER = 256
"""Records an agent's stream buffers ahead of it (Faust's default, 4 096 envelopes, is 400 000
events: the fetcher's hold-back of the partitions running ahead came that much too late; 64
left the fetcher with every partition paused for a full buffer, and Faust then sleeps 1 s)."""

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
"""Topics of raw bytes: the stages decode and encode themselves."""


def stage_io(
    app: faust.App, topics: Mapping[str, faust.TopicT], acknowledge: Any, rebalances: Rebalances
) -> StageIO:
    """The edges of ``app``: records sent through ``topics`` (by name; another topic, a
    re-route's, is declared on the fly), its producer drained, its consumer asked."""

    async def send(
        topic: str, key: bytes, value: bytes, partition: int | None = None
    ) -> Awaitable[Any]:
        declared = topics.get(topic)
        if declared is None:
            declared = app.topic(topic, **RAW)
        return await declared.send(key=key, value=value, partition=partition)

    def drain() -> Awaitable[None]:
        return drain_producer(app.producer)

    return StageIO(
        send=send,
        drain=drain,
        acknowledge=acknowledge,
        tables_recovered=lambda: tables_recovered(app),
        caught_up=lambda topic, partition, offsets: caught_up(app, topic, partition, offsets),
        hold_back=hold_back,
        rebalances=rebalances,
        guard=or_exit,
    )


class EventTable:
    """A Faust table of bytes whose writes go out in a record's context (their changelog
    record then goes to that record's partition)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self.table.get(key)
        return value

    def keys(self) -> Iterable[str]:
        keys: Iterable[str] = self.table.keys()
        return keys

    def write(self, key: str, value: bytes, event: Any) -> None:
        with in_event_context(event):
            self.table[key] = value

    def delete(self, key: str, event: Any) -> None:
        with in_event_context(event):
            self.table.pop(key, None)


def faust_app(
    config: DriftlineConfig,
    servers: str,
    datadir: Path,
    worker_index: int,
    worker_id: str | None,
) -> faust.App:
    """The Faust app of one worker, its settings and membership.

    Each worker has its own state directory and web port (``monitor.web_port + index``) and,
    with ``monitor.static_membership``, its own ``group.instance.id``, so a restarted worker
    takes its partitions back at once instead of after the session timeout; a ``worker_id``
    names both instead of the index.
    """
    mon = config.monitor
    datadir.mkdir(parents=True, exist_ok=True)
    fair_fetch_order()
    return faust.App(
        mon.app_id,
        broker=[f"kafka://{server.strip()}" for server in servers.split(",")],
        broker_credentials=faust_credentials(config.kafka),
        store="rocksdb://" if mon.store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=config.kafka.partitions,
        topic_replication_factor=config.kafka.replication_factor,
        web_port=mon.web_port + worker_index,
        consumer_group_instance_id=(
            f"{mon.app_id}-{worker_id or worker_index}" if mon.static_membership else None
        ),
        broker_session_timeout=mon.session_timeout,
        broker_heartbeat_interval=max(1.0, mon.session_timeout / 4),
        stream_wait_empty=False,
        processing_guarantee="at_least_once",
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=mon.fetch_bytes,
        broker_max_poll_records=POLL_RECORDS,
        stream_buffer_maxsize=STREAM_BUFFER,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
    )
