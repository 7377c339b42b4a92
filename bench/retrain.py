"""``driftline bench retrain``: time from a retrain request to its published model update.

Seeds ``--rows`` labelled predictions × 3 tasks (binary, regression, multiclass) through the
featurestore's ``LabelSink`` into a Feast embedded store under a temporary directory (not
timed), starts a retrainer worker on a real broker (``--bootstrap``, or a local one started from
the cached jars), produces one retrain request and waits for its update on ``model-updates``.
Phases come from the worker: ``data_s`` (Feast training set, holdout split, champion load),
``train_s``, ``gate_s`` (holdout evaluation and bootstrap), ``register_s`` (artifact + registry),
``publish_s`` (produce + flush of the update).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

TASKS = {
    "churn": {"type": "binary"},
    "spend": {"type": "regression"},
    "category": {"type": "multiclass", "classes": ["a", "b", "c"]},
}
FEATURES = [{"name": f"x{i}"} for i in range(8)] + [{"name": "country", "dtype": "string"}]


def _seed(config: Any, rows: int, seed: int) -> float:
    import numpy as np

    from featurestore import FeatureRepo, LabelSink

    started = time.perf_counter()
    FeatureRepo(config).apply()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 8))
    start = datetime.now(UTC) - timedelta(days=2)
    outcomes = []
    for i in range(rows):
        features: dict[str, float | str] = {f"x{j}": float(x[i, j]) for j in range(8)}
        features["country"] = ["DE", "FR", "US"][i % 3]
        labels = {
            "churn": int(x[i, 0] + 0.5 * x[i, 1] + 0.5 * rng.normal() > 0),
            "spend": float(2 * x[i, 2] - x[i, 3] + 0.3 * rng.normal()),
            "category": "abc"[int(x[i, 4] > 0) + int(x[i, 5] > 0.5)],
        }
        for task, label in labels.items():
            if task == "spend" and i % 3 == 0:
                continue  # labels arrive for some tasks only
            outcomes.append({
                "outcome_id": f"o-{i}-{task}", "task": task, "prediction_id": f"p-{i}",
                "entity_id": f"c-{i % 5000}", "event_time": start + timedelta(seconds=2 * i),
                "label": label, "model_version": "0", "features": features,
            })  # fmt: skip
    sink = LabelSink(config, batch_size=len(outcomes) + 1)
    sink.write(outcomes)
    sink.flush()
    return time.perf_counter() - started


@click.command()
@click.option("--rows", type=int, default=50_000, show_default=True)
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--architecture", default="mmoe", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--bootstrap", default=None, help="Kafka to use (default: start a local broker).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the JSON here.")
def main(
    rows: int,
    epochs: int,
    architecture: str,
    device: str,
    bootstrap: str | None,
    as_json: bool,
    out: str | None,
) -> None:
    """Request-to-update time of the retrainer for ROWS rows × 3 tasks, by phase."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    broker = None
    if bootstrap is None:
        from bench.progress import phase
        from driftline.broker import LocalBroker

        phase("starting a broker")
        broker = LocalBroker(root / "kafka", port=0, controller_port=0, start_timeout=120.0)
        bootstrap = broker.start().bootstrap_servers
    try:
        result = _run(root, rows, epochs, architecture, device, str(bootstrap))
    finally:
        if broker is not None:
            broker.stop()
    text = json.dumps(result, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    if as_json:
        click.echo(text)
    else:
        phases = ", ".join(f"{k} {v:.2f}s" for k, v in result["phases"].items())
        click.echo(
            f"{result['rows']} rows × 3 tasks on {result['device']}: request → update "
            f"{result['request_to_update_s']:.2f}s ({phases}); status {result['status']}"
        )


def _run(
    root: Path, rows: int, epochs: int, architecture: str, device: str, bootstrap: str
) -> dict[str, Any]:
    import torch

    from driftline.config import parse_config
    from driftline.events import encode
    from driftline.topics import create_topics
    from retrainer.cli_trigger import build_request
    from retrainer.publisher import update_producer
    from retrainer.worker import RetrainWorker

    doc = {
        "model": "bench-mtl",
        "state_dir": str(root / "state"),
        "kafka": {"bootstrap_servers": bootstrap, "partitions": 1},
        "topics": {
            "retrain_requests": f"bench-requests-{root.name}",
            "model_updates": f"bench-updates-{root.name}",
        },
        "features": FEATURES,
        "tasks": TASKS,
        "feature_store": {"type": "embedded", "path": str(root / "feast")},
        "registry": {
            "url": f"sqlite:///{root}/registry.db",
            "artifacts_dir": str(root / "artifacts"),
        },
        "retrainer": {
            "epochs": epochs,
            "architecture": architecture,
            "device": device,
            "coalesce_window": 0,
            "group_id": f"bench-{root.name}",
        },
    }
    from bench.progress import phase

    config = parse_config(json.dumps(doc))
    create_topics(config)
    phase(f"seeding Feast with {rows} labelled rows")
    seed_s = _seed(config, rows, seed=0)
    phase("retrain: request → data → train → gate → publish")
    stop = threading.Event()
    worker = RetrainWorker(config)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not worker.assigned and time.monotonic() < deadline:
        time.sleep(0.1)
    request = build_request(config.model, ["churn"], request_id=f"bench-{root.name}")
    from confluent_kafka import Consumer

    from driftline.kafka_logs import kafka_logger

    updates = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{root.name}",
                        "logger": kafka_logger(),
                        "auto.offset.reset": "earliest"})  # fmt: skip
    updates.subscribe([config.topics.model_updates])
    producer = update_producer(config)
    started = time.perf_counter()
    producer.produce(
        config.topics.retrain_requests, key=config.model.encode(), value=encode(request)
    )
    producer.flush(30)
    update = None
    while update is None and time.perf_counter() - started < 3600:
        message = updates.poll(0.1)
        if message is not None and not message.error():
            update = json.loads(message.value() or b"{}")
    elapsed = time.perf_counter() - started
    updates.close()
    stop.set()
    thread.join(300)
    outcome = worker.outcomes[-1]
    phases = {k: round(v, 3) for k, v in outcome.phases.items()}
    labels = outcome.row_counts.get("labels", {})
    return {
        "benchmark": "retrain",
        "device": outcome.device or "n/a",
        "cuda_available": torch.cuda.is_available(),
        "rows": rows,
        "tasks": list(TASKS),
        "labels": {t: c["total"] for t, c in labels.items()},
        "epochs": epochs,
        "architecture": architecture,
        "request_to_update_s": round(elapsed, 3),
        "phases": phases,
        "status": update["status"] if update else "timeout",
        "reason": update["reason"] if update else "",
        "mode": outcome.plan.mode if outcome.plan else None,
        "seed_s": round(seed_s, 3),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
