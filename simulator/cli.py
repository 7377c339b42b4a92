"""``driftline simulate``, ``driftline up``, ``driftline down`` and ``driftline status``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from driftline.cli.options import config_option, known_name, load_or_exit

__all__ = ["down", "simulate", "status", "up"]


def _config_path(path: str | None) -> Path:
    from driftline.config import find_config

    return Path(path) if path else Path(find_config())


def _stack(config_path: str | None) -> Any:
    from simulator.stack import LocalStack

    return LocalStack(load_or_exit(config_path), _config_path(config_path))


# ------------------------------------------------------------------------------ simulate


@click.command()
@config_option
@click.option("--source", type=click.Choice(["synthetic", "yeast"]), default="synthetic", show_default=True,
              help="Synthetic multi-task world, or a replay of River's Yeast dataset.")  # fmt: skip
@click.option("--events", "count", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Index of the first event (events before it are history).")  # fmt: skip
@click.option("--drift", multiple=True, metavar="TASK@COUNT[:SEVERITY]",
              help="Concept drift on TASK from event COUNT (severity 1 = orthogonal concept).")  # fmt: skip
@click.option("--shift", multiple=True, metavar="COUNT[:MAGNITUDE]",
              help="Covariate shift of every feature from event COUNT (in standard deviations).")  # fmt: skip
@click.option("--correlation", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Cosine between the tasks' latent scores (synthetic source).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"]),
              default=None, help="Event time of event 0 (UTC) [default: so that the last event "
              "is about now].")  # fmt: skip
@click.option("--interval", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Event-time seconds between events.")  # fmt: skip
@click.option("--label-delay", type=click.FloatRange(0, 0.5), default=0.25, show_default=True,
              help="Mean label delay as a fraction of each task's label_delay budget.")  # fmt: skip
@click.option(
    "--loss", multiple=True, metavar="TASK=RATE", help="Share of TASK's labels never sent."
)
@click.option("--rate", type=click.FloatRange(min=1), default=None, help="Events per wall-clock second at most.")  # fmt: skip
@click.option("--batch", type=click.IntRange(min=1), default=250, show_default=True)
@click.option("--no-features", is_flag=True, help="Do not write feature values to Feast.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="When the registry has no champion, first train one on this many events "
                   "(the live events follow them).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the final stats as JSON.")
def simulate(
    config_path: str | None, source: str, count: int, offset: int, drift: tuple[str, ...],
    shift: tuple[str, ...], correlation: float, seed: int, start: datetime | None, interval: float,
    label_delay: float, loss: tuple[str, ...], rate: float | None, batch: int, no_features: bool,
    bootstrap: int, as_json: bool,
) -> None:  # fmt: skip
    """Play production traffic: score events with the registry's champion, send predictions and
    labels (with per-task delays and losses), write features to Feast."""
    from rich.console import Console

    from driftline.cli.progress import progress_bar
    from driftline.reachability import require_topics
    from simulator.labels import LabelPlan
    from simulator.phases import PhaseTracker
    from simulator.schedule import DriftSchedule
    from simulator.simulation import Simulation

    config = _stack(config_path).client_config()
    try:
        schedule = DriftSchedule.parse(list(drift), list(shift))
        losses = {k: float(v) for k, _, v in (item.partition("=") for item in loss)}
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    for task in [*schedule.drifted_tasks, *losses]:
        known_name(task, config.tasks, "task", "--drift/--loss")
    require_topics(config.kafka, [config.topics.predictions, config.topics.labels])
    history = bootstrap if bootstrap and _champion(config) is None else 0
    first_time = _start_time(start, count, offset + history, interval, config)
    stream = build_source(config, source, schedule, seed, correlation, first_time, interval)
    console = Console(stderr=True)
    if history:
        _bootstrap(config, stream, offset, history, console)
        offset += history
    plan = LabelPlan.from_config(config, label_delay, losses, seed=seed)
    first = schedule.first_drift
    tracker = PhaseTracker(config, first)
    simulation = Simulation(config, stream, plan, batch=batch, rate=rate,
                            push_features=not no_features, tracker=tracker, offset=offset)  # fmt: skip
    with progress_bar() as bar:
        bar_task = bar.add_task("simulating", total=count)
        stats = simulation.run(
            count,
            on_batch=lambda s: bar.update(
                bar_task, completed=s.events,
                description=f"simulating ({s.labels} labels, champion v{s.version})",
            ),
        )  # fmt: skip
    summary = {**stats.as_dict(), "tasks": tracker.summary()}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        console.print(f"sent {stats.events} predictions and {stats.labels} labels in {stats.wall_s:.1f} s; "
                      f"champion v{stats.version}")  # fmt: skip


def _champion(config: Any) -> int | None:
    """The registry's champion version of ``config.model``, or ``None``."""
    from models import Registry, RegistryError

    registry = Registry.from_config(config.registry)
    try:
        champion: int | None = registry.aliases(config.model).get("champion")
        return champion
    except RegistryError:
        return None
    finally:
        registry.close()


def _bootstrap(config: Any, stream: Any, offset: int, count: int, console: Any) -> None:
    """Train a first champion on events ``offset .. offset + count - 1`` (as ``driftline demo``)."""
    from featurestore import FeatureRepo
    from simulator.bootstrap import bootstrap_champion

    with console.status(f"no champion yet: training one on {count} events"):
        FeatureRepo(config).ensure_applied()
        report = bootstrap_champion(config, stream.events(offset, count))
    console.print(f"bootstrap: champion v{report.version} trained on {report.rows} rows "
                  f"in {report.wall_s:.1f} s")  # fmt: skip


