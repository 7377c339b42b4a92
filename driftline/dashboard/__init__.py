"""``driftline dashboard``: every task of a model over time, for the people who must act on it.

It reads the driftline topics (task-metrics history, drift-alerts, retrain-requests,
model-updates, dead-letters) into a bounded memory (:class:`RunHistory`), reads the consumer lag
of driftline's groups, and serves one page (FastAPI + uvicorn) whose charts plotly.js draws from
the package's own copy (nothing from a CDN). :func:`write_report` renders the same figures into
one self-contained HTML file (the demo's report).
"""

from driftline.dashboard.history import MetricPoint, RunHistory
from driftline.dashboard.report import write_report
from driftline.dashboard.service import DashboardService

__all__ = ["DashboardService", "MetricPoint", "RunHistory", "write_report"]
