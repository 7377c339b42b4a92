"""A static, self-contained HTML report of a run: the dashboard's figures in one file.

plotly.js is inlined (the copy the ``plotly`` package ships), so the file opens anywhere,
offline, years later. The demo writes one (``driftline demo --report FILE``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline.dashboard.app import finite, plotly_js
from driftline.dashboard.figures import Phase, task_figure
from driftline.dashboard.history import RunHistory
from driftline.dashboard.retrains import retrain_rows

__all__ = ["render_report", "write_report"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2329; margin: 24px; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #dde1e5; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; } .chart { width: 100%; min-height: 380px; }
.critical { color: #d62728; } .warning { color: #c76a00; } .info { color: #1f77b4; }
"""


def write_report(
    path: str | Path,
    history: RunHistory,
    model: str | None = None,
    phases: Mapping[str, Sequence[Phase]] | None = None,
    summary: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write :func:`render_report` to ``path`` (parents created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(history, model, phases, summary, title))
    return target


def render_report(
    history: RunHistory,
    model: str | None = None,
    phases: Mapping[str, Sequence[Phase]] | None = None,
    summary: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """The report as one HTML string.

    ``phases`` per task shade stretches of event time (the demo: drift → promotion);
    ``summary`` (the demo's) adds the before / during / after table.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> page = render_report(RunHistory(cfg))
    >>> "Plotly.newPlot" in page, "cdn" in page.split("<body>")[1].lower()
    (True, False)
    """
    model = model or history.config.model
    title = title or f"driftline report: {model}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(f"<p>written {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC; event times in UTC.</p>")
    if summary:
        parts.append(_summary_table(summary))
    figures: list[tuple[str, dict[str, Any]]] = []
    parts.append("<h2>Tasks over event time</h2>")
    for task in history.tasks(model):
        div = f"task-{len(figures)}"
        figures.append((div, task_figure(history, model, task, (phases or {}).get(task, ()))))
        parts.append(f'<div class="chart" id="{div}"></div>')
    parts.append(_alerts_table(history, model))
    parts.append(_retrains_table(history, model))
    scripts = "\n".join(
        f"Plotly.newPlot({json.dumps(div)}, {json.dumps(finite(fig['data']))}, "
        f"{json.dumps(finite(fig['layout']))}, {{displaylogo: false, responsive: true}});"
        for div, fig in figures
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{plotly_js().read_text()}</script></head>\n<body>\n"
        + "\n".join(parts)
        + f"\n<script>{scripts}</script>\n</body></html>\n"
    )


def _summary_table(summary: Mapping[str, Any]) -> str:
    rows = []
    drifted = set(summary.get("drifted_tasks", []))
    for task, entry in (summary.get("tasks") or {}).items():
        values = [entry.get(p) for p in ("before", "during", "after")]
        cells = "".join(f"<td>{v:.4f}</td>" if v is not None else "<td>–</td>" for v in values)
        rows.append(
            f"<tr><td>{html.escape(task)}</td><td>{'yes' if task in drifted else 'no'}</td>"
            f"<td>{html.escape(str(entry.get('metric', '')))}</td>{cells}"
            f"<td>{summary.get('alerts', {}).get(task, 0)}</td></tr>"
        )
    promoted = ", ".join(f"v{v}" for v in summary.get("promoted_versions", [])) or "none"
    return (
        "<h2>Before / during / after</h2><table><tr><th>task</th><th>drifted</th><th>metric</th>"
        "<th>before drift</th><th>during (old model)</th><th>after retrain</th><th>alerts</th>"
        f"</tr>{''.join(rows)}</table><p>promoted: {html.escape(promoted)}; events: "
        f"{summary.get('events', '?')}; drift at event {summary.get('drift_at', '?')}</p>"
    )


def _alerts_table(history: RunHistory, model: str) -> str:
    rows = []
    for alert in history.alerts(model):
        slice_ = ",".join(f"{k}={v}" for k, v in alert.slice.items()) or "–"
        rows.append(
            f"<tr><td>{alert.event_time:%Y-%m-%d %H:%M:%S}</td><td>{html.escape(alert.task)}</td>"
            f'<td class="{alert.severity}">{alert.severity}</td><td>{html.escape(alert.detector)}'
            f" ({alert.signal})</td><td>{html.escape(slice_)}</td><td>{html.escape(alert.metric)}"
            f" = {alert.value:.4g}</td><td>v{html.escape(alert.model_version)}</td>"
            f"<td><code>{alert.alert_id}</code></td></tr>"
        )
    if not rows:
        return "<h2>Alerts</h2><p>none</p>"
    return (
        "<h2>Alerts</h2><table><tr><th>event time</th><th>task</th><th>severity</th>"
        "<th>detector</th><th>slice</th><th>value</th><th>version</th><th>alert id</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _retrains_table(history: RunHistory, model: str) -> str:
    rows = []
    for row in retrain_rows(history, model):
        for update in row["updates"] or [None]:
            gate = ""
            if update:
                gate = "<br>".join(
                    html.escape(task)
                    + ": "
                    + ", ".join(
                        f"{html.escape(m)} {_num(v['candidate'])} vs {_num(v['champion'])}"
                        for m, v in metrics.items()
                    )
                    for task, metrics in update["gate"].items()
                )
            rows.append(
                f"<tr><td>{row['requested_at'][:19]}</td><td>{html.escape(', '.join(row['tasks']))}</td>"
                f"<td>{html.escape(row['reason'])}</td>"
                f"<td>{'v' + update['version'] if update and update['version'] else '–'}</td>"
                f"<td>{gate}</td><td>{update['status'] if update else 'pending'}</td></tr>"
            )
    if not rows:
        return "<h2>Retrains</h2><p>none</p>"
    return (
        "<h2>Retrains</h2><table><tr><th>requested</th><th>tasks</th><th>reason</th>"
        "<th>version</th><th>candidate vs champion</th><th>decision</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"
