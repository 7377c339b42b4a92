"""StageRunner: a record is processed with its bytes, and held for its checkpoint without them."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from streams.stage_runner import StageRunner


class _Holding(StageRunner):
    """Holds every record for a later checkpoint, as the stages do."""

    def __init__(self, io: Any) -> None:
        super().__init__(io)
        self.seen: list[bytes] = []
        self.held: list[Any] = []

    async def record(self, event: Any) -> None:
        self.seen.append(event.message.value)
        self.held.append(event)


def test_a_held_record_keeps_what_acknowledging_needs_not_its_bytes() -> None:
    async def guard(work: Any, stage: str) -> None:
        await work

    io = SimpleNamespace(rebalances=SimpleNamespace(count=0, check=lambda m: True), guard=guard)
    runner = _Holding(io)
    message = SimpleNamespace(topic="outcomes", partition=2, offset=7, value=b"x" * 70_000)
    asyncio.run(runner.receive(SimpleNamespace(message=message, value=message.value)))
    assert runner.seen == [b"x" * 70_000]  # processed with its bytes
    (held,) = runner.held
    assert held.value is None and held.message.value is None  # held without them
    assert (held.message.topic, held.message.partition, held.message.offset) == ("outcomes", 2, 7)
