"""``driftline produce predictions|labels FILE.jsonl``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from driftline.cli.options import config_option, load_or_exit
from driftline.cli.progress import progress_bar


@click.command()
@click.argument("kind", type=click.Choice(["predictions", "labels"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--single", is_flag=True, help="One event per record instead of envelopes.")
@click.option("--strict", is_flag=True, help="Send nothing if any line is bad.")
@config_option
def produce(kind: str, file: Path, single: bool, strict: bool, config_path: str | None) -> None:
    """Validate each line of FILE (JSONL) and send the good ones; report bad lines by number.

    Exit status: 0 when every line was sent, 1 when some lines were bad (the good ones are sent
    unless --strict).
    """
    from driftline.client import Client
    from driftline.ingest import read_events
    from driftline.reachability import require_topics

    cfg = load_or_exit(config_path)
    expected = "driftline.prediction/1" if kind == "predictions" else "driftline.label/1"
    events, problems = read_events(file, cfg, expected)
    for problem in problems:
        click.echo(problem, err=True)
    if problems and strict:
        click.echo(f"{len(problems)} bad line(s); nothing sent (--strict)", err=True)
        sys.exit(1)
    topic = cfg.topics.predictions if kind == "predictions" else cfg.topics.labels
    require_topics(cfg.kafka, [topic])
    with Client(cfg, envelopes=not single) as client, progress_bar() as bar:
        task = bar.add_task(f"sending {kind}", total=len(events))
        for event in events:
            client.send(event)
            bar.advance(task)
        bar.update(task, description="waiting for the broker's acks")
        client.flush()
    click.echo(f"sent {len(events)} {kind} to {client.config.kafka.bootstrap_servers}", err=True)
    if problems:
        click.echo(f"{len(problems)} bad line(s) not sent", err=True)
        sys.exit(1)
