"""One simulated production event: features, the true label of every task, its event time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SimEvent"]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """What the world looks like at one request, before any model has seen it.

    ``t`` is the event time in seconds since the epoch (UTC); ``labels`` holds the truth of every
    task (the simulator decides later which labels are sent, and when).

    Examples
    --------
    >>> SimEvent(0, 1.0e9, "e-0", {"x": 0.5}, {"churn": 1}).prediction_id
    'sim-0'
    """

    index: int
    t: float
    entity_id: str
    features: dict[str, Any]
    labels: dict[str, Any]
    segments: dict[str, str] = field(default_factory=dict)
    run: str = "sim"

    @property
    def prediction_id(self) -> str:
        """A deterministic id: the run name and the event's index."""
        return f"{self.run}-{self.index}"
