"""``driftline bench peers``: driftline's hot path against a plain River loop, same rows, one run.

Both sides get the same generated rows (:class:`bench.workload.Workload`: a prediction with three
heads and, shuffled within 50 predictions, up to three labels; a *row* is one prediction) and are
timed by CPU time (``time.process_time``) in the same process, passes alternating:

* **driftline**: what ``driftline bench hotpath`` times as its ``total`` (:func:`bench.hotpath.drive`):
  stage 1 (:class:`streams.stages.JoinStage`: JSON decode, validation, routing check, the join,
  its checkpoints) on the rows as Kafka records (envelopes of ``--envelope`` events), the
  outcome wire, and stage 2 (:class:`streams.stages.MonitorStage`: outcome envelopes, replay
  filter, apply order, metrics, detectors, policy, state dumps);
* **river**: the loop a user would write with River alone (:class:`RiverLoop`): each event's
  JSON text through :func:`json.loads`, predictions kept in a dict until their labels come, and
  per label the task's configured metrics (River's own metric classes) and its detectors (River's
  classes with the same parameters) on the same error signal the monitor watches
  (:func:`streams.metric_set.error_of`). No validation, checkpoints, policy or reference scaling
  (``scale: auto``) of the detector input.

``river_decoded_rows_per_s`` is the River loop on rows already decoded (dicts in memory): River's
own work alone.

The final cumulative metrics of each task must agree between the two sides (``metrics_match``,
to 1e-9: the two apply labels in different orders, so running means may differ in the last bits),
which also checks that both processed every label.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from river import drift, metrics

from bench.hotpath import (
    CHECKPOINT_EVENTS,
    TOTAL_STAGES,
    StageClock,
    bench_config,
    drive,
    input_records,
)
from bench.progress import advance, phase
from bench.report import emit, report_options
from bench.workload import Workload
from driftline.config import DriftlineConfig
from streams.gc_tuning import worker_collector
from streams.stages import MonitorStage

__all__ = ["RiverLoop", "main", "run"]

_PREDICTION = "driftline.prediction/1"
_BINARY_METRICS: dict[str, Any] = {
    "accuracy": metrics.Accuracy,
    "precision": metrics.Precision,
    "recall": metrics.Recall,
    "f1": metrics.F1,
}
_PROBABILITY_METRICS: dict[str, Any] = {"roc_auc": metrics.ROCAUC, "log_loss": metrics.LogLoss}
_REGRESSION_METRICS: dict[str, Any] = {
    "mae": metrics.MAE,
    "rmse": metrics.RMSE,
    "r2": metrics.R2,
}
_DETECTORS: dict[str, Any] = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}


class RiverLoop:
    """Per task, River's metrics and detectors as ``driftline.yaml`` configures them, fed row by
    row: the plain loop a River user would write (binary and regression tasks, ``signal: error``
    detectors ``adwin`` and ``page_hinkley``).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> loop = RiverLoop(parse_config(
    ...     "model: m\\ntasks:\\n  churn: {type: binary, metrics: [accuracy, log_loss]}\\n"))
    >>> loop.feed([
    ...     {"schema": "driftline.prediction/1", "prediction_id": "p", "outputs":
    ...      {"churn": {"score": 0.8}}},
    ...     {"schema": "driftline.label/1", "prediction_id": "p", "task": "churn", "label": 1}])
    >>> loop.rows, loop.labels, round(loop.values()["churn"]["log_loss"], 4)
    (1, {'churn': 1}, 0.2231)
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.rows = 0
        self.labels: dict[str, int] = {}
        self.drifts: dict[str, int] = {}
        self._tasks: dict[str, tuple[bool, list[Any], list[Any], list[Any]]] = {}
        for name, task in config.tasks.items():
            if task.type not in ("binary", "regression"):
                raise ValueError(
                    f"the River loop does binary and regression tasks, not {task.type}"
                )
            by_label, by_score = [], []
            for metric in task.metrics:
                if metric in _PROBABILITY_METRICS:
                    by_score.append(_PROBABILITY_METRICS[metric]())
                else:
                    table = _BINARY_METRICS if task.type == "binary" else _REGRESSION_METRICS
                    by_label.append(table[metric]())
            detectors = []
            for det in task.detectors:
                if det.signal != "error" or det.kind not in _DETECTORS:
                    raise ValueError(f"the River loop has no {det.kind} detector on {det.signal}")
                detectors.append(_DETECTORS[det.kind](**det.params))
            self._tasks[name] = (task.type == "binary", by_label, by_score, detectors)
            self.labels[name] = 0
            self.drifts[name] = 0

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        """Apply events (decoded ``driftline.prediction/1`` and ``driftline.label/1`` dicts),
        labels after their predictions."""
        outputs: dict[str, dict[str, Any]] = {}
        tasks, labels, drifts = self._tasks, self.labels, self.drifts
        for event in events:
            if event["schema"] == _PREDICTION:
                outputs[event["prediction_id"]] = event["outputs"]
                self.rows += 1
                continue
            task = event["task"]
            head = outputs[event["prediction_id"]][task]
            binary, by_label, by_score, detectors = tasks[task]
            if binary:
                truth, score = bool(event["label"]), float(head["score"])
                predicted = score >= 0.5
                for metric in by_label:
                    metric.update(truth, predicted)
                for metric in by_score:
                    metric.update(truth, score)
                error = float(predicted != truth)
            else:
                y, prediction = float(event["label"]), float(head["value"])
                for metric in by_label:
                    metric.update(y, prediction)
                error = abs(y - prediction)
            for detector in detectors:
                detector.update(error)
                if detector.drift_detected:
                    drifts[task] += 1
            labels[task] += 1

    def values(self) -> dict[str, dict[str, float]]:
        """Each task's cumulative metrics, by the config's metric names."""
        out = {}
        for name, (_, by_label, by_score, _) in self._tasks.items():
            out[name] = {_name_of(m): float(m.get()) for m in (*by_label, *by_score)}
        return out


