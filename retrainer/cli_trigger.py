"""``driftline retrain --model M --tasks t1,t2``: produce a retrain request by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from driftline.cli.options import config_option, known_name, load_or_exit

if TYPE_CHECKING:
    from driftline.events import RetrainRequest

__all__ = ["build_request", "retrain"]


def build_request(
    model: str,
    tasks: list[str],
    request_id: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    reason: str = "requested by hand",
) -> RetrainRequest:
    """A ``driftline.retrain-request/1`` with ``requested_by="cli"`` (fresh id unless given).

    >>> build_request("shop", ["churn"], request_id="cli-1").requested_by
    'cli'
    """
    from driftline.events import RetrainRequest

    return RetrainRequest.model_validate(
        {
            "schema": RetrainRequest.SCHEMA,
            "request_id": request_id or f"cli-{uuid.uuid4().hex}",
            "model": model,
            "tasks": tasks,
            "window_start": window_start,
            "window_end": window_end,
            "reason": reason,
            "requested_by": "cli",
            "event_time": datetime.now(UTC),
        }
    )


@click.command()
@click.option("--model", "model_name", default=None,
              help="Model (default: the config's; no other is accepted).")  # fmt: skip
@click.option("--tasks", required=True, help="Comma-separated tasks to focus on, e.g. churn,spend.")
@click.option("--request-id", default=None, help="Request id (default: a fresh one).")
@click.option("--window-start", type=click.DateTime(), default=None, help="UTC start of the data.")
@click.option("--window-end", type=click.DateTime(), default=None, help="UTC end of the data.")
@click.option("--reason", default="requested by hand", show_default=True)
@config_option
def retrain(
    model_name: str | None,
    tasks: str,
    request_id: str | None,
    window_start: datetime | None,
    window_end: datetime | None,
    reason: str,
    config_path: str | None,
) -> None:
    """Send a retrain request to the retrain-requests topic (the retrainer answers on model-updates)."""
    config = load_or_exit(config_path)
    if model_name is not None:
        known_name(model_name, [config.model], "model", "--model")
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    if not names:
        raise click.BadParameter("name at least one task", param_hint="--tasks")
    for name in names:
        known_name(name, config.tasks, "task", "--tasks")
    request = build_request(
        model_name or config.model, names, request_id,
        window_start.replace(tzinfo=UTC) if window_start else None,
        window_end.replace(tzinfo=UTC) if window_end else None,
        reason,
    )  # fmt: skip
    from driftline.events import encode
    from driftline.reachability import require_topics
    from retrainer.publisher import update_producer

    require_topics(config.kafka, [config.topics.retrain_requests])
    producer = update_producer(config)
    errors: list[str] = []
    producer.produce(
        config.topics.retrain_requests, key=request.model.encode(), value=encode(request),
        on_delivery=lambda err, msg: errors.append(str(err)) if err else None,
    )  # fmt: skip
    if producer.flush(30.0) or errors:
        raise click.ClickException(
            f"request not delivered to {config.topics.retrain_requests} at "
            f"{config.kafka.bootstrap_servers}: {errors or 'timeout'}"
        )
    click.echo(f"retrain request {request.request_id} sent for {request.model}: {', '.join(names)}")
