"""When the simulated world changes: concept drift per task, covariate shift on all tasks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ConceptDrift", "CovariateShift", "DriftSchedule"]


@dataclass(frozen=True)
class ConceptDrift:
    """From event ``at`` on, the relation between features and ``task``'s label changes.

    ``severity`` is the rotation of the task's weight vector in units of 90 degrees: ``1.0``
    makes the new concept orthogonal to the old one (a model of the old concept is no better than
    chance on it), ``2.0`` reverses it. The new concept is exactly as learnable as the old one
    (same weight norm, same noise), so a retrained model can recover the pre-drift metric.
    """

    task: str
    at: int
    severity: float = 1.0

    def __post_init__(self) -> None:
        if self.at < 0:
            raise ValueError(f"concept drift on {self.task!r}: `at` must be >= 0, got {self.at}")
        if not 0.0 < self.severity <= 2.0:
            raise ValueError(
                f"concept drift on {self.task!r}: severity must be in (0, 2], got {self.severity}"
            )


@dataclass(frozen=True)
class CovariateShift:
    """From event ``at`` on, every feature's mean moves by ``magnitude`` standard deviations
    along one fixed (seeded) direction; the concepts stay the same."""

    at: int
    magnitude: float = 1.0

    def __post_init__(self) -> None:
        if self.at < 0:
            raise ValueError(f"covariate shift: `at` must be >= 0, got {self.at}")
        if self.magnitude < 0:
            raise ValueError(f"covariate shift: magnitude must be >= 0, got {self.magnitude}")


@dataclass(frozen=True)
class DriftSchedule:
    """Every change of one simulated stream, by event count.

    Examples
    --------
    >>> schedule = DriftSchedule.parse(["churn@5000", "category@5000:2"], ["8000:0.5"])
    >>> schedule.drifted_tasks
    ['category', 'churn']
    >>> schedule.rotation("churn", 4999), schedule.rotation("churn", 5000)
    (0.0, 1.0)
    >>> schedule.shift(9000)
    0.5
    """

    concept: tuple[ConceptDrift, ...] = field(default_factory=tuple)
    covariate: tuple[CovariateShift, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, concept: list[str] | tuple[str, ...] = (), covariate: list[str] | tuple[str, ...] = ()) -> DriftSchedule:  # fmt: skip
        """Build from CLI strings: ``TASK@COUNT[:SEVERITY]`` and ``COUNT[:MAGNITUDE]``."""
        drifts = []
        for text in concept:
            match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)@(\d+)(?::([0-9.]+))?\s*", text)
            if not match:
                raise ValueError(f"concept drift {text!r}: expected TASK@COUNT[:SEVERITY]")
            severity = float(match.group(3)) if match.group(3) else 1.0
            drifts.append(ConceptDrift(match.group(1), int(match.group(2)), severity))
        shifts = []
        for text in covariate:
            match = re.fullmatch(r"\s*(\d+)(?::([0-9.]+))?\s*", text)
            if not match:
                raise ValueError(f"covariate shift {text!r}: expected COUNT[:MAGNITUDE]")
            magnitude = float(match.group(2)) if match.group(2) else 1.0
            shifts.append(CovariateShift(int(match.group(1)), magnitude))
        return cls(tuple(drifts), tuple(shifts))

    @property
    def drifted_tasks(self) -> list[str]:
        """The tasks with a concept drift, sorted."""
        return sorted({d.task for d in self.concept})

    @property
    def first_drift(self) -> int | None:
        """The event count of the first change of any kind, or ``None``."""
        counts = [d.at for d in self.concept] + [s.at for s in self.covariate if s.magnitude]
        return min(counts) if counts else None

    def drift_start(self, task: str) -> int | None:
        """The event count at which ``task``'s concept first changes, or ``None``."""
        counts = [d.at for d in self.concept if d.task == task]
        return min(counts) if counts else None

    def rotation(self, task: str, index: int) -> float:
        """Total rotation (units of 90 degrees) of ``task``'s concept at event ``index``."""
        return float(sum(d.severity for d in self.concept if d.task == task and index >= d.at))

    def rotations(self, task: str, index: np.ndarray) -> np.ndarray:
        """:meth:`rotation` of many event indices at once."""
        out = np.zeros(len(index))
        for drift in self.concept:
            if drift.task == task:
                out += drift.severity * (index >= drift.at)
        return out

    def shifts(self, index: np.ndarray) -> np.ndarray:
        """:meth:`shift` of many event indices at once."""
        out = np.zeros(len(index))
        for shift in sorted(self.covariate, key=lambda s: s.at):
            out = np.where(index >= shift.at, shift.magnitude, out)
        return out

    def shift(self, index: int) -> float:
        """Covariate shift (standard deviations) in force at event ``index`` (the latest wins)."""
        active = [s for s in self.covariate if index >= s.at]
        return max(active, key=lambda s: s.at).magnitude if active else 0.0

    def change_points(self) -> list[int]:
        """Every event count where something changes, sorted (block boundaries)."""
        return sorted({d.at for d in self.concept} | {s.at for s in self.covariate})
