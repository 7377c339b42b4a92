"""Metrics, detectors and policies of one scope: a task, or one slice of a task."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from driftline.config.models import DetectorConfig, TaskConfig
from driftline.events import stable_id
from streams.detectors import BINARY_KINDS, ReferenceScale, RiverDetector, ThresholdDetector
from streams.estimation import PerformanceEstimator
from streams.metric_set import MetricSet
from streams.policy import AlertPolicy

__all__ = ["Firing", "ScopeMonitor"]

_EVIDENCE = 50


@dataclass(frozen=True, slots=True)
class Firing:
    """A detector firing that the policy turned into an alert (not yet an event)."""

    detector: str
    signal: str
    severity: str
    metric: str
    value: float
    baseline: float | None
    start_count: int
    end_count: int
    start_time: float
    end_time: float
    config_hash: str
    null_rate: float | None = None  # the detector's calibrated false alarms per value


class _Slot:
    """One detector of a scope with its policy."""

    __slots__ = (
        "config_hash",
        "detector",
        "metric",
        "name",
        "null_rate",
        "policy",
        "severity",
        "signal",
    )

    def __init__(
        self,
        name: str,
        signal: str,
        severity: str,
        metric: str,
        detector: RiverDetector | ThresholdDetector,
        policy: AlertPolicy,
        config_hash: str,
        null_rate: float | None = None,
    ) -> None:
        self.name, self.signal, self.severity, self.metric = name, signal, severity, metric
        self.detector, self.policy, self.config_hash = detector, policy, config_hash
        self.null_rate = null_rate


def detector_slots(task: TaskConfig, seed: int = 0) -> list[_Slot]:
    """The configured detectors and threshold rules of a task, each with its own policy.

    Raises ``ValueError`` for a configuration that cannot work (a 0/1 detector on a numeric signal).
    """
    slots: list[_Slot] = []
    policy_dump = task.policy.model_dump()
    error_metric = "error_rate" if task.type in ("binary", "multiclass") else "abs_error"
    seen: dict[str, int] = {}
    for det in task.detectors:
        if det.kind in BINARY_KINDS and (
            det.signal == "score" or task.type not in ("binary", "multiclass")
        ):
            raise ValueError(
                f"detector {det.kind} needs a 0/1 signal (the error of a binary or multiclass task);"
                f" use adwin, page_hinkley or kswin for signal {det.signal!r} of a {task.type} task"
            )
        base = f"{det.kind}/{det.signal}"
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        metric = {"error": error_metric, "score": "mean_score"}.get(det.signal, "expected_error")
        slots.append(
            _Slot(
                name,
                det.signal,
                det.severity or "warning",
                metric,
                RiverDetector(
                    det.kind,
                    dict(det.params),
                    seed=seed,
                    evidence=_EVIDENCE,
                    scale=signal_scale(task, det),
                ),
                AlertPolicy.from_config(task.policy),
                stable_id(det.model_dump(), policy_dump),
                None if det.null_alarms_per_1m is None else det.null_alarms_per_1m / 1e6,
            )
        )
    for rule in task.thresholds:
        slots.append(
            _Slot(
                f"threshold/{rule.metric}{rule.op}{rule.value:g}",
                "estimate" if rule.metric.startswith("estimated_") else "metric",
                rule.severity,
                rule.metric,
                ThresholdDetector(rule.metric, rule.op, rule.value),
                AlertPolicy.from_config(task.policy),
                stable_id(rule.model_dump(), policy_dump),
            )
        )
    return slots


def signal_scale(task: TaskConfig, det: DetectorConfig) -> ReferenceScale | None:
    """The :class:`ReferenceScale` a detector sees its signal through, ``None`` for raw values.

    ``scale: auto`` rescales the numeric signals: a regression task's error and value, and a
    ranking task's score; it scales down the 0/1 error of a binary or multiclass task when it is
    noisier than a 10 % error rate; a binary or multiclass score (in [0, 1]) and a ranking error
    (in [0, 1]) go in as they are. ``scale: reference`` rescales whatever the signal.
    """
    if det.kind in BINARY_KINDS or det.scale == "raw":
        return None
    zero_one = det.signal == "error" and task.type in ("binary", "multiclass")
    numeric = task.type == "regression" or (task.type == "ranking" and det.signal == "score")
    if det.scale == "auto" and not (numeric or zero_one):
        return None
    non_negative = det.signal != "score"
    return ReferenceScale(det.reference, clip=0.01, non_negative=non_negative, zero_one=zero_one)


class ScopeMonitor:
    """Everything monitored for one task or one slice of it.

    Parameters
    ----------
    task
        The task's config.
    seed
        Seed of randomised detectors (KSWIN).
    estimate
        Whether this scope estimates performance before labels (the task's overall scope, when
        its ``estimate`` is enabled).

    Examples
    --------
    >>> from driftline.config.models import TaskConfig, DetectorConfig, AlertPolicy as P
    >>> task = TaskConfig(type="binary", detectors=[DetectorConfig(kind="adwin")],
    ...                   policy=P(min_samples=100, warmup=0, cooldown=10_000))
    >>> scope = ScopeMonitor(task)
    >>> firings = []
    >>> for i in range(3000):
    ...     wrong = i >= 1500
    ...     firings += scope.observe_label(1, 0.1 if wrong else 0.9, None, float(i))
    >>> [(f.detector, f.end_count > 1500) for f in firings]
    [('adwin/error', True)]
    """

    def __init__(self, task: TaskConfig, seed: int = 0, estimate: bool = False) -> None:
        self.task = task
        self.seed = seed
        self.estimate = estimate
        self._reset()

    def _reset(self) -> None:
        self.metrics = MetricSet(self.task)
        self.labels = 0
        self.scores = 0
        self._slots = detector_slots(self.task, self.seed)
        self._label_slots = [slot for slot in self._slots if slot.signal in ("error", "metric")]
        self._score_slots = [slot for slot in self._slots if slot.signal == "score"]
        self._expected_slots = [slot for slot in self._slots if slot.signal == "expected_error"]
        self._estimate_slots = [slot for slot in self._slots if slot.signal == "estimate"]
        config = self.task.estimate
        self.estimator = (
            PerformanceEstimator(
                self.task.type,
                reference=config.reference,
                chunk=config.chunk,
                bins=config.bins,
                keep=max(2, math.ceil(1.5 * self.task.label_delay / config.chunk) + 2),
            )
            if self.estimate and config.enabled
            else None
        )
        self._label_times: deque[float] = deque(maxlen=_EVIDENCE)
        self._score_times: deque[float] = deque(maxlen=_EVIDENCE)
        self.firing_counts: dict[str, int] = {slot.name: 0 for slot in self._slots}

    def rebaseline(self) -> None:
        """New model version: fresh detectors, warm-up from here; metrics keep counting."""
        for slot in self._slots:
            slot.detector.reset()
            slot.policy.rebaseline(self._count_of(slot))
        if self.estimator is not None:
            self.estimator.reset()

    def _count_of(self, slot: _Slot) -> int:
        """The position in the slot's own stream: labels, or predictions for label-free ones."""
        return self.labels if slot.signal in ("error", "metric") else self.scores

    def observe_label(
        self,
        y_true: Any,
        y_pred: Any,
        group: str | None,
        t: float,
        probs: dict[str, float] | None = None,
    ) -> list[Firing]:
        """A labelled outcome: metrics, error detectors, threshold rules."""
        self.labels = labels = self.labels + 1
        self._label_times.append(t)
        error = self.metrics.update(y_true, y_pred, group)
        if self.estimator is not None:
            self.estimator.observe_label(y_true, y_pred, probs, t)
        rolling: dict[str, float] | None = None
        firings: list[Firing] = []
        for slot in self._label_slots:
            if slot.signal == "error":
                fired = slot.detector.update(error)
            else:
                value = self.metrics.rolling_value(slot.metric)
                if value is not None:
                    rolling = {**(rolling or {}), slot.metric: value}
                fired = value is not None and slot.detector.update(value)
            if fired:
                self.firing_counts[slot.name] += 1
                if slot.policy.observe(labels, fired):
                    firings.append(self._firing(slot, labels, self._label_times, rolling))
        return firings

    def observe_score(
        self,
        score: float | None,
        t: float,
        y_pred: Any = None,
        probs: dict[str, float] | None = None,
    ) -> list[Firing]:
        """An unlabelled outcome: label-free detectors on the score/value stream, and the
        performance estimate (its expected error and, per closed chunk, estimated metrics)."""
        if score is None:
            return []
        self.scores = scores = self.scores + 1
        self._score_times.append(t)
        firings: list[Firing] = []
        for slot in self._score_slots:
            if slot.detector.update(score):
                self.firing_counts[slot.name] += 1
                if slot.policy.observe(scores, True):
                    firings.append(self._firing(slot, scores, self._score_times, None))
        if self.estimator is None:
            return firings
        expected, closed = self.estimator.observe_prediction(y_pred, probs, t)
        if expected is not None:
            for slot in self._expected_slots:
                if slot.detector.update(expected):
                    self.firing_counts[slot.name] += 1
                    if slot.policy.observe(scores, True):
                        firings.append(self._firing(slot, scores, self._score_times, None))
        minimum = self.task.estimate.min_predictions
        for chunk in closed:
            if chunk.predictions < minimum:
                continue
            for slot in self._estimate_slots:
                value = chunk.estimated.get(slot.metric)
                if value is None or not slot.detector.update(value):
                    continue
                self.firing_counts[slot.name] += 1
                if slot.policy.observe(scores, True):
                    firing = self._firing(slot, scores, self._score_times, {slot.metric: value})
                    firings.append(firing)
        return firings

    def estimated(self) -> dict[str, float]:
        """The estimated metrics of the last closed chunk and, per metric, the mean absolute
        estimation error (``<metric>_error``) over the chunks whose labels came."""
        if self.estimator is None:
            return {}
        out = self.estimator.estimates()
        for name, error in self.estimator.estimation_error().items():
            out[f"{name}_error"] = error
        return out

    def _firing(
        self, slot: _Slot, count: int, times: deque[float], rolling: dict[str, float] | None
    ) -> Firing:
        det = slot.detector
        if isinstance(det, RiverDetector):
            size = max(1, min(det.evidence_size, len(times)))
            value, baseline = det.value, det.baseline
        else:
            size = min(self.task.window, count, len(times))
            if slot.signal == "estimate":
                size = min(self.task.estimate.min_predictions, count, len(times))
            value = (rolling or {}).get(slot.metric, 0.0)
            baseline = det.baseline
        return Firing(
            slot.name,
            "metric" if slot.signal == "estimate" else slot.signal,
            slot.severity,
            slot.metric,
            value,
            baseline,
            count - size + 1,
            count,
            *_span(times, size),
            slot.config_hash,
            slot.null_rate,
        )

    def detector_state(self) -> dict[str, dict[str, float]]:
        """Per detector: firings so far, whether it is warming up (for Prometheus)."""
        state = {}
        for slot in self._slots:
            count = self._count_of(slot)
            state[slot.name] = {
                "firings": float(self.firing_counts[slot.name]),
                "warming_up": float(slot.policy.in_warmup(count)),
            }
        return state


def _span(times: deque[float], size: int) -> tuple[float, float]:
    """Earliest and latest event time of the last ``size`` values: outcomes of several input
    partitions arrive out of event-time order, so the first and last of them need not be."""
    window = [times[i] for i in range(len(times) - size, len(times))]
    return min(window), max(window)
