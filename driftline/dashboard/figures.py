"""Plotly figures (as JSON-ready dicts) of what :class:`RunHistory` holds.

plotly.js draws them, in the dashboard (``Plotly.react``) and in the static report alike; this
module only says what to draw. Times go to plotly as UTC strings without a zone (plotly's date
axes ignore zones), and the axes say "UTC".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from driftline.dashboard.history import MetricPoint, RunHistory
from driftline.events import Alert, ModelUpdate

__all__ = [
    "ALERT_TRACE",
    "SEVERITY_COLORS",
    "Phase",
    "dead_letters_figure",
    "lag_figure",
    "slice_comparison_figure",
    "slices_figure",
    "switch_time",
    "task_figure",
    "utc",
]

ALERT_TRACE = "alerts"
"""The name of the marker trace that shows a task's alerts (what the browser test looks for)."""
SEVERITY_COLORS = {"info": "#1f77b4", "warning": "#ff7f0e", "critical": "#d62728"}
_VERSION_EVENTS = {"promoted": "promoted", "rolled_back": "rolled back to"}
_PHASE_COLORS = ("rgba(255, 127, 14, 0.10)", "rgba(44, 160, 44, 0.10)", "rgba(31, 119, 180, 0.10)")
_LEGEND = {"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.0, "yanchor": "bottom"}

Phase = tuple[float, float, str]
"""A shaded stretch of event time: (start, end, label), e.g. the drift until the promotion."""


def utc(t: float) -> str:
    """Unix seconds as the UTC string plotly's date axes take.

    >>> utc(1_800_000_000.25)
    '2027-01-15 08:00:00.250'
    """
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def task_figure(
    history: RunHistory,
    model: str,
    task: str,
    phases: Sequence[Phase] = (),
    height: int = 380,
) -> dict[str, Any]:
    """A task's primary metric (rolling window and cumulative) and label coverage over event
    time, its alerts as markers coloured by severity, and version boundaries (promotions,
    rollbacks, and versions first seen in the snapshots).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> figure = task_figure(RunHistory(cfg), "m", "churn")
    >>> [trace["name"] for trace in figure["data"]]
    ['roc_auc (rolling)', 'roc_auc (cumulative)', 'label coverage', 'alerts']
    >>> figure["layout"]["meta"]
    {'task': 'churn', 'alerts': 0}
    """
    config = history.config.tasks.get(task)
    metric = str(config.primary_metric) if config is not None else "metric"
    points = history.series(model, task)
    alerts = history.alerts(model, task)
    x = [utc(p.t) for p in points]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"{metric} (rolling)",
            "x": x,
            "y": [p.primary for p in points],
            "line": {"color": "#2a6fdb", "width": 2},
            "customdata": [p.version for p in points],
            "hovertemplate": "%{x}<br>%{y:.4f} (v%{customdata})<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"{metric} (cumulative)",
            "x": x,
            "y": [p.cumulative for p in points],
            "line": {"color": "#9aa5b1", "width": 1, "dash": "dot"},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "label coverage",
            "x": x,
            "y": [p.coverage for p in points],
            "xaxis": "x",
            "yaxis": "y2",
            "line": {"color": "#2ca02c", "width": 1.5},
            "hovertemplate": "%{x}<br>coverage %{y:.3f}<extra></extra>",
        },
        _alert_trace(alerts, points),
    ]
    shapes, annotations = _version_marks(history.updates(model), points)
    for index, (start, end, label) in enumerate(phases):
        shapes.append(
            {
                "type": "rect", "xref": "x", "yref": "paper", "x0": utc(start), "x1": utc(end),
                "y0": 0, "y1": 1, "fillcolor": _PHASE_COLORS[index % len(_PHASE_COLORS)],
                "line": {"width": 0}, "layer": "below",
            }
        )  # fmt: skip
        annotations.append(
            {
                "x": utc(start), "xref": "x", "y": 1.0, "yref": "paper", "text": label,
                "showarrow": False, "xanchor": "left", "yanchor": "top",
                "font": {"size": 10, "color": "#8a5a00"},
            }
        )  # fmt: skip
    layout = {
        "title": {
            "text": f"{task}: {metric} over event time",
            "x": 0.01,
            "y": 0.98,
            "font": {"size": 15},
        },
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 64, "b": 40},
        "xaxis": {"type": "date", "anchor": "y2", "title": {"text": "event time (UTC)"}},
        "yaxis": {"title": {"text": metric}, "domain": [0.36, 1.0]},
        "yaxis2": {"title": {"text": "coverage"}, "domain": [0.0, 0.24], "range": [0, 1.05]},
        "shapes": shapes,
        "annotations": annotations,
        "legend": _LEGEND,
        "hovermode": "closest",
        "meta": {"task": task, "alerts": len(alerts)},
    }
    return {"data": data, "layout": layout}


