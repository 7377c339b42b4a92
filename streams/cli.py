"""``driftline monitor``: run the streaming monitor (one Faust worker)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["monitor"]


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="driftline.yaml (default: ./driftline.yaml or $DRIFTLINE_CONFIG)",
)
@click.option(
    "--loglevel",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def monitor(config_path: Path | None, loglevel: str) -> None:
    """Run the streaming monitor: join, per-task metrics, drift detectors, alerts."""
    import faust

    from driftline.config import find_config, load_config
    from streams.app import build_app

    config = load_config(config_path or find_config())
    app = build_app(config)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
