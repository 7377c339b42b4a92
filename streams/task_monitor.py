"""Stage 2 logic: everything monitored for one (model, task), fed by outcomes.

A :class:`TaskMonitor` applies outcomes in order and returns the events they cause (alerts, retrain
requests, metric snapshots). Its state is one picklable value that holds a
:class:`~streams.replay_filter.ReplayFilter`, so an outcome stage 1 sends again after a restart is
skipped, and its :class:`~streams.outcome_order.OutcomeOrder` (the last outcome applied in order
and the ``outcomes`` records read), so its own replay is skipped too: the monitor is exact
across restarts as long as both are saved with it.

Alert ids are ``stable_id(model, version, task, slice, detector, n)`` for the n-th alert of that
detector on that model version: the outcomes of several input partitions reach a task in an order
that a crash can change, so an alert may fire a few labels earlier or later after one (a new
evidence window), but it keeps its id and consumers drop the repeat.

After a ``version`` outcome (a promotion or rollback) the monitor is pinned to that version:
outcomes of other versions (the old champion's predictions still being labelled) are counted
(and, as ``stale``, once more) but feed no metric or detector, so they cannot raise an alarm
against the new baseline.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections import Counter
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.events import Alert, EvidenceWindow, RetrainRequest, TaskMetrics, stable_id
from streams.errors import RESET_STATE, CheckpointError
from streams.features import FeatureAlerts
from streams.metric_set import MetricSet
from streams.outcome import Outcome
from streams.outcome_order import OutcomeOrder
from streams.policy import RetrainTrigger, WarningLimit
from streams.records import to_datetime
from streams.replay_filter import ReplayFilter
from streams.request_hold import RequestHold
from streams.scope_monitor import Firing, ScopeMonitor
from streams.state_budget import OTHER, slice_cap

__all__ = ["STATE_FORMAT", "TaskMonitor"]

STATE_FORMAT = "driftline.task-monitor-state/3"
"""The mark on every stored monitor state; change it whenever the pickled classes change."""

_NOT_STORED = frozenset({"config", "_slice_counts"})

log = logging.getLogger(__name__)

SliceKey = tuple[tuple[str, str], ...]
MonitorOutput = Alert | RetrainRequest | TaskMetrics


class TaskMonitor:
    """Per-task (and per-slice) metrics, detectors, alert policy and retrain trigger.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    model
        The model monitored.
    task
        The task's name (a key of ``config.tasks``).
    seed
        Seed of randomised detectors.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> mon = TaskMonitor(cfg, "m", "churn")
    >>> o = Outcome("labelled", "m", "1", "churn", "p-1", 0.0, ("labels", 0, 7, 0, 0),
    ...             y_pred=0.9, y_true=1)
    >>> frontier = {"predictions": 9, "labels": 7}
    >>> mon.apply(o, frontier), mon.labels
    ([], 1)
    >>> mon.apply(o, frontier), mon.labels        # stage 1 sent it again: skipped
    (None, 1)
    """

    def __init__(self, config: DriftlineConfig, model: str, task: str, seed: int = 0) -> None:
        if task not in config.tasks:
            raise ValueError(f"task {task!r} is not configured; tasks: {sorted(config.tasks)}")
        self.config = config
        self.model = model
        self.task = task
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        task = self.config.tasks[self.task]
        self._task_config = task
        self.scopes: dict[SliceKey, ScopeMonitor] = {
            (): ScopeMonitor(task, self.seed, estimate=True)
        }
        self._trigger = RetrainTrigger.from_config(task.retrain)
        self.features = (
            FeatureAlerts(self.config, self.task) if self.config.feature_drift.enabled else None
        )
        self.replays = ReplayFilter()
        self.order: OutcomeOrder | None = None  # set by streams.stages.MonitorStage
        self.alerts_fired: dict[tuple[str, SliceKey, str], int] = {}
        self.pinned_version: str | None = None
        self.stale = 0
        self.predictions = 0
        self.labels = 0
        self.expired = 0
        self.duplicates = 0
        self.late = 0
        self.orphans = 0
        self.skipped = 0
        self.overflow: dict[str, int] = {}  # per slice: outcomes monitored in its (other) scope
        self.labels_since_version = 0
        self.model_version = ""
        self.clock = float("-inf")
        self._snapshot_bucket: int | None = None
        self._requests = RequestHold(self.model, self.task, task.retrain.collect_labels)
        self._warnings = WarningLimit.from_config(task.policy)

    # ------------------------------------------------------------------------------ applying

    def apply(
        self,
        outcome: Outcome,
        frontier: dict[str, int] | None = None,
        durable: dict[str, int] | None = None,
    ) -> list[MonitorOutput] | None:
        """Apply one outcome; the events it causes, or ``None`` when it was a repeat (skipped).

        ``frontier``/``durable`` are the stage 1 progress its envelope carried (see
        :class:`~streams.replay_filter.ReplayFilter`).
        """
        if not self.replays.admit(outcome, frontier, durable):
            self.skipped += 1
            return None
        out: list[MonitorOutput] = []
        if outcome.kind == "version":
            self._new_version(outcome.model_version, outcome.retrained, outcome.features)
            return out
        if outcome.kind == "profile":
            if self.features is not None:
                released, found = self.features.observe(outcome, self.labels, self.predictions)
                for key, firing in released:
                    self._emit(key, [firing], outcome, out, decided=True)
                self._emit((), found, outcome, out)
            return out
        if outcome.t > self.clock:
            self._maybe_snapshot(outcome.t, out)
            self.clock = outcome.t
        version = outcome.model_version
        kind = outcome.kind
        weight = outcome.count or 1  # a `predicted` outcome counts several predictions
        stale = self.pinned_version is not None and bool(version) and version != self.pinned_version
        if stale:
            self.stale += weight
        elif version:
            self.model_version = version
        if kind == "predicted":
            self.predictions += weight
        elif kind == "unlabelled":
            self.predictions += 1
            if stale:
                return out
            score = _score(outcome, self._task_config.type)
            for key, scope in self._scopes_of(outcome):
                firings = scope.observe_score(score, outcome.t, outcome.y_pred, outcome.probs)
                if firings:
                    self._emit(key, firings, outcome, out)
        elif kind == "labelled":
            self.labels += 1
            if stale:
                return out
            self.labels_since_version += 1
            for key, scope in self._scopes_of(outcome):
                firings = scope.observe_label(
                    outcome.y_true, outcome.y_pred, outcome.group, outcome.t, outcome.probs
                )
                if firings:
                    self._emit(key, firings, outcome, out)
            self._release_request(outcome.t, out)
        elif kind == "expired":
            self.expired += 1
        elif kind == "duplicate":
            self.duplicates += 1
        elif kind == "late":
            self.late += 1
        elif kind == "orphan":
            self.orphans += 1
        return out

    def _scopes_of(self, outcome: Outcome) -> list[tuple[SliceKey, ScopeMonitor]]:
        scopes: list[tuple[SliceKey, ScopeMonitor]] = [((), self.scopes[()])]
        if not self._task_config.slices:
            return scopes
        for name in self._task_config.slices:
            value = outcome.segments.get(name)
            if value is None:
                continue
            key: SliceKey = ((name, value),)
            scope = self.scopes.get(key)
            if scope is None:
                key, scope = self._new_scope(name, value)
            scopes.append((key, scope))
        return scopes

    def _new_scope(self, name: str, value: str) -> tuple[SliceKey, ScopeMonitor]:
        """The scope of a slice value seen for the first time: its own while the slice has
        fewer than its cap (:func:`~streams.state_budget.slice_cap`), else the slice's
        ``(other)`` scope, so the state stays within one record whatever the input."""
        counts = self.__dict__.get("_slice_counts")  # not stored: counted again after a load
        if counts is None:
            counts = self._slice_counts = Counter(
                k[0][0] for k in self.scopes if k and k[0][1] != OTHER
            )
        if value != OTHER and counts[name] < slice_cap(self.config, self.task):
            counts[name] += 1
            key: SliceKey = ((name, value),)
        else:
            if value != OTHER and name not in self.overflow:  # the first value past the cap
                log.warning(
                    "task %s: slice %r has %d values of its own, its cap; later values, such as "
                    "%r, are monitored together as %r (tasks.%s.max_slice_values, window)",
                    self.task,
                    name,
                    counts[name],
                    value,
                    OTHER,
                    self.task,
                )
            self.overflow[name] = self.overflow.get(name, 0) + 1
            key = ((name, OTHER),)
        scope = self.scopes.get(key)
        if scope is None:
            scope = self.scopes[key] = ScopeMonitor(self._task_config, self.seed)
        return key, scope

    def _new_version(
        self, version: str, retrained: bool | None, reference: dict[str, Any] | None = None
    ) -> None:
        if self.pinned_version is None and version == self.model_version:
            # the first promotion names the version its predictions already came from (a
            # bootstrap): nothing changed, so nothing starts over (no re-baseline, no warm-up);
            # only a training profile stored with it becomes the feature drift reference
            self.pinned_version = version
            if self.features is not None:
                self.features.new_version(version, reference, restart=False)
            return
        self.model_version = self.pinned_version = version
        self.labels_since_version = 0
        self._requests.new_version(version, retrained)
        for scope in self.scopes.values():
            scope.rebaseline()
        if self.features is not None:
            self.features.new_version(version, reference)

    def _emit(
        self,
        key: SliceKey,
        firings: list[Firing],
        outcome: Outcome,
        out: list[MonitorOutput],
        decided: bool = False,
    ) -> None:
        for firing in firings:
            if not decided and self.features is not None and self.features.holds(firing):
                self.features.hold(key, firing)
                continue
            if firing.severity != "critical" and not self._warnings.allow(firing.end_time):
                continue
            slice_ = dict(key)
            version = self.model_version or outcome.model_version or "unknown"
            ordinal_key = (version, key, firing.detector)
            ordinal = self.alerts_fired.get(ordinal_key, 0) + 1
            self.alerts_fired[ordinal_key] = ordinal
            alert_id = stable_id(self.model, version, self.task, slice_, firing.detector, ordinal)
            alert = Alert.model_validate(
                {
                    "schema": Alert.SCHEMA,
                    "alert_id": alert_id,
                    "model": self.model,
                    "model_version": version,
                    "task": self.task,
                    "slice": slice_,
                    "detector": firing.detector,
                    "signal": firing.signal,
                    "severity": firing.severity,
                    "metric": firing.metric,
                    "value": _finite(firing.value),
                    "baseline": None if firing.baseline is None else _finite(firing.baseline),
                    "evidence": EvidenceWindow(
                        start_count=firing.start_count,
                        end_count=firing.end_count,
                        start_time=to_datetime(firing.start_time),
                        end_time=to_datetime(firing.end_time),
                    ),
                    "config_hash": firing.config_hash,
                    "event_time": to_datetime(firing.end_time),
                    "attribution": (
                        None
                        if self.features is None
                        else self.features.attribution_of(firing.signal, firing.detector)
                    ),
                }
            )
            out.append(alert)
            if not slice_ and self._trigger.should_request(
                firing.severity, self.labels_since_version, firing.end_time
            ):
                self._hold_request(alert, firing, version, out)

    def _hold_request(
        self, alert: Alert, firing: Firing, version: str, out: list[MonitorOutput]
    ) -> None:
        """Queue a retrain request until ``retrain.collect_labels`` labels follow the evidence."""
        reason = (
            f"{firing.severity} drift on {self.task}: {firing.detector} "
            f"{firing.metric}={firing.value:.4g}"
        )
        if alert.attribution is not None:
            shared, own = alert.attribution["shared"], alert.attribution["own"]
            reason += (
                f"; drifted inputs: shared {shared}, own {own}"
                if shared or own
                else "; no input feature drifted (the task's own signal)"
            )
        self._requests.hold(alert, version, firing.start_time, self.labels, reason)
        self._release_request(firing.end_time, out)

    def _release_request(self, t: float, out: list[MonitorOutput]) -> None:
        request = self._requests.release(t, self.labels)
        if request is not None:
            out.append(request)

    # ------------------------------------------------------------------------------ snapshots

    def _maybe_snapshot(self, t: float, out: list[MonitorOutput]) -> None:
        interval = self.config.monitor.snapshot_interval
        if interval <= 0:
            return
        bucket = math.floor(t / interval)
        if self._snapshot_bucket is None:
            self._snapshot_bucket = bucket
        elif bucket > self._snapshot_bucket:
            end = (self._snapshot_bucket + 1) * interval
            out.extend(self.snapshots(end, self._snapshot_bucket))
            self._snapshot_bucket = bucket

    def snapshots(self, t: float, bucket: int) -> list[TaskMetrics]:
        """One :class:`TaskMetrics` per scope, as of event time ``t`` (deterministic ids)."""
        out = []
        for key, scope in sorted(self.scopes.items()):
            slice_ = dict(key)
            overall = not key
            labels = self.labels if overall else scope.labels
            expired = self.expired if overall else 0
            out.append(
                TaskMetrics.model_validate(
                    {
                        "schema": TaskMetrics.SCHEMA,
                        "snapshot_id": stable_id("snapshot", self.model, self.task, slice_, bucket),
                        "model": self.model,
                        "model_version": self.model_version or "unknown",
                        "task": self.task,
                        "slice": slice_,
                        "predictions": self.predictions if overall else scope.scores,
                        "labels": labels,
                        "expired": expired,
                        "duplicates": self.duplicates if overall else 0,
                        "label_coverage": self.label_coverage if overall else None,
                        **_metric_values(
                            scope.metrics,
                            {
                                **scope.estimated(),
                                **(self.features.statistics() if overall and self.features else {}),
                            },
                        ),
                        "event_time": to_datetime(t),
                    }
                )
            )
        return out

    @property
    def warnings_suppressed(self) -> int:
        """Info/warning alerts not sent: over ``policy.warning_limit``."""
        return self._warnings.suppressed

    @property
    def requests_refused(self) -> int:
        """Retrain requests held back for an empty training window (once each)."""
        return self._requests.refused

    @property
    def refusal(self) -> str | None:
        """Why the held retrain request is not sent yet (``None`` when it is not held back)."""
        return self._requests.refusal

    @property
    def fdr_withheld(self) -> int:
        """Detector alerts the false-discovery decision did not let through."""
        return 0 if self.features is None else self.features.withheld

    @property
    def label_coverage(self) -> float | None:
        """Labelled / (labelled + expired) predictions of this task, ``None`` before any."""
        done = self.labels + self.expired
        return self.labels / done if done else None

    def counts(self) -> dict[str, int]:
        """The per-task counters (what the restart and kill tests compare)."""
        return {
            "stale": self.stale,
            "predictions": self.predictions,
            "labels": self.labels,
            "expired": self.expired,
            "duplicates": self.duplicates,
            "late": self.late,
            "orphans": self.orphans,
        }

    # ------------------------------------------------------------------------------ state

    def dump(self) -> bytes:
        """The whole state as one value (pickled once per checkpoint, never per event)."""
        state = {k: v for k, v in self.__dict__.items() if k not in _NOT_STORED}
        return pickle.dumps((STATE_FORMAT, state), protocol=5)

    @classmethod
    def load(cls, config: DriftlineConfig, data: bytes) -> TaskMonitor:
        """Restore from :meth:`dump`'s bytes; a value of another state format is refused."""
        stored = pickle.loads(data)
        if not (isinstance(stored, tuple) and len(stored) == 2 and stored[0] == STATE_FORMAT):
            found = stored[0] if isinstance(stored, tuple) and stored else "no format mark"
            raise CheckpointError(
                f"a task monitor's stored state has format {found!r}, this driftline reads "
                f"{STATE_FORMAT!r}: {RESET_STATE}"
            )
        state = stored[1]
        monitor = cls.__new__(cls)
        monitor.__dict__.update(state)
        monitor.__dict__.setdefault("overflow", {})  # a state stored before slices were capped
        monitor.config = config
        return monitor


def _score(outcome: Outcome, task_type: str) -> float | None:
    value = outcome.y_pred
    if task_type == "multiclass":
        return outcome.probs.get(str(value)) if outcome.probs else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _metric_values(
    metrics: MetricSet, extra: dict[str, float]
) -> dict[str, dict[str, float | None]]:
    """A snapshot's ``cumulative`` and ``rolling`` (with ``extra``: estimated performance and
    feature statistics): every label metric ``None`` before any label."""
    if metrics.empty:
        undefined = dict.fromkeys(metrics.task.metrics)
        return {"cumulative": undefined, "rolling": {**undefined, **extra}}
    cumulative: dict[str, float | None] = dict(metrics.cumulative())
    rolling: dict[str, float | None] = {**metrics.rolling(), **extra}
    return {"cumulative": cumulative, "rolling": rolling}
