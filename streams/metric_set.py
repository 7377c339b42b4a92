"""The metrics of one task, cumulative and over a rolling window of labels."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from river import metrics, utils

from driftline.config.models import TaskConfig
from streams.binary_metrics import BinaryMetrics
from streams.ranking import GroupRankingMetric
from streams.regression_metrics import RegressionMetrics

__all__ = ["MetricSet", "error_of"]

_RIVER: dict[str, Any] = {
    "accuracy": metrics.Accuracy,
    "precision": metrics.Precision,
    "recall": metrics.Recall,
    "f1": metrics.F1,
    "log_loss": metrics.LogLoss,
    "macro_f1": metrics.MacroF1,
    "mae": metrics.MAE,
    "rmse": metrics.RMSE,
    "r2": metrics.R2,
}
_PROBABILISTIC = frozenset({"roc_auc", "log_loss"})


def error_of(task_type: str, y_true: Any, y_pred: Any) -> float:
    """The per-label error a detector watches: 0/1 for classes, absolute error for numbers.

    Binary: 1 when ``score >= 0.5`` disagrees with the label; multiclass: 1 when the predicted
    class is wrong; regression: ``|y - ŷ|``; ranking: ``|min(relevance, 1) - score|``.

    >>> error_of("binary", 1, 0.3), error_of("regression", 3.0, 1.5)
    (1.0, 1.5)
    """
    if task_type == "binary":
        return float((float(y_pred) >= 0.5) != bool(float(y_true)))
    if task_type == "multiclass":
        return float(str(y_pred) != str(y_true))
    if task_type == "regression":
        return abs(float(y_true) - float(y_pred))
    return abs(min(float(y_true), 1.0) - float(y_pred))


class MetricSet:
    """Cumulative and rolling values of a task's configured metrics.

    Binary and regression tasks keep running counts (:class:`BinaryMetrics`,
    :class:`RegressionMetrics`), equal to River's metrics; multiclass and ranking tasks keep
    River's metrics (and :class:`~streams.ranking.GroupRankingMetric`), whose confusion-matrix
    ones share one matrix.
    Rolling metrics are computed from a ring of the last ``window`` labels when they are read
    (snapshots, ``/metrics``), except those a threshold rule watches: these update per label
    (River's ``RollingROCAUC`` for a watched ``roc_auc``).

    Parameters
    ----------
    task
        The task's config: its ``type``, ``metrics``, ``window``, ``ranking_k``, ``classes`` and
        ``thresholds``.

    Examples
    --------
    >>> from driftline.config.models import TaskConfig
    >>> ms = MetricSet(TaskConfig(type="regression", window=2))
    >>> [ms.update(y, p) for y, p in [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]]
    [0.0, 1.0, 2.0]
    >>> ms.cumulative()["mae"], ms.rolling()["mae"]
    (1.0, 1.5)
    """

    def __init__(self, task: TaskConfig) -> None:
        self.task = task
        self._reset()

    def _reset(self) -> None:
        task = self.task
        self._kind = task.type
        self._names = tuple(task.metrics)
        self._ring: deque[tuple[Any, ...]] = deque(maxlen=task.window)
        watched = {rule.metric for rule in task.thresholds} & set(self._names)
        self._counted = frozenset(watched - {"roc_auc"})  # by the rolling counts, per label
        self._watched: dict[str, Any] = {}
        self._counts: BinaryMetrics | RegressionMetrics | None = None
        self._rolling_counts: BinaryMetrics | RegressionMetrics | None = None
        if self._kind in ("binary", "regression"):
            self._counts = self._new_counts()
            if self._counted:
                self._rolling_counts = self._new_counts()
            if "roc_auc" in watched:
                self._watched["roc_auc"] = metrics.RollingROCAUC(window_size=task.window)  # type: ignore[no-untyped-call]
            return
        self._cm = metrics.ConfusionMatrix()  # type: ignore[no-untyped-call]
        self._cumulative: dict[str, Any] = {}
        for name in task.metrics:
            self._cumulative[name] = _make(name, task, self._cm)
            if name in watched:
                self._watched[name] = _make(name, task, None, rolling=True)

    def _new_counts(self) -> BinaryMetrics | RegressionMetrics:
        if self._kind == "regression":
            return RegressionMetrics()
        return BinaryMetrics(roc_auc="roc_auc" in self._names, log_loss="log_loss" in self._names)

    def update(self, y_true: Any, y_pred: Any, group: str | None = None) -> float:
        """Add one labelled outcome; its error (what ``signal: error`` detectors watch, see
        :func:`error_of`)."""
        ring = self._ring
        counts = self._counts
        if counts is None:  # multiclass, ranking: River's metrics
            pair = _pair(self._kind, y_true, y_pred, group)
            ring.append(pair)
            _feed(self._kind, self._cumulative, pair, self._cm)
            if self._watched:
                _feed(self._kind, self._watched, pair, None)
            return error_of(self._kind, y_true, y_pred)
        score = float(y_pred)
        truth: Any
        if self._kind == "binary":
            truth = bool(float(y_true))
            error = float((score >= 0.5) != truth)
        else:
            truth = float(y_true)
            error = abs(truth - score)
        rolling = self._rolling_counts
        if rolling is not None:
            if len(ring) == ring.maxlen:
                rolling.revert(*ring[0])
            rolling.update(truth, score)
        ring.append((truth, score))
        counts.update(truth, score)
        if self._watched:
            self._watched["roc_auc"].update(truth, score)
        return error

    @property
    def empty(self) -> bool:
        """Whether no labelled outcome arrived since the start (or the last re-baseline): every
        metric is then undefined (a snapshot reports ``null``, not River's 0)."""
        return not self._ring

    def cumulative(self) -> dict[str, float]:
        """Each metric since the start (or the last re-baseline)."""
        if self._counts is not None:
            return _finite(self._counts.values(self._names))
        return _values(self._cumulative)

    def rolling(self) -> dict[str, float]:
        """Each metric over the last ``window`` labels."""
        if self._counts is not None:
            counts = self._new_counts()
            for truth, score in self._ring:
                counts.update(truth, score)
            return _finite(counts.values(self._names))
        cm = metrics.ConfusionMatrix()  # type: ignore[no-untyped-call]
        table = {name: _make(name, self.task, cm) for name in self._cumulative}
        for pair in self._ring:
            _feed(self.task.type, table, pair, cm)
        return _values(table)

    def rolling_value(self, name: str) -> float | None:
        """One rolling metric, cheap for the metrics threshold rules watch."""
        metric = self._watched.get(name)
        if metric is not None:
            value = float(metric.get())
        elif self._rolling_counts is not None and name in self._counted:
            value = self._rolling_counts.value(name)
        else:
            return self.rolling().get(name)
        return value if math.isfinite(value) else None


_CM_METRICS = frozenset({"accuracy", "precision", "recall", "f1", "macro_f1"})


def _make(name: str, task: TaskConfig, cm: Any, rolling: bool = False) -> Any:
    if name == "roc_auc":
        if rolling:
            return metrics.RollingROCAUC(window_size=task.window)  # type: ignore[no-untyped-call]
        return metrics.ROCAUC()  # type: ignore[no-untyped-call]
    if name in ("ndcg", "mrr"):
        window = task.window if rolling else None
        return GroupRankingMetric(name, task.ranking_k, window=window, open_items=task.window)
    if rolling:
        return utils.Rolling(_RIVER[name], window_size=task.window)
    if name in _CM_METRICS and cm is not None:
        return _RIVER[name](cm=cm)
    return _RIVER[name]()


def _pair(kind: str, y_true: Any, y_pred: Any, group: str | None) -> tuple[Any, ...]:
    if kind == "binary":
        return bool(float(y_true)), float(y_pred)
    if kind == "multiclass":
        return str(y_true), str(y_pred)
    if kind == "regression":
        return float(y_true), float(y_pred)
    return group or "", float(y_pred), float(y_true)


def _feed(kind: str, table: dict[str, Any], pair: tuple[Any, ...], cm: Any) -> None:
    """Update every metric of ``table`` with one pair; a shared ``cm`` is updated once."""
    if kind == "binary":
        truth, score = pair
        label = score >= 0.5
        if cm is not None:
            cm.update(truth, label)
        for name, metric in table.items():
            if name == "roc_auc":
                metric.update(truth, score)
            elif name == "log_loss":
                metric.update(truth, min(max(score, 1e-15), 1 - 1e-15))
            elif cm is None or name not in _CM_METRICS:
                metric.update(truth, label)
    elif kind == "multiclass":
        if cm is not None:
            cm.update(pair[0], pair[1])
        for name, metric in table.items():
            if cm is None or name not in _CM_METRICS:
                metric.update(pair[0], pair[1])
    elif kind == "regression":
        for metric in table.values():
            metric.update(pair[0], pair[1])
    else:
        for metric in table.values():
            metric.update(*pair)


def _values(table: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, metric in table.items():
        value = float(metric.get())
        if math.isfinite(value):
            out[name] = value
    return out


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in values.items() if math.isfinite(value)}
