"""A task's feature-drift alerts, attribution and false-discovery holding, for its monitor."""

from __future__ import annotations

import logging
import math
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.events import stable_id
from streams.features.feature_drift import FeatureDriftMonitor, FeatureFinding
from streams.features.profile import FeatureProfile
from streams.outcome import Outcome
from streams.scope_monitor import Firing

__all__ = ["FeatureAlerts"]

log = logging.getLogger("driftline.monitor")

SliceKey = tuple[tuple[str, str], ...]


class FeatureAlerts:
    """What a :class:`~streams.task_monitor.TaskMonitor` does with feature drift.

    It feeds ``profile`` outcomes to the task's :class:`FeatureDriftMonitor`, turns the features
    that turned drifted into firings, says which features an alert's task had drifted
    (attribution), and, with ``feature_drift.false_discovery_rate``, holds the non-critical
    detector firings that have a calibrated null rate until the next window comparison decides
    them (see :mod:`streams.features.feature_drift`).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    task
        The task monitored.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\nfeatures: [{name: x}]\\nfeature_drift: {enabled: true}"
    ...                    "\\ntasks:\\n  a: {type: binary, features: [{name: y}]}\\n")
    >>> alerts = FeatureAlerts(cfg, "a")
    >>> alerts.attribution_of("feature", "feature_drift/y"), alerts.attribution_of("error", "x")
    ({'shared': [], 'own': ['y']}, {'shared': [], 'own': []})
    """

    def __init__(self, config: DriftlineConfig, task: str) -> None:
        self.task = task
        # what it needs of the config, not the config (this is part of the stored state)
        self.section = config.feature_drift
        self._shared = {f.name for f in config.features}
        self.drift = FeatureDriftMonitor(config, task)
        self._reset()

    def _reset(self) -> None:
        self.held: list[tuple[SliceKey, Firing]] = []
        self._round = (0, 0)  # labels, predictions at the last window comparison
        self.withheld = 0

    def rebaseline(self) -> None:
        """A new model version (see :meth:`FeatureDriftMonitor.rebaseline`)."""
        self.drift.rebaseline()

    def new_version(self, version: str, reference: Any, restart: bool = True) -> None:
        """A promotion or rollback to ``version``; ``reference`` is what its ``version``
        outcome carries (``{"reference": "champion", "profile": ...}`` when the version's stored
        training profile is to be the reference; see :meth:`FeatureDriftMonitor.new_version`)."""
        profile = None
        if isinstance(reference, dict) and reference.get("reference") == "champion":
            try:
                profile = FeatureProfile.from_wire(reference.get("profile") or {})
            except ValueError as exc:  # checked when the update was read: a bug if it happens
                log.warning("%s v%s: the stored feature profile is unusable (%s); "
                            "feature drift reference: first windows", self.task, version, exc)  # fmt: skip
        self.drift.new_version(version, profile, restart)

    def holds(self, firing: Firing) -> bool:
        """Whether ``firing`` waits for the false-discovery decision of the next window."""
        return (
            self.section.false_discovery_rate is not None
            and firing.severity != "critical"
            and firing.signal != "feature"
            and firing.null_rate is not None
        )

    def hold(self, key: SliceKey, firing: Firing) -> None:
        """Keep ``firing`` (of scope ``key``) for the next decision."""
        self.held.append((key, firing))

    def observe(
        self, outcome: Outcome, labels: int, predictions: int
    ) -> tuple[list[tuple[SliceKey, Firing]], list[Firing]]:
        """A partition's window profile (the task has seen ``labels`` labels and ``predictions``
        predictions); the held firings released now, and the firings of features that turned
        drifted."""
        p_values = [self._null_p_value(f, labels, predictions) for _, f in self.held]
        found, decisions = self.drift.observe_round(outcome, p_values)
        released: list[tuple[SliceKey, Firing]] = []
        if decisions is not None:
            waiting, self.held = self.held, []
            self._round = (labels, predictions)
            for item, decision in zip(waiting, decisions, strict=True):
                if decision:
                    released.append(item)
                else:
                    self.withheld += 1
        return released, [self._firing(f) for f in found]

    def attribution_of(self, signal: str, detector: str) -> dict[str, list[str]]:
        """A feature alert names its feature; any other alert the task's features drifted in
        the last compared window (both lists empty: the task's own signal)."""
        if signal == "feature":
            name = detector.split("/", 1)[1]
            shared = name in self._shared
            return {"shared": [name] if shared else [], "own": [] if shared else [name]}
        return self.drift.attribution()

    def statistics(self) -> dict[str, float]:
        """The last compared window's statistics (for snapshots and ``/metrics``)."""
        return self.drift.statistics()

    def _null_p_value(self, firing: Firing, labels: int, predictions: int) -> float:
        """The chance that a detector with its calibrated null rate fires at least once in the
        values it saw since the last window comparison."""
        seen = (
            labels - self._round[0]
            if firing.signal in ("error", "metric")
            else (predictions - self._round[1])
        )
        return 1.0 - math.exp(-(firing.null_rate or 0.0) * max(seen, 1))

    def _firing(self, finding: FeatureFinding) -> Firing:
        section = self.section
        end = self.drift.values
        return Firing(
            f"feature_drift/{finding.distance.feature}",
            "feature",
            section.severity,
            "psi",
            finding.distance.psi,
            0.0,
            max(0, end - finding.distance.count + 1),
            end,
            finding.start,
            finding.end,
            stable_id(section.model_dump()),
        )
