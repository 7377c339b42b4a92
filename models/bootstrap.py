"""Paired bootstrap confidence interval for the difference of a metric between two models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.metrics import higher_is_better, task_metrics
from models.specs import TaskSpec

__all__ = ["BootstrapResult", "paired_bootstrap"]


@dataclass(frozen=True)
class BootstrapResult:
    """``difference`` = metric(a) − metric(b) on the full holdout, with its percentile interval.

    ``prob_a_better`` is the share of resamples where ``a`` beats ``b`` (direction-aware: for a
    lower-is-better metric, ``a`` beats ``b`` when its value is smaller).
    """

    metric: str
    difference: float
    low: float
    high: float
    confidence: float
    prob_a_better: float
    n_resamples: int


def paired_bootstrap(
    spec: TaskSpec,
    metric: str,
    y: np.ndarray,
    prediction_a: np.ndarray,
    prediction_b: np.ndarray,
    group: np.ndarray | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Resample holdout rows (whole groups for ranking) with replacement, same rows for both models.

    The promotion gate can require, e.g., that ``low > -tolerance`` (non-inferior) or ``low > 0``
    (improved) for a higher-is-better metric.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400).astype(float)
    >>> good = np.clip(y * 0.6 + rng.uniform(0, 0.4, 400), 0, 1)   # separates the classes
    >>> noise = rng.uniform(0, 1, 400)
    >>> result = paired_bootstrap(TaskSpec("t", "binary"), "roc_auc", y, good, noise, n_resamples=200)
    >>> result.low > 0, result.prob_a_better
    (True, 1.0)
    """
    if metric not in spec.metrics:
        raise ValueError(f"{metric!r} is not a metric of {spec.type} task {spec.name!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    y, a, b = np.asarray(y), np.asarray(prediction_a), np.asarray(prediction_b)
    if len(y) == 0:
        raise ValueError(f"task {spec.name!r}: no labelled holdout rows to compare")

    def value(rows: np.ndarray, prediction: np.ndarray) -> float:
        g = group[rows] if group is not None else None
        return task_metrics(spec, y[rows], prediction[rows], g)[metric]

    everything = np.arange(len(y))
    observed = value(everything, a) - value(everything, b)
    rng = np.random.default_rng(seed)
    if spec.type == "ranking":
        if group is None:
            raise ValueError(f"ranking task {spec.name!r} needs group ids")
        groups = np.unique(group)
        members = {g: np.flatnonzero(group == g) for g in groups}
    diffs = np.empty(n_resamples)
    for i in range(n_resamples):
        if spec.type == "ranking":
            picked = rng.choice(groups, size=len(groups), replace=True)
            rows = np.concatenate([members[g] for g in picked])
        else:
            rows = rng.integers(0, len(y), len(y))
        diffs[i] = value(rows, a) - value(rows, b)
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        nan = float("nan")
        return BootstrapResult(metric, observed, nan, nan, confidence, nan, 0)
    tail = (1 - confidence) / 2 * 100
    better = diffs > 0 if higher_is_better(metric) else diffs < 0
    return BootstrapResult(
        metric=metric,
        difference=float(observed),
        low=float(np.percentile(diffs, tail)),
        high=float(np.percentile(diffs, 100 - tail)),
        confidence=confidence,
        prob_a_better=float(better.mean()),
        n_resamples=len(diffs),
    )
