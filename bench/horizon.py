"""``driftline bench horizon``: one worker holding a production label horizon on a real broker.

The example config's three tasks (``examples/driftline.yaml``: churn, category, spend; their
detectors, slices and ``label_delay`` of 2 h, 1 d and 7 d; ``monitor.feature_sink: false``) and
a stream of ``--rate`` predictions per second of event time whose labels come 1 h (churn), 12 h
(category) and 3 d (spend) after their prediction, 10 % never. Predictions wait 1.5 label
budgets, so with ``--predictions`` 10 200 000 at 30/s (3.9 days of event time) every prediction
is still pending at the end: about 30 million input events.

1. **short horizon**: the same stream shape with label delays of seconds (nothing accumulates),
   ``--short-predictions`` of it pre-produced, drained by one worker: its input events/s;
2. **horizon**: the whole stream pre-produced (SDK-sized envelopes of 100 events), drained by
   one worker: sustained input events/s (:class:`bench.drain_clock.DrainClock`, for both
   drains), the worker's peak RSS, whether it exited, the pending
   predictions and the bytes of its join stores on disk (RocksDB files, and the changelog
   partitions on the broker) per pending prediction;
3. **restart**: the worker is killed (``kill -9``), ``--tail`` more events are produced, and a
   new worker is started on the same state directory: seconds from its start until it has
   applied them (caught up).

Prints one JSON object (``--json``). Needs about 10 GB of disk for the default sizes.
"""

from __future__ import annotations

import re
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from bench.broker import bench_broker
from bench.drain_clock import DrainClock
from bench.report import emit, report_options
from bench.worker_process import WorkerProcess
from bench.workload import iso, ordered_producer, produce

__all__ = ["horizon_events", "main", "run"]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "driftline.yaml"
TASKS = ("churn", "category", "spend")
LABEL_AFTER = {"churn": 3600.0, "category": 43200.0, "spend": 259200.0}
SHORT_AFTER = {"churn": 5.0, "category": 10.0, "spend": 20.0}
CLASSES = ("books", "electronics", "fashion", "home")
COUNTRIES = ("DE", "FR", "NL", "PL")
T0 = 1_700_000_000.0
_BUFFER = re.compile(r'^driftline_join_buffer\{partition="(\d+)",what="(\w+)"\} (\S+)$', re.M)


def example_tasks(short: bool) -> str:
    """The ``tasks:`` body of the example config (``short``: label delays of seconds)."""
    tasks = yaml.safe_load(EXAMPLE.read_text())["tasks"]
    for name, task in tasks.items():
        task.pop("features", None)
        if short:
            task["label_delay"] = SHORT_AFTER[name] * 2
    text = yaml.safe_dump(tasks, sort_keys=False, default_flow_style=None, width=1000)
    return "".join(f"  {line}\n" for line in text.splitlines())


