"""The demo's live view (rich, on stderr): per-task metrics, alerts, retraining, promotions."""

from __future__ import annotations

from collections import deque
from typing import Any

from driftline.config.models import DriftlineConfig

__all__ = ["LiveView"]


class LiveView:
    """Renders the state of a demo run as one rich table plus a log of what happened.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> view = LiveView(parse_config("model: m\\ntasks: {churn: {type: binary}}\\n"), ["churn"])
    >>> view.log("v2 promoted")
    >>> view.render() is not None
    True
    """

    def __init__(self, config: DriftlineConfig, drifted: list[str]) -> None:
        self.config = config
        self.drifted = drifted
        self._reset()

    def _reset(self) -> None:
        self.lines: deque[str] = deque(maxlen=14)
        self.stats: Any = None
        self.outputs: Any = None
        self.lag: int | None = None
        self.phase = "starting"

    def log(self, line: str) -> None:
        """Add a line to the event log."""
        self.lines.append(line)

    def render(self) -> Any:
        """The renderable for ``rich.live.Live``."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        table = Table(title=f"{self.config.model} — {self.phase}", expand=False)
        for column in ("task", "type", "drift", "labels", "rolling metric", "alerts"):
            table.add_column(column)
        metrics = self.outputs.latest_metrics if self.outputs is not None else {}
        alerts = self.outputs.alerts if self.outputs is not None else []
        for name, task in self.config.tasks.items():
            snapshot = metrics.get(name)
            primary = str(task.primary_metric)
            value = snapshot.rolling.get(primary) if snapshot is not None else None
            shown = "-" if value is None else f"{primary} {value:.3f}"
            count = sum(1 for a in alerts if a.task == name)
            table.add_row(
                name,
                task.type,
                "[yellow]drifts[/]" if name in self.drifted else "stable",
                "-" if snapshot is None else str(snapshot.labels),
                shown,
                f"[red]{count}[/]" if count else "0",
            )
        stats = self.stats
        head = (
            f"events {stats.events}  labels {stats.labels}  champion v{stats.version}"
            if stats is not None
            else "starting"
        )
        if self.lag is not None:
            head += f"  monitor {self.lag} events behind"
        return Group(table, Panel("\n".join(self.lines) or "…", title=head))
