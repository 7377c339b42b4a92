"""Prometheus exposition of the monitor's state (served at ``/metrics`` by the Faust web server).

Values are read from the stages when Prometheus scrapes, so the hot path pays nothing.
:func:`monitor_registry` is what ``/metrics`` serves: the :class:`MonitorCollector` plus
everything in prometheus_client's default registry (the process and Python collectors, and the
alert router's counts when ``driftline monitor`` runs one).

Per-task series carry ``model_version``: the version the task's monitor follows now (the
promoted one after a model update, else the newest version seen in its predictions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from streams.alert_stats import LATENCY_BUCKETS
from streams.stages import JoinStage, MonitorStage

__all__ = ["MonitorCollector", "monitor_registry"]


def monitor_registry(
    join: JoinStage,
    monitor: MonitorStage,
    lag: Callable[[], dict[tuple[str, int], int]] | None = None,
    held_back: Callable[[], Iterable[tuple[str, int]]] | None = None,
) -> CollectorRegistry:
    """The registry ``/metrics`` serves: the monitor's series and the default registry's.

    >>> from prometheus_client import generate_latest
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> text = generate_latest(monitor_registry(JoinStage(cfg, 1), MonitorStage(cfg)))
    >>> b"driftline_alerts_total" in text, b"process_cpu_seconds_total" in text
    (True, True)
    """
    registry = CollectorRegistry()
    registry.register(MonitorCollector(join, monitor, lag, held_back))
    registry.register(_DefaultRegistry())
    return registry


class _DefaultRegistry(Collector):
    """prometheus_client's default registry (process, platform, GC, and what others add)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


