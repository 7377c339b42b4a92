"""Per-task metrics with the monitor's names (see :data:`models.specs.METRICS`), in numpy.

``binary``: accuracy, precision, recall, f1 (threshold 0.5), roc_auc, log_loss;
``multiclass``: accuracy, macro_f1; ``regression``: mae, rmse, r2;
``ranking``: ndcg (at ``k``, mean over groups with a relevant row) and mrr (first row with
relevance > 0). A metric that is undefined on the data (roc_auc with one class) is NaN.
"""

from __future__ import annotations

import numpy as np

from models.specs import LOWER_IS_BETTER, TaskSpec

__all__ = [
    "binary_metrics",
    "higher_is_better",
    "multiclass_metrics",
    "ranking_metrics",
    "regression_metrics",
    "task_metrics",
]


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better.

    >>> higher_is_better("roc_auc"), higher_is_better("mae")
    (True, False)
    """
    return metric not in LOWER_IS_BETTER


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sorted_p = p[order]
    # average ranks over ties (Mann-Whitney U)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1]
    ends = np.r_[starts[1:], len(p)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # vectorised: no loop
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Metrics of 0/1 labels ``y`` against probabilities ``p``.

    >>> m = binary_metrics(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.3]))
    >>> m["accuracy"], m["roc_auc"], m["recall"]
    (0.75, 1.0, 0.5)
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    if len(y) == 0:
        return {
            name: float("nan")
            for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
        }
    hard = (p >= 0.5).astype(np.float64)
    tp = float(((hard == 1) & (y == 1)).sum())
    fp = float(((hard == 1) & (y == 0)).sum())
    fn = float(((hard == 0) & (y == 1)).sum())
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    return {
        "accuracy": float((hard == y).mean()),
        "precision": precision,
        "recall": recall,
        "f1": _safe_div(2 * precision * recall, precision + recall),
        "roc_auc": _roc_auc(y, p),
        "log_loss": float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()),
    }


def multiclass_metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Metrics of class indices ``y`` against class probabilities ``probs`` (rows × classes).

    >>> multiclass_metrics(np.array([0, 1, 2]), np.eye(3)[[0, 1, 1]])
    {'accuracy': 0.6666666666666666, 'macro_f1': 0.5555555555555555}
    """
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan")}
    pred = np.asarray(probs).argmax(axis=1)
    f1s = []
    for c in np.union1d(y, pred):
        tp = float(((pred == c) & (y == c)).sum())
        precision = _safe_div(tp, float((pred == c).sum()))
        recall = _safe_div(tp, float((y == c).sum()))
        f1s.append(_safe_div(2 * precision * recall, precision + recall))
    return {"accuracy": float((pred == y).mean()), "macro_f1": float(np.mean(f1s))}


def regression_metrics(y: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """Metrics of targets ``y`` against predictions ``v``.

    >>> regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))["mae"]
    0.3333333333333333
    """
    y, v = np.asarray(y, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if len(y) == 0:
        return {"mae": float("nan"), "rmse": float("nan"), "r2": float("nan")}
    err = v - y
    total = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / total if total > 0 else float("nan"),
    }


def ranking_metrics(
    y: np.ndarray, s: np.ndarray, group: np.ndarray, k: int = 10
) -> dict[str, float]:
    """NDCG@k and MRR of relevance ``y`` against scores ``s``, per ``group``, averaged.

    >>> ranking_metrics(np.array([1, 0, 0, 1]), np.array([0.9, 0.1, 0.8, 0.2]), np.array([0, 0, 1, 1]))
    {'ndcg': 0.8154648767857288, 'mrr': 0.75}
    """
    y, s, group = np.asarray(y, dtype=np.float64), np.asarray(s), np.asarray(group)
    ndcgs, rrs = [], []
    for g in np.unique(group):
        rows = group == g
        rel, score = y[rows], s[rows]
        order = np.argsort(-score, kind="mergesort")
        gains = (2.0 ** rel[order] - 1)[:k]
        discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
        ideal = ((2.0 ** np.sort(rel)[::-1] - 1)[:k] * discounts).sum()
        if ideal > 0:
            ndcgs.append(float((gains * discounts).sum() / ideal))
        relevant = np.flatnonzero(rel[order] > 0)
        if len(relevant):
            rrs.append(1.0 / (relevant[0] + 1))
    return {
        "ndcg": float(np.mean(ndcgs)) if ndcgs else float("nan"),
        "mrr": float(np.mean(rrs)) if rrs else float("nan"),
    }


def task_metrics(
    spec: TaskSpec, y: np.ndarray, prediction: np.ndarray, group: np.ndarray | None = None
) -> dict[str, float]:
    """The metrics of ``spec.type`` for labelled rows (``y`` already without missing labels)."""
    if spec.type == "binary":
        return binary_metrics(y, prediction)
    if spec.type == "multiclass":
        return multiclass_metrics(y, prediction)
    if spec.type == "regression":
        return regression_metrics(y, prediction)
    if group is None:
        raise ValueError(f"ranking task {spec.name!r} needs group ids")
    return ranking_metrics(y, prediction, group, spec.ranking_k)
