"""``driftline bench detection``: detection quality of the monitor vs plain River vs a dummy.

Also (in process, through the real stage 2): ``stationary``, the false alarms per 1 M labels of
the defaults and of every example config on streams that never change (:mod:`bench.stationary`),
and ``cbpe``, performance estimated before labels vs realised and the lead of its alert
(:mod:`bench.cbpe`), and ``feature_drift``, a shifted shared feature among unshifted ones
through stage 1's profiles and stage 2 (:mod:`bench.feature_drift`; ``feature_drift_fdr`` with
``false_discovery_rate: 0.05``). ``defaults_vs_river`` compares the default detector's delay in the monitor
with plain River ADWIN's (River's defaults) on the same drifted streams.

A seeded synthetic model with four tasks and known drift positions:

====== ========== ======= ==================================================================
task   type       drift   error stream
====== ========== ======= ==================================================================
churn  binary     abrupt  wrong with p = 0.10, then 0.35 from label ``drift_at`` on
spend  regression gradual |error| ~ |N(0, 1)| + a ramp to +1.5 over ``ramp`` labels from
                          ``drift_at``
fraud  binary     none    wrong with p = 0.10 throughout
basket regression none    |error| ~ |N(0, 1)| throughout
====== ========== ======= ==================================================================

The stream (predictions with all four heads, one label per task right after each prediction) goes
through the real broker into one ``driftline monitor`` worker (one partition, so the order of labels
is the order sent); its alerts are read back from ``drift-alerts``. The same error streams go
through the plain River detector (same kind and parameters) offline, and through a dummy detector
that fires every ``--every`` labels. Per task and detector configuration: ``delay_labels`` (labels
of that task from the drift start to the first firing at or after it; ``null`` when missed),
``missed``, ``false_alarms_per_100k`` (firings before the drift, or anywhere on a stable task, per
100 000 labels of that stretch).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from bench.broker import bench_broker
from bench.progress import advance, phase
from bench.report import emit, report_options

__all__ = ["main", "run"]

DETECTORS: dict[str, dict[str, Any]] = {
    "default": {},  # DEFAULT_DETECTOR: what a task without `detectors` gets
    "adwin": {"kind": "adwin", "params": {}, "scale": "raw"},  # River's defaults
    "page_hinkley": {"kind": "page_hinkley", "params": {"threshold": 50.0}, "scale": "raw"},
}
ALERT_NAMES = {"default": "adwin/error", "adwin": "adwin/error#2",
               "page_hinkley": "page_hinkley/error"}  # fmt: skip
POLICY = {"min_samples": 300, "warmup": 300, "cooldown": 2_000}
TASKS = {"churn": ("binary", "abrupt"), "spend": ("regression", "gradual"),
         "fraud": ("binary", "none"), "basket": ("regression", "none")}  # fmt: skip


def detector_configs() -> dict[str, dict[str, Any]]:
    """Each compared detector configuration as the YAML mapping of a ``detectors`` entry."""
    from driftline.config.models import DEFAULT_DETECTOR

    default = DEFAULT_DETECTOR.model_dump(exclude={"severity"})
    return {name: spec or default for name, spec in DETECTORS.items()}


def tasks_yaml() -> str:
    """The ``tasks:`` body: every task watched by every detector configuration, one policy."""
    detectors = ", ".join(json.dumps(spec) for spec in detector_configs().values())
    policy = json.dumps(POLICY)
    return "".join(
        f"  {name}: {{type: {kind}, label_delay: 3600, detectors: [{detectors}],"
        f" policy: {policy}, metrics: [{'accuracy' if kind == 'binary' else 'mae'}]}}\n"
        for name, (kind, _) in TASKS.items()
    )


def streams(labels: int, drift_at: int, ramp: int, seed: int) -> dict[str, list[tuple[Any, Any]]]:
    """Per task: ``labels`` pairs ``(y_true, y_pred)`` with the drift of the table above."""
    rng = random.Random(seed)
    out: dict[str, list[tuple[Any, Any]]] = {name: [] for name in TASKS}
    for i in range(labels):
        after = i >= drift_at
        for name, (kind, drift) in TASKS.items():
            y: float
            if kind == "binary":
                p_wrong = 0.35 if drift == "abrupt" and after else 0.10
                y = int(rng.random() < 0.5)
                wrong = rng.random() < p_wrong
                out[name].append((y, (0.2 if y else 0.8) if wrong else (0.8 if y else 0.2)))
            else:
                shift = min(1.0, (i - drift_at) / ramp) * 1.5 if drift == "gradual" and after else 0
                y = 10.0 + rng.gauss(0, 3)
                out[name].append((y, y + (abs(rng.gauss(0, 1)) + shift) * rng.choice((-1, 1))))
    return out


def score(firings: list[int], drift: str, drift_at: int, labels: int) -> dict[str, Any]:
    """Delay, miss and false alarms per 100k labels from the (1-based) label counts of firings."""
    start = drift_at if drift != "none" else labels
    false = [f for f in firings if f <= start]
    after = [f for f in firings if f > start]
    delay = after[0] - start if after else None
    return {
        "delay_labels": delay if drift != "none" else None,
        "missed": drift != "none" and delay is None,
        "false_alarms_per_100k": round(len(false) * 100_000 / max(1, start), 1),
        "firings": len(firings),
    }


def river_offline(
    kind: str, params: dict[str, Any], pairs: list[tuple[Any, Any]], task_type: str
) -> list[int]:
    """1-based positions at which a plain River detector fires on the task's error stream."""
    from streams.detectors.river_detector import DETECTOR_CLASSES
    from streams.metric_set import error_of

    detector = DETECTOR_CLASSES[kind](**params)  # plain River: no scaling, no policy
    fired = []
    for n, (y, p) in enumerate(pairs, start=1):
        detector.update(error_of(task_type, y, p))
        if detector.drift_detected:
            fired.append(n)
    return fired


