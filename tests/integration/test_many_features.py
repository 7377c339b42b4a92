"""Feature drift over 600 features, on a real broker: every state and outcome larger than a
Kafka record goes in parts or is split, and a kill -9 loses nothing (docs/monitoring.md,
"Feature drift", "Many features").

A window profile of 600 numeric features of 300 values is about 680 kB (a KLL sketch per
feature), so the join's two open windows (its feature profiles state), an envelope of two
profiles and the task monitor's state (its reference and a window waiting for the other
partition) are each over Kafka's 1 MB record limit. Before, the worker exited 70 three seconds
in (``MessageSizeTooLargeError: The message is 1312608 bytes``: an envelope of two profiles),
and a restart replayed into the same send: a restart loop. Now the worker runs, a worker killed
after a checkpoint hands over to a new one, and that one finds the one shifted feature.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.worker_process import WorkerProcess
from bench.workload import T0, iso, ordered_producer, produce

FEATURES = 600
PER_WINDOW = 600  # predictions per 60 s window of event time (10 a second)
WINDOWS = 8
PARTITIONS = 2  # stage 2 holds a window's profile until both partitions sent theirs
SHIFTED_FROM = 5  # f0 moves by 3 standard deviations from this window on
TASKS_YAML = (
    "  churn: {type: binary}\n"
    f"features: [{', '.join(f'{{name: f{i}}}' for i in range(FEATURES))}]\n"
    "feature_drift: {enabled: true, window: 60, lateness: 60, reference: first_windows,"
    " reference_windows: 2, min_count: 100}\n"
)


def _predictions(start: int, stop: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(start)
    for i in range(start, stop):
        pid, t = f"p-{i}", T0 + i / 10
        features = {f"f{k}": round(rng.gauss(0.0, 1.0), 3) for k in range(FEATURES)}
        if i // PER_WINDOW >= SHIFTED_FROM:
            features["f0"] += 3.0
        yield ("predictions", pid, {"schema": "driftline.prediction/1", "prediction_id": pid,
                                    "model": "shop", "model_version": "1", "entity_id": "e",
                                    "event_time": iso(t), "outputs": {"churn": {"score": 0.5}},
                                    "features": features})  # fmt: skip


@pytest.mark.slow
def test_feature_drift_over_600_features_runs_and_survives_a_kill(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka_bootstrap, tmp_path, TASKS_YAML, "checkpoint_interval: 0.5",
                           partitions=PARTITIONS)  # fmt: skip
    topics = {"predictions": worker.config.topics.predictions}
    producer = ordered_producer(
        kafka_bootstrap, **{"linger.ms": 20, "message.max.bytes": 1_000_000}
    )
    first = (SHIFTED_FROM - 1) * PER_WINDOW + PER_WINDOW // 2  # two windows open
    total = WINDOWS * PER_WINDOW
    worker.start()
    try:
        assert produce(producer, topics, _predictions(0, first), PARTITIONS, 50) == first
        worker.wait_for("churn.predictions", first)
        time.sleep(2.0)  # checkpoints (every 0.5 s) write the profiles
        assert worker.alive(), worker.log_tail()
        worker.kill()
        app = worker.config.monitor.app_id
        join_keys = worker.changelog_keys(f"{app}-join-store-changelog")
        assert any(key.startswith(b"aprofiles#") for key in join_keys), sorted(join_keys)[:20]
        monitor_keys = worker.changelog_keys(f"{app}-monitor-changelog")
        assert any(b"shop/churn#" in key for key in monitor_keys), sorted(monitor_keys)

        worker.start()
        assert (
            produce(producer, topics, _predictions(first, total), PARTITIONS, 50) == total - first
        )
        worker.wait_for("churn.predictions", total, timeout=300)
        deadline, alerts = time.monotonic() + 60, {}
        while not alerts and time.monotonic() < deadline:
            alerts = worker.by_id("drift_alerts", "alert_id", timeout=5)
        found = sorted({alert["detector"] for alert in alerts.values()})
        assert found == ["feature_drift/f0"], found
        log = worker.log_tail(chars=200_000)
        # a record the broker refused, or an outcome dead-lettered for its size ("-byte record
        # limit" is in that error's log line; the config-time warning names neither)
        refused = ("Traceback", "MessageSizeTooLarge", "-byte record limit")
        assert not [word for word in refused if word in log], log[-3000:]
        # warned of at each start: with millions of values a window, a profile would not fit
        assert log.count("compares 600 features (600 numeric)") == 2, log[-3000:]
    finally:
        worker.stop()