def horizon_events(
    predictions: int, rate: float, after: dict[str, float], t0: float = T0, prefix: str = "h"
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Predictions every ``1 / rate`` s of event time and each task's label ``after[task]``
    seconds later (10 % never come), merged in event-time order; deterministic.

    >>> events = list(horizon_events(3, 1.0, {"churn": 1.5, "category": 9, "spend": 9}))
    >>> [(topic, key) for topic, key, _ in events][:4]
    [('predictions', 'h-0'), ('predictions', 'h-1'), ('labels', 'h-0'), ('predictions', 'h-2')]
    """
    cursors = {"predictions": 0, **dict.fromkeys(TASKS, 0)}
    offset = {"predictions": 0.0, **after}
    while True:
        stream = min(cursors, key=lambda s: (cursors[s] / rate + offset[s], s != "predictions"))
        i = cursors[stream]
        if i >= predictions:
            if stream == "predictions" or all(cursors[s] >= predictions for s in cursors):
                return
            cursors[stream] = predictions  # the rest of this label stream lies beyond the end
            continue
        cursors[stream] += 1
        t = t0 + i / rate + offset[stream]
        pid = f"{prefix}-{i}"
        if stream == "predictions":
            yield "predictions", pid, _prediction(pid, i, t)
        elif zlib.crc32(f"{pid}/{stream}".encode()) % 10:  # 10 % never come
            yield "labels", pid, _label(pid, i, stream, t)


def _prediction(pid: str, i: int, t: float) -> dict[str, Any]:
    score = (i * 7919 % 1000) / 1000
    return {
        "schema": "driftline.prediction/1",
        "prediction_id": pid,
        "model": "shop",
        "model_version": "1",
        "entity_id": f"c-{i % 100_000}",
        "event_time": iso(t),
        "outputs": {
            "churn": {"score": score},
            "category": {"label": CLASSES[i % 4]},
            "spend": {"value": 20.0 + i % 50},
        },
        "features": {"tenure": i % 48, "country": COUNTRIES[i % 4]},
        "segments": {"country": COUNTRIES[i % 4]},
    }


def _label(pid: str, i: int, task: str, t: float) -> dict[str, Any]:
    value: Any = {"churn": int(i % 3 == 0), "category": CLASSES[(i // 3) % 4]}.get(task)
    if task == "spend":
        value = 18.0 + i % 53
    return {
        "schema": "driftline.label/1",
        "prediction_id": pid,
        "task": task,
        "label": value,
        "event_time": iso(t),
    }


def _producer(bootstrap: str) -> Any:
    return ordered_producer(
        bootstrap,
        **{
            "linger.ms": 50,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
        },
    )


def _buffers(worker: WorkerProcess) -> dict[str, float]:
    """The join buffers summed over partitions (``pending``, ``disk_bytes``, ...)."""
    try:
        url = f"http://127.0.0.1:{worker.port}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for _, what, value in _BUFFER.findall(body):
        out[what] = out.get(what, 0.0) + float(value)
    return out


def _drain(worker: WorkerProcess, sent: int, timeout: float) -> dict[str, Any]:
    """Start the worker and time it over the pre-produced backlog."""
    worker.start()
    clock, started, waiting = DrainClock(sent), time.monotonic(), 0.0
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        worker.sample_rss()
        if not worker.alive():
            break
        counts = worker.scrape()
        waiting = max(waiting, sum(counts.get(f"{task}.waiting", 0.0) for task in TASKS))
        clock.observe(worker.inputs_done(counts, TASKS))
        if clock.complete or clock.stalled(120):
            break
    code = worker.process.poll() if worker.process is not None else None
    return {
        **clock.report(),
        "peak_rss_mb": round(worker.peak_rss / 2**20, 1),
        "peak_outcomes_waiting": int(waiting),
        "exit_code": code,
    }


def _changelog_bytes(broker_dir: Path | None, topic: str) -> int | None:
    if broker_dir is None:
        return None
    return sum(
        f.stat().st_size for d in broker_dir.rglob(f"{topic}-*") for f in d.iterdir() if f.is_file()
    )


def _restart(worker: WorkerProcess, sent: int, tail: int, t0: float, timeout: float) -> float:
    """Kill the worker, produce ``tail`` more events (from event time ``t0`` on), start it
    again: seconds until it has applied them."""
    worker.kill()
    late = horizon_events(tail, 1000.0, SHORT_AFTER, t0=t0, prefix="tail")
    partitions = worker.config.kafka.partitions
    more = produce(_producer(worker.bootstrap), _inputs(worker), late, partitions)
    started = time.monotonic()
    worker.start()
    while time.monotonic() - started < timeout:
        if worker.inputs_done(worker.scrape(), TASKS) >= sent + more:
            return round(time.monotonic() - started, 1)
        if not worker.alive():
            raise click.ClickException(f"the restarted worker died; see {worker.directory}")
        time.sleep(0.2)
    raise click.ClickException(f"the restarted worker did not catch up in {timeout} s")


def _inputs(worker: WorkerProcess) -> dict[str, str]:
    return {"predictions": worker.config.topics.predictions, "labels": worker.config.topics.labels}


def run(
    bootstrap: str | None,
    predictions: int,
    rate: float,
    short_predictions: int,
    tail: int,
    partitions: int,
    directory: Path,
) -> dict[str, Any]:
    """The three phases on one broker (a local one when ``bootstrap`` is ``None``)."""
    broker_dir = None if bootstrap else directory / "kafka"
    with bench_broker(bootstrap, broker_dir) as servers:
        short = WorkerProcess(
            servers, directory / "short", example_tasks(short=True), partitions=partitions
        )
        sent = produce(
            _producer(servers),
            _inputs(short),
            horizon_events(short_predictions, rate, SHORT_AFTER),
            partitions,
        )
        short_run = _drain(short, sent, timeout=3600)
        short.stop()
        long = WorkerProcess(
            servers, directory / "horizon", example_tasks(short=False), partitions=partitions
        )
        sent = produce(
            _producer(servers),
            _inputs(long),
            horizon_events(predictions, rate, LABEL_AFTER),
            partitions,
        )
        long_run = _drain(long, sent, timeout=6 * 3600)
        buffers = _buffers(long)
        pending = int(buffers.get("pending", 0))
        store_bytes = int(buffers.get("disk_bytes", 0))
        changelog = _changelog_bytes(
            broker_dir, f"{long.config.monitor.app_id}-join-store-changelog"
        )
        restart_s = (
            _restart(long, sent, tail, T0 + predictions / rate, timeout=600)
            if long_run["exit_code"] is None
            else None
        )
        long.stop()
    ratio = (
        long_run["events_per_s"] / short_run["events_per_s"] if short_run["events_per_s"] else None
    )
    return {
        "benchmark": "horizon",
        "pending_predictions": pending,
        "peak_rss_mb": long_run["peak_rss_mb"],
        "events_per_s": long_run["events_per_s"],
        "short_horizon_events_per_s": short_run["events_per_s"],
        "ratio": round(ratio, 3) if ratio is not None else None,
        "disk_bytes_per_pending": round(store_bytes / pending, 1) if pending else None,
        "changelog_bytes_per_pending": round(changelog / pending, 1)
        if pending and changelog
        else None,
        "restart_s": restart_s,
        "exit_code": long_run["exit_code"],
        "details": {
            "horizon": long_run,
            "short_horizon": short_run,
            "rate_per_event_s": rate,
            "label_after_s": LABEL_AFTER,
            "partitions": partitions,
            "store_bytes": store_bytes,
            "changelog_bytes": changelog,
            "tail_events": tail,
        },
    }


@click.command()
@report_options
@click.option("--bootstrap", default=None, help="A broker to use (default: start a local one).")
@click.option("--predictions", default=10_200_000, show_default=True)
@click.option("--rate", default=30.0, show_default=True, help="Predictions per s of event time.")
@click.option("--short-predictions", default=1_000_000, show_default=True)
@click.option("--tail", default=20_000, show_default=True, help="Events produced before restart.")
@click.option("--partitions", default=4, show_default=True)
def main(
    as_json: bool,
    out: Path | None,
    bootstrap: str | None,
    predictions: int,
    rate: float,
    short_predictions: int,
    tail: int,
    partitions: int,
) -> None:
    """One worker holding a label horizon of days: RSS, events/s, disk, restart."""
    directory = Path(tempfile.mkdtemp(prefix="bench-horizon-"))
    result = run(bootstrap, predictions, rate, short_predictions, tail, partitions, directory)
    emit(result, as_json, out)
