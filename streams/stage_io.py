"""The few I/O edges a stage runner uses, and what both runners share.

:class:`streams.join_runner.JoinRunner` and :class:`streams.monitor_runner.MonitorRunner` import
no Faust: the app hands them a :class:`StageIO` of small callables over its topics, producer and
consumer (:mod:`streams.faust_edges`), and the exactness test hands them in-memory fakes of the
same edges, so that it drives the shipped checkpoints, not a copy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from driftline.events import encode
from streams.errors import (
    RESTART_EXIT_CODE,
    STATE_LIMIT_EXIT_CODE,
    StateRefusedError,
)

__all__ = [
    "Deliveries",
    "Rebalances",
    "Send",
    "StageIO",
    "exit_for_restart",
    "last_event_per_partition",
    "or_exit",
]

log = logging.getLogger("driftline.monitor")


class Send(Protocol):
    """Hand one record to the producer; the awaitable returned resolves once it is delivered
    (and raises when it could not be)."""

    def __call__(
        self, topic: str, key: bytes, value: bytes, partition: int | None = None
    ) -> Awaitable[Awaitable[Any]]: ...


class Rebalances(Protocol):
    """What a runner must know of rebalances (:class:`streams.rebalances.Rebalances`)."""

    @property
    def count(self) -> int:
        """How many began."""
        ...

    def check(self, message: Any) -> bool:
        """Whether ``message`` is the next one of its partition (``False``: delivered again)."""
        ...


Guard = Callable[[Awaitable[None], str], Awaitable[None]]
"""Runs one step of a stage (``or_exit`` in the app: any error ends the process)."""


@dataclass(frozen=True)
class StageIO:
    """The I/O edges of the stage runners.

    Attributes
    ----------
    send
        A record to a topic (by name), its delivery awaitable back.
    drain
        Every record handed to the producer is sent (table writes included).
    acknowledge
        Step 5 of a checkpoint for one held event (the app's ``AckGate.ack``).
    tables_recovered
        Whether the worker's tables are recovered (nothing is read before).
    caught_up
        Whether nothing is left to read on a topic partition, given the next offsets to read.
    hold_back
        The input topic partitions whose fetched records must wait from now on.
    rebalances
        The rebalance count and the delivery order check.
    guard
        Runs one step of a stage: :func:`or_exit` in the app.
    """

    send: Send
    drain: Callable[[], Awaitable[None]]
    acknowledge: Callable[[Any], Any]
    tables_recovered: Callable[[], bool]
    caught_up: Callable[[str, int, Mapping[tuple[str, int], int]], bool]
    hold_back: Callable[[Iterable[tuple[str, int]]], None]
    rebalances: Rebalances
    guard: Guard


class Deliveries:
    """The records a checkpoint in progress sent, until steps 2 and 4 confirm their delivery."""

    def __init__(self, io: StageIO) -> None:
        self.io = io
        self.sent: list[Awaitable[Any]] = []

    async def send(
        self, topic: str, key: bytes, value: bytes, partition: int | None = None
    ) -> None:
        """Send one record of the checkpoint."""
        self.sent.append(await self.io.send(topic, key, value, partition))

    async def send_dead(self, topic: str, letters: list[Any]) -> None:
        """Send the dead letters (and empty ``letters``)."""
        for letter in letters:
            await self.send(topic, letter.source.topic.encode(), encode(letter))
        letters.clear()

    async def flush(self) -> None:
        """Steps 2 and 4 of a checkpoint: every buffered record handed to the client and
        delivered: the producer drained, then each send's delivery result checked (a failed
        send raises, so nothing is acknowledged)."""
        await self.io.drain()
        futures, self.sent = self.sent, []
        for future in futures:
            await future

    def clear(self) -> None:
        """Forget the sends of an aborted checkpoint."""
        self.sent.clear()


def last_event_per_partition(events: list[Any]) -> dict[int, Any]:
    """The last of ``events`` of each partition."""
    last: dict[int, Any] = {}
    for event in events:
        last[event.message.partition] = event
    return last


async def or_exit(work: Awaitable[None], stage: str) -> None:
    """Run one step of a stage; on any error end the process at once (exit 70), like a crash.

    A Faust agent that raises is restarted by Faust with the stream moved on and our in-memory
    state half-applied: records would be lost until the next restart. Exiting keeps the state
    guarantee (a restart restores the tables and replays from the committed offsets, exactly as
    after ``kill -9``) and lets the supervisor (``--workers``, systemd, Kubernetes) see it.
    A stored state it cannot use ends it with :data:`STATE_LIMIT_EXIT_CODE` instead: a restart
    would meet the same state, over and over.
    """
    try:
        await work
    except StateRefusedError as exc:
        _exit(
            STATE_LIMIT_EXIT_CODE,
            "the %s stage cannot use its stored state; stopping (a restart would meet it "
            "again): %s",
            stage,
            exc,
        )
    except Exception:
        exit_for_restart(
            "the %s stage failed; exiting so that a restart replays from the last checkpoint",
            stage,
            exc_info=True,
        )


def exit_for_restart(message: str, *args: Any, exc_info: bool = False) -> NoReturn:
    """Log ``message`` and end the process with :data:`RESTART_EXIT_CODE`, without cleanup."""
    _exit(RESTART_EXIT_CODE, message, *args, exc_info=exc_info)


def _exit(code: int, message: str, *args: Any, exc_info: bool = False) -> NoReturn:
    """Log ``message`` and end the process with ``code`` at once, without cleanup."""
    log.critical(message, *args, exc_info=exc_info)
    logging.shutdown()
    os._exit(code)