def through_monitor(
    bootstrap: str, directory: Path, data: dict[str, list[tuple[Any, Any]]]
) -> list[dict[str, Any]]:
    """Send the streams through a worker; return its alerts."""
    from bench.worker_process import WorkerProcess
    from bench.workload import T0, iso, ordered_producer, produce

    worker = WorkerProcess(bootstrap, directory, tasks_yaml(), partitions=1)
    count = len(next(iter(data.values())))
    events = []
    for i in range(count):
        pid = f"p-{i}"
        outputs = {
            name: {"score": data[name][i][1]} if kind == "binary" else {"value": data[name][i][1]}
            for name, (kind, _) in TASKS.items()
        }
        events.append(("predictions", pid, {
            "schema": "driftline.prediction/1", "prediction_id": pid, "model": "shop",
            "model_version": "1", "entity_id": f"e-{i}", "event_time": iso(T0 + i),
            "outputs": outputs}))  # fmt: skip
        for name in TASKS:
            events.append(("labels", pid, {
                "schema": "driftline.label/1", "prediction_id": pid, "task": name,
                "label": data[name][i][0], "event_time": iso(T0 + i)}))  # fmt: skip
    topics = {
        "predictions": worker.config.topics.predictions,
        "labels": worker.config.topics.labels,
    }
    sent = produce(ordered_producer(bootstrap, **{"linger.ms": 20}), topics, events, 1)
    worker.start()
    try:
        deadline = time.monotonic() + max(600.0, sent / 300)
        while time.monotonic() < deadline:
            time.sleep(2)
            done = worker.scrape()
            if all(done.get(f"{name}.labels") == count for name in TASKS):
                break
        else:
            raise click.ClickException(f"the worker did not finish; see {directory}/worker.log")
        return worker.read("drift_alerts", timeout=20)
    finally:
        worker.stop()


def run(
    bootstrap: str, labels: int, drift_at: int, ramp: int, every: int, seed: int
) -> dict[str, Any]:
    """The whole comparison against the broker at ``bootstrap``."""
    from streams.detectors import PeriodicDetector

    phase("generating the labelled streams")
    data = streams(labels, drift_at, ramp, seed)
    phase("running them through the monitor")
    alerts = through_monitor(bootstrap, Path(tempfile.mkdtemp(prefix="bench-detection-")), data)
    result: dict[str, Any] = {"benchmark": "detection", "labels_per_task": labels,
                              "drift_at": drift_at, "ramp": ramp, "seed": seed,
                              "policy": POLICY, "dummy_every": every, "tasks": {}}  # fmt: skip
    phase("plain River detectors and the dummy on the same streams", total=len(TASKS))
    for name, (kind, drift) in TASKS.items():
        advance()
        dummy_detector = PeriodicDetector(every)
        dummy = [n for n in range(1, labels + 1) if dummy_detector.update(0.0)]
        per_detector = {}
        for det, spec in detector_configs().items():
            fired = sorted(
                a["evidence"]["end_count"]
                for a in alerts
                if a["task"] == name and a["detector"] == ALERT_NAMES[det]
            )
            offline = river_offline(spec["kind"], spec["params"], data[name], kind)
            per_detector[det] = {
                "config": spec,
                "monitor": score(fired, drift, drift_at, labels),
                "river_offline": score(offline, drift, drift_at, labels),
            }
        result["tasks"][name] = {
            "type": kind,
            "drift": drift,
            "detector": "default",
            "monitor": per_detector["default"]["monitor"],
            "river_adwin": per_detector["adwin"]["river_offline"],
            "dummy": score(dummy, drift, drift_at, labels),
            "by_detector": per_detector,
        }
    result["defaults_vs_river"] = defaults_vs_river(result["tasks"])
    return result


