"""``driftline config validate|schema``."""

from __future__ import annotations

import json
import sys

import click

from driftline.cli.options import CONFIG_EXIT_CODE, config_option, report_config_error
from driftline.config import DriftlineConfig, find_config, load_config
from driftline.errors import ConfigError


@click.group()
def config() -> None:
    """Validate driftline.yaml or print its JSON Schema."""


@config.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@config_option
def validate(path: str | None, config_path: str | None) -> None:
    """Check PATH (or -c PATH; default ./driftline.yaml): exit 0 when valid, 2 with PATH:LINE
    errors.

    Warnings (a task no detector watches, a severity that never requests a retrain) go to
    stderr as PATH:LINE lines; they do not change the exit status.
    """
    path = path or config_path
    try:
        file = find_config(path)
        cfg = load_config(file)
    except ConfigError as exc:
        report_config_error(exc)
        sys.exit(CONFIG_EXIT_CODE)
    from driftline.config.lint import config_warnings

    text = file.read_text(encoding="utf-8")
    warnings = config_warnings(cfg, text, str(file))
    try:  # the monitor's state budget needs the monitor (the light SDK install has none)
        from streams.state_budget import check_state_budget
    except ImportError:
        pass
    else:
        warnings += check_state_budget(cfg, text, str(file))
    for line in warnings:
        click.echo(line, err=True)
    tasks = ", ".join(f"{name} ({task.type})" for name, task in cfg.tasks.items())
    noted = f", {len(warnings)} warning(s)" if warnings else ""
    click.echo(f"{file}: OK — model {cfg.model!r}, {len(cfg.tasks)} task(s): {tasks}{noted}")


@config.command()
def schema() -> None:
    """Print the JSON Schema of driftline.yaml (for editor completion)."""
    click.echo(json.dumps(DriftlineConfig.model_json_schema(), indent=2))


@config.command()
def reference() -> None:
    """Print the Markdown reference of every config key (docs/config-reference.md)."""
    from driftline.config.reference import render_reference

    click.echo(render_reference(), nl=False)
