"""Counts of the alert router's work, and their Prometheus exposition."""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["DELIVERY_BUCKETS", "RoutingCollector", "RoutingStats"]

DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Upper bounds (seconds) of the delivery-time histogram: alert produced → sink answered 2xx."""


class RoutingStats:
    """Thread-safe counters per sink: outcomes, attempts, delivery times.

    Examples
    --------
    >>> stats = RoutingStats()
    >>> stats.attempt("ops", ok=False); stats.attempt("ops", ok=True)
    >>> stats.delivered("ops", produced_at=None); stats.count("ops", "duplicate")
    >>> snap = stats.snapshot()["ops"]
    >>> snap["outcomes"], snap["attempts"]
    ({'delivered': 1, 'duplicate': 1}, {'ok': 1, 'error': 1})
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, dict[str, int]] = defaultdict(dict)
        self._attempts: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "error": 0})
        self._last_ok: dict[str, float] = {}
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(DELIVERY_BUCKETS))
        self._seconds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # count, sum

    def count(self, sink: str, outcome: str) -> None:
        """One alert ended with ``outcome`` at ``sink``."""
        with self._lock:
            outcomes = self._outcomes[sink]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    def attempt(self, sink: str, ok: bool) -> None:
        """One POST to ``sink`` answered 2xx (``ok``) or failed."""
        with self._lock:
            self._attempts[sink]["ok" if ok else "error"] += 1
            if ok:
                self._last_ok[sink] = time.time()

    def delivered(self, sink: str, produced_at: float | None) -> None:
        """One alert delivered; ``produced_at`` (Unix seconds) times it when known."""
        self.count(sink, "delivered")
        if produced_at is None:
            return
        seconds = max(0.0, time.time() - produced_at)
        with self._lock:
            index = bisect.bisect_left(DELIVERY_BUCKETS, seconds)
            if index < len(DELIVERY_BUCKETS):
                self._buckets[sink][index] += 1
            total = self._seconds[sink]
            total[0] += 1
            total[1] += seconds

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Everything per sink, as plain data (a copy)."""
        with self._lock:
            sinks = set(self._outcomes) | set(self._attempts)
            return {
                sink: {
                    "outcomes": dict(self._outcomes.get(sink, {})),
                    "attempts": dict(self._attempts.get(sink, {"ok": 0, "error": 0})),
                    "last_ok": self._last_ok.get(sink),
                    "buckets": list(self._buckets.get(sink, [0] * len(DELIVERY_BUCKETS))),
                    "seconds": list(self._seconds.get(sink, [0, 0.0])),
                }
                for sink in sorted(sinks)
            }

    def declare(self, sink: str) -> None:
        """Make ``sink`` appear (with zeros) before its first alert."""
        with self._lock:
            self._outcomes[sink]
            self._attempts[sink]


class RoutingCollector(Collector):
    """Exposes :class:`RoutingStats` to Prometheus.

    Series: ``driftline_alert_deliveries_total{sink,outcome}`` (delivered, duplicate, filtered,
    failed), ``driftline_alert_delivery_attempts_total{sink,result}`` (ok, error),
    ``driftline_alert_sink_last_success_timestamp_seconds{sink}`` and the histogram
    ``driftline_alert_delivery_seconds{sink}`` (alert produced to Kafka → sink answered 2xx).

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> stats = RoutingStats(); stats.count("ops", "failed")
    >>> registry = CollectorRegistry(); registry.register(RoutingCollector(stats))
    >>> b'driftline_alert_deliveries_total{outcome="failed",sink="ops"} 1.0' in generate_latest(registry)
    True
    """

    def __init__(self, stats: RoutingStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        deliveries = CounterMetricFamily(
            "driftline_alert_deliveries",
            "Alerts per sink by outcome (delivered, duplicate, filtered, failed, invalid)",
            labels=["sink", "outcome"],
        )
        attempts = CounterMetricFamily(
            "driftline_alert_delivery_attempts",
            "POSTs to alert sinks by result (ok, error)",
            labels=["sink", "result"],
        )
        last_ok = GaugeMetricFamily(
            "driftline_alert_sink_last_success_timestamp_seconds",
            "When a sink last answered 2xx (Unix time)",
            labels=["sink"],
        )
        seconds = HistogramMetricFamily(
            "driftline_alert_delivery_seconds",
            "Alert produced to Kafka until the sink answered 2xx",
            labels=["sink"],
        )
        for sink, snap in self.stats.snapshot().items():
            for outcome in ("delivered", "duplicate", "filtered", "failed", "invalid"):
                deliveries.add_metric([sink, outcome], snap["outcomes"].get(outcome, 0))
            for result, value in snap["attempts"].items():
                attempts.add_metric([sink, result], value)
            if snap["last_ok"] is not None:
                last_ok.add_metric([sink], snap["last_ok"])
            cumulative, buckets = 0, []
            for bound, count in zip(DELIVERY_BUCKETS, snap["buckets"], strict=True):
                cumulative += count
                buckets.append((str(bound), cumulative))
            count, total = snap["seconds"]
            buckets.append(("+Inf", count))
            seconds.add_metric([sink], buckets, total)
        yield from (deliveries, attempts, last_ok, seconds)
