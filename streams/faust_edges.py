"""The stage runners' I/O edges over a Faust app (:class:`~streams.stage_io.StageIO`)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

import faust

from streams.faust_compat import (
    caught_up,
    drain_producer,
    hold_back,
    in_event_context,
    tables_recovered,
)
from streams.stage_io import Rebalances, StageIO, or_exit

__all__ = ["RAW", "EventTable", "stage_io"]

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
