"""Options and config loading shared by the CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from driftline.config import DriftlineConfig, load_config
from driftline.errors import ConfigError

__all__ = ["CONFIG_EXIT_CODE", "config_option", "load_or_exit", "report_config_error"]

CONFIG_EXIT_CODE = 2
"""The exit code of every command whose config does not load."""

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """``-c/--config PATH`` (default ``$DRIFTLINE_CONFIG`` or ``./driftline.yaml``)."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="driftline.yaml to use (default: $DRIFTLINE_CONFIG or ./driftline.yaml).",
    )(func)


def load_or_exit(path: str | None) -> DriftlineConfig:
    """Load the config; on errors print every ``PATH:LINE: field: message`` and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        report_config_error(exc)
        sys.exit(CONFIG_EXIT_CODE)


def report_config_error(exc: ConfigError) -> None:
    """Print each problem of a config on its own ``PATH:LINE: field: message`` line (stderr)."""
    for line in exc.problems or [str(exc)]:
        click.echo(line, err=True)
