"""The profile of a set of features over one stretch of predictions: one sketch per feature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from streams.features.sketches import CategoricalSketch, NumericSketch, sketch_from_wire

__all__ = ["PROFILE_FORMAT", "FeatureProfile", "feature_kinds"]

Sketch = NumericSketch | CategoricalSketch
PROFILE_FORMAT = "driftline.feature-profile/1"
"""The mark of :meth:`FeatureProfile.to_bytes` (the file stored with a model version)."""
MAX_PROFILE_BYTES = 64 << 20


def feature_kinds(specs: Iterable[Any]) -> dict[str, str]:
    """``name -> numeric | categorical`` from config ``FeatureSpec`` objects (float and int are
    numeric; string and bool categorical)."""
    return {s.name: "numeric" if s.dtype in ("float", "int") else "categorical" for s in specs}


class FeatureProfile:
    """Sketches of the declared features (``kinds``: name -> ``numeric`` | ``categorical``).

    Mergeable and serialisable, so a window's profile is the merge of its partitions', and a
    reference (a training window, a configured period) is the merge of its windows. Features
    that were not declared are ignored; a declared feature absent from an event counts as
    missing.

    Examples
    --------
    >>> p = FeatureProfile({"tenure": "numeric", "country": "categorical"})
    >>> p.observe({"tenure": 3.0, "country": "DE", "other": 1})
    >>> p.observe({"tenure": 5.0})
    >>> q = FeatureProfile.from_bytes(p.to_bytes())
    >>> q.count, q.sketches["tenure"].count, q.sketches["country"].missing
    (2, 2, 1)
    >>> p.merge(q); p.count
    4
    """

    def __init__(self, kinds: Mapping[str, str]) -> None:
        for name, kind in kinds.items():
            if kind not in ("numeric", "categorical"):
                raise ValueError(f"feature {name!r}: kind must be numeric or categorical")
        self.kinds = dict(kinds)
        self._reset()

    def _reset(self) -> None:
        self.count = 0
        self.sketches: dict[str, Sketch] = {
            name: NumericSketch() if kind == "numeric" else CategoricalSketch()
            for name, kind in self.kinds.items()
        }

    def observe(self, features: Mapping[str, Any]) -> None:
        """Add one prediction's features."""
        self.count += 1
        get = features.get
        for name, sketch in self.sketches.items():
            sketch.update(get(name))

    def merge(self, other: FeatureProfile) -> None:
        """Add another profile (its features that this one does not declare are ignored)."""
        self.count += other.count
        for name, sketch in self.sketches.items():
            theirs = other.sketches.get(name)
            if theirs is not None and theirs.kind == sketch.kind:
                sketch.merge(theirs)  # type: ignore[arg-type]

    def view(self, names: Iterable[str]) -> FeatureProfile:
        """A copy holding only ``names`` (a task's feature view)."""
        wanted = [n for n in names if n in self.kinds]
        out = FeatureProfile({n: self.kinds[n] for n in wanted})
        out.count = self.count
        out.sketches = {n: self.sketches[n] for n in wanted}
        return FeatureProfile.from_wire(out.to_wire())

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"count": self.count, "features": {n: s.to_wire() for n, s in self.sketches.items()}}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> FeatureProfile:
        """Rebuild from :meth:`to_wire`; ``ValueError`` when malformed (any input, however
        broken, gives a profile or a ``ValueError``: it may come from outside)."""
        try:
            features, count = wire["features"], wire["count"]
            if not isinstance(features, Mapping):
                raise TypeError("features is not an object")
            sketches = {str(n): sketch_from_wire(w) for n, w in features.items()}
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise ValueError(f"malformed feature profile: {exc}") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"malformed feature profile: count {count!r}")
        profile = cls({n: s.kind for n, s in sketches.items()})
        profile.sketches = sketches
        profile.count = count
        return profile

    def to_bytes(self) -> bytes:
        """The profile as bytes (JSON marked ``driftline.feature-profile/1``; e.g. stored with a
        model version as its reference)."""
        return orjson.dumps({"format": PROFILE_FORMAT, **self.to_wire()})

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureProfile:
        """Rebuild from :meth:`to_bytes`; ``ValueError`` when ``data`` is not such a profile
        (safe on bytes from anywhere: JSON only, every sketch checked before it is read).

        >>> FeatureProfile.from_bytes(b'{"format": "driftline.feature-profile/1", "count": 0,'
        ...                           b' "features": {"x": ["n", "AgEPAcgACAA=", 0]}}').kinds
        {'x': 'numeric'}
        >>> FeatureProfile.from_bytes(b'{"count": 1, "features": {"x": ["n", "AgEP", 0]}}')
        Traceback (most recent call last):
        ...
        ValueError: malformed feature profile: malformed KLL sketch: 3 bytes
        """
        if len(data) > MAX_PROFILE_BYTES:
            raise ValueError(f"malformed feature profile: {len(data)} bytes")
        try:
            wire = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"malformed feature profile: not JSON ({exc})") from None
        if not isinstance(wire, dict) or wire.get("format", PROFILE_FORMAT) != PROFILE_FORMAT:
            raise ValueError(f"malformed feature profile: not a {PROFILE_FORMAT} object")
        return cls.from_wire(wire)

    @classmethod
    def from_columns(
        cls, kinds: Mapping[str, str], columns: Mapping[str, Any], count: int
    ) -> FeatureProfile:
        """The profile of ``count`` rows given by column (e.g. a training frame: ``frame``
        itself, or a dict of arrays); a declared feature with no column is missing in every
        row. Vectorised: the same sketches as :meth:`observe` row by row, at column speed.

        >>> import pandas as pd
        >>> frame = pd.DataFrame({"tenure": [3.0, None, 5.0], "country": ["DE", None, "FR"]})
        >>> p = FeatureProfile.from_columns(
        ...     {"tenure": "numeric", "country": "categorical", "age": "numeric"}, frame, len(frame))
        >>> p.count, p.sketches["tenure"].count, p.sketches["country"].missing
        (3, 2, 1)
        >>> p.sketches["age"].missing
        3
        """
        profile = cls(kinds)
        profile.count = count
        for name, sketch in profile.sketches.items():
            if name in columns:
                sketch.update_many(columns[name])
            else:
                sketch.missing += count
        return profile

    @classmethod
    def from_rows(
        cls, kinds: Mapping[str, str], rows: Iterable[Mapping[str, Any]]
    ) -> FeatureProfile:
        """The profile of ``rows`` (e.g. a champion's training set, to store with its version)."""
        profile = cls(kinds)
        for row in rows:
            profile.observe(row)
        return profile