def slices_figure(history: RunHistory, model: str, task: str) -> dict[str, Any] | None:
    """The primary metric of each slice of a task over event time (``None`` without slices)."""
    slices = history.slices(model, task)
    if not slices:
        return None
    config = history.config.tasks.get(task)
    metric = str(config.primary_metric) if config is not None else "metric"
    data: list[dict[str, Any]] = []
    for slice_ in slices:
        points = history.series(model, task, slice_)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": slice_,
                "x": [utc(p.t) for p in points],
                "y": [p.primary for p in points],
            }
        )
    slice_alerts = [a for a in history.alerts(model, task) if a.slice]
    if slice_alerts:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "slice alerts",
                "x": [utc(a.event_time.timestamp()) for a in slice_alerts],
                "y": [_value_at(history.series(model, task, _key(a)), a) for a in slice_alerts],
                "text": [_alert_text(a) for a in slice_alerts],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "symbol": "triangle-down",
                    "size": 11,
                    "color": [SEVERITY_COLORS[a.severity] for a in slice_alerts],
                },
            }
        )
    layout = {
        "title": {
            "text": f"{task}: {metric} per slice",
            "x": 0.01,
            "y": 0.97,
            "font": {"size": 14},
        },
        "height": 300,
        "margin": {"l": 60, "r": 20, "t": 64, "b": 40},
        "xaxis": {"type": "date", "title": {"text": "event time (UTC)"}},
        "yaxis": {"title": {"text": metric}},
        "legend": _LEGEND,
    }
    return {"data": data, "layout": layout}


def slice_comparison_figure(history: RunHistory, model: str, task: str) -> dict[str, Any] | None:
    """The latest rolling primary metric of each slice, side by side with the whole task."""
    slices = history.slices(model, task)
    if not slices:
        return None
    config = history.config.tasks.get(task)
    metric = str(config.primary_metric) if config is not None else "metric"
    names: list[str] = []
    values: list[float | None] = []
    labels: list[int] = []
    for slice_ in ["", *slices]:
        points = history.series(model, task, slice_)
        if not points:
            continue
        names.append(slice_ or "(all)")
        values.append(points[-1].primary)
        labels.append(points[-1].labels)
    bars: dict[str, Any] = {
        "type": "bar",
        "x": names,
        "y": values,
        "customdata": labels,
        "marker": {"color": ["#2a6fdb" if n == "(all)" else "#7fa7e8" for n in names]},
        "hovertemplate": "%{x}: %{y:.4f} (%{customdata} labels)<extra></extra>",
    }
    return {
        "data": [bars],
        "layout": {
            "title": {"text": f"{task}: latest {metric} by slice", "x": 0.01, "font": {"size": 14}},
            "height": 280,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
            "yaxis": {"title": {"text": metric}},
        },
    }


def dead_letters_figure(counts: dict[tuple[str, str, str], int]) -> dict[str, Any] | None:
    """Dead letters by kind of reason, one bar colour per source topic."""
    if not counts:
        return None
    topics = sorted({topic for topic, _, _ in counts})
    data = []
    for topic in topics:
        rows = sorted(((k, n) for (t, _, k), n in counts.items() if t == topic), key=lambda r: r[1])
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": topic,
                "y": [kind for kind, _ in rows],
                "x": [n for _, n in rows],
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": "dead letters by reason", "x": 0.01, "font": {"size": 14}},
            "height": max(220, 60 + 28 * len(counts)),
            "barmode": "stack",
            "margin": {"l": 320, "r": 20, "t": 40, "b": 40},
            "xaxis": {"title": {"text": "events"}},
            "legend": {"orientation": "h", "x": 0, "y": 1.12},
        },
    }


