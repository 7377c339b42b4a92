"""Options and config loading shared by the CLI commands.

Every command that reads ``driftline.yaml`` takes ``-c/--config`` (:func:`config_option`); the
long-running ones take ``--log-level`` (:func:`log_level_option`).
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from driftline.config import DriftlineConfig, load_config
from driftline.config.environment import environment
from driftline.errors import ConfigError

__all__ = [
    "CONFIG_EXIT_CODE",
    "LOG_LEVELS",
    "config_option",
    "configure_logging",
    "known_name",
    "load_or_exit",
    "log_level_option",
    "report_config_error",
]

CONFIG_EXIT_CODE = 2
"""The exit code of every command whose config does not load."""

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")


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


def _alias(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["driftline.log_level"] = value


def log_level_option(default: str = "info") -> Callable[[F], F]:
    """``--log-level LEVEL`` (any case; ``$DRIFTLINE_LOG_LEVEL``); ``--loglevel`` still works.

    The command receives ``log_level`` in lower case.
    """

    def decorate(func: F) -> F:
        def pick(ctx: click.Context, param: click.Parameter, value: str) -> str:
            """The flag, else ``--loglevel``, else ``$DRIFTLINE_LOG_LEVEL``, else the default."""
            source = ctx.get_parameter_source(param.name or "")
            alias = ctx.meta.get("driftline.log_level")
            if alias is not None and source is not click.core.ParameterSource.COMMANDLINE:
                value = alias
            elif source is click.core.ParameterSource.DEFAULT:
                env = environment().log_level
                value = param.type.convert(env, param, ctx) if env is not None else value
            return value.lower()

        func = click.option(
            "--loglevel",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            hidden=True,
            expose_value=False,
            is_eager=True,
            callback=_alias,
        )(func)
        return click.option(
            "--log-level",
            "log_level",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            default=default,
            show_default=True,
            callback=pick,
            help="Log level (also for librdkafka's own lines, rate-limited).",
        )(func)

    return decorate


def configure_logging(
    level: str, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"
) -> None:
    """Log to stderr at ``level`` (librdkafka's lines too: WARNING and up unless DEBUG)."""
    from driftline.kafka_logs import set_kafka_log_level

    logging.basicConfig(level=level.upper(), format=fmt)
    set_kafka_log_level(level)


def load_or_exit(path: str | None) -> DriftlineConfig:
    """Load the config; on errors print every ``PATH:LINE: field: message`` and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        report_config_error(exc)
        sys.exit(CONFIG_EXIT_CODE)


def report_config_error(exc: ConfigError) -> None:
    """Print each problem of a config on its own ``PATH:LINE: field: message`` line (stderr)."""
    for line in exc.problems or [f"error: {exc}"]:
        click.echo(line, err=True)


def known_name(value: str, known: Iterable[str], what: str, option: str) -> str:
    """``value`` when it is one of ``known``, else a usage error (exit 2) with "did you mean".

    >>> known_name("churn", ["churn", "spend"], "task", "--tasks")
    'churn'
    >>> try:
    ...     known_name("chrn", ["churn", "spend"], "task", "--tasks")
    ... except click.BadParameter as exc:
    ...     print(exc.format_message())
    Invalid value for --tasks: unknown task 'chrn' (did you mean 'churn'?); the config has: churn, spend
    """
    names = sorted(known)
    if value in names:
        return value
    close = difflib.get_close_matches(value, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise click.BadParameter(
        f"unknown {what} {value!r}{hint}; the config has: {', '.join(names) or 'none'}",
        param_hint=option,
    )
