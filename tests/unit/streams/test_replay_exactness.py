"""Both stages' runners, crashes and replays in other interleavings, without a broker.

The shipped :class:`~streams.join_runner.JoinRunner` and
:class:`~streams.monitor_runner.MonitorRunner` run over in-memory fakes of their I/O edges: a
producer whose sends are delivered only when it is drained (a crash drops what it holds), a join
changelog whose transactions are durable once committed (under the real
:class:`~streams.join_stores.JoinStores`, on a RocksDB store on disk), and a state table whose
writes are durable at once (as RocksDB's are). Each stage checkpoints every 97 records and
"crashes" four times: before its checkpoint's outputs are delivered, after they are but before
its state is written, after stage 1's changelog transaction committed but before its local batch
is written, and after its state is written but before its input is acknowledged. A
restarted stage reopens its last written state (stage 1: its store on disk, or one rebuilt from
the changelog records alone, as a worker on another host taking the partition over does) and
reads again from its committed offsets, stage 1 in a different interleaving of its two topics.
Stage 2 must end with exactly the counts and cumulative metrics of a run without a crash, and
the same alerts, retrain requests and snapshots: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.events import encode
from streams.join_changelog import StoreAheadError
from streams.join_runner import JoinRunner
from streams.join_stores import JoinStores
from streams.monitor_runner import MonitorRunner
from streams.stage_io import StageIO
from streams.stages import JoinStage, MonitorStage

CFG = parse_config("""
model: m
kafka: {partitions: 1}
monitor:
  snapshot_interval: 120
  checkpoint_events: 97
  checkpoint_interval: 1d
  source_idle_timeout: 1d
tasks:
  churn: {type: binary, label_delay: 60, detectors: [{kind: page_hinkley, signal: score}]}
  spend: {type: regression, label_delay: 90}
""")
"""churn needs every score (``unlabelled`` outcomes); spend's predictions are only counted
(one ``predicted`` outcome per record)."""


def _time(t: float) -> str:
    return datetime.fromtimestamp(1_700_000_000 + t, UTC).isoformat()


def _input(n: int, seed: int, envelope: int = 1) -> dict[str, list[bytes]]:
    """Predictions and labels of one partition: shuffled labels, 10 % missing, some early;
    ``envelope`` events per record."""
    rng = random.Random(seed)
    predictions, labels = [], []
    for i in range(n):
        predictions.append(
            {
                "schema": "driftline.prediction/1",
                "prediction_id": f"p-{i}",
                "model": "m",
                "model_version": "1",
                "entity_id": f"e-{i % 50}",
                "event_time": _time(i),
                "outputs": {"churn": {"score": rng.random()}, "spend": {"value": rng.gauss(5, 1)}},
            }
        )
        for task, label in (("churn", int(rng.random() < 0.5)), ("spend", rng.gauss(5, 1))):
            if rng.random() < 0.1:
                continue  # never arrives: expires
            delay = rng.uniform(-3, 40)  # a few labels come before their prediction
            labels.append((i + delay, f"p-{i}", task, label))
    labels.sort()
    label_events = [
        {
            "schema": "driftline.label/1",
            "prediction_id": pid,
            "task": task,
            "label": label,
            "event_time": _time(t),
        }
        for t, pid, task, label in labels
    ]
    return {
        "predictions": _records(predictions, envelope),
        "labels": _records(label_events, envelope),
    }


def _records(events: list[dict[str, object]], envelope: int) -> list[bytes]:
    if envelope == 1:
        return [json.dumps(event).encode() for event in events]
    return [
        json.dumps({"schema": "driftline.batch/1", "events": events[i : i + envelope]}).encode()
        for i in range(0, len(events), envelope)
    ]


def _interleaving(records: dict[str, list[bytes]], start: dict[str, int], seed: int):
    """The records from ``start`` on, the two topics mixed at random (each in offset order)."""
    rng = random.Random(seed)
    position = dict(start)
    while any(position[t] < len(records[t]) for t in records):
        open_ = [t for t in records if position[t] < len(records[t])]
        topic = rng.choice(open_)
        yield topic, position[topic], records[topic][position[topic]]
        position[topic] += 1


class _Crash(Exception):
    """The process died here."""


CRASHES = ("before delivery", "before state", "before landing", "before ack")
"""Where in a checkpoint a crash lands: in step 2 (its outputs never delivered), in step 3 (its
outputs delivered, its state not written; stage 1: or its changelog transaction committed, its
local batch not written) and in step 4 (its state written, nothing acked)."""
STAGE_TWO_CRASHES = ("before delivery", "before state", "before ack")
"""Stage 2 writes no changelog transaction."""


class _Broker:
    """What outlives a crash: the topics' records, the committed offsets, the join changelog and
    the task monitors' table; and where the next crash lands."""

    def __init__(self) -> None:
        self.topics: dict[str, list[tuple[bytes, bytes]]] = {}
        self.delivered: list[tuple[str, bytes, bytes]] = []  # every topic's, in order
        self.committed: dict[tuple[str, int], int] = {}
        self.changelog: list[tuple[bytes, bytes | None]] = []
        self.table: dict[str, bytes] = {}
        self.armed: str | None = None  # the crash of the next checkpoint
        self.drains = 0  # drains of the checkpoint in progress

    def log(self, topic: str) -> list[tuple[bytes, bytes]]:
        return self.topics.setdefault(topic, [])

    def crash_here(self, where: str) -> None:
        if self.armed == where:
            self.armed = None
            raise _Crash(where)


