"""``driftline bench monitor``: throughput, alert latency and RSS of one worker on a real broker.

Runs, on fresh topics (2 partitions), the three-task workload of :mod:`bench.workload` (ADWIN and
PageHinkley on each task, 10 % of labels never come, labels shuffled within 50 predictions):

1. **envelopes**: ``--events`` input events pre-produced in SDK envelopes of 100, then one
   ``driftline monitor`` worker (join + both stages + checkpoints) drains them; sustained input
   events/s (between 10 % and 90 % of the events applied: :class:`bench.drain_clock.DrainClock`,
   with the rate from the first to the last event and the wait for the last 1 % in
   ``details``); the worker's peak RSS;
2. **single records**: ``--single-events`` events, one per record, the same way;
3. **alert latency**: a paced live stream (``--rate`` events/s, event time = wall clock at produce;
   produced every 20 ms of events, at least 50, in envelopes of up to 100 per partition) with
   drift injected on ``fraud`` several times; latency = the time the alert is read from
   ``drift-alerts`` minus the event time of the last label of its evidence;
4. **bare ceiling**: a plain confluent-kafka consumer loop doing the same decode + join + monitor
   work in-process (no Faust, no ``outcomes`` topic, no checkpoints) on the envelope topics;
5. with ``--workers N`` (N > 1), the envelope drain again by N worker processes on one host
   (``driftline monitor --workers N``): their input events/s together and their summed peak RSS.

Prints one JSON object (``--json``).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from bench.broker import bench_broker
from bench.drain_clock import DrainClock
from bench.report import emit, report_options
from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML, Workload, ordered_producer, produce

__all__ = ["backlog", "main", "run"]

TASKS = ("churn", "fraud", "spend")
LIVE_BATCH_EVENTS, LIVE_BATCH_MS = 50, 20
"""The latency run produces every 20 ms of events (at least 50), in envelopes of up to 100 per
partition: what the SDK's linger makes of that rate."""
EVENTS_PER_PREDICTION = 1 + 3 * 0.9


def _producer(bootstrap: str) -> Any:
    return ordered_producer(bootstrap, **{"linger.ms": 20, "queue.buffering.max.messages": 500_000})


def _inputs(worker: WorkerProcess) -> dict[str, str]:
    return {"predictions": worker.config.topics.predictions, "labels": worker.config.topics.labels}


def backlog(worker: WorkerProcess, events: int, envelope: int) -> int:
    """Pre-produce about ``events`` events of the workload (seed 1) to the worker's input topics,
    ``envelope`` per record; the number of events sent."""
    workload = Workload(predictions=int(events / EVENTS_PER_PREDICTION), seed=1)
    return produce(_producer(worker.bootstrap), _inputs(worker), workload.events(), 2, envelope)


def drain(
    bootstrap: str, directory: Path, events: int, envelope: int, workers: int = 1
) -> dict[str, Any]:
    """Pre-produce ``events`` events, start ``workers`` worker processes, time how fast they
    apply them (and their peak RSS, summed)."""
    worker = WorkerProcess(bootstrap, directory, TASKS_YAML, "store: rocksdb", workers=workers)
    sent = backlog(worker, events, envelope)
    worker.start()
    clock = DrainClock(sent)
    deadline = time.monotonic() + max(600.0, sent / 500)
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)  # the rate is timed to the scrape: finer scrapes, finer figures
            worker.sample_rss()
            clock.observe(worker.inputs_done(worker.scrape(), TASKS))
            if clock.complete or clock.stalled(60):
                break
        if clock.first_to_last_rate() <= 0:
            raise click.ClickException(f"the worker applied nothing; see {directory}/worker.log")
        return {**clock.report(), "peak_rss_mb": round(worker.peak_rss / 2**20, 1)}
    finally:
        worker.stop()


