"""The River metrics of one task type, cumulative and over a rolling window of labels."""

from __future__ import annotations

import math
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

    Parameters
    ----------
    task
        The task's config: its ``type``, ``metrics``, ``window``, ``ranking_k`` and ``classes``.

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
        self._cumulative: dict[str, Any] = {}
        self._rolling: dict[str, Any] = {}
        for name in task.metrics:
            if name == "roc_auc":
                self._cumulative[name] = metrics.ROCAUC()
                self._rolling[name] = metrics.RollingROCAUC(window_size=task.window)
            elif name in ("ndcg", "mrr"):
                self._cumulative[name] = GroupRankingMetric(name, task.ranking_k)
                self._rolling[name] = GroupRankingMetric(name, task.ranking_k, window=task.window)
            else:
                self._cumulative[name] = _RIVER[name]()
                self._rolling[name] = utils.Rolling(_RIVER[name], window_size=task.window)

    def update(self, y_true: Any, y_pred: Any, group: str | None = None) -> None:
        """Add one labelled outcome."""
        kind = self.task.type
        if kind == "binary":
            truth = bool(float(y_true))
            score = float(y_pred)
            for name in self._cumulative:
                value: Any = score if name in _PROBABILISTIC else score >= 0.5
                if name == "log_loss":
                    value = min(max(score, 1e-15), 1 - 1e-15)
                self._cumulative[name].update(truth, value)
                self._rolling[name].update(truth, value)
        elif kind == "multiclass":
            truth_s, pred_s = str(y_true), str(y_pred)
            for name in self._cumulative:
                self._cumulative[name].update(truth_s, pred_s)
                self._rolling[name].update(truth_s, pred_s)
        elif kind == "regression":
            truth_f, pred_f = float(y_true), float(y_pred)
            for name in self._cumulative:
                self._cumulative[name].update(truth_f, pred_f)
                self._rolling[name].update(truth_f, pred_f)
        else:
            for name in self._cumulative:
                self._cumulative[name].update(group or "", float(y_pred), float(y_true))
                self._rolling[name].update(group or "", float(y_pred), float(y_true))

    def cumulative(self) -> dict[str, float]:
        """Each metric since the start (or the last re-baseline)."""
        return _values(self._cumulative)

    def rolling(self) -> dict[str, float]:
        """Each metric over the last ``window`` labels."""
        return _values(self._rolling)


def _values(table: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, metric in table.items():
        value = float(metric.get())
        if math.isfinite(value):
            out[name] = value
    return out
