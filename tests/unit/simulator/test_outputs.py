"""What the simulator reads back (SystemOutputs, ModelUpdateWatcher) through driftline's EventReader."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.events import Alert, ModelUpdate, TaskMetrics, encode
from driftline.reader import EventReader
from simulator.outputs import SystemOutputs
from simulator.scorer import ModelUpdateWatcher
from tests.kafka_fakes import Message

CONFIG = parse_config("model: m\ntasks: {churn: {type: binary}, spend: {type: regression}}\n")
T = "2026-11-23T12:00:00Z"


class Consumer:
    def __init__(self, values: list[bytes]) -> None:
        self.queue = [Message(v, n, topic="out", partition=0) for n, v in enumerate(values)]
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        self.topics = topics

    def poll(self, timeout: float) -> Message | None:
        return self.queue.pop(0) if self.queue else None

    def close(self) -> None:
        self.closed = True


def _alert(alert_id: str, task: str = "churn", model: str = "m") -> Alert:
    return Alert.model_validate({
        "schema": Alert.SCHEMA, "alert_id": alert_id, "model": model, "model_version": "1",
        "task": task, "detector": "adwin", "signal": "error", "severity": "critical",
        "metric": "error_rate", "value": 0.4, "config_hash": "h", "event_time": T,
        "evidence": {"start_count": 1, "end_count": 2, "start_time": T, "end_time": T},
    })  # fmt: skip


def _update(update_id: str, status: str, model: str = "m") -> ModelUpdate:
    return ModelUpdate.model_validate({"schema": ModelUpdate.SCHEMA, "update_id": update_id,
                                       "model": model, "version": "2", "status": status,
                                       "event_time": T})  # fmt: skip


def _metrics(task: str, labels: int, sliced: bool = False) -> TaskMetrics:
    return TaskMetrics.model_validate({
        "schema": TaskMetrics.SCHEMA, "snapshot_id": f"s-{task}-{labels}-{sliced}", "model": "m",
        "model_version": "1", "task": task, "slice": {"country": "DE"} if sliced else {},
        "predictions": labels, "labels": labels, "expired": 0, "duplicates": 0, "event_time": T,
    })  # fmt: skip


def test_system_outputs_keep_each_event_once_and_the_latest_unsliced_snapshot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = {"schema": "driftline.batch/1",
                "events": [json.loads(encode(_metrics("churn", 5))),
                           json.loads(encode(_metrics("churn", 9, sliced=True)))]}  # fmt: skip
    consumer = Consumer([
        encode(_alert("a-1")), encode(_alert("a-1")),  # a re-delivery
        encode(_alert("a-2", model="other")), b"{broken", json.dumps(envelope).encode(),
        encode(_update("u-1", "rejected")),
    ])  # fmt: skip
    outputs = SystemOutputs(CONFIG, _reader=EventReader(CONFIG, ["out"], consumer=consumer))
    with caplog.at_level(logging.WARNING, "driftline.simulator"):
        fresh = outputs.poll(budget=3)  # three records: a-1, its re-delivery, the other model's
        fresh += outputs.poll()
    assert [type(e).__name__ for e in fresh] == ["Alert", "ModelUpdate"]
    assert [a.alert_id for a in outputs.alerts] == ["a-1"] and len(outputs.updates) == 1
    assert outputs.latest_metrics["churn"].labels == 5  # the sliced snapshot does not replace it
    assert "skipping a bad record" in caplog.text
    outputs.close()
    assert consumer.closed


def test_the_watcher_reports_only_champion_moves_of_its_model() -> None:
    consumer = Consumer([
        encode(_update("u-1", "rejected")), encode(_update("u-2", "promoted")),
        encode(_update("u-3", "promoted", model="other")), encode(_update("u-4", "rolled_back")),
        encode(_alert("a-1")),
    ])  # fmt: skip
    watcher = ModelUpdateWatcher(CONFIG)
    watcher._reader = EventReader(CONFIG, ["model-updates"], consumer=consumer)
    assert [u.update_id for u in watcher.poll()] == ["u-2", "u-4"]
    assert watcher.poll() == []


def test_a_budget_limits_the_records_read_per_call() -> None:
    records: list[Any] = [encode(_update(f"u-{n}", "promoted")) for n in range(4)]
    watcher = ModelUpdateWatcher(CONFIG)
    watcher._reader = EventReader(CONFIG, ["model-updates"], consumer=Consumer(records))
    assert len(watcher.poll(budget=3)) == 3 and len(watcher.poll(budget=3)) == 1
