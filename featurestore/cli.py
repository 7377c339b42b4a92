"""``driftline features``: apply, push, materialize, stats (Feast is imported only when run)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from driftline.cli.options import config_option

__all__ = ["features"]

_config_option = config_option


def _repo(config_path: str | None) -> Any:
    from driftline.config import load_config
    from featurestore.repo import FeatureRepo

    return FeatureRepo(load_config(config_path))


def _when(value: str | None, default: datetime | None) -> datetime | None:
    if value is None:
        return default
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def features() -> None:
    """Feast feature store: apply, push, materialize, stats."""


@features.command()
@_config_option
def apply(config_path: str | None) -> None:
    """Generate the Feast repo from the config and register it (idempotent)."""
    repo = _repo(config_path)
    names = repo.apply()
    click.echo(f"applied {len(names)} objects to {repo.backend.describe()}: {', '.join(names)}")
    click.echo(f"generated config: {repo.backend.path / 'feature_store.yaml'}")


@features.command()
@_config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    type=click.Choice(["offline", "online", "both"]),
    default="both",
    show_default=True,
    help="Offline store (training), online store (serving) or both.",
)
@click.option(
    "--kafka/--no-kafka", default=False, help="Also send rejects to the dead-letters topic."
)
def push(config_path: str | None, file: Path, to: str, kafka: bool) -> None:
    """Push feature values from FILE (.jsonl, .csv, .parquet); bad rows are dead-lettered.

    Each row: the entity id, ``event_time`` (ISO 8601 with a timezone) and feature values.
    Exits 1 when any row was rejected (the others are pushed).
    """
    from featurestore.ingest import push_features, read_feature_file

    repo = _repo(config_path)
    producer = None
    if kafka:
        from driftline import kafka_clients

        producer = kafka_clients.producer(repo.config.kafka)
    report = push_features(
        repo.config, read_feature_file(file), to=to, producer=producer,  # type: ignore[arg-type]
        source=f"file:{file}", repo=repo,
    )  # fmt: skip
    per_view = ", ".join(f"{v}: {n}" for v, n in report.per_view.items()) or "no views"
    click.echo(f"pushed {report.pushed} rows ({per_view}) to {to}")
    for rejected in report.rejected[:20]:
        click.echo(f"{file}:{rejected.line}: {rejected.reason}", err=True)
    if report.rejected:
        more = len(report.rejected) - 20
        if more > 0:
            click.echo(f"... and {more} more", err=True)
        click.echo(
            f"{len(report.rejected)} row(s) rejected; dead letters in {report.dead_letter_file}",
            err=True,
        )
        sys.exit(1)


@features.command()
@_config_option
@click.option("--start", default=None, help="ISO time; default: incremental since the last run.")
@click.option("--end", default=None, help="ISO time; default: now.")
def materialize(config_path: str | None, start: str | None, end: str | None) -> None:
    """Load the latest feature values into the online store."""
    repo = _repo(config_path)
    views = [v.name for v in repo.layout.feature_views]
    end_at = _when(end, datetime.now(UTC))
    assert end_at is not None
    if start is None:
        repo.store.materialize_incremental(end_date=end_at, feature_views=views)
    else:
        start_at = _when(start, None)
        assert start_at is not None
        repo.store.materialize(start_date=start_at, end_date=end_at, feature_views=views)
    click.echo(f"materialized {', '.join(views)} up to {end_at.isoformat()}")


@features.command()
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(config_path: str | None, as_json: bool) -> None:
    """Rows per view and per task, time range and null rates of the offline store."""
    from featurestore.stats import store_stats

    repo = _repo(config_path)
    rows = store_stats(repo)
    if as_json:
        data = [
            {**r.__dict__, "first": r.first and r.first.isoformat(),
             "last": r.last and r.last.isoformat()}
            for r in rows
        ]  # fmt: skip
        click.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Feast offline store: {repo.backend.describe()}")
    for column in ("view", "kind", "task", "rows", "entities", "first", "last", "null rates"):
        table.add_column(column, justify="right" if column in ("rows", "entities") else "left")
    for r in rows:
        nulls = ", ".join(f"{k} {v:.1%}" for k, v in r.null_rates.items())
        table.add_row(
            r.view, r.kind, r.task or "-", str(r.rows), str(r.entities),
            r.first.isoformat() if r.first else "-", r.last.isoformat() if r.last else "-", nulls,
        )  # fmt: skip
    Console().print(table)
