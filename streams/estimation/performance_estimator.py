"""Performance estimated from predictions alone (before their labels), compared when labels come.

Binary and multiclass heads: confidence-based performance estimation (CBPE, as NannyML does it):
the scores are calibrated on a labelled reference (:class:`BinnedCalibrator`), and the expected
confusion counts of a chunk of predictions give its expected accuracy, and, for a binary head,
its expected ROC AUC (the expected positives and negatives per score bin give the expected ROC
curve). Regression heads: a direct loss estimate, the reference's mean absolute and squared error
per bin of the predicted value. Chunks are spans of ``chunk`` seconds of prediction event time;
when their labels arrive (``labelled`` outcomes carry the prediction's time), each chunk also
gets the realised metrics, and the estimation error is their difference.

Estimates are only as good as the calibration: a change of the concept (of P(y | x)) is invisible
to them; a change of the inputs that moves predictions towards uncertain scores is not.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.estimation.calibrator import BinnedCalibrator

__all__ = ["ESTIMATED_METRICS", "ChunkEstimate", "PerformanceEstimator"]

ESTIMATED_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("estimated_roc_auc", "estimated_accuracy"),
    "multiclass": ("estimated_accuracy",),
    "regression": ("estimated_mae", "estimated_rmse"),
    "ranking": (),
}
"""The estimated metrics of each task type; ``estimated_X`` is compared with the realised ``X``."""

_LOSS = (0.0, math.inf)
_ROC_BINS = 100  # score bins of the expected and realised ROC curves (ties within a bin: 1/2)
_MAX_CHUNKS = 48  # chunks kept for the comparison with their labels (state size)


@dataclass(slots=True)
class _Sums:
    """Per-chunk sums, for the estimate (expected values) or the realised values (labels)."""

    n: float = 0.0
    correct: float = 0.0  # or the sum of absolute errors (regression)
    squared: float = 0.0  # regression: sum of squared errors
    pos: array[float] = field(default_factory=lambda: array("f"))  # binary: per score bin
    neg: array[float] = field(default_factory=lambda: array("f"))
    final: dict[str, float] | None = None  # a closed chunk's estimate (its bins are dropped)

    def metrics(self, task_type: str) -> dict[str, float]:
        if self.final is not None:
            return dict(self.final)
        if not self.n:
            return {}
        if task_type == "regression":
            return {"mae": self.correct / self.n, "rmse": math.sqrt(self.squared / self.n)}
        out = {"accuracy": self.correct / self.n}
        if task_type == "binary":
            auc = _binned_auc(self.pos, self.neg)
            if auc is not None:
                out["roc_auc"] = auc
        return out


@dataclass(slots=True)
class ChunkEstimate:
    """One chunk of prediction time: its estimated and (so far) realised metrics."""

    start: float
    predictions: int
    estimated: dict[str, float]
    realised: dict[str, float]
    labels: int


class PerformanceEstimator:
    """Estimates a task's metrics per chunk of predictions, before their labels.

    Parameters
    ----------
    task_type
        ``binary``, ``multiclass`` or ``regression``.
    reference
        Labels that calibrate the estimator (after the start or a model-version change).
    chunk
        Seconds of prediction event time per estimate.
    bins
        Score bins of the calibration (and of the ROC curve).
    keep
        Chunks kept for the comparison with their labels (at most 48: the estimation error of
        a task whose labels come later than 48 chunks is not reported; make ``chunk`` longer).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> est = PerformanceEstimator("binary", reference=2000, chunk=5000.0)
    >>> for i in range(2000):                     # calibrated scores: P(y = 1) = score
    ...     s = rng.random()
    ...     est.observe_label(int(rng.random() < s), s, None, float(i))
    >>> closed = []
    >>> for i in range(2000, 12000):
    ...     closed += est.observe_prediction(rng.random(), None, float(i))[1]
    >>> round(closed[0].estimated["estimated_roc_auc"], 2)   # uniform calibrated scores: 5/6
    0.83
    """

    def __init__(
        self,
        task_type: str,
        reference: int = 2000,
        chunk: float = 3600.0,
        bins: int = 50,
        keep: int = 200,
    ) -> None:
        if task_type not in ("binary", "multiclass", "regression"):
            raise ValueError(f"no performance estimate for {task_type!r} tasks")
        if reference < 10 or chunk <= 0 or keep < 1:
            raise ValueError("reference must be >= 10, chunk > 0 and keep >= 1")
        self.task_type = task_type
        self.reference = reference
        self.chunk = chunk
        self.bins = bins
        self.keep = keep
        self._reset()

    def _reset(self) -> None:
        self._ref_scores: list[float] = []
        self._ref_targets: list[float] = []
        self._ref_squared: list[float] = []
        if self.task_type == "regression":  # losses per bin of the predicted value
            self._calibrator = BinnedCalibrator(self.bins, monotone=False, bounds=_LOSS)
        else:  # P(y = 1 | score), P(right | probability of the predicted class)
            self._calibrator = BinnedCalibrator(self.bins, monotone=True)
        self._squared = BinnedCalibrator(self.bins, monotone=False, bounds=_LOSS)
        self._roc_edges: list[float] = []  # finer bins of the expected ROC curve
        self.fitted = False
        self._chunks: dict[int, tuple[_Sums, _Sums]] = {}
        self._current: int | None = None
        self.last: ChunkEstimate | None = None

    def reset(self) -> None:
        """A new model version: calibrate again on its labels."""
        self._reset()

    # ------------------------------------------------------------------------------ input

    def observe_label(self, y_true: Any, y_pred: Any, probs: dict[str, float] | None,
                      t: float) -> None:  # fmt: skip
        """A labelled prediction (event time ``t`` of the prediction)."""
        score = self._score(y_pred, probs)
        if score is None:
            return
        target = self._target(y_true, y_pred)
        if not self.fitted:
            self._ref_scores.append(score)
            self._ref_targets.append(target)
            self._ref_squared.append(self._squared_loss(y_true, y_pred))
            if len(self._ref_scores) >= self.reference:
                self._fit()
            return
        sums = self._chunks.get(math.floor(t / self.chunk))
        if sums is None:
            return
        real = sums[1]
        real.n += 1
        if self.task_type == "regression":
            real.correct += target
            real.squared += self._squared_loss(y_true, y_pred)
            return
        real.correct += target if self.task_type == "multiclass" else _correct(score, target)
        if self.task_type == "binary":
            b = bisect.bisect_right(self._roc_edges, score)
            if target:
                real.pos[b] += 1.0
            else:
                real.neg[b] += 1.0

    def observe_prediction(
        self, y_pred: Any, probs: dict[str, float] | None, t: float
    ) -> tuple[float | None, list[ChunkEstimate]]:
        """A prediction: its expected error (``None`` before calibration) and the chunks that
        closed (a prediction of a later chunk closes the earlier ones)."""
        if not self.fitted:
            return None, []
        score = self._score(y_pred, probs)
        if score is None:
            return None, []
        index = math.floor(t / self.chunk)
        closed: list[ChunkEstimate] = []
        if self._current is None or index > self._current:
            if self._current is not None:
                closed.append(self._close(self._current))
                self.last = closed[-1]
            self._current = index
            while len(self._chunks) >= min(self.keep, _MAX_CHUNKS):
                del self._chunks[min(self._chunks)]
        elif index < self._current:
            return None, []  # a chunk that closed already: its estimate is final
        sums = self._chunks.get(index)
        if sums is None:
            sums = self._chunks[index] = (self._new_sums(), self._new_sums())
        est = sums[0]
        est.n += 1
        cal = self._calibrator.predict(score)
        if self.task_type == "regression":
            est.correct += cal
            est.squared += self._squared.predict(score)
            return cal, closed
        if self.task_type == "multiclass":
            est.correct += cal
            return 1.0 - cal, closed
        b = bisect.bisect_right(self._roc_edges, score)
        est.pos[b] += cal
        est.neg[b] += 1.0 - cal
        expected_correct = cal if score >= 0.5 else 1.0 - cal
        est.correct += expected_correct
        return 1.0 - expected_correct, closed

    # ------------------------------------------------------------------------------ output

    def estimates(self) -> dict[str, float]:
        """The estimated metrics of the last closed chunk (``{}`` before one closed)."""
        return dict(self.last.estimated) if self.last is not None else {}

    def chunks(self) -> list[ChunkEstimate]:
        """Every kept chunk, oldest first, with its realised metrics so far."""
        return [self._summary(index) for index in sorted(self._chunks)]

    def estimation_error(self, min_labels: int = 100) -> dict[str, float]:
        """Mean |estimated - realised| per metric over kept chunks with ``min_labels`` labels."""
        errors: dict[str, list[float]] = {}
        for chunk in self.chunks():
            if chunk.labels < min_labels:
                continue
            for name, value in chunk.estimated.items():
                real = chunk.realised.get(name.removeprefix("estimated_"))
                if real is not None:
                    errors.setdefault(name, []).append(abs(value - real))
        return {name: sum(v) / len(v) for name, v in errors.items()}

    # ------------------------------------------------------------------------------ internals

    def _fit(self) -> None:
        self._calibrator.fit(self._ref_scores, self._ref_targets)
        if self.task_type == "regression":
            self._squared.fit(self._ref_scores, self._ref_squared)
        ordered = sorted(self._ref_scores)
        n = len(ordered)
        cuts = min(_ROC_BINS, n)
        self._roc_edges = sorted({ordered[(i * n) // cuts] for i in range(1, cuts)})
        self._ref_scores, self._ref_targets, self._ref_squared = [], [], []
        self.fitted = True

    def _new_sums(self) -> _Sums:
        if self.task_type != "binary":
            return _Sums()
        size = len(self._roc_edges) + 1
        return _Sums(pos=array("f", bytes(4 * size)), neg=array("f", bytes(4 * size)))

    def _close(self, index: int) -> ChunkEstimate:
        """The chunk's final estimate; its estimate bins are no longer needed (state size)."""
        summary = self._summary(index)
        est = self._chunks[index][0]
        est.final = {k.removeprefix("estimated_"): v for k, v in summary.estimated.items()}
        est.pos, est.neg = array("f"), array("f")
        return summary

    def _summary(self, index: int) -> ChunkEstimate:
        est, real = self._chunks[index]
        estimated = {f"estimated_{k}": v for k, v in est.metrics(self.task_type).items()}
        return ChunkEstimate(index * self.chunk, int(est.n), estimated,
                             real.metrics(self.task_type), int(real.n))  # fmt: skip

    def _score(self, y_pred: Any, probs: dict[str, float] | None) -> float | None:
        if self.task_type == "multiclass":
            return probs.get(str(y_pred)) if probs else None
        try:
            return float(y_pred)
        except (TypeError, ValueError):
            return None

    def _target(self, y_true: Any, y_pred: Any) -> float:
        """The calibration target: the label (binary), right (multiclass), |error| (regression)."""
        if self.task_type == "binary":
            return float(bool(float(y_true)))
        if self.task_type == "multiclass":
            return float(str(y_true) == str(y_pred))
        return abs(float(y_true) - float(y_pred))

    def _squared_loss(self, y_true: Any, y_pred: Any) -> float:
        if self.task_type != "regression":
            return 0.0
        return (float(y_true) - float(y_pred)) ** 2


def _correct(score: float, label: float) -> float:
    return float((score >= 0.5) == bool(label))


def _binned_auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """ROC AUC from positives and negatives per ascending score bin (ties count one half)."""
    total_pos, total_neg = sum(pos), sum(neg)
    if total_pos <= 0 or total_neg <= 0:
        return None
    below = 0.0
    area = 0.0
    for p, n in zip(pos, neg, strict=True):
        area += p * (below + 0.5 * n)
        below += n
    return area / (total_pos * total_neg)
