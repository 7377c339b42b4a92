"""``driftline retrainer [--config PATH]``: run the retrainer worker until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from driftline.cli.options import config_option, load_or_exit

__all__ = ["retrainer"]


@click.command()
@config_option
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING"]),
    default="INFO",
    show_default=True,
)
def retrainer(config_path: str | None, log_level: str) -> None:
    """Consume retrain requests, train, gate, register and publish model updates.

    Several workers with the same `retrainer.group_id` share the request partitions. SIGTERM or
    Ctrl-C stops polling, lets the running retrain finish, publishes and commits; a second
    Ctrl-C exits at once (the request is then redone by the next worker).
    """
    config = load_or_exit(config_path)
    logging.basicConfig(
        level=getattr(logging, log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from retrainer.worker import RetrainWorker

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logging.getLogger("retrainer").info("signal %d: stopping after the running retrain", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    RetrainWorker(config).run(stop)
