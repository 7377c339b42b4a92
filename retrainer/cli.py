"""``driftline retrainer [-c PATH]``: run the retrainer worker until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from driftline.cli.options import config_option, configure_logging, load_or_exit, log_level_option
from driftline.config.models import DriftlineConfig

__all__ = ["prepare", "retrainer"]

log = logging.getLogger("retrainer")


@click.command()
@config_option
@log_level_option("info")
def retrainer(config_path: str | None, log_level: str) -> None:
    """Consume retrain requests, train, gate, register and publish model updates.

    Several workers with the same `retrainer.group_id` share the request partitions. SIGTERM or
    Ctrl-C stops polling, lets the running retrain finish, publishes and commits; a second
    Ctrl-C exits at once (the request is then redone by the next worker). At start the broker
    must answer within ``kafka.connect_timeout`` with the request and update topics, and the
    Feast repo is applied when it is missing; either failing ends the command with one line.
    """
    config = load_or_exit(config_path)
    configure_logging(log_level)
    prepare(config)
    from retrainer.worker import RetrainWorker

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("signal %d: stopping after the running retrain", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    RetrainWorker(config).run(stop)


def prepare(config: DriftlineConfig) -> None:
    """Check the broker and its topics, and apply the Feast repo when it is missing.

    Raises :class:`~driftline.errors.BrokerUnreachableError` (no broker within
    ``kafka.connect_timeout``), :class:`~driftline.errors.DriftlineError` (a topic is missing:
    run ``driftline topics create``) or :class:`~featurestore.errors.FeatureStoreError`.
    """
    from driftline.reachability import require_topics
    from featurestore import FeatureRepo

    topics = config.topics
    require_topics(config.kafka, [topics.retrain_requests, topics.model_updates])
    repo = FeatureRepo(config)
    applied = repo.ensure_applied()
    if applied:
        log.info("applied the Feast repo (%d objects) to %s", len(applied), repo.backend.describe())
    repo.close()
