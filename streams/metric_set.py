"""The River metrics of one task type, cumulative and over a rolling window of labels."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from river import metrics, utils

from driftline.config.models import TaskConfig
from streams.ranking import GroupRankingMetric

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

    Cumulative metrics update per label, and the confusion-matrix ones (accuracy, precision,
    recall, F1, macro F1) share one matrix, so a label costs one matrix update for all of them.
    Rolling metrics are computed from a ring of the last ``window`` labels when they are read
    (snapshots, ``/metrics``), except those a threshold rule watches: these update per label.

    Parameters
    ----------
    task
        The task's config: its ``type``, ``metrics``, ``window``, ``ranking_k``, ``classes`` and
        ``thresholds``.

    Examples
    --------
    >>> from driftline.config.models import TaskConfig
    >>> ms = MetricSet(TaskConfig(type="regression", window=2))
    >>> for y, p in [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]:
    ...     ms.update(y, p)
    >>> ms.cumulative()["mae"], ms.rolling()["mae"]
    (1.0, 1.5)
    """

    def __init__(self, task: TaskConfig) -> None:
        self.task = task
        self._reset()

    def _reset(self) -> None:
        task = self.task
        self._cm = metrics.ConfusionMatrix()
        self._cumulative: dict[str, Any] = {}
        self._watched: dict[str, Any] = {}
        self._ring: deque[tuple[Any, ...]] = deque(maxlen=task.window)
        watched = {rule.metric for rule in task.thresholds}
        for name in task.metrics:
            self._cumulative[name] = _make(name, task, self._cm)
            if name in watched:
                self._watched[name] = _make(name, task, None, rolling=True)

    def update(self, y_true: Any, y_pred: Any, group: str | None = None) -> None:
        """Add one labelled outcome."""
        pair = _pair(self.task.type, y_true, y_pred, group)
        self._ring.append(pair)
        _feed(self.task.type, self._cumulative, pair, self._cm)
        if self._watched:
            _feed(self.task.type, self._watched, pair, None)

    def cumulative(self) -> dict[str, float]:
        """Each metric since the start (or the last re-baseline)."""
        return _values(self._cumulative)

    def rolling(self) -> dict[str, float]:
        """Each metric over the last ``window`` labels."""
        cm = metrics.ConfusionMatrix()
        table = {name: _make(name, self.task, cm) for name in self._cumulative}
        for pair in self._ring:
            _feed(self.task.type, table, pair, cm)
        return _values(table)

    def rolling_value(self, name: str) -> float | None:
        """One rolling metric, cheap for the metrics threshold rules watch."""
        metric = self._watched.get(name)
        if metric is None:
            return self.rolling().get(name)
        value = float(metric.get())
        return value if math.isfinite(value) else None


_CM_METRICS = frozenset({"accuracy", "precision", "recall", "f1", "macro_f1"})


def _make(name: str, task: TaskConfig, cm: Any, rolling: bool = False) -> Any:
    if name == "roc_auc":
        return metrics.RollingROCAUC(window_size=task.window) if rolling else metrics.ROCAUC()
    if name in ("ndcg", "mrr"):
        return GroupRankingMetric(name, task.ranking_k, window=task.window if rolling else None)
    if rolling:
        return utils.Rolling(_RIVER[name](), window_size=task.window)
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