def lag_figure(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Records behind the end of the log, per consumer group and topic."""
    if not rows:
        return None
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["group"], row["topic"])
        totals[key] = totals.get(key, 0) + int(row["lag"] or 0)
    groups = sorted({group for group, _ in totals})
    data = [
        {
            "type": "bar",
            "name": group,
            "x": [topic for g, topic in totals if g == group],
            "y": [lag for (g, _), lag in totals.items() if g == group],
        }
        for group in groups
    ]
    return {
        "data": data,
        "layout": {
            "title": {"text": "consumer lag (records)", "x": 0.01, "font": {"size": 14}},
            "height": 280,
            "barmode": "group",
            "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
            "legend": {"orientation": "h", "x": 0, "y": 1.15},
        },
    }


# ------------------------------------------------------------------------------------ helpers


def _alert_trace(alerts: list[Alert], points: list[MetricPoint]) -> dict[str, Any]:
    overall = [a for a in alerts if not a.slice]
    return {
        "type": "scatter",
        "mode": "markers",
        "name": ALERT_TRACE,
        "x": [utc(a.event_time.timestamp()) for a in overall],
        "y": [_value_at(points, a) for a in overall],
        "text": [_alert_text(a) for a in overall],
        "customdata": [a.alert_id for a in overall],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {
            "symbol": "triangle-down",
            "size": 14,
            "color": [SEVERITY_COLORS[a.severity] for a in overall],
            "line": {"color": "#222", "width": 1},
        },
    }


def _alert_text(alert: Alert) -> str:
    slice_ = ",".join(f"{k}={v}" for k, v in alert.slice.items())
    baseline = "n/a" if alert.baseline is None else f"{alert.baseline:.4g}"
    return (
        f"<b>{alert.severity.upper()}</b> {alert.detector} ({alert.signal})"
        f"{' [' + slice_ + ']' if slice_ else ''}<br>{alert.metric} = {alert.value:.4g} "
        f"(baseline {baseline})<br>v{alert.model_version}, labels "
        f"{alert.evidence.start_count}–{alert.evidence.end_count}"
    )


def _value_at(points: list[MetricPoint], alert: Alert) -> float | None:
    """The series' value at the alert's time (the last snapshot before it, else the first)."""
    t = alert.event_time.timestamp()
    before = [p.primary for p in points if p.t <= t and p.primary is not None]
    if before:
        return before[-1]
    after = [p.primary for p in points if p.primary is not None]
    return after[0] if after else alert.value


def _key(alert: Alert) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(alert.slice.items()))


def switch_time(points: Sequence[MetricPoint], update: ModelUpdate) -> float:
    """Where a promotion or rollback goes on the event-time axis: the snapshot where the task
    switched to the update's version (the one nearest the update's time when it switched more
    than once), else the update's own time (when the switch is not in the snapshots).

    The update's time is the wall clock of the promotion; the snapshots' is the predictions'
    event time, which may lag it (a backlog, a replay, the demo's throttled simulator).
    """
    at = update.event_time.timestamp()
    switches = [
        point.t
        for previous, point in itertools.pairwise(points)
        if point.version == update.version and previous.version != update.version
    ]
    return min(switches, key=lambda t: abs(t - at)) if switches else at


def _version_marks(
    updates: list[ModelUpdate], points: list[MetricPoint]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    announced: set[str] = set()

    def mark(t: float, text: str, color: str, dash: str) -> None:
        shapes.append(
            {
                "type": "line", "xref": "x", "yref": "paper", "x0": utc(t), "x1": utc(t),
                "y0": 0, "y1": 1, "line": {"color": color, "width": 1.5, "dash": dash},
            }
        )  # fmt: skip
        annotations.append(
            {
                "x": utc(t), "xref": "x", "y": 0.3, "yref": "paper", "text": text,
                "showarrow": False, "textangle": -90, "xanchor": "right",
                "font": {"size": 10, "color": color},
            }
        )  # fmt: skip

    for update in updates:
        verb = _VERSION_EVENTS.get(update.status)
        if verb is None or update.version is None:
            continue
        announced.add(update.version)
        color = "#6f42c1" if update.status == "promoted" else "#b02a37"
        mark(switch_time(points, update), f"{verb} v{update.version}", color, "dash")
    previous: str | None = None
    for point in points:
        if previous is not None and point.version != previous and point.version not in announced:
            mark(point.t, f"v{point.version} in predictions", "#6c757d", "dot")
            announced.add(point.version)
        previous = point.version
    return shapes, annotations
