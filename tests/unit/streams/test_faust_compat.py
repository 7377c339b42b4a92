"""Each hook into Faust's internals, on objects shaped like Faust's (no broker), and a check that
the installed faust-streaming still has what each hook reaches for.

The real wiring is covered by the integration tests (``test_monitor_stream.py``,
``test_monitor_kill.py``): a hook that stopped working there loses or repeats records.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import faust.streams
import pytest
from faust.tables.manager import TableManager
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.transports import ProducerT

from driftline.errors import DriftlineError
from streams import faust_compat
from streams.faust_compat import (
    SUPPORTED_FAUST,
    after_assignment_seek,
    check_faust_version,
    committed_offsets,
    consumer_lag,
    drain_producer,
    filter_acks,
    in_event_context,
    tables_recovered,
    unacked_events,
)

ROOT = Path(__file__).resolve().parents[3]

# ------------------------------------------------------------------------------ version check


def test_the_installed_faust_streaming_is_supported() -> None:
    from importlib import metadata

    assert check_faust_version() == metadata.version("faust-streaming")


@pytest.mark.parametrize("version", ["0.10.9", "0.16.0", "1.0.0", "unknown"])
def test_a_version_outside_the_range_fails_with_one_line(version: str) -> None:
    with pytest.raises(DriftlineError) as error:
        check_faust_version(version)
    message = str(error.value)
    assert "\n" not in message
    assert f"faust-streaming {version} is not supported" in message
    assert ">=0.11,<0.16" in message


@pytest.mark.parametrize("version", ["0.11.0", "0.15.3", "0.15.99rc1"])
def test_versions_inside_the_range_pass(version: str) -> None:
    assert check_faust_version(version) == version


def test_pyproject_pins_the_range_the_start_up_check_accepts() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    monitor = project["optional-dependencies"]["monitor"]  # the extra that installs Faust
    [pin] = [dep for dep in monitor if dep.startswith("faust-streaming")]
    (low, high) = SUPPORTED_FAUST
    assert pin.endswith(f">={low[0]}.{low[1]},<{high[0]}.{high[1]}")


def test_the_monitor_app_is_not_built_with_an_unsupported_faust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from driftline.config.models import DriftlineConfig
    from streams.app import build_app

    monkeypatch.setattr(faust_compat.metadata, "version", lambda name: "0.17.0")
    with pytest.raises(DriftlineError, match=r"faust-streaming 0\.17\.0 is not supported"):
        build_app(DriftlineConfig.model_construct())  # fails before it reads the config


def test_driftline_monitor_stops_before_it_touches_kafka_with_an_unsupported_faust(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from streams import cli as monitor_cli
    from streams.errors import UnsupportedFaustError

    touched: list[str] = []
    monkeypatch.setattr(monitor_cli, "create_internal_topics", lambda cfg: touched.append("topics"))
    monkeypatch.setattr(faust_compat.metadata, "version", lambda name: "0.10.0")
    path = tmp_path / "driftline.yaml"
    path.write_text("model: shop\ntasks: {churn: {type: binary}}\n")
    result = CliRunner().invoke(monitor_cli.monitor, ["--config", str(path)])
    assert isinstance(result.exception, UnsupportedFaustError)  # `driftline` prints it as one line
    assert touched == []


# ------------------------------------------------------------------------- the current event


class _Event:
    pass


def test_table_writes_inside_the_context_belong_to_its_event() -> None:
    outer, inner = _Event(), _Event()
    assert faust.current_event() is None
    with in_event_context(outer):
        assert faust.current_event() is outer
        with in_event_context(inner):
            assert faust.current_event() is inner
        assert faust.current_event() is outer
    assert faust.current_event() is None


def test_the_current_event_is_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), in_event_context(_Event()):
        raise RuntimeError("write failed")
    assert faust.current_event() is None


def test_faust_still_keeps_the_current_event_in_a_context_variable() -> None:
    assert hasattr(faust.streams, "_current_event")
    assert faust.streams.current_event is faust.current_event


# --------------------------------------------------------------------- the committed offsets


def test_committed_offsets_are_the_consumers_own() -> None:
    offsets = {TP("labels", 0): 12, TP("labels", 1): None}
    consumer = SimpleNamespace(_committed_offset=offsets)
    assert committed_offsets(consumer) is offsets
    assert committed_offsets(consumer).get(("labels", 0)) == 12  # a TP is a (topic, partition)
    assert committed_offsets(SimpleNamespace()) == {}  # before Faust made its consumer


def test_faust_still_keeps_the_committed_offsets_on_its_consumer() -> None:
    assert "_committed_offset" in FaustConsumer.__annotations__


# ---------------------------------------------------------------------------- table recovery


def _app(*, recovery: Any, rebalancing: bool = False) -> Any:
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery), rebalancing=rebalancing)


def test_tables_count_as_recovered_once_recovery_completed_outside_a_rebalance() -> None:
    completed = asyncio.Event()
    recovery = SimpleNamespace(completed=completed)
    assert not tables_recovered(_app(recovery=recovery))
    completed.set()
    assert tables_recovered(_app(recovery=recovery))
    assert not tables_recovered(_app(recovery=recovery, rebalancing=True))
    assert not tables_recovered(_app(recovery=None))


def test_faust_still_has_a_table_recovery() -> None:
    assert isinstance(TableManager.recovery, property)


# ------------------------------------------------------------------- events without acks


class _Stream:
    def __init__(self, events: list[str]) -> None:
        self.acking = True
        self._events = events

    def noack(self) -> _Stream:
        copy = _Stream(self._events)
        copy.acking = False
        return copy

    async def events(self) -> AsyncIterator[str]:
        assert not self.acking, "events read from a stream that acknowledges them"
        for event in self._events:
            yield event


def test_the_stages_read_events_from_a_stream_that_does_not_acknowledge() -> None:
    async def read() -> list[str]:
        return [event async for event in unacked_events(_Stream(["a", "b"]))]  # type: ignore[arg-type]

    assert asyncio.run(read()) == ["a", "b"]
    assert callable(faust.Stream.noack) and callable(faust.Stream.events)


# ------------------------------------------------------------------------- producer buffer


class _Buffer:
    """Faust's producer buffer: its ``flush`` gives up after some records (0.1 s idle)."""

    def __init__(self, size: int, log: list[str]) -> None:
        self.size = size
        self.log = log

    async def flush(self) -> None:
        self.size = max(0, self.size - 2)
        self.log.append(f"buffer flush, {self.size} left")


