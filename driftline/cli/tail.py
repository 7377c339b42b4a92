"""``driftline tail ROLE``: print the events of any driftline topic (envelopes unpacked)."""

from __future__ import annotations

import click

from driftline.cli.options import config_option, load_or_exit

ROLES = ["predictions", "labels", "outcomes", "drift-alerts", "retrain-requests",
         "model-updates", "task-metrics", "dead-letters"]  # fmt: skip


@click.command()
@click.argument("role", type=click.Choice(ROLES), metavar="ROLE")
@click.option("-f", "--follow", is_flag=True, help="Keep waiting for new events.")
@click.option("--from-end", is_flag=True, help="Skip events already on the topic.")
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    help="Without --follow: stop after this many seconds idle.",
)
@click.option(
    "-n", "--limit", type=int, default=0, help="Stop after this many events (0: no limit)."
)
@config_option
def tail(
    role: str, follow: bool, from_end: bool, timeout: float, limit: int, config_path: str | None
) -> None:
    """Print events of the topic that plays ROLE, one JSON object per line.

    Records that are not valid events are reported on stderr with topic/partition/offset.
    """
    from driftline.events import encode
    from driftline.reachability import require_topics
    from driftline.reader import EventReader

    cfg = load_or_exit(config_path)
    topic = getattr(cfg.topics, role.replace("-", "_"))
    require_topics(cfg.kafka, [topic])
    count = 0
    with EventReader(cfg, [topic], from_beginning=not from_end) as reader:
        for item in reader.read(timeout=0, idle=None if follow else timeout):
            if item.error or item.event is None:
                src = item.source
                click.echo(f"{src.topic}[{src.partition}]@{src.offset}: {item.error}", err=True)
                continue
            click.echo(encode(item.event).decode())
            count += 1
            if limit and count >= limit:
                break
    click.echo(f"{count} event(s) from {topic}", err=True)