class _Producer:
    """A process's producer: a send is delivered when the producer is drained."""

    def __init__(self, broker: _Broker) -> None:
        self.broker = broker
        self.buffer: list[tuple[str, bytes, bytes, asyncio.Future[None]]] = []

    async def send(
        self, topic: str, key: bytes, value: bytes, partition: int | None = None
    ) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self.buffer.append((topic, key, value, future))
        return future

    async def drain(self) -> None:
        self.broker.drains += 1
        if self.broker.drains % 2 == 1:
            self.broker.crash_here("before delivery")
        else:
            self.broker.crash_here("before ack")
        for topic, key, value, future in self.buffer:
            self.broker.log(topic).append((key, value))
            self.broker.delivered.append((topic, key, value))
            future.set_result(None)
        self.buffer.clear()


class _Changelog:
    """The join changelog topic (one partition): a committed transaction is durable."""

    def __init__(self, broker: _Broker) -> None:
        self.broker = broker

    def writer(self, partition: int) -> _Changelog:
        return self

    def commit(self, records: list[tuple[bytes, bytes | None]]) -> int:
        self.broker.crash_here("before state")
        self.broker.changelog.extend(records)
        self.broker.crash_here("before landing")  # the local store is behind the changelog
        return len(self.broker.changelog) - 1

    def close(self) -> None:
        pass

    def read(self, partition: int, start: int, apply: Any, progress: Any = None) -> int:
        records = self.broker.changelog
        if start > len(records):
            raise StoreAheadError(f"ends at offset {len(records)}")
        if start < len(records):
            apply(records[start:], len(records) - 1)
        return len(records) - start


class _Table:
    """The task monitors' table: a write is durable at once (RocksDB)."""

    def __init__(self, broker: _Broker) -> None:
        self.broker = broker

    def get(self, key: str) -> bytes | None:
        return self.broker.table.get(key)

    def keys(self) -> list[str]:
        return list(self.broker.table)

    def write(self, key: str, value: bytes, event: Any) -> None:
        self.broker.crash_here("before state")
        self.broker.table[key] = value


