"""Per-feature drift: a shifted shared feature found within one window, no alarm on the others.

Predictions, one per second of event time, spread at random over ``partitions`` input
partitions, go through stage 1's feature profiles (:class:`~streams.features.PartitionedProfiles`)
and the ``profile`` outcomes through stage 2 (:class:`~streams.task_monitor.TaskMonitor`, one per
task), in process. Features: shared ``tenure`` (numeric, N(12, 4)), ``sessions`` (numeric,
exponential), ``country`` (categorical, 5 values); ``churn`` reads its own ``discount``
(numeric), ``spend`` its own ``basket`` (integer counts). From window ``shift_window`` on,
``tenure`` moves by ``shift`` of its standard deviations; nothing else changes. Windows are one
hour; the reference is the first ``reference_windows`` of them.

``detected``: every task alerted on ``tenure`` in the first window of the shift;
``false_alarms``: alerts on any other feature, over all tasks and windows.

Attribution: labels arrive two hours after their prediction; ``churn``'s error rate rises with
the ``tenure`` shift (0.10 -> 0.30), ``spend``'s error grows from window ``own_window`` on with no
input change (its own signal). ``attribution`` shows what each task's first error alert said.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["run_feature_drift"]

_WINDOW = 3600


def _config(partitions: int, reference_windows: int, fdr: float | None) -> Any:
    from driftline.config import parse_config

    rate = "null" if fdr is None else fdr
    return parse_config(
        f"model: shop\nkafka: {{partitions: {partitions}}}\nmonitor: {{snapshot_interval: 0}}\n"
        "features: [{name: tenure}, {name: sessions}, {name: country, dtype: string}]\n"
        f"feature_drift: {{enabled: true, window: {_WINDOW}, lateness: 60,"
        f" reference_windows: {reference_windows}, false_discovery_rate: {rate}}}\n"
        "tasks:\n"
        "  churn: {type: binary, features: [{name: discount}]}\n"
        "  spend: {type: regression, features: [{name: basket, dtype: int}]}\n"
    )


def run_feature_drift(
    windows: int = 48,
    shift_window: int = 36,
    shift: float = 0.75,
    partitions: int = 4,
    reference_windows: int = 24,
    fdr: float | None = None,
    own_window: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Feed ``windows`` hours of predictions; which feature alerts fired, and when."""
    from driftline.events import Alert
    from streams.features import PartitionedProfiles
    from streams.records import PredictionRecord
    from streams.task_monitor import TaskMonitor

    config = _config(partitions, reference_windows, fdr)
    rng = random.Random(seed)
    stage1 = PartitionedProfiles(config)
    monitors = {task: TaskMonitor(config, "shop", task) for task in config.tasks}
    offsets = [0] * partitions
    alerts: list[Alert] = []
    lag = 2 * _WINDOW
    for second in range(windows * _WINDOW):
        if second >= lag:
            alerts += _labels(monitors, second - lag, shift_window, own_window, rng)
        shifted = second >= shift_window * _WINDOW
        features = {
            "tenure": rng.gauss(12.0 + 4.0 * shift * shifted, 4.0),
            "sessions": rng.expovariate(0.2),
            "country": rng.choice(["DE", "FR", "NL", "PL", "ES"]),
            "discount": rng.random() * 0.3,
            "basket": rng.randint(1, 8),
        }
        partition = rng.randrange(partitions)
        record = PredictionRecord(f"p-{second}", "shop", "1", f"e-{second}", float(second),
                                  {"churn": {"score": 0.5}, "spend": {"value": 1.0}}, features)  # fmt: skip
        for outcome in stage1.observe(partition, record, (offsets[partition], 0)):
            alerts += [a for a in monitors[outcome.task].apply(outcome) or ()
                       if isinstance(a, Alert)]  # fmt: skip
        offsets[partition] += 1
    shift_start = shift_window * _WINDOW
    feature_alerts = [a for a in alerts if a.signal == "feature"]
    found = {
        task: sorted(
            (a.detector.split("/", 1)[1], a.evidence.start_time.timestamp())
            for a in feature_alerts
            if a.task == task
        )
        for task in config.tasks
    }
    detected = all(("tenure", float(shift_start)) in rows for rows in found.values())
    false = [a for a in feature_alerts if a.detector != "feature_drift/tenure"]
    first = [a for a in feature_alerts if a.detector == "feature_drift/tenure"]
    error_alerts: dict[str, Alert] = {}
    for a in alerts:
        if a.signal == "error":
            error_alerts.setdefault(a.task, a)
    return {
        "detected": detected,
        "false_alarms": len(false),
        "windows": windows,
        "shift_window": shift_window,
        "shift_sd": shift,
        "partitions": partitions,
        "false_discovery_rate": fdr,
        "alerts": {
            task: [f"{name}@window {int(t) // _WINDOW}" for name, t in rows]
            for task, rows in found.items()
        },
        "attribution": {
            task: {
                "error_alert_window": int(a.evidence.end_time.timestamp()) // _WINDOW,
                "attribution": a.attribution,
            }
            for task, a in error_alerts.items()
        },
        "tenure_psi": round(first[0].value, 3) if first else None,
        "late_profiles": sum(m.features.drift.late for m in monitors.values() if m.features),
    }


def _labels(
    monitors: dict[str, Any], second: int, shift_window: int, own_window: int, rng: random.Random
) -> list[Any]:
    """The labelled outcomes of the prediction made at ``second`` (arriving now)."""
    from driftline.events import Alert
    from streams.outcome import Outcome

    window = second // _WINDOW
    out = []
    for task, monitor in monitors.items():
        y_pred: float
        y_true: float
        if task == "churn":
            wrong = rng.random() < (0.30 if window >= shift_window else 0.10)
            y_pred, y_true = (0.8 if wrong else 0.2), 0
        else:
            y_true = 10.0
            y_pred = y_true + rng.gauss(0.0, 3.0 if window >= own_window else 1.0)
        outcome = Outcome("labelled", "shop", "1", task, f"p-{second}", float(second),
                          ("labels", 0, second, 0, 0), y_pred=y_pred, y_true=y_true)  # fmt: skip
        out += [a for a in monitor.apply(outcome) or () if isinstance(a, Alert)]
    return out