class _Producer:
    def __init__(self, buffered: int) -> None:
        self.log: list[str] = []
        self.buffer = _Buffer(buffered, self.log)

    async def flush(self) -> None:
        self.log.append("client flush")


def test_the_producer_buffer_is_drained_before_the_client_is_flushed() -> None:
    producer = _Producer(buffered=5)
    asyncio.run(drain_producer(producer))
    assert producer.log == [
        "buffer flush, 3 left",
        "buffer flush, 1 left",
        "buffer flush, 0 left",
        "client flush",
    ]


def test_faust_producers_still_have_a_buffer() -> None:
    assert "buffer" in ProducerT.__annotations__


# ----------------------------------------------------------------------------------- lag


class _LagConsumer:
    def __init__(self, highwaters: dict[TP, int | None], fail: bool = False) -> None:
        self.highwaters = highwaters
        self.fail = fail
        self._committed_offset = {TP("labels", 0): 12, TP("labels", 1): None, TP("labels", 2): 30}

    def assignment(self) -> list[TP]:
        return list(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        if self.fail and tp.partition == 1:
            raise RuntimeError("rebalancing")
        return self.highwaters[tp]


def test_lag_is_the_high_watermark_less_the_committed_offset() -> None:
    consumer = _LagConsumer({TP("labels", 0): 20, TP("labels", 1): 5, TP("labels", 2): 25})
    lag = consumer_lag(SimpleNamespace(consumer=consumer))
    assert lag == {("labels", 0): 8, ("labels", 2): 0}  # 1: nothing committed; 2: never < 0


def test_lag_is_best_effort_while_rebalancing() -> None:
    consumer = _LagConsumer({TP("labels", 0): 20, TP("labels", 1): 5}, fail=True)
    assert consumer_lag(SimpleNamespace(consumer=consumer)) == {("labels", 0): 8}


def test_faust_consumers_still_tell_assignment_and_high_watermark() -> None:
    assert callable(AIOKafkaConsumer.assignment) and callable(AIOKafkaConsumer.highwater)


# ---------------------------------------------------------------------------- ack filter


class _Message:
    def __init__(self, topic: str, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, 0, offset


class _AckConsumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: _Message) -> bool:
        self.acked.append(message.offset)
        return True


def test_refused_acknowledgements_never_reach_faust() -> None:
    consumer = _AckConsumer()
    filter_acks(consumer, lambda message: message.topic != "labels")
    assert consumer.ack(_Message("labels", 1)) is False
    assert consumer.ack(_Message("model-updates", 2)) is True
    assert consumer.acked == [2]


def test_faust_consumers_still_acknowledge_through_ack() -> None:
    assert callable(FaustConsumer.ack)


# ------------------------------------------------------------------- seek after assignment


class _SeekingConsumer:
    """Faust's consumer after a rebalance: its seek to the committed offsets, and ``seek_wait``."""

    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.seeks: list[dict[TP, int]] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.append(dict(partitions))


def test_the_further_seeks_follow_faust_s_own_and_faust_still_gets_its_offsets() -> None:
    committed: dict[TP, int | None] = {TP("labels", 0): 12, TP("labels", 1): None}
    consumer = _SeekingConsumer(committed)
    seen: list[dict[Any, int | None]] = []

    def seeks(offsets: Any) -> dict[TP, int]:
        seen.append(dict(offsets))
        return {tp: 0 for tp, offset in offsets.items() if offset is None}

    after_assignment_seek(consumer, seeks)
    assert asyncio.run(consumer.seek_to_committed()) == committed
    assert seen == [committed]
    assert consumer.seeks == [{TP("labels", 1): 0}]


def test_nothing_more_is_sought_when_nothing_is_named() -> None:
    consumer = _SeekingConsumer({TP("labels", 0): 3})
    after_assignment_seek(consumer, lambda offsets: {})
    asyncio.run(consumer.seek_to_committed())
    assert consumer.seeks == []


def test_faust_consumers_still_seek_to_committed_after_an_assignment() -> None:
    assert callable(AIOKafkaConsumer.seek_to_committed)
    assert callable(AIOKafkaConsumer.seek_wait)


class _Records:
    """aiokafka's partition records: an iterator with the offset of the next fetch."""

    def __init__(self, offsets: list[int]) -> None:
        self._offsets = iter(offsets)
        self.next_fetch_offset = offsets[0]

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> int:
        offset = next(self._offsets)
        self.next_fetch_offset = offset + 1
        return offset


def _fetcher(buffered: dict[tuple[str, int], list[int]]) -> Any:
    """An aiokafka Fetcher's state with ``buffered`` records per partition (FetchResults)."""
    from collections import OrderedDict

    from aiokafka.consumer.fetcher import FetchResult
    from aiokafka.structs import TopicPartition

    positions: dict[Any, int] = {}

    def state(tp: Any) -> Any:
        return SimpleNamespace(
            paused=False,
            position=positions[tp],
            consumed_to=lambda offset: positions.__setitem__(tp, offset),
        )

    assignment = SimpleNamespace(active=True, state_value=state)
    records: OrderedDict[Any, Any] = OrderedDict()
    for (topic, partition), offsets in buffered.items():
        tp = TopicPartition(topic, partition)
        positions[tp] = offsets[0]
        records[tp] = FetchResult(
            tp, assignment=assignment, partition_records=_Records(offsets), backoff=0
        )
    subscriptions = SimpleNamespace(reassignment_in_progress=False, is_assigned=lambda tp: True)
    return SimpleNamespace(
        _records=records,
        _subscriptions=subscriptions,
        _notify=lambda future: None,
        _wait_consume_future=None,
    )


def test_held_back_partitions_keep_their_fetched_records_until_released() -> None:
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.structs import TopicPartition

    faust_compat.fair_fetch_order()
    ahead, behind = TopicPartition("predictions", 0), TopicPartition("labels", 0)
    fetcher = _fetcher({("predictions", 0): [0, 1, 2], ("labels", 0): [7, 8]})

    def fetch(max_records: int = 10) -> dict[Any, list[int]]:
        got = asyncio.run(Fetcher.fetched_records(fetcher, [ahead, behind], 0, max_records))
        return dict(got)

    try:
        faust_compat.hold_back([("predictions", 0)])
        assert fetch() == {behind: [7, 8]}
        assert fetch() == {}  # the held partition's records wait in the buffer
        assert ahead in fetcher._records
        faust_compat.hold_back([])
        assert fetch() == {ahead: [0, 1, 2]}  # all of them, none skipped
    finally:
        faust_compat.hold_back([])


def test_partitions_take_turns_and_holding_all_back_holds_none() -> None:
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.structs import TopicPartition

    faust_compat.fair_fetch_order()
    first, second = TopicPartition("predictions", 0), TopicPartition("labels", 0)
    fetcher = _fetcher({("predictions", 0): [0, 1, 2, 3], ("labels", 0): [7, 8, 9]})

    def fetch() -> list[tuple[Any, list[int]]]:
        got = asyncio.run(Fetcher.fetched_records(fetcher, [first, second], 0, 2))
        return list(got.items())

    try:
        assert fetch() == [(first, [0, 1])]
        assert fetch() == [(second, [7, 8])]  # the one served least recently comes first
        faust_compat.hold_back([("predictions", 0), ("labels", 0)])  # never all of them
        assert fetch() == [(first, [2, 3])]
    finally:
        faust_compat.hold_back([])
