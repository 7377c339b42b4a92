"""``driftline broker start|stop|status``: the embedded single-node Apache Kafka (KRaft)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from driftline.errors import ConfigError

__all__ = ["broker"]

EXIT_NOT_RUNNING = 3
# Exit codes leave through SystemExit: ``driftline.cli.main`` runs click with
# ``standalone_mode=False``, where ``ctx.exit(code)`` would only return the code.


def _options(command: Any) -> Any:
    """Options every broker subcommand shares: where the config and the state live."""
    command = click.option(
        "--libs",
        type=click.Path(path_type=Path),
        help="Directory of the Kafka jars [default: .driftline/kafka/libs; $DRIFTLINE_KAFKA_LIBS].",
    )(command)
    command = click.option(
        "--state-dir",
        type=click.Path(path_type=Path),
        help="Broker data, logs, server.properties, broker.pid [default: <state_dir>/kafka].",
    )(command)
    command = click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        help="driftline.yaml [default: $DRIFTLINE_CONFIG or ./driftline.yaml; optional].",
    )(command)
    return command


@click.group()
def broker() -> None:
    """Run the local Apache Kafka broker (single node, KRaft) from Maven Central jars."""


@broker.command()
@_options
@click.option("--port", type=int, help="Client port; 0 picks a free one [kafka.local.port].")
@click.option("--controller-port", type=int, help="KRaft controller port; 0 picks a free one.")
@click.option("--sasl-port", type=int, help="Add a SASL_PLAINTEXT (SCRAM-SHA-512) listener.")
@click.option("--heap", help="JVM heap, e.g. 512m [kafka.local.heap].")
@click.option("--timeout", "start_timeout", type=float, help="Seconds to wait for the broker.")
def start(
    config_path: Path | None,
    state_dir: Path | None,
    libs: Path | None,
    **overrides: Any,
) -> None:
    """Start the broker (idempotent) and wait until it answers metadata requests."""
    from rich.console import Console

    from driftline.broker import BrokerStartError

    local = _local_broker(config_path, state_dir, libs, **overrides)
    console = Console(stderr=True)
    try:
        with console.status("Starting Kafka") as spinner:
            status = local.start(progress=lambda message: spinner.update(message))
    except BrokerStartError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo(exc.log_tail, err=True)
        sys.exit(1)
    if status.already_running:
        click.echo(f"already running at {status.bootstrap_servers} (pid {status.pid})")
        return
    click.echo(f"started at {status.bootstrap_servers} (pid {status.pid})")
    if "SASL_PLAINTEXT" in status.listeners:
        click.echo(f"SASL_PLAINTEXT (SCRAM-SHA-512) at {status.listeners['SASL_PLAINTEXT']}")


@broker.command()
@_options
def stop(config_path: Path | None, state_dir: Path | None, libs: Path | None) -> None:
    """Stop the broker started from this state dir (SIGTERM, then SIGKILL)."""
    local = _local_broker(config_path, state_dir, libs)
    before = local.status(with_topics=False)
    if local.stop():
        click.echo(f"stopped (pid {before.pid}); {before.bootstrap_servers} is free")
    else:
        click.echo(f"not running (state dir {local.root})")


@broker.command()
@_options
def status(config_path: Path | None, state_dir: Path | None, libs: Path | None) -> None:
    """Print address, pid, listeners and topics; exit 0 if running, 3 if not."""
    local = _local_broker(config_path, state_dir, libs)
    current = local.status()
    if not current.running:
        click.echo(f"not running (state dir {current.state_dir})")
        sys.exit(EXIT_NOT_RUNNING)
    click.echo(f"running at {current.bootstrap_servers} (pid {current.pid})")
    click.echo(f"state dir  {current.state_dir}")
    for name, address in current.listeners.items():
        click.echo(f"listener   {name:<15} {address}")
    if current.topics is None:
        click.echo("topics     (the broker did not answer a metadata request)")
    else:
        click.echo(f"topics     {len(current.topics)}")
        for topic, partitions in current.topics.items():
            click.echo(f"  {topic:<40} {partitions} partition(s)")


def _local_broker(
    config_path: Path | None, state_dir: Path | None, libs: Path | None, **overrides: Any
) -> Any:
    """A LocalBroker from flags, then driftline.yaml (if any), then defaults."""
    from driftline.broker import KafkaJars, LocalBroker
    from driftline.broker.jars import default_pom
    from driftline.config.models import LocalBrokerConfig, SecurityConfig

    local_config, security, base_dir = LocalBrokerConfig(), SecurityConfig(), Path(".driftline")
    config = _maybe_load_config(config_path)
    if config is not None:
        local_config, security, base_dir = (
            config.kafka.local,
            config.kafka.security,
            config.state_dir,
        )
    jars = KafkaJars(libs, default_pom()) if libs is not None else None
    return LocalBroker.from_config(
        local_config, security, state_dir or base_dir / "kafka", jars=jars, **overrides
    )


def _maybe_load_config(config_path: Path | None) -> Any:
    """The config when one is named or ``./driftline.yaml`` exists; ``None`` means defaults."""
    from driftline.config import load_config
    from driftline.config.environment import environment

    if config_path is None and environment().config is None and not Path("driftline.yaml").exists():
        return None
    try:
        return load_config(config_path)
    except ConfigError as exc:
        from driftline.cli.options import CONFIG_EXIT_CODE, report_config_error

        report_config_error(exc)
        sys.exit(CONFIG_EXIT_CODE)
