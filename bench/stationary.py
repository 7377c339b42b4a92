"""False alarms on stationary streams: what a config's monitor raises when nothing changes.

Each task type gets a seeded stream whose distribution never changes, and the labelled (and,
when the task watches its scores or has slices, unlabelled) outcomes go through the real stage 2
(:class:`~streams.task_monitor.TaskMonitor`) in process, one label per second of event time:

============ ===========================================================================
type         stream
============ ===========================================================================
binary       score ~ U(0, 1), label ~ Bernoulli(score) (error rate 0.25)
multiclass   probabilities ~ Dirichlet(1, ..., 1), label drawn from them, predicted = argmax
regression   y ~ N(100, 20), prediction = y + N(0, 10) (``heavy``: + 10 t₃ noise instead)
ranking      queries of 10 documents, score ~ U(0, 1), relevance ~ Bernoulli(score)
============ ===========================================================================

Segments (for slices) are drawn uniformly from three values per slice name.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from driftline.config.models import DriftlineConfig, TaskConfig

__all__ = ["STREAM_KINDS", "false_alarms", "stationary_outcomes"]

STREAM_KINDS = ("binary", "multiclass", "regression", "regression_heavy", "ranking")


def _pair(kind: str, task: TaskConfig, rng: random.Random, i: int) -> dict[str, Any]:
    if kind == "binary":
        score = rng.random()
        return {"y_pred": score, "y_true": int(rng.random() < score)}
    if kind == "multiclass":
        classes = task.classes or ["a", "b"]
        weights = [rng.expovariate(1.0) for _ in classes]
        total = sum(weights)
        probs = {c: w / total for c, w in zip(classes, weights, strict=True)}
        truth = rng.choices(classes, weights)[0]
        predicted = max(probs, key=probs.__getitem__)
        return {"y_pred": predicted, "y_true": truth, "probs": probs}
    if kind in ("regression", "regression_heavy"):
        y = rng.gauss(100.0, 20.0)
        if kind == "regression":
            noise = rng.gauss(0.0, 10.0)
        else:  # Student t with 3 degrees of freedom
            noise = 10.0 * rng.gauss(0.0, 1.0) / math.sqrt(rng.gammavariate(1.5, 2.0) / 3.0)
        return {"y_pred": y + noise, "y_true": y}
    score = rng.random()
    return {"y_pred": score, "y_true": int(rng.random() < score), "group": f"q{i // 10}"}


def stationary_outcomes(
    model: str, task_name: str, task: TaskConfig, kind: str, labels: int, seed: int
) -> Iterator[Any]:
    """The outcomes of ``labels`` stationary predictions, one per second of event time, each
    labelled one second later (a labelled outcome carries its prediction's time)."""
    from streams.outcome import Outcome

    if kind not in STREAM_KINDS:
        raise ValueError(f"unknown stream kind {kind!r}; use one of {STREAM_KINDS}")
    rng = random.Random(seed)
    scores = task.needs_scores
    for i in range(labels):
        fields = _pair(kind, task, rng, i)
        segments = {name: f"{name}-{rng.randrange(3)}" for name in task.slices}
        pid = f"p-{i}"
        if scores:
            yield Outcome("unlabelled", model, "1", task_name, pid, float(i),
                          ("predictions", 0, i, 0, 0), y_pred=fields["y_pred"],
                          probs=fields.get("probs"), segments=segments)  # fmt: skip
        yield Outcome("labelled", model, "1", task_name, pid, float(i), ("labels", 0, i, 0, 0),
                      segments=segments, label_t=float(i) + 1.0, **fields)  # fmt: skip


def false_alarms(
    config: DriftlineConfig, task_name: str, kind: str, labels: int, seed: int = 0
) -> dict[str, Any]:
    """Run one task's monitor over a stationary stream; its alerts (all false) and requests."""
    from driftline.events import Alert, RetrainRequest
    from streams.task_monitor import TaskMonitor

    quiet = config.model_copy(
        update={"monitor": config.monitor.model_copy(update={"snapshot_interval": 0.0})}
    )
    task = quiet.tasks[task_name]
    monitor = TaskMonitor(quiet, quiet.model, task_name, seed=seed)
    by_detector: Counter[str] = Counter()
    requests = 0
    for outcome in stationary_outcomes(quiet.model, task_name, task, kind, labels, seed):
        for event in monitor.apply(outcome) or ():
            if isinstance(event, Alert):
                by_detector[f"{event.detector}{'@' if event.slice else ''}"
                            f"{','.join(event.slice.values())}"] += 1  # fmt: skip
            elif isinstance(event, RetrainRequest):
                requests += 1
    alerts = sum(by_detector.values())
    return {
        "type": task.type,
        "stream": kind,
        "labels": labels,
        "detectors": [f"{d.kind}/{d.signal}" for d in task.detectors],
        "alerts": alerts,
        "false_alarms_per_1m": round(alerts * 1_000_000 / labels, 2),
        "retrain_requests": requests,
        "warnings_suppressed": monitor.warnings_suppressed,
        "by_detector": dict(by_detector),
    }