def latency(bootstrap: str, directory: Path, rate: int, seconds: float) -> dict[str, Any]:
    """Live paced stream with recurring drift on ``fraud``; alert latency per alert."""
    from confluent_kafka import Consumer

    tasks_yaml = TASKS_YAML.replace("cooldown: 100000", "cooldown: 1500")
    spacing = EVENTS_PER_PREDICTION / rate
    predictions = int(seconds * rate / EVENTS_PER_PREDICTION)
    worker = WorkerProcess(bootstrap, directory, tasks_yaml, "checkpoint_interval: 0.2")
    worker.start()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"lat-{os.getpid()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([worker.config.topics.drift_alerts])
    time.sleep(15)  # let the worker join its group before the clock starts
    start = time.time()
    workload = Workload(predictions=predictions, seed=7, t0=start, spacing=spacing)
    drift_every = 8000  # accuracy of fraud flips between 0.9 and 0.3 every this many predictions
    alerts: list[tuple[float, dict[str, Any]]] = []
    stop = threading.Event()

    def read_alerts() -> None:
        while not stop.is_set():
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                value = message.value()
                if value is not None:
                    alerts.append((time.time(), json.loads(value)))

    reader = threading.Thread(target=read_alerts, daemon=True)
    reader.start()
    producer = _producer(bootstrap)
    topics = _inputs(worker)
    batch: list[tuple[str, str, dict[str, Any]]] = []
    size = max(LIVE_BATCH_EVENTS, rate * LIVE_BATCH_MS // 1000)
    for n, item in enumerate(_drifting(workload, drift_every)):
        batch.append(item)
        if len(batch) >= size:
            due = start + n / rate  # the event time of the batch's last event
            time.sleep(max(0.0, due - time.time()))
            produce(producer, topics, batch, 2, 100, flush=False)
            batch = []
    produce(producer, topics, batch, 2, 100)
    time.sleep(10)
    stop.set()
    reader.join()
    consumer.close()
    if not worker.alive():
        raise click.ClickException(
            f"the worker exited during the latency run; see {directory}/worker.log"
        )
    worker.stop()
    lags = [
        (received - _epoch(alert["evidence"]["end_time"])) * 1000
        for received, alert in alerts
        if alert["task"] == "fraud"
    ]
    return {
        "alerts": len(alerts),
        "alerted_tasks": sorted({alert["task"] for _, alert in alerts}),
        "latencies_ms": sorted(round(x) for x in lags),
        "p50": round(statistics.median(lags)) if lags else None,
        "p99": round(_quantile(lags, 0.99)) if lags else None,
        "rate": rate,
    }


def _drifting(workload: Workload, every: int) -> Any:
    """The workload's events with ``fraud``'s score flipped on alternate stretches (drift)."""
    for topic, key, event in workload.events():
        if topic == "predictions":
            index = int(key[2:])
            if (index // every) % 2 == 1:
                fraud = event["outputs"]["fraud"]
                fraud["score"] = 1.0 - fraud["score"] if index % 10 < 7 else fraud["score"]
        yield topic, key, event


def bare(bootstrap: str, topics: dict[str, str], events: int) -> dict[str, Any]:
    """The ceiling: confluent-kafka consumer + the same decode/join/monitor logic in-process."""
    from confluent_kafka import Consumer

    from driftline.config import load_config
    from streams.gc_tuning import worker_collector
    from streams.stages import JoinStage, MonitorResult, MonitorStage

    config_path = Path(tempfile.mkdtemp()) / "bare.yaml"
    config_path.write_text(
        f"model: shop\nkafka: {{partitions: 2}}\nmonitor: {{snapshot_interval: 1000000}}\n"
        f"tasks:\n{TASKS_YAML}"
    )
    config = load_config(config_path)
    join, monitor = JoinStage(config, 2), MonitorStage(config)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{os.getpid()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe(list(topics.values()))
    done, started, idle = 0, None, 0
    with worker_collector():  # the collector settings of a monitor worker
        while done < events and idle < 40:
            messages = consumer.consume(500, 0.25)
            if not messages:
                idle += 1
                continue
            idle = 0
            started = started or time.perf_counter()
            for message in messages:
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                if (
                    message.error() is not None
                    or topic is None
                    or partition is None
                    or offset is None
                ):
                    continue  # an error event, not a record
                result = join.process(topic, partition, offset, message.key(), message.value())
                done += result.events
                applied = MonitorResult()
                for outcome in result.outcomes:
                    monitor.apply(outcome, applied)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return {"events": done, "events_per_s": round(done / elapsed) if elapsed else None}


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    bootstrap: str, events: int, single_events: int, rate: int, seconds: float, workers: int = 1
) -> dict[str, Any]:
    """All four measurements against the broker at ``bootstrap`` (and, with ``workers`` > 1,
    the envelope drain again by that many worker processes)."""
    root = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    enveloped = drain(bootstrap, root / "envelopes", events, 100)
    several = drain(bootstrap, root / "workers", events, 100, workers) if workers > 1 else None
    single = drain(bootstrap, root / "single", single_events, 1)
    probe = WorkerProcess(bootstrap, root / "bare", TASKS_YAML)
    sent = backlog(probe, events, 100)
    ceiling = bare(bootstrap, _inputs(probe), sent)
    alert = latency(bootstrap, root / "latency", rate, seconds)
    ratio = enveloped["events_per_s"] / ceiling["events_per_s"] if ceiling["events_per_s"] else None
    return {
        "benchmark": "monitor",
        "events_per_s": enveloped["events_per_s"],
        "single_record_events_per_s": single["events_per_s"],
        "bare_events_per_s": ceiling["events_per_s"],
        "ratio": round(ratio, 3) if ratio else None,
        "alert_latency_ms": {"p50": alert["p50"], "p99": alert["p99"]},
        "detected_tasks": alert["alerted_tasks"],
        "peak_rss_mb": enveloped["peak_rss_mb"],
        "workers": {"count": workers, **several} if several else None,
        "details": {
            "envelopes": enveloped,
            "single_records": single,
            "bare": ceiling,
            "latency": alert,
            "partitions": 2,
            "missing_labels": 0.1,
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }


@click.command()
@report_options
@click.option("--bootstrap", default=None, help="Use this broker instead of starting one.")
@click.option("--events", default=1_000_000, show_default=True, help="Events, envelope run.")
@click.option("--single-events", default=50_000, show_default=True, help="Events, single records.")
@click.option("--rate", default=2_000, show_default=True, help="Events/s of the latency run.")
@click.option("--seconds", default=60.0, show_default=True, help="Length of the latency run.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Also drain the envelopes with this many worker processes (reported under workers).",
)
def main(
    as_json: bool, out: Path | None, bootstrap: str | None, events: int, single_events: int,
    rate: int, seconds: float, workers: int,
) -> None:  # fmt: skip
    """Monitor throughput (envelopes, single records, bare loop), alert latency, peak RSS."""
    with bench_broker(bootstrap) as address:
        result = run(address, events, single_events, rate, seconds, workers)
    emit(result, as_json, out)
