"""A task monitor's state larger than one Kafka record is stored in parts and survives kill -9, on
a real broker (docs/monitoring.md, "A task's state: sized, not capped by a record").

One binary task with a window of 100 000 labels: once the window fills, its state (about 1.3 MB)
is over Kafka's 1 MB record limit. Before the state was split, the worker stopped with exit 78
("state outgrew the record limit") as the window filled, and a restart met the same limit. Now
the worker applies every label, writes the state in parts to the table's changelog, is killed
(-9) after a checkpoint, and a new worker restores the parts and finishes with counts and
metrics equal to an uninterrupted run's (every label once; 90 % of them right).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import T0, iso, ordered_producer, produce

FIRST, TOTAL = 110_000, 130_000  # predictions before the kill, in all
TASKS_YAML = "  churn: {type: binary, window: 100000}\n"


def _events(start: int, stop: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each prediction, then its label; every tenth prediction is wrong."""
    for i in range(start, stop):
        pid, t = f"p-{i}", T0 + i * 0.1
        y = int(i * 7919 % 1000 < 500)
        score = 0.8 if (y == 1) == (i % 10 != 0) else 0.2
        yield ("predictions", pid, {"schema": "driftline.prediction/1", "prediction_id": pid,
                                    "model": "shop", "model_version": "1", "entity_id": "e",
                                    "event_time": iso(t), "outputs": {"churn": {"score": score}}})  # fmt: skip
        yield ("labels", pid, {"schema": "driftline.label/1", "prediction_id": pid,
                               "task": "churn", "label": y, "event_time": iso(t + 0.05)})  # fmt: skip


@pytest.mark.slow
def test_a_state_over_the_record_limit_is_stored_in_parts_and_restored(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka_bootstrap, tmp_path, TASKS_YAML, "checkpoint_interval: 0.5",
                           partitions=1)  # fmt: skip
    topics = {"predictions": worker.config.topics.predictions,
              "labels": worker.config.topics.labels}  # fmt: skip
    producer = ordered_producer(kafka_bootstrap, **{"linger.ms": 20})
    worker.start()
    try:
        assert produce(producer, topics, _events(0, FIRST), 1, 100) == 2 * FIRST
        worker.wait_for("churn.labels", FIRST)
        time.sleep(2.0)  # checkpoints (every 0.5 s) write the full window's state
        assert worker.alive(), worker.log_tail()
        worker.kill()
        keys = worker.changelog_keys(f"{worker.config.monitor.app_id}-monitor-changelog")
        assert any(b"shop/churn#" in key for key in keys), sorted(keys)  # stored in parts

        worker.start()
        assert produce(producer, topics, _events(FIRST, TOTAL), 1, 100) == 2 * (TOTAL - FIRST)
        worker.wait_for("churn.labels", TOTAL)
        time.sleep(1.0)
        counts = worker.scrape()
        assert counts.get("churn.predictions") == TOTAL, counts
        for kind in ("duplicates", "orphans", "late", "stale"):
            assert counts.get(f"churn.{kind}", 0) == 0, counts
        assert counts.get("churn.cumulative.accuracy") == pytest.approx(0.9), counts
        log = worker.log_tail(chars=200_000)
        assert "tasks.churn.window: warning: a window of 100000 labels" in log
        assert "outgrew" not in log and "Traceback" not in log, log[-3000:]
    finally:
        worker.stop()