def _start_time(
    start: datetime | None, count: int, offset: int, interval: float, config: Any
) -> float:
    """Event time of event 0: ``start``, or so that the last event played is about now.

    Warns (one line) when the events would be older than ``topics.input_retention``: Kafka may
    delete them at once, and a monitor that has seen newer events expires their predictions.
    """
    import time

    if start is None:
        return time.time() - (offset + count) * interval
    first = start.timestamp() if start.tzinfo else start.replace(tzinfo=UTC).timestamp()
    last = first + (offset + count) * interval
    retention = config.topics.input_retention
    if last < time.time() - retention:
        click.echo(
            f"warning: every event is older than topics.input_retention ({retention / 86400:g} d) "
            "before now: Kafka may delete them at once, and a monitor that has seen newer "
            "events expires their predictions unlabelled; leave --start out to end at about now",
            err=True,
        )
    return first


def build_source(
    config: Any, source: str, schedule: Any, seed: int, correlation: float, start: float, interval: float
) -> Any:  # fmt: skip
    """The event source a ``--source`` names, for ``config``."""
    from simulator.errors import SimulatorError
    from simulator.synthetic import SyntheticStream
    from simulator.yeast import YeastStream

    try:
        if source == "yeast":
            return YeastStream.from_config(config, schedule=schedule, seed=seed, start=start, interval=interval)  # fmt: skip
        return SyntheticStream.from_config(config, schedule=schedule, seed=seed, correlation=correlation,
                                           start=start, interval=interval)  # fmt: skip
    except ValueError as exc:
        raise SimulatorError(str(exc)) from None


# ------------------------------------------------------------------------------ up / down / status


@click.command()
@config_option
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for health.")  # fmt: skip
def up(config_path: str | None, timeout: float) -> None:
    """Start the broker, monitor and retrainer in the background (idempotent), health-checked."""
    from rich.console import Console

    stack = _stack(config_path)
    console = Console(stderr=True)
    with console.status("starting") as spinner:
        states = stack.up(progress=spinner.update, timeout=timeout)
    _print_states(states)


@click.command()
@config_option
@click.option("--keep-broker", is_flag=True, help="Leave the broker running.")
def down(config_path: str | None, keep_broker: bool) -> None:
    """Stop the retrainer, monitor and broker that `driftline up` started."""
    stopped = _stack(config_path).down(keep_broker=keep_broker)
    for name, was_running in stopped.items():
        click.echo(f"{name}: {'stopped' if was_running else 'was not running'}", err=True)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(config_path: str | None, as_json: bool) -> None:
    """Show the local services, consumer lag per topic and the champion of each model.

    A monitor or retrainer started without `driftline up` is found by its health check. Exit 69
    when no broker answers.
    """
    stack = _stack(config_path)
    states = stack.status()
    broker_ok = states[0].healthy
    lags = _lags(stack) if broker_ok else []
    champions = _champions(stack.config)
    if as_json:
        click.echo(json.dumps({
            "services": [{"name": s.name, "pid": s.pid, "healthy": s.healthy, "detail": s.detail,
                          "log": str(s.log)} for s in states],
            "lag": [lag.__dict__ for lag in lags],
            "champions": champions,
        }, indent=2))  # fmt: skip
        _exit_if_no_broker(stack, broker_ok)
        return
    from rich.console import Console
    from rich.table import Table

    _print_states(states)
    table = Table(title="consumer lag")
    for column in ("group", "topic", "end offset", "committed", "lag"):
        table.add_column(column, justify="right" if column in ("end offset", "committed", "lag") else "left")  # fmt: skip
    for lag in lags:
        table.add_row(lag.group, lag.topic, str(lag.end), "-" if lag.committed is None else str(lag.committed), str(lag.lag))  # fmt: skip
    Console().print(table)
    models = Table(title="champions")
    for column in ("model", "champion", "candidate"):
        models.add_column(column)
    for model, aliases in champions.items():
        models.add_row(model, _v(aliases.get("champion")), _v(aliases.get("candidate")))
    Console().print(models)
    _exit_if_no_broker(stack, broker_ok)


def _exit_if_no_broker(stack: Any, broker_ok: bool) -> None:
    """After the tables: one line and exit 69 when no broker answered (what other commands do)."""
    if broker_ok:
        return
    from driftline.errors import BrokerUnreachableError
    from driftline.reachability import unreachable_message

    config = stack.client_config()
    kafka = config.kafka
    raise BrokerUnreachableError(
        unreachable_message(kafka.bootstrap_servers, kafka.connect_timeout)
    )


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def _print_states(states: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="driftline services")
    for column in ("service", "pid", "health", "detail", "log"):
        table.add_column(column)
    for state in states:
        health = "[green]healthy[/]" if state.healthy else "[red]down[/]"
        table.add_row(state.name, str(state.pid or "-"), health, state.detail, str(state.log))
    Console().print(table)


def _lags(stack: Any) -> list[Any]:
    from simulator.lag import consumer_lag

    config = stack.client_config()
    topics = config.topics
    groups = {
        config.monitor.app_id: [topics.predictions, topics.labels, topics.outcomes, topics.model_updates],
        config.retrainer.group_id: [topics.retrain_requests],
    }  # fmt: skip
    return consumer_lag(config, groups)


def _champions(config: Any) -> dict[str, dict[str, int]]:
    from models import Registry, RegistryError

    registry = Registry.from_config(config.registry)
    try:
        return {name: registry.aliases(name) for name in registry.list_models()}
    except RegistryError:
        return {}
    finally:
        registry.close()