class MonitorCollector(Collector):
    """Collects per-task metrics, detector state, coverage, buffers, lag and dead letters.

    Parameters
    ----------
    join
        Stage 1.
    monitor
        Stage 2.
    lag
        Returns consumer lag per (topic, partition) (``{}`` when unknown).
    held_back
        Returns the input topic partitions held back to let the others catch up in event time
        (:class:`streams.input_alignment.InputAlignment`).

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> registry = CollectorRegistry()
    >>> registry.register(MonitorCollector(JoinStage(cfg, 1), MonitorStage(cfg)))
    >>> b"driftline_dead_letters_total" in generate_latest(registry)
    True
    """

    def __init__(
        self,
        join: JoinStage,
        monitor: MonitorStage,
        lag: Callable[[], dict[tuple[str, int], int]] | None = None,
        held_back: Callable[[], Iterable[tuple[str, int]]] | None = None,
    ) -> None:
        self.join = join
        self.monitor = monitor
        self.lag = lag
        self.held_back = held_back

    def _order(self) -> Iterator[Any]:
        """Stage 2's apply order: outcomes waiting for their turn, and each source's watermark."""
        waiting = GaugeMetricFamily(
            "driftline_outcomes_waiting",
            "Outcomes held until every input partition's watermark passes them",
            labels=["model", "task"],
        )
        unordered = CounterMetricFamily(
            "driftline_outcomes_out_of_order",
            "Outcomes applied out of event-time order (sent by an input partition after its "
            "worker declared it idle)",
            labels=["model", "task"],
        )
        idle = GaugeMetricFamily(
            "driftline_source_idle",
            "1 while an input partition's worker declares it idle (not waited for)",
            labels=["model", "task", "partition"],
        )
        marks = GaugeMetricFamily(
            "driftline_source_watermark_seconds",
            "The join watermark each input partition last reported to a task's monitor",
            labels=["model", "task", "partition"],
        )
        for monitor in list(self.monitor.monitors.values()):
            order = monitor.order
            if order is None:
                continue
            waiting.add_metric([monitor.model, monitor.task], order.held)
            unordered.add_metric([monitor.model, monitor.task], order.unordered)
            for source in range(order.sources):
                idle.add_metric([monitor.model, monitor.task, str(source)], source in order.idle)
            for source, mark in sorted(order.watermarks.items()):
                marks.add_metric([monitor.model, monitor.task, str(source)], mark)
        yield from (waiting, unordered, idle, marks)

    def collect(self) -> Iterator[Any]:
        yield from self._tasks()
        yield from self._order()
        yield from self._alerts()
        yield from self._stage_one()

    def _tasks(self) -> Iterator[Any]:
        labels = ["model", "model_version", "task"]
        counts = CounterMetricFamily(
            "driftline_task_events", "Outcomes applied per task and kind", labels=[*labels, "kind"]
        )
        coverage = GaugeMetricFamily(
            "driftline_label_coverage", "Labelled / (labelled + expired) predictions", labels=labels
        )
        cumulative = GaugeMetricFamily(
            "driftline_task_metric",
            "Per-task metric values",
            labels=[*labels, "slice", "metric", "window"],
        )
        detectors = GaugeMetricFamily(
            "driftline_detector_state",
            "Detector firings and warm-up per task",
            labels=[*labels, "slice", "detector", "field"],
        )
        overflow = CounterMetricFamily(
            "driftline_slice_overflow",
            "Outcomes of slice values past the slice's cap, monitored in its (other) scope",
            labels=[*labels, "slice"],
        )
        held = CounterMetricFamily(
            "driftline_alerts_held_back",
            "Alerts not sent: warnings over the rate limit, detector alerts the false discovery "
            "rate withheld, retrain requests held for an empty training window",
            labels=[*labels, "reason"],
        )
        for monitor in list(self.monitor.monitors.values()):
            task = [monitor.model, monitor.model_version, monitor.task]
            for kind, count in monitor.counts().items():
                counts.add_metric([*task, kind], count)
            for reason, count in (
                ("rate_limit", monitor.warnings_suppressed),
                ("false_discovery", monitor.fdr_withheld),
                ("empty_window", monitor.requests_refused),
            ):
                held.add_metric([*task, reason], count)
            for name, count in sorted(monitor.overflow.items()):
                overflow.add_metric([*task, name], count)
            extra = {"estimated": monitor.scopes[()].estimated()}
            if monitor.features is not None:
                extra["feature"] = monitor.features.statistics()
            for window, values in extra.items():
                for metric, value in values.items():
                    cumulative.add_metric([*task, "", metric, window], value)
            if monitor.label_coverage is not None:
                coverage.add_metric(task, monitor.label_coverage)
            for key, scope in list(monitor.scopes.items()):
                slice_ = ",".join(f"{k}={v}" for k, v in key)
                if scope.metrics.empty:  # no label yet: no metric value (not River's 0)
                    values_by_window: tuple[tuple[str, dict[str, float]], ...] = ()
                else:
                    values_by_window = (
                        ("cumulative", scope.metrics.cumulative()),
                        ("rolling", scope.metrics.rolling()),
                    )
                for window, values in values_by_window:
                    for metric, value in values.items():
                        cumulative.add_metric([*task, slice_, metric, window], value)
                for name, state in scope.detector_state().items():
                    for field, value in state.items():
                        detectors.add_metric([*task, slice_, name, field], value)
        yield from (counts, coverage, cumulative, detectors, held, overflow)

    def _stage_one(self) -> Iterator[Any]:
        buffers = GaugeMetricFamily(
            "driftline_join_buffer", "Join buffer per input partition", labels=["partition", "what"]
        )
        for partition, join in list(self.join.joins.items()):
            buffers.add_metric([str(partition), "pending"], join.pending)
            buffers.add_metric([str(partition), "early_labels"], join.early_labels)
            buffers.add_metric([str(partition), "changed_entries"], join.changed)
            buffers.add_metric([str(partition), "disk_bytes"], join.store.disk_bytes())
            buffers.add_metric([str(partition), "memory_bytes"], join.store.memory_bytes())
            if join.watermark != float("-inf"):
                buffers.add_metric([str(partition), "watermark_seconds"], join.watermark)
        yield buffers
        dead = CounterMetricFamily(
            "driftline_dead_letters", "Events sent to dead-letters", labels=["stage"]
        )
        dead.add_metric(["join"], self.join.dead_lettered)
        dead.add_metric(["monitor"], self.monitor.dead_lettered)
        yield dead
        rerouted = CounterMetricFamily(
            "driftline_rerouted", "Events re-routed to their murmur2 partition"
        )
        rerouted.add_metric([], self.join.rerouted)
        yield rerouted
        ahead = CounterMetricFamily(
            "driftline_too_far_ahead",
            "Events dead-lettered for an event time beyond monitor.max_event_skew",
        )
        ahead.add_metric([], self.join.too_far_ahead)
        yield ahead
        lag = GaugeMetricFamily(
            "driftline_consumer_lag",
            "Records behind the end of the log",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in (self.lag() if self.lag else {}).items():
            lag.add_metric([topic, str(partition)], value)
        yield lag
        held_back = GaugeMetricFamily(
            "driftline_input_held_back",
            "1 while an input partition waits for the others to catch up in event time "
            "(monitor.input_alignment)",
            labels=["topic", "partition"],
        )
        for topic, partition in sorted(self.held_back() if self.held_back else ()):
            held_back.add_metric([topic, str(partition)], 1)
        yield held_back

    def _alerts(self) -> Iterator[Any]:
        stats = self.monitor.alert_stats
        alerts = CounterMetricFamily(
            "driftline_alerts",
            "Alerts emitted by task, detector and severity",
            labels=["model", "task", "detector", "severity"],
        )
        for (model, task, detector, severity), count in sorted(stats.alerts.items()):
            alerts.add_metric([model, task, detector, severity], count)
        yield alerts
        latency = HistogramMetricFamily(
            "driftline_alert_latency_seconds",
            "Event time of an alert's last evidence label until the monitor emitted it",
        )
        cumulative, buckets = 0, []
        for bound, count in zip(LATENCY_BUCKETS, stats.latency_buckets, strict=True):
            cumulative += count
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", stats.latency_count))
        latency.add_metric([], buckets, stats.latency_sum)
        yield latency
