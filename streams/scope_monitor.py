"""Metrics, detectors and policies of one scope: a task, or one slice of a task."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from driftline.config.models import TaskConfig
from driftline.events import stable_id
from streams.detectors import BINARY_KINDS, RiverDetector, ThresholdDetector
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


class _Slot:
    """One detector of a scope with its policy."""

    __slots__ = ("config_hash", "detector", "metric", "name", "policy", "severity", "signal")

    def __init__(
        self,
        name: str,
        signal: str,
        severity: str,
        metric: str,
        detector: RiverDetector | ThresholdDetector,
        policy: AlertPolicy,
        config_hash: str,
    ) -> None:
        self.name, self.signal, self.severity, self.metric = name, signal, severity, metric
        self.detector, self.policy, self.config_hash = detector, policy, config_hash


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
        slots.append(
            _Slot(
                name,
                det.signal,
                det.severity,
                error_metric if det.signal == "error" else "mean_score",
                RiverDetector(det.kind, dict(det.params), seed=seed, evidence=_EVIDENCE),
                AlertPolicy.from_config(task.policy),
                stable_id(det.model_dump(), policy_dump),
            )
        )
    for rule in task.thresholds:
        slots.append(
            _Slot(
                f"threshold/{rule.metric}{rule.op}{rule.value:g}",
                "metric",
                rule.severity,
                rule.metric,
                ThresholdDetector(rule.metric, rule.op, rule.value),
                AlertPolicy.from_config(task.policy),
                stable_id(rule.model_dump(), policy_dump),
            )
        )
    return slots


class ScopeMonitor:
    """Everything monitored for one task or one slice of it.

    Parameters
    ----------
    task
        The task's config.
    seed
        Seed of randomised detectors (KSWIN).

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

    def __init__(self, task: TaskConfig, seed: int = 0) -> None:
        self.task = task
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self.metrics = MetricSet(self.task)
        self.labels = 0
        self.scores = 0
        self._slots = detector_slots(self.task, self.seed)
        self._label_slots = [slot for slot in self._slots if slot.signal != "score"]
        self._score_slots = [slot for slot in self._slots if slot.signal == "score"]
        self._label_times: deque[float] = deque(maxlen=_EVIDENCE)
        self._score_times: deque[float] = deque(maxlen=_EVIDENCE)
        self.firing_counts: dict[str, int] = {slot.name: 0 for slot in self._slots}

    def rebaseline(self) -> None:
        """New model version: fresh detectors, warm-up from here; metrics keep counting."""
        for slot in self._slots:
            slot.detector.reset()
            count = self.scores if slot.signal == "score" else self.labels
            slot.policy.rebaseline(count)

    def observe_label(self, y_true: Any, y_pred: Any, group: str | None, t: float) -> list[Firing]:
        """A labelled outcome: metrics, error detectors, threshold rules."""
        self.labels = labels = self.labels + 1
        self._label_times.append(t)
        error = self.metrics.update(y_true, y_pred, group)
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

    def observe_score(self, score: float | None, t: float) -> list[Firing]:
        """An unlabelled outcome: label-free detectors on the score/value stream."""
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
        return firings

    def _firing(
        self, slot: _Slot, count: int, times: deque[float], rolling: dict[str, float] | None
    ) -> Firing:
        det = slot.detector
        if isinstance(det, RiverDetector):
            size = max(1, min(det.evidence_size, len(times)))
            value, baseline = det.value, det.baseline
        else:
            size = min(self.task.window, count, len(times))
            value = (rolling or {}).get(slot.metric, 0.0)
            baseline = det.baseline
        return Firing(
            slot.name,
            slot.signal,
            slot.severity,
            slot.metric,
            value,
            baseline,
            count - size + 1,
            count,
            times[-size],
            times[-1],
            slot.config_hash,
        )

    def detector_state(self) -> dict[str, dict[str, float]]:
        """Per detector: firings so far, whether it is warming up (for Prometheus)."""
        state = {}
        for slot in self._slots:
            count = self.scores if slot.signal == "score" else self.labels
            state[slot.name] = {
                "firings": float(self.firing_counts[slot.name]),
                "warming_up": float(slot.policy.in_warmup(count)),
            }
        return state
