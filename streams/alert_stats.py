"""Counts of the alerts the monitor emitted, and how long after their evidence it emitted them."""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from typing import Any

from driftline.events import Alert

__all__ = ["LATENCY_BUCKETS", "AlertStats"]

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
"""Upper bounds (seconds) of the alert-latency histogram."""


class AlertStats:
    """Alerts per (model, task, detector, severity) and an alert-latency histogram.

    The latency of an alert is the wall-clock time when the monitor emitted it minus the event
    time of the last label of its evidence; it means what it says when event time follows wall
    time (live traffic), not on a replay or a backfill (negative values count as 0). The
    checkpoint then sends the alert within ``monitor.checkpoint_interval``.

    Examples
    --------
    >>> from driftline.events import decode
    >>> from driftline.alerts.payload import _EXAMPLE
    >>> stats = AlertStats()
    >>> alert = decode(_EXAMPLE)
    >>> stats.observe([alert], now=alert.evidence.end_time.timestamp() + 0.3)
    >>> stats.alerts, stats.latency_buckets[:4], stats.latency_count
    ({('shop', 'churn', 'adwin', 'warning'): 1}, [0, 0, 0, 1], 1)
    """

    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str, str, str], int] = {}
        self.latency_buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def observe(self, outputs: Iterable[Any], now: float | None = None) -> None:
        """Count the alerts among a stage's outputs (other events are ignored)."""
        for output in outputs:
            if not isinstance(output, Alert):
                continue
            key = (output.model, output.task, output.detector, output.severity)
            self.alerts[key] = self.alerts.get(key, 0) + 1
            at = time.time() if now is None else now
            seconds = max(0.0, at - output.evidence.end_time.timestamp())
            index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
            if index < len(LATENCY_BUCKETS):
                self.latency_buckets[index] += 1
            self.latency_count += 1
            self.latency_sum += seconds
