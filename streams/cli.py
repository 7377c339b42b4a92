"""``driftline monitor``: run the streaming monitor (one Faust worker, or N worker processes)."""

from __future__ import annotations

import signal
import subprocess
import sys
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
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes on this host sharing the partitions (default: monitor.workers).",
)
@click.option("--worker-index", type=click.IntRange(0, 63), default=0, hidden=True)
def monitor(
    config_path: Path | None, loglevel: str, workers: int | None, worker_index: int
) -> None:
    """Run the streaming monitor: join, per-task metrics, drift detectors, alerts.

    With N workers, worker i serves Prometheus on ``monitor.web_port + i`` and keeps its state
    under ``state_dir/monitor/worker-i``; SIGTERM/SIGINT stops them all.
    """
    from driftline.config import find_config, load_config

    path = config_path or find_config()
    config = load_config(path)
    count = workers or config.monitor.workers
    if count > 1:
        raise SystemExit(_run_workers(path, loglevel, count))

    import faust

    from streams.app import build_app

    app = build_app(config, worker_index=worker_index)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()


def _run_workers(path: Path, loglevel: str, count: int) -> int:
    """Start ``count`` single-worker processes; forward stop signals; the worst exit code."""
    script = Path(sys.executable).parent / "driftline"
    command = [str(script) if script.exists() else "driftline", "monitor", "--config", str(path)]
    options = ["--loglevel", loglevel, "--workers", "1", "--worker-index"]
    children = [subprocess.Popen([*command, *options, str(index)]) for index in range(count)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, key=abs)