def defaults_vs_river(tasks: dict[str, Any]) -> dict[str, Any]:
    """Per drifted task: the defaults' delay in the monitor vs plain River ADWIN's offline."""
    out: dict[str, Any] = {}
    for name, row in tasks.items():
        if row["drift"] == "none":
            continue
        ours, river = row["monitor"]["delay_labels"], row["river_adwin"]["delay_labels"]
        out[name] = {
            "defaults_delay_labels": ours,
            "river_adwin_delay_labels": river,
            "no_worse": ours is not None and (river is None or ours <= river),
        }
    return out


def cbpe(predictions: int, seed: int) -> dict[str, Any]:
    """Estimated vs realised performance per task type, and the lead of the label-free alert
    when labels lag one day (:mod:`bench.cbpe`); ``mae``/``lead_labels`` are the binary head's
    (ROC AUC on calibrated scores)."""
    from bench.cbpe import run_cbpe

    shift_at = predictions * 2 // 3
    by_type = {
        kind: run_cbpe(kind, predictions, shift_at, seed=seed)
        for kind in ("binary", "multiclass", "regression")
    }
    binary = by_type["binary"]
    return {
        "mae": binary["mae"].get("estimated_roc_auc"),
        "lead_labels": binary["lead_labels"],
        "label_lag": "1d",
        "shift_at": shift_at,
        "by_type": by_type,
    }


def stationary(labels: int, seed: int, examples: list[Path]) -> dict[str, Any]:
    """False alarms per 1 M labels of the defaults (one task per stream kind) and of each
    example config's tasks, on stationary streams (:mod:`bench.stationary`)."""
    from bench.stationary import STREAM_KINDS, false_alarms
    from driftline.config import load_config, parse_config

    body = "".join(
        f"  {kind}: {{type: {kind.split('_')[0]}"
        f"{', classes: [a, b, c, d]' if kind == 'multiclass' else ''}}}\n"
        for kind in STREAM_KINDS
    )
    defaults = parse_config(f"model: stationary\ntasks:\n{body}")
    out: dict[str, Any] = {
        "defaults": {
            kind: false_alarms(defaults, kind, kind, labels, seed) for kind in STREAM_KINDS
        }
    }
    for path in examples:
        config = load_config(path)
        out[path.name] = {
            name: false_alarms(config, name, task.type, labels, seed)
            for name, task in config.tasks.items()
        }
    return out


@click.command()
@report_options
@click.option("--bootstrap", default=None, help="Use this broker instead of starting one.")
@click.option("--labels", default=20_000, show_default=True, help="Labels per task.")
@click.option("--drift-at", default=10_000, show_default=True, help="Label index of the drift.")
@click.option("--ramp", default=2_000, show_default=True, help="Labels of the gradual drift ramp.")
@click.option("--every", default=2_000, show_default=True, help="The dummy fires every N labels.")
@click.option("--seed", default=0, show_default=True)
@click.option("--feature-windows", default=48, show_default=True,
              help="Hours of the feature-drift run (0: skip it; the shift starts at hour 36).")  # fmt: skip
@click.option("--cbpe-predictions", default=60_000, show_default=True,
              help="Predictions per task of the estimated-performance run (0: skip it).")  # fmt: skip
@click.option("--stationary-labels", default=1_000_000, show_default=True,
              help="Labels per task of the stationary streams (0: skip them).")  # fmt: skip
@click.option("--example", "examples", multiple=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Config whose tasks also run the stationary streams "
              "(default: examples/*.yaml).")  # fmt: skip
def main(
    as_json: bool, out: Path | None, bootstrap: str | None, labels: int, drift_at: int,
    ramp: int, every: int, seed: int, feature_windows: int, cbpe_predictions: int,
    stationary_labels: int, examples: tuple[Path, ...],
) -> None:  # fmt: skip
    """Detection delay, misses and false alarms: monitor vs plain River vs a periodic dummy;
    false alarms per 1 M labels on stationary streams."""
    if not 0 < drift_at < labels:
        raise click.BadParameter("must be inside (0, --labels)", param_hint="--drift-at")
    with bench_broker(bootstrap) as address:
        result = run(address, labels, drift_at, ramp, every, seed)
    if cbpe_predictions:
        result["cbpe"] = cbpe(cbpe_predictions, seed)
    if feature_windows:
        from bench.feature_drift import run_feature_drift

        result["feature_drift"] = run_feature_drift(windows=feature_windows, seed=seed)
        result["feature_drift_fdr"] = run_feature_drift(
            windows=feature_windows, fdr=0.05, seed=seed
        )
    if stationary_labels:
        paths = list(examples) or sorted(Path(__file__).parent.parent.glob("examples/*.yaml"))
        result["stationary"] = {
            f"{config}/{task}" if config != "defaults" else task: row
            for config, rows in stationary(stationary_labels, seed, paths).items()
            for task, row in rows.items()
        }
    emit(result, as_json, out)
