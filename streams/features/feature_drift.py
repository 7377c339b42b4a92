"""Stage 2's side of feature drift: one task's feature view, window by window, against its
reference profile.

:class:`FeatureDriftMonitor` merges the ``profile`` outcomes of a window from every input
partition (a window is complete when all ``kafka.partitions`` reported it, or when a window two
later arrived), then compares each feature with the reference profile
(:func:`~streams.features.drift_statistics.compare`). The reference (``feature_drift.reference``):

- ``champion`` (the default without a period): the profile of the rows the model version in
  use was trained on, stored with it by the retrainer and carried by its ``version`` outcome
  (:mod:`streams.features.stored_profile`); until a version brings one, or when a version has
  none (or it could not be read or verified), the first windows of that version;
- ``first_windows``: the merge of the first ``feature_drift.reference_windows`` windows of each
  model version;
- ``period`` (the default with ``reference_start``/``reference_end``): the windows of that
  period of prediction time, for good.

:attr:`FeatureDriftMonitor.reference_source` says which one is in use (and the statistics carry
it as ``reference/<source>``). A feature is drifted
when its PSI reaches ``feature_drift.psi`` (drift that matters) and its p-value is significant:
below ``feature_drift.p_value``, or, with ``false_discovery_rate`` set, rejected by
Benjamini-Hochberg over the task's features at that rate divided by the number of tasks (each
task decides alone; the union over tasks keeps the false discovery rate at most the rate).
It becomes an alert when it turns drifted (not again while it stays so).

With ``false_discovery_rate`` set, the task monitor also holds its non-critical detector alerts
whose detector has a calibrated null rate (``detectors[].null_alarms_per_1m``) until the next
window is compared; their p-values (the chance such a detector fires at least once in the values
it saw since the last comparison, ``1 - exp(-rate x values)``) join the window's family, and
only those Benjamini-Hochberg rejects are sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from driftline.config.models import DriftlineConfig
from streams.features.drift_statistics import FeatureDistance, compare
from streams.features.false_discovery import benjamini_hochberg
from streams.features.profile import FeatureProfile
from streams.outcome import Outcome

__all__ = ["FeatureDriftMonitor", "FeatureFinding"]


@dataclass(frozen=True, slots=True)
class FeatureFinding:
    """A feature that turned drifted in one window."""

    distance: FeatureDistance
    shared: bool
    start: float
    end: float


class FeatureDriftMonitor:
    """Per-feature drift of one task's feature view.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    task
        The task whose view (shared features + its own) is watched.

    Examples
    --------
    >>> import random
    >>> from driftline.config import parse_config
    >>> from streams.features import FeatureProfiles
    >>> cfg = parse_config("model: m\\nkafka: {partitions: 1}\\nfeatures: [{name: x}, {name: z}]"
    ...     "\\nfeature_drift: {enabled: true, window: 100, lateness: 0, reference_windows: 2,"
    ...     " min_count: 50}"
    ...     "\\ntasks:\\n  a: {type: binary}\\n")
    >>> stage1, stage2 = FeatureProfiles(cfg, 0), FeatureDriftMonitor(cfg, "a")
    >>> rng, found = random.Random(0), []
    >>> for t in range(1000):
    ...     x = rng.gauss(3 if t >= 600 else 0, 1)
    ...     for o in stage1.observe("m", "1", float(t), {"x": x, "z": rng.random()}, (t, 0)):
    ...         found += stage2.observe(o)
    >>> [(f.distance.feature, f.start, f.shared) for f in found]
    [('x', 600.0, True)]
    """

    def __init__(self, config: DriftlineConfig, task: str) -> None:
        if task not in config.tasks:
            raise ValueError(f"task {task!r} is not configured")
        self.task = task
        # what it needs of the config, not the config (this is part of the stored state)
        self.section = config.feature_drift
        self._shared = [f.name for f in config.features]
        self._own = [f.name for f in config.tasks[task].features]
        self._partitions = config.kafka.partitions
        self._tasks = len(config.tasks)
        self._reset()

    def _reset(self) -> None:
        self._window = self.section.window
        self.pending: dict[int, tuple[FeatureProfile, set[int]]] = {}
        self.next_window: int | None = None
        self.reference: FeatureProfile | None = None
        self.reference_windows = 0
        self.reference_fixed = False
        self.reference_version: str | None = None  # the version whose stored profile it is
        self.latest: dict[str, FeatureDistance] = {}
        self.drifted: set[str] = set()
        self.values = 0
        self.late = 0

    @property
    def reference_source(self) -> str:
        """``champion`` (a version's stored training profile), ``first_windows`` or
        ``period``: what the windows are compared with now."""
        if self.section.reference_kind == "period":
            return "period"
        return "champion" if getattr(self, "reference_version", None) else "first_windows"

    def rebaseline(self) -> None:
        """A new model version without a stored profile to use: its first windows make the new
        reference (unless the reference is a configured period)."""
        if self.section.reference_kind != "period":
            self.reference = None
            self.reference_windows = 0
            self.reference_fixed = False
            self.reference_version = None
        self.drifted.clear()

    def new_version(
        self, version: str, profile: FeatureProfile | None, restart: bool = True
    ) -> None:
        """A promotion or rollback to ``version``, with the profile stored with it (``None``
        when it has none, or it could not be used). With ``feature_drift.reference: champion``
        that profile is the reference from now on; otherwise (and without one) the reference
        starts over from the version's first windows when ``restart`` (a period stays)."""
        if profile is not None and self.section.reference_kind == "champion":
            self.set_reference(profile, version)
        elif restart:
            self.rebaseline()

    def set_reference(self, profile: FeatureProfile, version: str = "") -> None:
        """Use ``profile`` as the reference (the training rows of ``version``, stored with it)
        until the next model version."""
        self.reference = profile.view(self._shared + self._own)
        self.reference_fixed = True
        self.reference_version = version or "?"
        self.drifted.clear()

    def attribution(self) -> dict[str, list[str]]:
        """The features drifted in the last compared window: shared ones and the task's own."""
        return {
            "shared": sorted(f for f in self.drifted if f in self._shared),
            "own": sorted(f for f in self.drifted if f not in self._shared),
        }

    # ------------------------------------------------------------------------------ input

    def observe(self, outcome: Outcome) -> list[FeatureFinding]:
        """A ``profile`` outcome of one partition; the features that turned drifted."""
        return self.observe_round(outcome)[0]

    def observe_round(
        self, outcome: Outcome, held: list[float] | None = None
    ) -> tuple[list[FeatureFinding], list[bool] | None]:
        """Like :meth:`observe`; ``held`` are the p-values of detector alerts waiting for the
        false-discovery decision: they join the family of the first window this outcome
        completes, and their decisions come back (``None`` when no window was compared)."""
        payload = outcome.features or {}
        start = float(payload["window"][0])
        index = round(start / self._window)
        if self.next_window is not None and index < self.next_window:
            self.late += 1  # its window was compared already
            return [], None
        profile = FeatureProfile.from_wire(payload["profile"])
        waiting = self.pending.get(index)
        if waiting is None:
            self.pending[index] = (profile, {int(payload["partition"])})
        else:
            waiting[0].merge(profile)
            waiting[1].add(int(payload["partition"]))
        found: list[FeatureFinding] = []
        decisions: list[bool] | None = None
        newest = max(self.pending)
        for i in sorted(self.pending):
            merged, parts = self.pending[i]
            if len(parts) < self._partitions and newest < i + 2:
                break
            del self.pending[i]
            self.next_window = i + 1
            if decisions is None:
                findings, decisions = self._compare(i, merged, held or [])
            else:
                findings, _ = self._compare(i, merged, [])
            found += findings
        return found, decisions

    def _compare(
        self, index: int, profile: FeatureProfile, held: list[float]
    ) -> tuple[list[FeatureFinding], list[bool]]:
        section = self.section
        start, end = index * self._window, (index + 1) * self._window
        if (
            section.reference_kind == "period"
            and section.reference_start is not None
            and section.reference_end is not None
        ):
            if start < section.reference_end.timestamp():
                if end > section.reference_start.timestamp():
                    self._add_reference(profile, fixed=True)
                return [], self._significant(held)
        elif self.reference is None or (
            not self.reference_fixed and self.reference_windows < section.reference_windows
        ):
            if profile.count:
                self._add_reference(profile, fixed=False)
            return [], self._significant(held)
        if self.reference is None:
            return [], self._significant(held)
        distances = []
        for name in self._shared + self._own:
            ref, win = self.reference.sketches.get(name), profile.sketches.get(name)
            if ref is None or win is None or win.count < section.min_count:
                continue
            distance = compare(name, ref, win)
            if distance is not None:
                distances.append(distance)
        self.values += profile.count
        self.latest = {d.feature: d for d in distances}
        significant = self._significant([d.p_value for d in distances] + held)
        now = {d.feature for d, ok in zip(distances, significant, strict=False)
               if ok and d.psi >= section.psi}  # fmt: skip
        turned = [d for d in distances if d.feature in now and d.feature not in self.drifted]
        self.drifted = now
        found = [FeatureFinding(d, d.feature in self._shared, start, end) for d in turned]
        return found, significant[len(distances) :]

    def _significant(self, p_values: list[float]) -> list[bool]:
        section = self.section
        if not p_values:
            return []
        if section.false_discovery_rate is None:
            return [p <= section.p_value for p in p_values]
        return benjamini_hochberg(p_values, section.false_discovery_rate / self._tasks)

    def _add_reference(self, profile: FeatureProfile, fixed: bool) -> None:
        view = profile.view(self._shared + self._own)
        if self.reference is None:
            self.reference = view
        else:
            self.reference.merge(view)
        self.reference_windows += 1
        self.reference_fixed = fixed

    def statistics(self) -> dict[str, float]:
        """The last compared window's statistics, as ``statistic/feature`` (for snapshots),
        and ``reference/<source>``: 1 (see :attr:`reference_source`)."""
        out = {f"reference/{self.reference_source}": 1.0}
        for name, distance in self.latest.items():
            for stat, value in distance.as_dict().items():
                if math.isfinite(value):
                    out[f"{stat}/{name}"] = value
        return out
