"""``driftline demo``: the closed loop, end to end, on the embedded default.

up (broker, monitor, retrainer) → bootstrap a first champion from pre-drift history → simulated
traffic scored by the registry's champion → concept drift on some tasks → alerts → retrain →
promotion → the simulator hot-swaps → metrics recover → summary → down. The live view goes to
stderr; the summary goes to stdout (a table, or JSON with ``--json``). The work is done by :mod:`simulator.demo`
(imported only when the command runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from driftline.cli.options import config_option, known_name, load_or_exit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


@click.command()
@config_option
@click.option("--drift", "drifted", default="churn,category", show_default=True,
              help="Comma-separated tasks whose concept drifts.")  # fmt: skip
@click.option("--history", type=click.IntRange(min=100), default=5000, show_default=True,
              help="Pre-drift events the first champion is trained on.")  # fmt: skip
@click.option("--before", type=click.IntRange(min=100), default=5000, show_default=True,
              help="Live events before the drift.")  # fmt: skip
@click.option("--after", type=click.IntRange(min=100), default=5000, show_default=True,
              help="Live events scored by the retrained champion before the demo ends.")  # fmt: skip
@click.option("--rate", type=click.FloatRange(min=10), default=400.0, show_default=True,
              help="Events per second at most (the simulator also waits while the monitor is "
                   "more than --max-lag events behind).")  # fmt: skip
@click.option(
    "--max-lag",
    type=click.IntRange(min=100),
    default=1000,
    show_default=True,
    help="Events the monitor may fall behind before the simulator waits for it.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--timeout", type=float, default=240.0, show_default=True,
              help="Seconds to wait for a promotion after the drift.")  # fmt: skip
@click.option("--keep-running", is_flag=True, help="Leave broker, monitor and retrainer running.")
@click.option("--no-dashboard", is_flag=True,
              help="Do not serve the dashboard while the demo runs.")  # fmt: skip
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a static HTML report of the run to this file.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo(
    config_path: str | None, drifted: str, history: int, before: int, after: int, rate: float,
    max_lag: int, seed: int, timeout: float, keep_running: bool, no_dashboard: bool,
    report: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Show drift → alert → retrain → new champion → recovery on the local stack."""
    from rich.console import Console
    from rich.live import Live

    from simulator.demo import DemoPlan, DemoRun
    from simulator.live_view import LiveView

    path = Path(config_path) if config_path else EXAMPLE
    config = load_or_exit(str(path))
    tasks = tuple(t.strip() for t in drifted.split(",") if t.strip())
    for task in tasks:
        known_name(task, config.tasks, "task", "--drift")
    plan = DemoPlan(history=history, before=before, after=after, drifted=tasks,
                    interval=1.0 / rate, seed=seed, promotion_timeout=timeout,
                    max_lag=max_lag)  # fmt: skip
    view = LiveView(config, list(tasks))
    console = Console(stderr=True)
    with Live(view.render(), console=console, refresh_per_second=4, transient=False) as live:
        run = DemoRun(config, path, plan, keep_running=keep_running, view=view,
                      dashboard=not no_dashboard, report=report)  # fmt: skip
        summary = run.run(refresh=lambda: live.update(view.render()))
    if not console.is_terminal:
        console.line()  # the live view's last render ends without a newline in a log file
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    _print_summary(Console(), summary)  # stdout: `driftline demo > summary.txt` keeps it


def _print_summary(console: object, summary: dict) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(title=f"driftline demo: {summary['events']} events in {summary['wall_s']} s")
    for column in ("task", "drifted", "alerts", "delay (events)", "metric", "before", "during", "after"):  # fmt: skip
        table.add_column(column)
    for name, entry in summary["tasks"].items():
        table.add_row(
            name,
            "yes" if name in summary["drifted_tasks"] else "no",
            str(summary["alerts"].get(name, 0)),
            str(summary["detection_delay"].get(name, "-")),
            entry["metric"],
            *(
                f"{entry[p]:.4f}" if entry[p] is not None else "-"
                for p in ("before", "during", "after")
            ),
        )
    console.print(table)  # type: ignore[attr-defined]
    console.print(f"promoted: {', '.join('v' + v for v in summary['promoted_versions']) or 'none'}")  # type: ignore[attr-defined]
    if summary.get("dashboard_url"):
        console.print(  # type: ignore[attr-defined]
            f"dashboard: {summary['dashboard_url']} (served while the demo ran; after it: "
            "`driftline dashboard --config examples/demo.yaml`)"
        )
    if summary.get("report"):
        console.print(f"report: {summary['report']}")  # type: ignore[attr-defined]
