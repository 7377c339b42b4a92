"""What the two stage runners share: one lock, a record guarded, the timer's checkpoint, the abort.

:class:`~streams.join_runner.JoinRunner` and :class:`~streams.monitor_runner.MonitorRunner`
each process their agent's records under their lock and end the process on any error
(:attr:`StageIO.guard <streams.stage_io.StageIO>`); a record read before a rebalance is not
processed after it (it comes again), nor one delivered twice. A rebalance aborts the checkpoint
in progress, drops the runner's state and forgets the revoked partitions' acknowledged offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from streams.checkpoint import Checkpoint
from streams.stage_io import StageIO

__all__ = ["StageRunner", "drop_payload"]


def drop_payload(event: Any) -> None:
    """Let go of a processed record's bytes: its event waits for a checkpoint to acknowledge it,
    which needs only the topic, partition and offset. Stage 2 acknowledges an ``outcomes`` record
    only once every outcome in it was applied, and every later record of its partition waits
    with it, so while a worker caught up on a horizon the held records' envelopes were most of
    its memory (``bench horizon``: 417 MB of them at 2.3 million pending predictions).
    """
    event.value = None
    event.message.value = None


class StageRunner:
    """The base of a stage runner: ``name`` (in exit messages), ``io``, ``lock``, ``checkpoint``.

    A subclass sets :attr:`checkpoint` and implements :meth:`record` and :meth:`_reset`.
    """

    name = "stage"
    checkpoint: Checkpoint

    def __init__(self, io: StageIO) -> None:
        self.io = io
        self.lock = asyncio.Lock()

    async def receive(self, event: Any) -> None:
        """One record from the agent's stream (the step ends the process when it fails)."""
        rebalances = self.io.rebalances
        read_in = rebalances.count
        async with self.lock:
            # read before a rebalance: it comes again; delivered again: processed already
            if rebalances.count == read_in and rebalances.check(event.message):
                await self.io.guard(self.record(event), self.name)
                drop_payload(event)

    async def record(self, event: Any) -> None:
        """Process one record; run the checkpoint when it is due."""
        raise NotImplementedError

    async def checkpoint_if_due(self) -> None:
        """The timer's checkpoint (records stopped coming, or came slowly)."""
        async with self.lock:
            if self.checkpoint.rule.due():
                await self.io.guard(self.checkpoint.run(), "checkpoint")

    def _reset(self) -> None:
        """Nothing buffered or known (a new worker, or a rebalance)."""
        raise NotImplementedError

    def _abort(self, revoked: Iterable[tuple[str, int]]) -> None:
        """A rebalance, under the lock: the checkpoint in progress aborted, the state dropped,
        the ``revoked`` topic partitions' acknowledged offsets forgotten (a new assignment may
        start lower)."""
        self.checkpoint.abort()
        self._reset()
        for topic, partition in revoked:
            self.checkpoint.ledger.forget(topic, partition)
