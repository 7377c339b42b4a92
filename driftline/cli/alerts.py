"""``driftline alerts tail [--follow] [--task T] [--json]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from driftline.events import Alert

from driftline.cli.options import config_option, known_name, load_or_exit


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
    from driftline.reachability import require_topics
    from driftline.reader import EventReader

    cfg = load_or_exit(config_path)
    for task in tasks:
        known_name(task, cfg.tasks, "task", "--task")
    topic = cfg.topics.drift_alerts
    require_topics(cfg.kafka, [topic])
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
                click.echo(alert_line(alert))


def alert_line(a: Alert) -> str:
    """One readable line per alert: when, how bad, which model/task/slice, what changed, why.

    >>> from driftline.events import decode
    >>> alert = decode(b'{"schema": "driftline.alert/1", "alert_id": "d3200ad1", "model": "shop",'
    ...     b' "model_version": "1", "task": "churn", "slice": {}, "detector": "adwin/error",'
    ...     b' "signal": "error", "severity": "critical", "metric": "error_rate", "value": 0.085,'
    ...     b' "baseline": 0.0, "evidence": {"start_count": 793, "end_count": 992,'
    ...     b' "start_time": "2023-11-14T22:27:01Z", "end_time": "2023-11-14T22:29:11Z"},'
    ...     b' "config_hash": "590e9cd8", "event_time": "2023-11-14T22:29:11Z"}')
    >>> print(alert_line(alert))
    2023-11-14T22:29:11Z CRITICAL shop v1 churn: error_rate 0.085 (was 0) — adwin on the error stream, labels 793-992 [alert d3200ad1]
    """
    where = f"{a.model} v{a.model_version} {a.task}"
    if a.slice:
        where += " [" + ", ".join(f"{k}={v}" for k, v in a.slice.items()) + "]"
    was = "" if a.baseline is None else f" (was {a.baseline:.4g})"
    detector = a.detector.split("/", 1)[0]
    source = {
        "error": "the error stream",
        "score": "the score stream",
        "metric": "a rolling metric",
    }
    window = a.evidence
    unit = "predictions" if a.signal == "score" else "labels"
    return (
        f"{a.event_time:%Y-%m-%dT%H:%M:%SZ} {a.severity.upper()} {where}: "
        f"{a.metric} {a.value:.4g}{was} — {detector} on {source[a.signal]}, "
        f"{unit} {window.start_count}-{window.end_count} [alert {a.alert_id}]"
    )


@alerts.command()
@config_option
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics (deliveries, failures, attempts) on this port.",
)
def route(config_path: str | None, metrics_port: int | None) -> None:
    """Deliver drift alerts to the webhooks in `alerts.sinks` until SIGTERM/SIGINT.

    `driftline monitor` runs the same router beside its worker when sinks are configured
    (`alerts.route_with_monitor`); run this instead to keep deliveries in their own process.
    """
    import logging
    import signal
    import threading

    from driftline.alerts import AlertRouter
    from driftline.errors import ConfigError
    from driftline.reachability import require_topics

    cfg = load_or_exit(config_path)
    if not cfg.alerts.sinks:
        raise click.ClickException("the config has no alerts.sinks: nothing to route")
    router = AlertRouter(cfg)
    try:
        router.check()  # every sink's URL variable is set
        require_topics(cfg.kafka, [cfg.topics.drift_alerts, cfg.topics.dead_letters])
        logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(message)s")
        router.start()
    except ConfigError as exc:
        for line in exc.problems or [str(exc)]:
            click.echo(line, err=True)
        raise SystemExit(2) from None
    if metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server

        REGISTRY.register(router.collector)  # beside the process and Python collectors
        start_http_server(metrics_port)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.wait(1.0):
        if not router.running:
            raise click.ClickException("every alert sink's loop stopped; see the log above")
    router.stop()
