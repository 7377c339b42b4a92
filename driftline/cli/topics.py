"""``driftline topics create|list``."""

from __future__ import annotations

import click

from driftline.cli.options import config_option, load_or_exit


@click.group()
def topics() -> None:
    """Provision the topics named in the config."""


@topics.command()
@config_option
def create(config_path: str | None) -> None:
    """Create every missing topic (predictions and labels co-partitioned)."""
    from rich.console import Console
    from rich.table import Table

    from driftline.topics import create_topics, topic_specs

    cfg = load_or_exit(config_path)
    result = create_topics(cfg)
    table = Table(title=f"topics on {cfg.kafka.bootstrap_servers}")
    for column in ("topic", "partitions", "retention", "role", "status"):
        table.add_column(column)
    for spec in topic_specs(cfg):
        days = f"{spec.retention_ms / 86_400_000:g}d"
        table.add_row(spec.name, str(spec.partitions), days, spec.role, result[spec.name])
    Console().print(table)
