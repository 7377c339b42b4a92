"""The metrics of a binary task from running counts, equal to River's to the last bit (or 1e-12).

River keeps one confusion matrix per metric family and ten more inside ``ROCAUC``: eleven dict
updates per label. Every binary metric the monitor reports is a function of a few counts, so one
label here is a handful of integer increments:

* accuracy, precision, recall and F1 come from the confusion counts of ``score >= 0.5``;
* log loss is River's running mean of ``-log(p)`` (same update, so the same floats);
* ROC AUC is River's :class:`river.metrics.ROCAUC` (ten thresholds spanning ``[0, 1]``): a label
  with ``k`` thresholds below its score counts in bin ``k`` of the positives or negatives, and a
  threshold's true/false positives are the sums of the bins above it.

Every update can be reverted, so the same object serves a rolling window.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from scipy import integrate

__all__ = ["BinaryMetrics"]

_EPSILON = 1e-15
_ONE_LESS = 1 - _EPSILON


class BinaryMetrics:
    """Accuracy, precision, recall, F1, log loss and ROC AUC of (label, score) pairs.

    Parameters
    ----------
    n_thresholds
        Thresholds of the ROC curve, as River's ``ROCAUC(n_thresholds=...)``.
    roc_auc
        Keep the counts ROC AUC needs (``False``: ``roc_auc`` is not asked for; skip them).
    log_loss
        Keep the running log loss (``False``: skip a logarithm per label).

    Examples
    --------
    >>> m = BinaryMetrics()
    >>> for truth, score in [(True, 0.9), (False, 0.3), (True, 0.4), (False, 0.6)]:
    ...     m.update(truth, score)
    >>> values = m.values(["accuracy", "precision", "recall", "f1", "roc_auc"])
    >>> {name: round(value, 4) for name, value in values.items()}
    {'accuracy': 0.5, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'roc_auc': 0.75}
    >>> m.revert(False, 0.6)
    >>> m.values(["precision"])
    {'precision': 1.0}
    """

    NAMES = frozenset({"accuracy", "precision", "recall", "f1", "log_loss", "roc_auc"})
    """The metrics this class computes."""

    def __init__(self, n_thresholds: int = 10, roc_auc: bool = True, log_loss: bool = True) -> None:
        if n_thresholds < 2:
            raise ValueError(f"n_thresholds must be >= 2, got {n_thresholds}")
        self.n_thresholds = n_thresholds
        self.roc_auc = roc_auc
        self.log_loss = log_loss
        self._reset()

    def _reset(self) -> None:
        count = self.n_thresholds
        thresholds = [i / (count - 1) for i in range(count)]
        thresholds[0] -= 1e-7
        thresholds[-1] += 1e-7
        self._thresholds = thresholds
        self.n = 0
        self.tp = 0
        self.fp = 0
        self.fn = 0
        self.tn = 0
        self._loss_n = 0.0
        self._loss_mean = 0.0
        # labels whose score exceeds exactly k thresholds, k = 0..n_thresholds
        self._positives = [0] * (count + 1)
        self._negatives = [0] * (count + 1)

    def update(self, truth: bool, score: float) -> None:
        """Add one label (``truth``) and the predicted probability of ``True`` (``score``)."""
        self._count(truth, score, 1)
        if not self.log_loss:
            return
        loss = _log_loss(truth, score)
        self._loss_n += 1.0
        self._loss_mean += (1.0 / self._loss_n) * (loss - self._loss_mean)

    def revert(self, truth: bool, score: float) -> None:
        """Remove a pair :meth:`update` added (the oldest of a rolling window)."""
        self._count(truth, score, -1)
        if not self.log_loss:
            return
        loss = _log_loss(truth, score)
        self._loss_n -= 1.0
        if self._loss_n <= 0:
            self._loss_n, self._loss_mean = 0.0, 0.0
        else:
            self._loss_mean -= (1.0 / self._loss_n) * (loss - self._loss_mean)

    def _count(self, truth: bool, score: float, step: int) -> None:
        self.n += step
        if truth:
            if self.roc_auc:
                self._positives[bisect_left(self._thresholds, score)] += step
            if score >= 0.5:
                self.tp += step
            else:
                self.fn += step
        else:
            if self.roc_auc:
                self._negatives[bisect_left(self._thresholds, score)] += step
            if score >= 0.5:
                self.fp += step
            else:
                self.tn += step

    def values(self, names: list[str] | tuple[str, ...]) -> dict[str, float]:
        """The current value of each metric in ``names`` (River's value before any label)."""
        out: dict[str, float] = {}
        for name in names:
            out[name] = self.value(name)
        return out

    def value(self, name: str) -> float:
        """One metric's current value."""
        tp, fp, fn = self.tp, self.fp, self.fn
        if name == "accuracy":
            return (tp + self.tn) / self.n if self.n else 0.0
        if name == "precision":
            return tp / (tp + fp) if tp + fp else 0.0
        if name == "recall":
            return tp / (tp + fn) if tp + fn else 0.0
        if name == "f1":
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            return (1 + 1) * p * r / (1 * p + r) if p + r else 0.0
        if name == "log_loss" and self.log_loss:
            return self._loss_mean
        if name == "roc_auc" and self.roc_auc:
            return self._roc_auc()
        raise ValueError(
            f"binary metric {name!r} is unknown or was not kept; use one of {sorted(self.NAMES)}"
            " (build with roc_auc=True/log_loss=True to keep those)"
        )

    def _roc_auc(self) -> float:
        positives, negatives = sum(self._positives), sum(self._negatives)
        tprs, fprs = [], []
        tp_above, fp_above = positives, negatives
        for i in range(self.n_thresholds):
            # threshold i is exceeded by the labels in bins i+1 and up
            tp_above -= self._positives[i]
            fp_above -= self._negatives[i]
            tprs.append(tp_above / positives if positives else 0.0)
            fprs.append(fp_above / negatives if negatives else 0.0)
        return float(-integrate.trapezoid(x=fprs, y=tprs))


def _log_loss(truth: bool, score: float) -> float:
    p = _EPSILON if score < _EPSILON else score  # min(max(score, ε), 1 - ε), without calls
    p = _ONE_LESS if p > _ONE_LESS else p
    return -math.log(p) if truth else -math.log(1 - p)
