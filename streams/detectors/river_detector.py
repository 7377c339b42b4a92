"""One River change detector on one numeric signal, with the evidence it has seen."""

from __future__ import annotations

from collections import deque
from typing import Any

from river import drift
from river.drift import binary

from streams.detectors.reference_scale import ReferenceScale

__all__ = ["BINARY_KINDS", "DETECTOR_CLASSES", "RiverDetector"]

DETECTOR_CLASSES: dict[str, Any] = {
    "adwin": drift.ADWIN,
    "page_hinkley": drift.PageHinkley,
    "kswin": drift.KSWIN,
    "ddm": binary.DDM,
    "eddm": binary.EDDM,
    "hddm_a": binary.HDDMA,
    "hddm_w": binary.HDDMW,
}
BINARY_KINDS = frozenset({"ddm", "eddm", "hddm_a", "hddm_w"})
"""Detectors that take a 0/1 signal (the error of a binary or multiclass task)."""


class RiverDetector:
    """A River drift detector plus the running means an alert reports.

    ``value`` is the signal's mean over the last ``evidence`` values (the evidence window) and
    ``baseline`` its mean before them, since the last reset.

    Parameters
    ----------
    kind
        ``adwin``, ``page_hinkley``, ``kswin``, ``ddm``, ``eddm``, ``hddm_a`` or ``hddm_w``.
    params
        Keyword arguments of the River constructor (``{"delta": 0.002}``, ...).
    seed
        Passed to detectors that draw random numbers (KSWIN), for reproducible runs.
    evidence
        Size of the evidence window an alert reports.
    scale
        When given, the detector sees the values through it (see :class:`ReferenceScale`); the
        evidence means stay in the signal's own units.

    Examples
    --------
    >>> det = RiverDetector("adwin", {"delta": 0.002})
    >>> i = 0
    >>> while not det.update(0.0 if i < 1000 else 1.0):
    ...     i += 1
    >>> i > 1000, det.baseline, det.value > 0.1
    (True, 0.0, True)
    """

    def __init__(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        evidence: int = 200,
        scale: ReferenceScale | None = None,
    ) -> None:
        if kind not in DETECTOR_CLASSES:
            raise ValueError(
                f"unknown detector kind {kind!r}; use one of {sorted(DETECTOR_CLASSES)}"
            )
        self.kind = kind
        self.params = dict(params or {})
        self.seed = seed
        if evidence < 1:
            raise ValueError(f"evidence must be >= 1, got {evidence}")
        self.evidence = evidence
        self.scale = scale
        self._reset()

    def _reset(self) -> None:
        params = dict(self.params)
        if self.kind == "kswin":
            params.setdefault("seed", self.seed)
        try:
            self._detector = DETECTOR_CLASSES[self.kind](**params)
        except TypeError as exc:
            raise ValueError(f"bad params for detector {self.kind!r}: {exc}") from None
        self._binary = self.kind in BINARY_KINDS
        self._window: deque[float] = deque()
        self._sum = 0.0
        self._base_sum = 0.0
        self._base_n = 0
        if self.scale is not None:
            self.scale.reset()

    def reset(self) -> None:
        """Forget everything (re-baseline, e.g. for a new model version)."""
        self._reset()

    def update(self, x: float) -> bool:
        """Feed one value; ``True`` when the detector signals a change now."""
        window = self._window
        window.append(x)
        self._sum += x
        if len(window) > self.evidence:
            old = window.popleft()
            self._sum -= old
            self._base_sum += old
            self._base_n += 1
        detector = self._detector
        scale = self.scale
        if scale is None:
            detector.update(bool(x >= 0.5) if self._binary else x)
            return bool(detector.drift_detected)
        if scale.ready:  # one value in, one out: no list
            detector.update(scale.transform(x))
            return bool(detector.drift_detected)
        fired = False
        for value in scale.update(x):
            detector.update(value)
            fired = fired or bool(detector.drift_detected)
        return fired

    @property
    def evidence_size(self) -> int:
        """Values in the evidence window."""
        return len(self._window)

    @property
    def value(self) -> float:
        """Mean of the signal over the evidence window."""
        return self._sum / len(self._window) if self._window else 0.0

    @property
    def baseline(self) -> float | None:
        """Mean of the signal before the evidence window (``None`` when there is none)."""
        return self._base_sum / self._base_n if self._base_n else None
