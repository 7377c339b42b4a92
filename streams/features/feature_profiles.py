"""Stage 1's side of feature drift: one partition's window profiles of the declared features.

:class:`FeatureProfiles` is fed every prediction of one input partition (``observe``) and keeps
a :class:`FeatureProfile` per window of prediction event time. A window closes once the
partition's prediction stream time passes its end by ``feature_drift.lateness``; each closed
window becomes one ``profile`` outcome per task (that task's feature view: the shared features
and its own), which stage 2 merges over the partitions and compares with the reference. A
window with no prediction on this partition is still reported (empty), so stage 2 knows the
partition is done with it. A prediction for a window that already closed is counted as
``late`` and left out.

The outcomes' origins are ``("profiles", partition, offset, index, seq)`` of the prediction that
closed the window, increasing on the partition (stage 2's replay filter keeps a high-water mark
per origin topic and partition, apart from the predictions' own). They are exactly-once as long
as this state is checkpointed with the join state of the same partition (:meth:`dump` /
:meth:`load`): a replay from that checkpoint closes the same windows at the same predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from driftline.config.models import DriftlineConfig
from streams.features.profile import FeatureProfile, feature_kinds
from streams.outcome import Outcome

__all__ = ["PROFILE_ORIGIN", "FeatureProfiles"]

PROFILE_ORIGIN = "profiles"
_MAX_EMPTY = 48  # empty windows reported after a gap in the stream, at most


class FeatureProfiles:
    """Window profiles of one input partition's predictions.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (its ``features``, the tasks' ``features`` and the
        ``feature_drift`` section).
    partition
        The input partition (stamped on the outcomes, for stage 2's merge).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config(
    ...     "model: m\\nfeatures: [{name: x}]\\nfeature_drift: {enabled: true, window: 60,"
    ...     " lateness: 0}\\ntasks:\\n  a: {type: binary, features: [{name: y}]}\\n")
    >>> profiles = FeatureProfiles(cfg, partition=0)
    >>> [profiles.observe("m", "1", float(t), {"x": t, "y": 1}, (3, t)) for t in range(60)][-1]
    []
    >>> (done,) = profiles.observe("m", "1", 60.0, {"x": 0}, (3, 60))
    >>> done.kind, done.task, done.origin, done.features["window"], done.features["profile"]["count"]
    ('profile', 'a', ('profiles', 0, 3, 60, 0), [0.0, 60.0], 60)
    >>> FeatureProfiles.load(cfg, 0, profiles.dump()).pending()
    1
    """

    def __init__(self, config: DriftlineConfig, partition: int) -> None:
        self.config = config
        self.partition = partition
        self._reset()

    def _reset(self) -> None:
        section = self.config.feature_drift
        self._window = section.window
        self._lateness = section.lateness
        self._kinds = feature_kinds([*self.config.features,
                                     *(f for t in self.config.tasks.values() for f in t.features)])  # fmt: skip
        shared = [f.name for f in self.config.features]
        self._views = {name: shared + [f.name for f in task.features]
                       for name, task in self.config.tasks.items()}  # fmt: skip
        self.windows: dict[int, FeatureProfile] = {}
        self.stream_time = -math.inf
        self.closed_until: int | None = None  # window index below which windows are closed
        self.late = 0

    def pending(self) -> int:
        """Open windows."""
        return len(self.windows)

    def observe(
        self,
        model: str,
        version: str,
        t: float,
        features: Mapping[str, Any] | None,
        where: tuple[int, int],
    ) -> list[Outcome]:
        """One prediction (event time ``t``); the ``profile`` outcomes of the windows it closed.

        ``where`` is the prediction's ``(offset, index)`` in the partition (the origin of the
        outcomes it causes). Predictions of another model than the config's are ignored; the
        version does not matter (inputs do not depend on it).
        """
        if model != self.config.model:
            return []
        index = math.floor(t / self._window)
        if self.closed_until is not None and index < self.closed_until:
            self.late += 1
        else:
            profile = self.windows.get(index)
            if profile is None:
                profile = self.windows[index] = FeatureProfile(self._kinds)
            profile.observe(features or {})
        if t <= self.stream_time:
            return []
        self.stream_time = t
        return self._close(where)

    def _close(self, where: tuple[int, int]) -> list[Outcome]:
        last = math.floor((self.stream_time - self._lateness) / self._window) - 1  # closable
        if not self.windows and self.closed_until is None:
            return []
        first = self.closed_until if self.closed_until is not None else min(self.windows)
        if last < first:
            return []
        first = max(first, last - _MAX_EMPTY)
        out: list[Outcome] = []
        for index in range(first, last + 1):
            profile = self.windows.pop(index, None) or FeatureProfile(self._kinds)
            out.extend(self._outcomes(index, profile, where, len(out)))
        for index in [i for i in self.windows if i <= last]:  # beyond the empty-window cap
            del self.windows[index]
        self.closed_until = last + 1
        return out

    def _outcomes(
        self, index: int, profile: FeatureProfile, where: tuple[int, int], seq: int
    ) -> list[Outcome]:
        start = index * self._window
        offset, position = where
        return [
            Outcome(
                "profile",
                self.config.model,
                "",
                task,
                f"window-{index}",
                start,
                (PROFILE_ORIGIN, self.partition, offset, position, seq + rank),
                features={
                    "window": [start, start + self._window],
                    "partition": self.partition,
                    "profile": profile.view(view).to_wire(),
                },
            )
            for rank, (task, view) in enumerate(sorted(self._views.items()))
        ]

    # ------------------------------------------------------------------------------ state

    def dump(self) -> bytes:
        """The state as bytes (to checkpoint with the partition's join state)."""
        return orjson.dumps(
            {
                "windows": {str(i): p.to_wire() for i, p in self.windows.items()},
                "stream_time": None if self.stream_time == -math.inf else self.stream_time,
                "closed_until": self.closed_until,
                "late": self.late,
            }
        )

    @classmethod
    def load(cls, config: DriftlineConfig, partition: int, data: bytes) -> FeatureProfiles:
        """Restore from :meth:`dump`'s bytes."""
        state = orjson.loads(data)
        profiles = cls(config, partition)
        profiles.windows = {
            int(i): FeatureProfile.from_wire(w) for i, w in state["windows"].items()
        }
        stream_time = state["stream_time"]
        profiles.stream_time = -math.inf if stream_time is None else float(stream_time)
        profiles.closed_until = state["closed_until"]
        profiles.late = int(state["late"])
        return profiles

    def merge(self, other: FeatureProfiles) -> None:
        """Add another instance's open windows (e.g. two partitions' states folded into one
        after a partition-count change); late counts add, stream time is the later one."""
        for index, profile in other.windows.items():
            mine = self.windows.get(index)
            if mine is None:
                self.windows[index] = FeatureProfile.from_wire(profile.to_wire())
            else:
                mine.merge(profile)
        self.late += other.late
        self.stream_time = max(self.stream_time, other.stream_time)