def _io(broker: _Broker, producer: _Producer) -> StageIO:
    def acknowledge(event: Any) -> None:
        message = event.message
        broker.committed[(message.topic, message.partition)] = message.offset + 1

    async def guard(work: Any, stage: str) -> None:
        await work

    return StageIO(
        send=producer.send,
        drain=producer.drain,
        acknowledge=acknowledge,
        tables_recovered=lambda: True,
        caught_up=lambda topic, partition, offsets: False,
        hold_back=lambda topic_partitions: None,
        rebalances=SimpleNamespace(count=0, check=lambda message: True),
        guard=guard,
    )


def _event(topic: str, offset: int, key: bytes, value: bytes) -> Any:
    return SimpleNamespace(message=SimpleNamespace(
        topic=topic, partition=0, offset=offset, key=key, value=value
    ))  # fmt: skip


async def _checkpoints(
    runner: JoinRunner | MonitorRunner,
    records: Iterator[tuple[int, tuple[str, int, bytes, bytes]]],
    broker: _Broker,
    crash: tuple[str, int] | None,
) -> None:
    """Feed ``records`` (each with its position) to ``runner``, then a last checkpoint; with
    ``crash`` (where, position), the first checkpoint after that position crashes there."""
    for position, (topic, offset, key, value) in records:
        if crash is not None and position >= crash[1]:
            broker.armed = crash[0]
        broker.drains = 0
        await runner.receive(_event(topic, offset, key, value))
        if isinstance(runner, MonitorRunner) and offset % 5 == 0:
            await runner.release_due()  # the timer's turn
    broker.drains = 0
    await runner.checkpoint.run()


def _restart(
    runner: JoinRunner | MonitorRunner,
    records: Iterator[tuple[int, tuple[str, int, bytes, bytes]]],
    broker: _Broker,
    crash: tuple[str, int] | None,
) -> None:
    """One run of a process: until its crash, or to the end of its input without one."""
    try:
        asyncio.run(_checkpoints(runner, records, broker, crash))
    except _Crash:
        assert crash is not None
    else:
        assert crash is None, f"no crash {crash}"
    assert broker.armed is None


def _stage_one(
    records: dict[str, list[bytes]], crashes: list[int], seed: int, directory: Path,
    rebuild: bool,
) -> list[tuple[bytes, bytes]]:  # fmt: skip
    """Stage 1's outcomes log, the stage crashing after ``crashes`` records read in all."""
    broker, read = _Broker(), itertools.count()
    for attempt, at in enumerate([*crashes, None]):
        # a restart: the store on disk (older than max_age with ``rebuild``: rebuilt from the
        # changelog alone), the input read again from the committed offsets
        stores = JoinStores(CFG, directory, _Changelog(broker), max_age=-1 if rebuild else 3600)  # type: ignore[arg-type]
        stage = JoinStage(CFG, partitions=1, open_store=stores.opened)
        runner = JoinRunner(CFG, stage, stores, _io(broker, _Producer(broker)))
        runner.assigned([("predictions", 0), ("labels", 0)])
        start = {topic: broker.committed.get((topic, 0), 0) for topic in records}
        interleaving = (
            (next(read), (topic, offset, b"", value))
            for topic, offset, value in _interleaving(records, start, seed + attempt)
        )
        crash = None if at is None else (CRASHES[attempt % len(CRASHES)], at)
        _restart(runner, interleaving, broker, crash)
        stage.close()
        stores.release()
    return broker.log(CFG.topics.outcomes)


STAGE_TWO = CFG.model_copy(
    update={"monitor": CFG.monitor.model_copy(update={"checkpoint_events": 5})}
)
"""Stage 2 reads some 150 outcome records: it checkpoints every 5."""


