"""The stream the chaos tests share, and what one uninterrupted worker makes of it.

``test_monitor_chaos.py`` (a worker joining, one of two killed and taken over, a SIGTERM, the
broker killed) and ``test_monitor_workers.py`` (``driftline monitor --workers 2`` and its
supervisor) each run this stream with an interruption and compare their alerts, retrain requests
and task-metrics snapshots (ids and bodies) with the ``reference`` run's.

Fixtures
--------
``reference`` (session)
    The outputs of one uninterrupted worker on the stream, by topic and id.

The stream is :class:`bench.workload.Workload` (three tasks, shuffled and missing labels, an
abrupt drift on ``fraud``) plus its tail, which moves every partition's watermark past every
budget. ``make test`` runs a short stream; ``DRIFTLINE_NIGHTLY=1`` (``make test-nightly``) a
long one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML, Workload, ordered_producer, produce

NIGHTLY = os.environ.get("DRIFTLINE_NIGHTLY") == "1"
PREDICTIONS = 40_000 if NIGHTLY else 8_000
TASKS = ("churn", "fraud", "spend")
PARTITIONS = 4
MONITOR = "checkpoint_interval: 0.5, snapshot_interval: 600"
OUTPUTS = (("drift_alerts", "alert_id"), ("retrain_requests", "request_id"),
           ("task_metrics", "snapshot_id"))  # fmt: skip

Outputs = dict[str, dict[str, dict[str, Any]]]


def chaos_workload() -> Workload:
    """The stream (its tail: :meth:`Workload.tail`)."""
    return Workload(predictions=PREDICTIONS, seed=21, drift_at=PREDICTIONS // 2)


def chaos_worker(bootstrap: str, directory: Path, workers: int = 1) -> WorkerProcess:
    """A worker configuration for the stream (not started)."""
    return WorkerProcess(bootstrap, directory, TASKS_YAML, MONITOR, partitions=PARTITIONS,
                         workers=workers)  # fmt: skip


def produce_half(bootstrap: str, worker: WorkerProcess, half: int) -> None:
    """Produce the first (``half`` 0) or the second half of the stream, the tail with the second.
    Every run produces the same records: a record's boundaries are part of the input (a task
    without a score signal counts its predictions once per record)."""
    workload = chaos_workload()
    events = list(workload.events())
    middle = len(events) // 2
    producer = chaos_producer(bootstrap)
    produce(producer, inputs_of(worker), iter(events[middle:] if half else events[:middle]),
            PARTITIONS, 100)  # fmt: skip
    if half:
        produce(producer, inputs_of(worker), workload.tail(), PARTITIONS, 1)


def stream_events() -> int:
    """Input events in the stream without its tail."""
    return sum(1 for _ in chaos_workload().events())


def expected_counts() -> dict[str, int]:
    """Per task: the predictions of the stream and its tail (every one ends labelled or expired)."""
    workload = chaos_workload()
    expected = dict.fromkeys(TASKS, workload.predictions)
    for topic, _, event in workload.tail():
        if topic == "predictions":
            for task in event["outputs"]:
                expected[task] += 1
    return expected


def outputs_of(worker: WorkerProcess) -> Outputs:
    """The alerts, retrain requests and snapshots a run sent, by id."""
    return {topic: worker.by_id(topic, key) for topic, key in OUTPUTS}


def differences(actual: Outputs, expected: Outputs) -> list[str]:
    """What differs between two runs' outputs, id by id and field by field."""
    lines = []
    for topic, events in expected.items():
        got = actual.get(topic, {})
        lines += [f"{topic}: missing {key}" for key in sorted(events.keys() - got.keys())]
        lines += [f"{topic}: extra {key}" for key in sorted(got.keys() - events.keys())]
        for key in sorted(events.keys() & got.keys()):
            fields = {f for f in events[key].keys() | got[key].keys()
                      if events[key].get(f) != got[key].get(f)}  # fmt: skip
            lines += [f"{topic} {key} {f}: {got[key].get(f)!r} != {events[key].get(f)!r}"
                      for f in sorted(fields)]  # fmt: skip
    return lines


def chaos_producer(bootstrap: str) -> Any:
    """An order-keeping producer whose librdkafka lines go through logging (it may outlive its
    broker)."""
    return ordered_producer(bootstrap, **{"linger.ms": 20})


def inputs_of(worker: WorkerProcess) -> dict[str, str]:
    return {"predictions": worker.config.topics.predictions, "labels": worker.config.topics.labels}


def wait_exact(worker: WorkerProcess, timeout: float, restart: Callable[[], None]) -> None:
    """Wait until the workers' per-task counts are the stream's exactly (calling ``restart`` to
    bring back a worker that exited), and stay so; no duplicates, no orphans."""
    expected = expected_counts()
    deadline = time.monotonic() + timeout
    counts: dict[str, float] = {}
    while time.monotonic() < deadline:
        restart()
        counts = worker.scrape()
        if all(
            counts.get(f"{t}.predictions") == expected[t]
            and counts.get(f"{t}.labels", 0) + counts.get(f"{t}.expired", 0) == expected[t]
            for t in TASKS
        ):
            time.sleep(3)
            assert worker.scrape() == counts, "counts changed after the stream was done"
            for task in TASKS:
                assert counts.get(f"{task}.duplicates", 0) == 0, counts
                assert counts.get(f"{task}.orphans", 0) == 0, counts
            return
        time.sleep(1.0)
    pytest.fail(
        f"not exact after {timeout} s: {counts}; expected {expected}; see {worker.directory}"
    )


@pytest.fixture(scope="session")
def reference(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    """What one uninterrupted worker makes of the stream."""
    worker = chaos_worker(kafka_bootstrap, tmp_path_factory.mktemp("reference"))
    produce_half(kafka_bootstrap, worker, 0)
    produce_half(kafka_bootstrap, worker, 1)
    worker.start()
    try:
        wait_exact(worker, timeout=600, restart=worker.supervise)
    finally:
        worker.stop()
    outputs = outputs_of(worker)
    assert outputs["drift_alerts"] and outputs["task_metrics"], outputs
    return outputs
