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


def test_a_state_written_in_the_background_is_acknowledged_only_once_written() -> None:
    """Step 3 seals and returns the write in flight: records go on being held meanwhile, the
    held ones are acknowledged when it is written (the first record after it, the timer or the
    next checkpoint lands it), and a rebalance waits for it and acknowledges nothing."""
    log: list[str] = []

    async def scenario() -> None:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def step(name: str) -> None:
            log.append(name)

        async def seal() -> asyncio.Future[None]:
            log.append("seal")
            return gate

        checkpoint = Checkpoint(CheckpointRule(2, 10.0), lambda: step("outputs"), seal,
                                lambda: step("flush"))  # fmt: skip
        checkpoint.hold(FakeEvent(log, 1))
        checkpoint.hold(FakeEvent(log, 2))
        await checkpoint.run()
        assert log == ["outputs", "flush", "seal"] and checkpoint.writing
        assert not checkpoint.written
        checkpoint.hold(FakeEvent(log, 3))  # the stage goes on
        gate.set_result(None)
        assert checkpoint.written
        await checkpoint.land()
        assert log[3:] == ["flush", "ack 1", "ack 2"] and checkpoint.held[0].message.offset == 3
        assert not checkpoint.writing and checkpoint.completed == 1
        checkpoint.hold(FakeEvent(log, 4))
        gate = asyncio.get_running_loop().create_future()
        await checkpoint.run()  # seals 3 and 4
        with pytest.raises(CheckpointError):
            checkpoint.abort()  # a rebalance settles the write first
        gate.set_result(None)
        await checkpoint.settle()
        checkpoint.abort()
        assert "ack 3" not in log and checkpoint.held == []

    asyncio.run(scenario())
