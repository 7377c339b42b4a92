"""Entry point of the ``driftline`` command.

Each subcommand lives next to the code it drives and is imported only when it is run, so that
``driftline --help`` starts well under a second (no Kafka, torch or Feast imports on that path).
To add a command, add one line to ``COMMANDS``: ``name -> "module:click_object"``, and one to
``COMMAND_EXTRAS`` when it needs an optional extra of the distribution (:mod:`driftline.extras`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import click

from driftline import __version__
from driftline.errors import ConfigError, DriftlineError, MissingExtraError

COMMANDS: dict[str, tuple[str, str]] = {
    "broker": ("driftline.cli.broker", "Run the local Apache Kafka broker (start, stop, status)."),
    "config": ("driftline.cli.config_cmd", "Validate driftline.yaml or print its JSON Schema."),
    "schemas": ("driftline.cli.schemas", "Export the JSON Schemas of the event contracts."),
    "topics": ("driftline.cli.topics", "Create the topics named in the config."),
    "produce": ("driftline.cli.produce", "Send prediction or label events from a JSONL file."),
    "alerts": (
        "driftline.cli.alerts",
        "Print drift alerts as they arrive; route them to webhooks.",
    ),
    "tail": ("driftline.cli.tail", "Print the events of any driftline topic."),
    "dashboard": ("driftline.cli.dashboard", "Serve the web dashboard of every task over time."),
    "monitor": ("streams.cli", "Run the streaming monitor (Faust worker)."),
    "calibrate": ("streams.calibrate_cli", "Choose each task's detector on a replayed history."),
    "features": ("featurestore.cli", "Feast feature store: apply, push, materialize, stats."),
    "models": ("models.cli", "Model registry: list, show, promote, rollback."),
    "retrainer": ("retrainer.cli", "Run the retrainer worker."),
    "retrain": ("retrainer.cli_trigger", "Request a retrain by hand."),
    "bench": ("bench.cli", "Benchmarks with JSON results."),
    "demo": ("driftline.cli.demo", "Run the demo on the embedded broker."),
    "simulate": ("simulator.cli", "Play simulated production traffic with known drift."),
    "up": ("simulator.cli", "Start broker, monitor and retrainer in the background."),
    "down": ("simulator.cli", "Stop what `driftline up` started."),
    "status": ("simulator.cli", "Show local services, consumer lag and champions."),
}

COMMAND_EXTRAS: dict[str, str] = {
    "monitor": "monitor",
    "calibrate": "monitor",
    "dashboard": "monitor",
    "features": "retrain",
    "models": "retrain",
    "retrainer": "retrain",
    "bench": "all",
    "demo": "all",
    "simulate": "all",
    "up": "all",
    "down": "all",
    "status": "all",
}
"""The extra each command needs beyond the light SDK (``pip install 'driftline[EXTRA]'``); the
commands not listed run on ``pip install driftline`` alone."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in COMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _module_exists(COMMANDS[cmd_name][0]):
            return None
        extra = COMMAND_EXTRAS.get(cmd_name)
        if extra is not None and not ctx.resilient_parsing:
            from driftline.extras import missing_module

            missing = missing_module(extra)
            if missing is not None:  # before its --help too: it could not run
                raise MissingExtraError(extra, missing, f"driftline {cmd_name}")
        try:
            module = importlib.import_module(COMMANDS[cmd_name][0])
        except ModuleNotFoundError as exc:
            error = _missing_extra(exc, cmd_name)
            if error is None:
                raise
            raise error from None
        command = getattr(module, cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Like click's, with "did you mean" for a mistyped command."""
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            ctx.fail(f"no such command {name!r}{hint}")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a user error becomes one line on stderr and its exit status."""
        try:
            return super().invoke(ctx)
        except DriftlineError as exc:
            for line in getattr(exc, "problems", None) or [f"error: {exc}"]:
                click.echo(line, err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except ModuleNotFoundError as exc:  # an extra's module, imported by the command
            error = _missing_extra(exc, ctx.invoked_subcommand)
            if error is None:
                raise
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)
        except Exception as exc:
            line = user_error_line(exc)
            if line is None:
                raise
            click.echo(f"error: {line}", err=True)
            ctx.exit(1)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and what each does; one whose extra is missing says which to install."""
        from driftline.extras import missing_module

        missing = {e for e in set(COMMAND_EXTRAS.values()) if missing_module(e) is not None}
        rows = [
            (name, COMMANDS[name][1] + _needs(COMMAND_EXTRAS.get(name), missing))
            for name in self.list_commands(ctx)
        ]
        if not rows:
            return
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _needs(extra: str | None, missing: set[str]) -> str:
    return f" [needs driftline[{extra}]]" if extra in missing else ""


def _missing_extra(exc: ModuleNotFoundError, command: str | None) -> MissingExtraError | None:
    """The error naming the extra that would install the module ``exc`` misses (``None``: none)."""
    from driftline.extras import missing_extra

    feature = f"driftline {command}" if command else "driftline"
    return missing_extra(exc, feature, COMMAND_EXTRAS.get(command or ""))


def _module_exists(module: str) -> bool:
    """Whether ``module`` exists, found on disk without importing its parent packages.

    ``find_spec("models.cli")`` would import ``models`` (and torch with it); listing commands
    must stay cheap, so only the top-level package is located and the rest is a path check.
    """
    top, _, rest = module.partition(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    if not rest:
        return True
    for root in spec.submodule_search_locations or []:
        path = Path(root, *rest.split("."))
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="driftline")
def cli() -> None:
    """driftline: monitor multi-task models in production and retrain them when they drift."""


def main() -> None:
    """Run the CLI: a user error prints one clear line (never a traceback) and exits non-zero.

    Exit status: 2 for usage and config errors, 69 when the broker cannot be reached, 1 for other
    driftline errors (a missing optional extra among them), 130 on Ctrl-C.
    """
    from driftline.kafka_logs import set_kafka_log_level
    from driftline.quiet import quiet_third_party

    quiet_third_party()
    set_kafka_log_level(None)  # one-shot commands: off; monitor/retrainer set --log-level
    try:
        sys.exit(cli.main(standalone_mode=False) or 0)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.UsageError as exc:  # one line, and where to read more
        command = exc.ctx.command_path if exc.ctx is not None else "driftline"
        click.echo(f"error: {exc.format_message()} (see `{command} -h`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except ConfigError as exc:  # from any command that loads driftline.yaml
        from driftline.cli.options import CONFIG_EXIT_CODE, report_config_error

        report_config_error(exc)
        sys.exit(CONFIG_EXIT_CODE)
    except DriftlineError as exc:
        problems = getattr(exc, "problems", None) or [f"error: {exc}"]
        for line in problems:
            click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:
        error = _missing_extra(exc, None)
        if error is None:
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except Exception as exc:
        line = user_error_line(exc)
        if line is None:
            raise
        click.echo(f"error: {line}", err=True)
        sys.exit(1)


def user_error_line(exc: BaseException) -> str | None:
    """One line for an error that the user's input or environment caused, else ``None``.

    Files that cannot be read or written, and errors reported by Kafka (librdkafka's
    ``KafkaException``) are the user's to fix; anything else is a bug and keeps its traceback.

    >>> user_error_line(FileNotFoundError(2, "No such file or directory", "x.jsonl"))
    "[Errno 2] No such file or directory: 'x.jsonl'"
    >>> user_error_line(ZeroDivisionError("division by zero")) is None
    True
    """
    if isinstance(exc, OSError) and exc.filename is not None:
        return str(exc)
    kind = type(exc)
    if kind.__module__ in ("cimpl", "confluent_kafka.error") and kind.__name__ == "KafkaException":
        describe = getattr(exc.args[0] if exc.args else None, "str", None)
        return f"Kafka: {describe() if callable(describe) else exc}"
    return None
