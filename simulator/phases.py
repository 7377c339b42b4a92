"""Each task's primary metric before drift, during drift and after the retrained champion took over.

The simulator knows the truth of every label it sends and the output it sent for that
prediction, so it measures the metric the way the monitor does, split by phase:

``before``
    events before the first scheduled change, scored by the champion of that time;
``during``
    events after the change, scored by that same champion;
``after``
    events scored by the latest champion promoted after the change.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from driftline.config.models import DriftlineConfig

__all__ = ["PHASES", "PhaseTracker"]

PHASES = ("before", "during", "after")
_LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})


class PhaseTracker:
    """Collects (truth, output) pairs per task and phase; computes the primary metric of each.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (task types, classes, primary metrics).
    change_at
        Event count of the first scheduled change (``None``: everything is ``before``).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks: {spend: {type: regression}}\\n")
    >>> tracker = PhaseTracker(cfg, change_at=2)
    >>> tracker.add(0, "1", "spend", 10.0, {"value": 11.0})
    >>> tracker.add(3, "1", "spend", 10.0, {"value": 14.0})
    >>> tracker.add(5, "2", "spend", 10.0, {"value": 10.5})
    >>> tracker.summary()["spend"]
    {'metric': 'mae', 'higher_is_better': False, 'before': 1.0, 'during': 4.0, 'after': 0.5, 'counts': {'before': 1, 'during': 1, 'after': 1}}
    """

    def __init__(self, config: DriftlineConfig, change_at: int | None) -> None:
        self.config = config
        self.change_at = change_at
        self._reset()

    def _reset(self) -> None:
        self._pairs: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
        self._version_at_change: str | None = None
        self._versions: dict[str, int] = {}

    def add(self, index: int, version: str, task: str, truth: Any, output: dict[str, Any]) -> None:
        """Record one labelled prediction: event index, the version that scored it, truth, output."""
        phase = self.phase_of(index, version)
        if phase is not None:
            self._pairs[(task, phase)].append((truth, output))

    def phase_of(self, index: int, version: str) -> str | None:
        """``before``/``during``/``after``, or ``None`` for an older champion after the change."""
        self._versions.setdefault(version, len(self._versions))
        if self.change_at is None or index < self.change_at:
            return "before"
        if self._version_at_change is None:
            self._version_at_change = version
        if version == self._version_at_change:
            return "during"
        if self._versions[version] > self._versions[self._version_at_change]:
            return "after" if version == self.latest_version else None
        return None

    @property
    def latest_version(self) -> str | None:
        """The most recently seen version."""
        return max(self._versions, key=self._versions.__getitem__) if self._versions else None

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per task: metric name, direction, value per phase (``None`` without data), counts."""
        out: dict[str, dict[str, Any]] = {}
        for name, task in self.config.tasks.items():
            metric = str(task.primary_metric)
            entry: dict[str, Any] = {
                "metric": metric,
                "higher_is_better": metric not in _LOWER_IS_BETTER,
            }
            counts = {}
            for phase in PHASES:
                pairs = self._pairs.get((name, phase), [])
                counts[phase] = len(pairs)
                entry[phase] = _metric(task.type, metric, task.classes or [], pairs)
            entry["counts"] = counts
            out[name] = entry
        return out


def _metric(
    kind: str, metric: str, classes: list[str], pairs: list[tuple[Any, Any]]
) -> float | None:
    from models.metrics import binary_metrics, multiclass_metrics, regression_metrics

    if not pairs:
        return None
    if kind == "binary":
        y = np.array([float(t) for t, _ in pairs])
        p = np.array([o["score"] for _, o in pairs])
        values = binary_metrics(y, p)
    elif kind == "multiclass":
        y = np.array([classes.index(str(t)) for t, _ in pairs])
        probs = np.array([[o.get("probs", {}).get(c, float(o["label"] == c)) for c in classes] for _, o in pairs])  # fmt: skip
        values = multiclass_metrics(y, probs)
    else:
        y = np.array([float(t) for t, _ in pairs])
        v = np.array([o["value"] for _, o in pairs])
        values = regression_metrics(y, v)
    value = values.get(metric)
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
