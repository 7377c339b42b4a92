"""Checkpoint rules and order: outputs, flush, state, flush, then acks; offsets never go back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from driftline.config import parse_config
from driftline.errors import ConfigError
from streams.checkpoint import Checkpoint, CheckpointRule, OffsetLedger
from streams.errors import CheckpointError


class FakeEvent:
    def __init__(self, log: list[str], offset: int) -> None:
        self.log = log
        self.message = SimpleNamespace(topic="t", partition=0, offset=offset)

    def ack(self) -> None:
        self.log.append(f"ack {self.message.offset}")


def test_rule_by_count_and_time() -> None:
    now = [0.0]
    rule = CheckpointRule(events=2, interval=5.0, clock=lambda: now[0])
    assert not rule.due()
    assert not rule.record()
    assert rule.record()
    rule.done()
    assert not rule.record()
    now[0] = 5.0
    assert rule.due()


def test_rule_counts_events_not_records() -> None:
    """One event per record checkpoints as often as envelopes of the same events."""
    singles, envelopes = CheckpointRule(events=500), CheckpointRule(events=500)
    assert sum(singles.record() for _ in range(499)) == 0
    assert singles.record()
    assert [envelopes.record(100) for _ in range(5)] == [False] * 4 + [True]
    assert CheckpointRule(events=1).record(0)  # a record counts one event at least


def test_checkpoint_envelopes_is_refused_with_its_replacement() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("model: m\nmonitor: {checkpoint_envelopes: 50}\ntasks: {a: {type: binary}}\n")
    assert any("replaced by checkpoint_events" in p for p in error.value.problems)


def test_steps_run_in_order_and_acks_come_last() -> None:
    log: list[str] = []

    async def step(name: str) -> None:
        log.append(name)

    checkpoint = Checkpoint(
        CheckpointRule(2, 10.0),
        lambda: step("outputs"),
        lambda: step("state"),
        lambda: step("flush"),
    )
    assert not checkpoint.hold(FakeEvent(log, 1))
    assert checkpoint.hold(FakeEvent(log, 2))
    asyncio.run(checkpoint.run())
    # outputs delivered before any state that reflects them is written (RocksDB is durable at once)
    assert log == ["outputs", "flush", "state", "flush", "ack 1", "ack 2"]
    assert checkpoint.held == []


def test_failed_step_acks_nothing() -> None:
    log: list[str] = []

    async def boom() -> None:
        raise RuntimeError("broker down")

    async def ok() -> None:
        return None

    checkpoint = Checkpoint(CheckpointRule(1, 10.0), ok, ok, boom)
    checkpoint.hold(FakeEvent(log, 1))
    with pytest.raises(RuntimeError):
        asyncio.run(checkpoint.run())
    assert log == []


def test_offsets_never_go_backwards() -> None:
    ledger = OffsetLedger()
    ledger.record("t", 0, 5)
    with pytest.raises(CheckpointError, match="went back"):
        ledger.record("t", 0, 4)
    ledger.forget("t", 0)
    ledger.record("t", 0, 4)  # a new assignment replays from the committed offset
