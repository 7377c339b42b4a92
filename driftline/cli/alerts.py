"""``driftline alerts tail [--follow] [--task T] [--json]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from driftline.events import Alert

from driftline.cli.options import config_option, load_or_exit


@click.group()
def alerts() -> None:
    """Read drift alerts."""


@alerts.command()
@click.option("-f", "--follow", is_flag=True, help="Keep waiting for new alerts.")
@click.option("--task", "tasks", multiple=True, help="Only alerts of this task (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON alert per line.")
@click.option("--from-end", is_flag=True, help="Skip alerts already on the topic.")
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    help="Without --follow: stop after this many seconds idle.",
)
@config_option
def tail(
    follow: bool,
    tasks: tuple[str, ...],
    as_json: bool,
    from_end: bool,
    timeout: float,
    config_path: str | None,
) -> None:
    """Print alerts from the drift-alerts topic as they arrive."""
    from driftline.events import Alert, encode
    from driftline.reader import EventReader

    cfg = load_or_exit(config_path)
    topic = cfg.topics.drift_alerts
    reader = EventReader(cfg, [topic], from_beginning=not from_end)
    with reader:
        for item in reader.read(timeout=0, idle=None if follow else timeout):
            if item.error or not isinstance(item.event, Alert):
                click.echo(f"skipping bad record {item.source}: {item.error}", err=True)
                continue
            alert = item.event
            if tasks and alert.task not in tasks:
                continue
            if as_json:
                click.echo(encode(alert).decode())
            else:
                click.echo(_line(alert))


def _line(a: Alert) -> str:
    slice_ = ",".join(f"{k}={v}" for k, v in a.slice.items()) or "-"
    baseline = "n/a" if a.baseline is None else f"{a.baseline:.4g}"
    return (
        f"{a.event_time:%Y-%m-%dT%H:%M:%SZ} {a.severity.upper():8} {a.model}@{a.model_version} "
        f"task={a.task} slice={slice_} {a.detector}/{a.signal} "
        f"{a.metric}={a.value:.4g} (baseline {baseline}) id={a.alert_id}"
    )
