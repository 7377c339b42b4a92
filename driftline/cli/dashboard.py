"""``driftline dashboard -c driftline.yaml [--host H] [--port P]``: serve the web page."""

from __future__ import annotations

import click

from driftline.cli.options import config_option, load_or_exit


@click.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default: dashboard.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: dashboard.port, 8050).",
)
def dashboard(config_path: str | None, host: str | None, port: int | None) -> None:
    """Serve the dashboard: every task over time, alerts, retrains, dead letters, lag.

    It reads the driftline topics from their beginning into memory (bounded by
    dashboard.points / dashboard.events) and keeps reading; the page refreshes itself.
    The broker must answer at start (within kafka.connect_timeout) and hold those topics;
    once serving, the page outlives a broker that goes away and reads on when it is back.
    """
    import logging

    from driftline.dashboard import DashboardService
    from driftline.reachability import require_topics

    cfg = load_or_exit(config_path)
    service = DashboardService(cfg, host, port)  # connects to nothing yet
    require_topics(cfg.kafka, service.feed.topics)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(message)s")
    click.echo(f"driftline dashboard for {cfg.model} at {service.url} (Ctrl-C stops it)", err=True)
    service.run()