def _stage_two(outcomes: list[tuple[bytes, bytes]], crashes: list[int]) -> MonitorStage:
    """Stage 2 over ``outcomes``, crashing after the records at ``crashes``; its monitors at
    the end (``outputs``: every alert, retrain request and snapshot it sent, in order)."""
    broker = _Broker()
    for attempt, at in enumerate([*crashes, None]):
        table = _Table(broker)
        stage = MonitorStage(STAGE_TWO, load=table.get)
        runner = MonitorRunner(STAGE_TWO, stage, table, _io(broker, _Producer(broker)))
        start = broker.committed.get((CFG.topics.outcomes, 0), 0)
        records = (
            (offset, (CFG.topics.outcomes, offset, key, value))
            for offset, (key, value) in enumerate(outcomes[start:], start)
        )
        crash = None if at is None else (STAGE_TWO_CRASHES[attempt % len(STAGE_TWO_CRASHES)], at)
        _restart(runner, records, broker, crash)
    final = stage.release_due(final=True).outputs  # the input is over
    outputs = [CFG.topics.drift_alerts, CFG.topics.retrain_requests, CFG.topics.task_metrics]
    sent = [json.loads(value) for topic, _, value in broker.delivered if topic in outputs]
    stage.outputs = sent + [json.loads(encode(output)) for output in final]  # type: ignore[attr-defined]
    return stage


def _run(
    records: dict[str, list[bytes]], crashes: list[int], seed: int, directory: Path,
    rebuild: bool = False,
) -> MonitorStage:  # fmt: skip
    outcomes = _stage_one(records, crashes, seed, directory, rebuild)
    return _stage_two(
        outcomes, [len(outcomes) * k // (len(crashes) + 1) for k in range(1, len(crashes) + 1)]
    )


def _summary(stage: MonitorStage) -> dict[str, object]:
    return {
        key: (monitor.counts(), monitor.label_coverage, monitor.scopes[()].metrics.cumulative())
        for key, monitor in sorted(stage.monitors.items())
    }


def _outputs(stage: MonitorStage) -> dict[str, list[dict[str, object]]]:
    """Per task, every alert, retrain request and snapshot, in the order its monitor emitted
    them (tasks are monitored apart: their order between tasks is not one). A crash after a
    checkpoint delivered its outputs and before its state was written sends them again, the
    same (at least once): a second copy is left out, anything else counts."""
    out: dict[str, list[dict[str, object]]] = {}
    seen: set[str] = set()
    for output in stage.outputs:  # type: ignore[attr-defined]
        copy = json.dumps(output, sort_keys=True)
        if copy not in seen:
            seen.add(copy)
            task = output["tasks"][0] if "tasks" in output else output["task"]
            out.setdefault(task, []).append(output)
    return out


@pytest.mark.parametrize(
    ("seed", "envelope", "rebuild"),
    [(1, 1, False), (2, 1, True), (3, 1, False), (4, 7, False), (5, 7, True)],
)
def test_crashes_in_any_checkpoint_step_lose_and_repeat_nothing(
    seed: int, envelope: int, rebuild: bool, tmp_path: Path
) -> None:
    records = _input(1500, seed, envelope)
    calm = _run(records, crashes=[], seed=100, directory=tmp_path / "calm")
    expected = _summary(calm)
    crashes = [n // envelope for n in (800, 1700, 2600, 3300)]
    stage = _run(records, crashes, seed, tmp_path / "crashed", rebuild)
    crashed = _summary(stage)
    for key in expected:
        counts, coverage, metrics = expected[key]
        got_counts, got_coverage, got_metrics = crashed[key]
        assert counts["predictions"] == 1500, key
        assert got_counts == counts, key
        assert got_coverage == pytest.approx(coverage, rel=1e-12)
        assert got_metrics == pytest.approx(metrics, rel=1e-9), key
    assert sum(c["labels"] for c, _, _ in crashed.values()) > 2000
    assert sum(c["expired"] for c, _, _ in crashed.values()) > 100
    # stage 2 applied the outcomes in the same order: the same alerts (ids, evidence) and the
    # same snapshots (ids and contents), whatever the interleaving, crashes and restores
    outputs = _outputs(stage)
    assert sum(map(len, outputs.values())) > 20 and outputs == _outputs(calm)
