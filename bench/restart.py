"""``driftline bench restart``: how fast a monitor worker is back after ``kill -9``.

Pre-produces ``--events`` input events (the three-task workload of :mod:`bench.workload`,
envelopes of 100, 2 partitions), starts one ``driftline monitor`` worker (RocksDB store, session
timeout 6 s) and SIGKILLs it ``--kills`` times, evenly spread over the drain; each time it is
started again at once. Per kill, from the restart:

* ``applying_s``: until the worker's ``/metrics`` counts first move (its stage 2 has read a
  record again: the tables restored, the group rebalanced, the partitions assigned);
* ``caught_up_s``: until its counts pass what they were at the kill (the work lost with the
  process, at most one checkpoint per stage, redone);
* ``exits_70``: how often the restarted worker stopped itself to replay (its delivery-order check
  found records skipped by Faust, docs/monitoring.md) and was started again, as a supervisor
  would; that time is in both figures.

Run once without and once with ``monitor.static_membership`` (the restarted member keeps its
partitions without a rebalance). Prints one JSON object (``--json``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from bench.broker import bench_broker
from bench.monitor import TASKS, backlog
from bench.progress import advance, phase
from bench.report import emit, report_options
from bench.worker_process import WorkerProcess
from bench.workload import TASKS_YAML

__all__ = ["main", "run", "summary"]

_POLL = 0.1


def _done(worker: WorkerProcess) -> float | None:
    counts = worker.scrape()
    return worker.inputs_done(counts, TASKS) if counts else None


def _until(
    worker: WorkerProcess, reached: Any, start: float, timeout: float
) -> tuple[float, float]:
    """Poll ``/metrics`` until ``reached(done)``: seconds since ``start`` (monotonic), and done."""
    while True:
        done = _done(worker)
        if done is not None and reached(done):
            return time.monotonic() - start, done
        if time.monotonic() - start > timeout:
            raise click.ClickException(f"the worker did not get there; see {worker.directory}")
        worker.supervise()  # it may exit 70 to replay (docs/monitoring.md): restart it
        time.sleep(_POLL)


def kills(
    bootstrap: str, directory: Path, events: int, count: int, static: bool
) -> list[dict[str, Any]]:
    """Drain ``events`` with ``count`` SIGKILLs and restarts; one record per kill."""
    extra = "store: rocksdb" + (", static_membership: true" if static else "")
    worker = WorkerProcess(bootstrap, directory, TASKS_YAML, extra)
    phase(f"static_membership={static}: producing the backlog")
    sent = backlog(worker, events, 100)
    phase(f"static_membership={static}: kill -9 and restart", total=count)
    worker.start()
    out: list[dict[str, Any]] = []
    try:
        for k in range(1, count + 1):
            share = k * sent / (count + 1)
            _, at_kill = _until(worker, lambda done, s=share: done >= s, time.monotonic(), 600)
            worker.kill()
            restarts = worker.restarts
            start = time.monotonic()
            worker.start()
            _, first = _until(worker, lambda done: True, start, 120)  # serving /metrics again
            applying, _ = _until(worker, lambda done, f=first: done > f, start, 120)
            caught_up, _ = _until(worker, lambda done, a=at_kill: done > a, start, 300)
            out.append(
                {
                    "kill": k,
                    "applying_s": round(applying, 2),
                    "caught_up_s": round(caught_up, 2),
                    "events_at_kill": int(at_kill),
                    "exits_70": worker.restarts - restarts,
                }
            )
            click.echo(f"static_membership={static} kill {k}: {out[-1]}", err=True)
            advance()
    finally:
        worker.stop()
    return out


def summary(records: list[dict[str, Any]], field: str) -> dict[str, float]:
    """Min, median and max of one field over the kills.

    >>> summary([{"a": 5.0}, {"a": 6.5}, {"a": 5.5}], "a")
    {'min': 5.0, 'median': 5.5, 'max': 6.5}
    """
    values = [r[field] for r in records]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def run(bootstrap: str, events: int, count: int) -> dict[str, Any]:
    """Both modes (without and with static membership) against the broker at ``bootstrap``."""
    root = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    result: dict[str, Any] = {"benchmark": "restart", "events": events, "kills": count}
    for static in (False, True):
        records = kills(bootstrap, root / f"static-{static}", events, count, static)
        result["static_membership" if static else "rebalance"] = {
            "applying_s": summary(records, "applying_s"),
            "caught_up_s": summary(records, "caught_up_s"),
            "kills": records,
        }
    result["details"] = {"session_timeout_s": 6, "partitions": 2, "envelope": 100}
    return result


@click.command()
@report_options
@click.option("--bootstrap", default=None, help="Use this broker instead of starting one.")
@click.option("--events", default=600_000, show_default=True, help="Events drained per mode.")
@click.option("--kills", "count", default=3, show_default=True, help="SIGKILLs per mode.")
def main(as_json: bool, out: Path | None, bootstrap: str | None, events: int, count: int) -> None:
    """Restart time of a monitor worker after kill -9, with and without static membership."""
    with bench_broker(bootstrap) as address:
        result = run(address, events, count)
    emit(result, as_json, out)
