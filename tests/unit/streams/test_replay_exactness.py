"""Both stages, a crash and a replay in another interleaving, without a broker.

Stage 1 checkpoints the way ``streams/app.py`` does (send the outcomes of the checkpoint, then
commit its changelog records, then write its local store, then ack); a "crash" lands between
sending and writing, so the outcomes of that checkpoint reach stage 2 while stage 1's state does
not reflect them. Stage 1 then opens its last written state (its RocksDB store on disk, or a new
store rebuilt from the changelog records alone, as a worker on another host taking the
partition over does) and reads the rest of the input in a different interleaving of the two
topics. Stage 2 must end with exactly the counts and cumulative metrics of a run without a
crash: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftline.config import parse_config
from streams.join import entry_codec
from streams.join_store import JoinStore
from streams.outcome import encode_outcomes
from streams.stages import JoinStage, MonitorStage

CFG = parse_config("""
model: m
kafka: {partitions: 1}
monitor: {snapshot_interval: 120}
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


class _StageOne:
    """Stage 1 with checkpoints, its state store, its changelog and the outcomes log."""

    def __init__(self, log: list[bytes], changelog: list[tuple[bytes, bytes | None]],
                 store: JoinStore) -> None:  # fmt: skip
        self.stage = JoinStage(CFG, partitions=1, open_store=lambda _: store)
        self.join = self.stage.join_for(0)
        self.log, self.changelog = log, changelog
        self.pending: dict[str, list] = {}
        self.durable: dict[str, int] | None = None
        self.watermark: float | None = None  # of the last completed checkpoint
        self.acked: dict[str, int] = {}
        self.held: dict[str, int] = {}

    def process(self, topic: str, offset: int, value: bytes) -> None:
        result = self.stage.process(topic, 0, offset, b"", value)
        for outcome in result.outcomes:
            self.pending.setdefault(outcome.key, []).append(outcome.to_wire())
        self.held[topic] = offset

    def send(self) -> None:
        """As the app does: an envelope per task, with the last checkpoint's watermark."""
        frontier = self.join.frontier()
        marks = {0: self.watermark} if self.watermark not in (None, float("-inf")) else {}
        for key in ("m/churn", "m/spend"):
            durables = {0: self.durable} if self.durable is not None else {}
            items = self.pending.pop(key, [])
            self.log.append((key, encode_outcomes(items, {0: frontier}, durables, marks)))

    def write_and_ack(self) -> None:
        records, batch = self.join.checkpoint()
        self.changelog.extend(records)  # one committed transaction
        self.join.commit(batch, changelog_offset=len(self.changelog) - 1)
        self.durable = self.join.frontier()
        self.watermark = self.join.watermark
        self.acked.update(self.held)


def _open(directory: Path, changelog: list[tuple[bytes, bytes | None]], rebuild: bool) -> JoinStore:
    """The partition's store after a restart: on the same disk, or rebuilt from the changelog."""
    delays = {name: task.label_delay for name, task in CFG.tasks.items()}
    if not rebuild:
        return JoinStore(directory / "local", delays, entry_codec(CFG))
    store = JoinStore(directory / f"rebuilt-{len(changelog)}", delays, entry_codec(CFG))
    if changelog:
        store.apply_changelog(changelog, len(changelog) - 1)
    return store


def _run(
    records, crashes: list[int], seed: int, directory: Path, rebuild: bool = False
) -> MonitorStage:
    log: list[tuple[str, bytes]] = []
    changelog: list[tuple[bytes, bytes | None]] = []
    committed = {topic: 0 for topic in records}
    done = 0
    for attempt in range(len(crashes) + 1):
        one = _StageOne(log, changelog, _open(directory, changelog, rebuild))
        crash_at = crashes[attempt] if attempt < len(crashes) else None
        for topic, offset, value in _interleaving(records, committed, seed + attempt):
            one.process(topic, offset, value)
            done += 1
            if done % 97 == 0:
                one.send()
                if crash_at is not None and done >= crash_at:
                    break  # sent, not written, not acked
                one.write_and_ack()
        else:
            one.send()
            one.write_and_ack()
        one.stage.close()
        committed = {topic: one.acked.get(topic, committed[topic] - 1) + 1 for topic in records}
    monitor = MonitorStage(CFG)
    outputs = []
    for offset, (key, value) in enumerate(log):
        outputs += monitor.process("outcomes", 0, offset, value, key.encode()).outputs
    outputs += monitor.release_due(final=True).outputs
    monitor.outputs = outputs  # type: ignore[attr-defined]
    return monitor


def _summary(stage: MonitorStage) -> dict[str, object]:
    return {
        key: (monitor.counts(), monitor.label_coverage, monitor.scopes[()].metrics.cumulative())
        for key, monitor in sorted(stage.monitors.items())
    }


def _outputs(stage: MonitorStage) -> dict[str, list[dict[str, object]]]:
    """Per task, every alert, retrain request and snapshot, in the order its monitor emitted
    them (tasks are monitored apart: their order between tasks is not one)."""
    out: dict[str, list[dict[str, object]]] = {}
    for output in stage.outputs:  # type: ignore[attr-defined]
        task = output.tasks[0] if hasattr(output, "tasks") else output.task
        out.setdefault(task, []).append(output.model_dump(mode="json"))
    return out


@pytest.mark.parametrize(
    ("seed", "envelope", "rebuild"),
    [(1, 1, False), (2, 1, True), (3, 1, False), (4, 7, False), (5, 7, True)],
)
def test_crashes_between_send_and_write_lose_and_repeat_nothing(
    seed: int, envelope: int, rebuild: bool, tmp_path: Path
) -> None:
    records = _input(1500, seed, envelope)
    calm = _run(records, crashes=[], seed=100, directory=tmp_path / "calm")
    expected = _summary(calm)
    crashes = [n // envelope for n in (800, 1700, 2600)]
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
