"""A slice over a segment with many values keeps a task's state within its budget, on a real
broker (docs/monitoring.md, "A task's state: sized by a budget, so slices are capped").

One binary task sliced by ``country`` (window 2000) meets 60 countries, each with more than 2000
labels, so every scope's rolling window is full. Before the cap, each value had a scope of its
own: the task's state (then one record value) outgrew the 900 kB record limit at about 30 full
scopes and the worker stopped with exit 78 ("state outgrew the record limit"), and a restart met
the same limit (a state is now stored in parts past a record: tests/integration/
test_large_state.py). With the cap the state stays within its budget whatever the input: the
worker stays up, applies every label, and counts the values past the cap in
``driftline_slice_overflow_total`` while monitoring them together as ``country=(other)``.
"""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import T0, iso, ordered_producer, produce

COUNTRIES = 60
PREDICTIONS = 130_000  # 2166 or 2167 labels per country: more than the window of 2000
WINDOW = 2000
PARTITIONS = 2
TASKS_YAML = "  churn: {type: binary, slices: [country]}\n"  # window: the default, 2000
MONITOR = "checkpoint_interval: 0.5"
_OVERFLOW = re.compile(
    r'^driftline_slice_overflow_total\{model="shop",model_version="1",slice="country",'
    r'task="churn"\} (\S+)$',
    re.MULTILINE,
)


def _events() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each prediction of country ``c<i % 60>``, then its label (0.1 s of event time apart)."""
    for i in range(PREDICTIONS):
        pid = f"p-{i}"
        t = T0 + i * 0.1
        y = int(i * 7919 % 1000 < 500)
        score = 0.8 if (y == 1) == (i % 10 != 0) else 0.2  # 90 % right
        yield (
            "predictions",
            pid,
            {
                "schema": "driftline.prediction/1",
                "prediction_id": pid,
                "model": "shop",
                "model_version": "1",
                "entity_id": f"e-{i % 1000}",
                "event_time": iso(t),
                "outputs": {"churn": {"score": score}},
                "segments": {"country": f"c{i % COUNTRIES}"},
            },
        )
        yield (
            "labels",
            pid,
            {
                "schema": "driftline.label/1",
                "prediction_id": pid,
                "task": "churn",
                "label": y,
                "event_time": iso(t + 0.05),
            },
        )


def _metrics(worker: WorkerProcess) -> str:
    url = f"http://127.0.0.1:{worker.port}/metrics"
    body: bytes = urllib.request.urlopen(url, timeout=5).read()
    return body.decode()


@pytest.mark.slow
def test_a_slice_with_many_full_values_stays_within_the_state_budget(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    assert PREDICTIONS // COUNTRIES > WINDOW  # every country's window fills

    worker = WorkerProcess(kafka_bootstrap, tmp_path, TASKS_YAML, MONITOR, partitions=PARTITIONS)
    assert worker.config.tasks["churn"].window == WINDOW
    topics = {"predictions": worker.config.topics.predictions,
              "labels": worker.config.topics.labels}  # fmt: skip

    def died() -> str:
        code = worker.process.poll() if worker.process is not None else None
        return f"the worker exited {code}:\n{worker.log_tail()}"

    worker.start()
    try:
        producer = ordered_producer(kafka_bootstrap, **{"linger.ms": 20})
        assert produce(producer, topics, _events(), PARTITIONS, 100) == 2 * PREDICTIONS
        deadline = time.monotonic() + 240
        counts: dict[str, float] = {}
        while counts.get("churn.labels") != PREDICTIONS:
            assert worker.alive(), died()
            assert time.monotonic() < deadline, f"not every label applied: {counts}"
            time.sleep(0.5)
            counts = worker.scrape()
        time.sleep(2.0)  # a few checkpoints (every 0.5 s) write the full state
        assert worker.alive(), died()
        counts = worker.scrape()
        assert counts.get("churn.predictions") == PREDICTIONS, counts
        assert counts.get("churn.labels") == PREDICTIONS, counts
        for kind in ("duplicates", "orphans", "late", "stale"):
            assert counts.get(f"churn.{kind}", 0) == 0, counts

        body = _metrics(worker)
        overflow = _OVERFLOW.search(body)
        assert overflow is not None and float(overflow.group(1)) > 0, body[-3000:]
        assert 'slice="country=(other)"' in body
        own = set(re.findall(r'slice="country=(c\d+)"', body))
        assert 1 <= len(own) < COUNTRIES, sorted(own)
        # (other) saw every outcome of the values past the cap: two per prediction (its score
        # for the score signal, then its label)
        past_cap = PREDICTIONS - sum(
            PREDICTIONS // COUNTRIES + (int(c[1:]) < PREDICTIONS % COUNTRIES) for c in own
        )
        assert float(overflow.group(1)) == 2 * past_cap, (sorted(own), past_cap)
        assert "slice 'country' has" in worker.log_tail(chars=100_000)
    finally:
        worker.stop()
