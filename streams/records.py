"""The light, validated records the monitor works on (decoded once, never re-validated).

They are plain slotted dataclasses, not frozen ones: a frozen dataclass sets each field through
``object.__setattr__`` and costs about 1 µs more per record on the hot path. Treat them as
read-only all the same.

Event time is carried as epoch seconds (``float``) so that comparisons on the hot path are cheap;
it is converted back to an aware ``datetime`` only when an event leaves the monitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["LabelRecord", "PredictionRecord", "epoch", "to_datetime"]


@dataclass(slots=True)
class PredictionRecord:
    """One validated prediction: every head's output and the prediction's context."""

    prediction_id: str
    model: str
    model_version: str
    entity_id: str
    t: float
    outputs: dict[str, dict[str, Any]]
    features: dict[str, Any] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LabelRecord:
    """One validated label of one task."""

    prediction_id: str
    task: str
    label: Any
    t: float


def epoch(moment: datetime) -> float:
    """Epoch seconds of an aware datetime.

    >>> epoch(datetime(1970, 1, 1, 0, 1, tzinfo=UTC))
    60.0
    """
    return moment.timestamp()


def to_datetime(seconds: float) -> datetime:
    """The aware UTC datetime of epoch seconds.

    >>> to_datetime(60.0).isoformat()
    '1970-01-01T00:01:00+00:00'
    """
    return datetime.fromtimestamp(seconds, tz=UTC)
