"""``driftline models list|show|promote|rollback``: the registry from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from driftline.cli.options import config_option

__all__ = ["models", "publish_update"]


def _out() -> Console:
    """A console on the current stdout; wide when it is not a terminal (pipes, tests)."""
    return Console(width=None if sys.stdout.isatty() else 160)


def _registry(config_path: str | None, model_name: str | None = None) -> tuple[Any, str]:
    """The registry and the model to act on: ``model_name`` when the registry or the config
    knows it (else a usage error with "did you mean"), else the config's ``model``."""
    from driftline.cli.options import known_name
    from driftline.config import load_config
    from models.registry import Registry

    config = load_config(config_path)
    registry = Registry.from_config(config.registry)
    if model_name is None:
        return registry, config.model
    known_name(model_name, {config.model, *registry.list_models()}, "model", "--model")
    return registry, model_name


def publish_update(update: dict[str, Any], config_path: str | None) -> None:
    """Send a ``driftline.model-update/1`` for a CLI promotion or rollback to ``model-updates``.

    :mod:`models` never imports Kafka at module level: the retrainer's publisher (and
    confluent-kafka with it) is imported here, only when a command publishes. The registry
    change has already happened; a delivery failure says so and exits 1.
    """
    from driftline.config import load_config
    from retrainer.errors import PublishError
    from retrainer.publisher import publish_update as send

    config = load_config(config_path)
    try:
        send(config, update)
    except PublishError as exc:
        raise click.ClickException(
            f"the registry was changed, but the {update['status']} update was not published "
            f"to {config.topics.model_updates}: {exc}"
        ) from exc
    _out().print(f"published {update['status']} update {update['update_id']}")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


model_option = click.option(
    "--model", "model_name", default=None, help="Model name (default: the config's `model`)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group()
def models() -> None:
    """Model registry: list, show, promote, rollback."""


@models.command("list")
@config_option
@model_option
@json_option
def list_versions(config_path: str | None, model_name: str | None, as_json: bool) -> None:
    """List the versions of a model with status, aliases and primary metrics."""
    registry, name = _registry(config_path, model_name)
    registered = name in registry.list_models()
    versions = registry.list_versions(name) if registered else []
    if not registered:
        click.echo(f"no version of {name!r} is registered yet (the retrainer registers one; "
                   "`driftline demo` bootstraps one)", err=True)  # fmt: skip
    if as_json:
        click.echo(json.dumps([_version_dict(v) for v in versions], indent=2, default=str))
        return
    table = Table(title=f"{name} — {len(versions)} version(s)")
    for column in (
        "version",
        "status",
        "aliases",
        "created",
        "architecture",
        "parent",
        "requests",
        "sha256",
    ):
        table.add_column(column)
    for v in versions:
        table.add_row(
            str(v.version),
            v.status,
            ",".join(v.aliases),
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.architecture,
            str(v.parent_version or ""),
            str(len(v.request_ids)),
            v.sha256[:12],
        )
    _out().print(table)


@models.command()
@click.argument("version", default="champion")
@config_option
@model_option
@json_option
def show(version: str, config_path: str | None, model_name: str | None, as_json: bool) -> None:
    """Show one version (number or alias): lineage, hashes, window, per-task metrics."""
    registry, name = _registry(config_path, model_name)
    info = registry.get_version(name, version)
    if as_json:
        click.echo(json.dumps(_version_dict(info), indent=2, default=str))
        return
    details = Table(title=f"{info.model} v{info.version}", show_header=False)
    details.add_column("field")
    details.add_column("value")
    for key, value in (
        ("status", info.status),
        ("aliases", ", ".join(info.aliases) or "—"),
        ("architecture", info.architecture),
        ("parent version", str(info.parent_version or "—")),
        (
            "training window",
            " → ".join(str(x) for x in info.training_window) if any(info.training_window) else "—",
        ),
        ("rows", json.dumps(info.row_counts.get("train", info.row_counts))),
        ("request ids", ", ".join(info.request_ids) or "—"),
        ("alert ids", ", ".join(info.alert_ids) or "—"),
        ("artifact", str(info.artifact_path)),
        ("sha256", info.sha256),
        ("trunk hash", info.trunk_hash[:16]),
    ):
        details.add_row(key, value)
    for task, digest in info.head_hashes.items():
        details.add_row(f"head {task}", digest[:16])
    _out().print(details)
    metrics = Table(title="holdout metrics")
    metrics.add_column("task")
    names = sorted({m for values in info.metrics.values() for m in values})
    for name in names:
        metrics.add_column(name, justify="right")
    for task, values in sorted(info.metrics.items()):
        metrics.add_row(
            task,
            *(
                f"{values[n]:.0f}"
                if n == "n" and values.get(n) is not None
                else _fmt(values.get(n))
                for n in names
            ),
        )
    _out().print(metrics)


@models.command()
@click.argument("version")
@click.option(
    "--alias", type=click.Choice(["champion", "candidate"]), default="champion", show_default=True
)
@click.option("--reason", default="promoted by hand", show_default=True)
@config_option
@model_option
def promote(
    version: str, alias: str, reason: str, config_path: str | None, model_name: str | None
) -> None:
    """Point the champion (or candidate) alias at VERSION."""
    registry, name = _registry(config_path, model_name)
    previous = registry.aliases(name).get("champion")
    info = registry.promote(name, version, alias=alias, reason=reason)
    _out().print(f"{name}: {alias} → v{info.version}")
    if alias == "champion":
        from models.registry import model_update

        publish_update(model_update(info, "promoted", reason, parent_version=previous), config_path)


@models.command()
@click.option("--reason", default="rolled back by hand", show_default=True)
@config_option
@model_option
def rollback(reason: str, config_path: str | None, model_name: str | None) -> None:
    """Move the champion alias back to the previous champion."""
    registry, name = _registry(config_path, model_name)
    update = rollback_update(registry, name, reason)
    _out().print(
        f"{update['model']}: champion v{update['parent_version']} → v{update['version']} (rolled back)"
    )
    publish_update(update, config_path)


def rollback_update(registry: Any, model_name: str, reason: str) -> dict[str, Any]:
    """Roll back and return the ``rolled_back`` ModelUpdate dict (``parent_version`` = the old champion)."""
    from models.registry import model_update

    result = registry.rollback(model_name, reason)
    info = registry.get_version(model_name, result.to_version)
    return model_update(info, "rolled_back", reason, parent_version=result.from_version)


def _version_dict(info: Any) -> dict[str, Any]:
    data = dict(info.__dict__)
    data["artifact_path"] = str(Path(info.artifact_path))
    return data
