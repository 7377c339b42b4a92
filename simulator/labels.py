"""When each task's ground truth becomes known: per-task delays and loss rates, in event time."""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.config.models import DriftlineConfig
from simulator.event import SimEvent

__all__ = ["DueLabel", "LabelPlan", "LabelQueue"]


@dataclass(frozen=True)
class DueLabel:
    """A label to send at event time ``t`` for prediction ``prediction_id``."""

    t: float
    prediction_id: str
    task: str
    label: Any


@dataclass(frozen=True)
class LabelPlan:
    """How labels arrive: per task a mean delay (event-time seconds), a jitter and a loss rate.

    A task's label comes ``delay × U(1 - jitter, 1 + jitter)`` after its prediction, or never
    with probability ``loss``. Draws are seeded per (seed, prediction, task), so the plan of an
    event does not depend on anything else in the stream.

    Examples
    --------
    >>> plan = LabelPlan(delays={"churn": 60.0}, losses={"churn": 0.5}, seed=1)
    >>> event = SimEvent(3, 1000.0, "e-3", {}, {"churn": 1})
    >>> plan.due(event) == plan.due(event)
    True
    >>> all(1030.0 <= d.t <= 1090.0 for d in plan.due(event))
    True
    """

    delays: Mapping[str, float] = field(default_factory=dict)
    losses: Mapping[str, float] = field(default_factory=dict)
    jitter: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        for task, loss in self.losses.items():
            if not 0.0 <= loss < 1.0:
                raise ValueError(f"loss rate of {task!r} must be in [0, 1), got {loss}")
        for task, delay in self.delays.items():
            if delay < 0:
                raise ValueError(f"label delay of {task!r} must be >= 0, got {delay}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    @classmethod
    def from_config(
        cls,
        config: DriftlineConfig,
        delay_fraction: float = 0.25,
        losses: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> LabelPlan:
        """Delays of ``delay_fraction`` × each task's ``label_delay`` budget (so with the jitter
        every label still arrives inside its budget), and the given loss rates."""
        if not 0.0 <= delay_fraction <= 0.5:
            raise ValueError("delay_fraction must be in [0, 0.5] so labels stay inside the budget")
        delays = {name: task.label_delay * delay_fraction for name, task in config.tasks.items()}
        return cls(delays, dict(losses or {}), seed=seed)

    def due(self, event: SimEvent) -> list[DueLabel]:
        """The labels of ``event`` that will arrive, with their arrival times."""
        out = []
        for task, label in event.labels.items():
            rng = np.random.default_rng([self.seed, event.index, zlib.crc32(task.encode())])
            lost, spread = rng.random(2)
            if lost < self.losses.get(task, 0.0):
                continue
            delay = self.delays.get(task, 0.0) * (1.0 - self.jitter + 2.0 * self.jitter * spread)
            out.append(DueLabel(event.t + delay, event.prediction_id, task, label))
        return out


class LabelQueue:
    """Labels waiting for their arrival time, released in event-time order.

    Examples
    --------
    >>> queue = LabelQueue()
    >>> queue.push([DueLabel(5.0, "p-1", "a", 1), DueLabel(2.0, "p-2", "a", 0)])
    >>> [d.prediction_id for d in queue.pop_until(4.0)], len(queue)
    (['p-2'], 1)
    >>> [d.prediction_id for d in queue.drain()]
    ['p-1']
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, DueLabel]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, labels: list[DueLabel]) -> None:
        """Queue labels (ties keep their insertion order)."""
        for label in labels:
            heapq.heappush(self._heap, (label.t, self._seq, label))
            self._seq += 1

    def pop_until(self, t: float) -> list[DueLabel]:
        """Every queued label due at or before ``t``, oldest first."""
        out = []
        while self._heap and self._heap[0][0] <= t:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def drain(self) -> list[DueLabel]:
        """Everything left, oldest first."""
        out = [heapq.heappop(self._heap)[2] for _ in range(len(self._heap))]
        return out