def _name_of(metric: Any) -> str:
    for table in (_BINARY_METRICS, _PROBABILITY_METRICS, _REGRESSION_METRICS):
        for name, cls in table.items():
            if type(metric) is cls:
                return name
    raise TypeError(type(metric).__name__)


def _driftline_values(stage: MonitorStage) -> dict[str, dict[str, Any]]:
    out = {}
    for _, monitor in sorted(stage.monitors.items()):
        out[monitor.task] = {
            "rows": monitor.predictions,
            "labels": monitor.labels,
            "metrics": dict(monitor.scopes[()].metrics.cumulative()),
        }
    return out


def _difference(ours: dict[str, float], river: dict[str, float]) -> float:
    """The largest relative difference of two sets of metric values (``inf``: names differ)."""
    if ours.keys() != river.keys():
        return math.inf
    return max((abs(ours[n] - river[n]) / max(1.0, abs(river[n])) for n in ours), default=0.0)


def run(
    predictions: int = 30_000,
    envelope: int = 100,
    checkpoint_events: int = CHECKPOINT_EVENTS,
    seed: int = 1,
    repeat: int = 3,
) -> dict[str, Any]:
    """Time both sides ``repeat`` times, alternating (best CPU time per side wins); the
    JSON-ready result."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    phase("generating the rows")
    config = bench_config()
    workload = Workload(predictions=predictions, seed=seed)
    records = input_records(workload, envelope)
    decoded = [event for _, _, event in workload.events()]
    lines = [json.dumps(event, separators=(",", ":")) for event in decoded]
    best: dict[str, float] = {}
    phase("timing driftline and River, passes alternating", total=repeat)
    with worker_collector():  # the collector settings of a monitor worker, for both sides
        for _ in range(repeat):
            clock = StageClock(profile=False)
            stats, stage, _ = drive(config, records, checkpoint_events, clock)
            seconds = {"driftline": sum(clock.seconds[s] for s in TOTAL_STAGES)}
            river = RiverLoop(config)
            start = time.process_time()
            river.feed(json.loads(line) for line in lines)
            seconds["river"] = time.process_time() - start
            in_memory = RiverLoop(config)
            start = time.process_time()
            in_memory.feed(decoded)
            seconds["river_decoded"] = time.process_time() - start
            for side, spent in seconds.items():
                best[side] = min(best.get(side, spent), spent)
            advance()
    ours, theirs = _driftline_values(stage), river.values()
    difference = max(_difference(ours[t]["metrics"], theirs[t]) for t in theirs)
    rates = {side: predictions / spent for side, spent in best.items()}
    return {
        "benchmark": "peers",
        "rows": predictions,
        "tasks": len(config.tasks),
        "events": stats["events"],
        "driftline_rows_per_s": round(rates["driftline"]),
        "river_rows_per_s": round(rates["river"]),
        "ratio_to_river": round(rates["driftline"] / rates["river"], 3),
        "river_decoded_rows_per_s": round(rates["river_decoded"]),
        "ratio_to_river_decoded": round(rates["driftline"] / rates["river_decoded"], 3),
        "driftline_cpu_s": round(best["driftline"], 4),
        "river_cpu_s": round(best["river"], 4),
        "river_decoded_cpu_s": round(best["river_decoded"], 4),
        "metrics_match": difference <= 1e-9,
        "max_metric_difference": difference,
        "per_task": {
            task: {
                "driftline_rows": ours[task]["rows"],
                "river_rows": river.rows,
                "driftline_labels": ours[task]["labels"],
                "river_labels": river.labels[task],
                "river_drifts": river.drifts[task],
                "metrics": ours[task]["metrics"],
            }
            for task in sorted(theirs)
        },
        "digest": stats["digest"],
        "details": {
            "predictions": predictions,
            "envelope": envelope,
            "checkpoint_events": checkpoint_events,
            "seed": seed,
            "repeat": repeat,
            "clock": "process CPU time, best of the passes per side, passes alternating",
            "driftline": "bench hotpath's total: " + " + ".join(TOTAL_STAGES),
            "river": "json.loads per event, dict join, River metrics and detectors per label",
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }


@click.command()
@report_options
@click.option("--predictions", default=30_000, show_default=True, help="Rows (predictions).")
@click.option("--envelope", default=100, show_default=True, help="Events per input record.")
@click.option(
    "--checkpoint-events",
    default=CHECKPOINT_EVENTS,
    show_default=True,
    help="Input events per checkpoint.",
)
@click.option("--seed", default=1, show_default=True, help="Seed of the workload.")
@click.option("--repeat", default=3, show_default=True, help="Passes; the best time per side wins.")
def main(
    as_json: bool, out: Path | None, predictions: int, envelope: int, checkpoint_events: int,
    seed: int, repeat: int,
) -> None:  # fmt: skip
    """Rows/s of driftline's hot path and of a plain River loop on the same rows, in one run."""
    report = run(predictions, envelope, checkpoint_events, seed, repeat)
    if not report["metrics_match"]:
        emit(report, as_json, out)
        raise click.ClickException("driftline and the River loop ended with different metrics")
    emit(report, as_json, out)


if __name__ == "__main__":
    main()
