"""``DRIFTLINE_*`` settings: read in one place, command-line flag > environment > YAML > default."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from driftline.cli.main import main
from driftline.cli.options import log_level_option
from driftline.config import find_config, parse_config
from driftline.config.environment import EnvironmentSettings, env_name, environment
from driftline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("driftline", "streams", "retrainer", "featurestore", "models", "simulator", "bench")
YAML = "model: m\ntasks:\n  t: {type: binary}\n"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EnvironmentSettings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)


def test_bootstrap_servers_environment_over_yaml_over_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_yaml = YAML + "kafka: {bootstrap_servers: 'yaml:1', partitions: 3}\n"
    assert parse_config(YAML).kafka.bootstrap_servers == "127.0.0.1:9092"  # default
    assert parse_config(with_yaml).kafka.bootstrap_servers == "yaml:1"
    monkeypatch.setenv("DRIFTLINE_BOOTSTRAP_SERVERS", "env:1")
    config = parse_config(with_yaml)
    assert (config.kafka.bootstrap_servers, config.kafka.partitions) == ("env:1", 3)
    assert parse_config(YAML).kafka.bootstrap_servers == "env:1"
    monkeypatch.setenv("DRIFTLINE_BOOTSTRAP_SERVERS", "")  # empty: unset
    assert parse_config(with_yaml).kafka.bootstrap_servers == "yaml:1"


def test_a_kafka_section_that_is_not_a_mapping_is_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTLINE_BOOTSTRAP_SERVERS", "env:1")
    with pytest.raises(ConfigError) as error:
        parse_config(YAML + "kafka: [1, 2]\n", "d.yaml")
    assert error.value.problems[0].startswith("d.yaml:4: kafka: ")


def test_config_file_flag_over_environment_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("driftline.yaml", "env.yaml", "flag.yaml"):
        (tmp_path / name).write_text(YAML)
    assert find_config() == Path("driftline.yaml")
    monkeypatch.setenv("DRIFTLINE_CONFIG", "env.yaml")
    assert find_config() == Path("env.yaml")
    assert find_config("flag.yaml") == Path("flag.yaml")


@click.command()
@log_level_option("info")
def _show_level(log_level: str) -> None:
    click.echo(log_level)


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        (None, [], "info"),  # the default
        ("DEBUG", [], "debug"),  # the environment, any case
        ("DEBUG", ["--log-level", "warning"], "warning"),  # the flag
        ("DEBUG", ["--loglevel", "error"], "error"),  # its old spelling
    ],
)
def test_log_level_flag_over_environment_over_default(
    env: str | None, argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is not None:
        monkeypatch.setenv("DRIFTLINE_LOG_LEVEL", env)
    result = CliRunner().invoke(_show_level, argv)
    assert (result.exit_code, result.output.strip()) == (0, expected), result.output


def test_a_bad_log_level_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTLINE_LOG_LEVEL", "loud")
    result = CliRunner().invoke(_show_level, [])
    assert result.exit_code == 2 and "'loud' is not one of" in result.output


def test_worker_id_flag_over_environment_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.cli import monitor

    assert monitor.make_context("monitor", []).params["worker_id"] is None  # worker-<index>
    monkeypatch.setenv("DRIFTLINE_WORKER_ID", "env-1")
    assert monitor.make_context("monitor", []).params["worker_id"] == "env-1"
    flag = monitor.make_context("monitor", ["--worker-id", "flag-1"])
    assert flag.params["worker_id"] == "flag-1"


def test_kafka_libs_environment_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.broker.jars import default_libs_dir

    assert default_libs_dir() == Path(".driftline/kafka/libs")
    monkeypatch.setenv("DRIFTLINE_KAFKA_LIBS", "/opt/kafka/libs")
    assert default_libs_dir() == Path("/opt/kafka/libs")


@pytest.fixture
def _kafka_log_level() -> Iterator[None]:
    """The librdkafka logger's level and pending flag, as they were before the test."""
    from driftline import kafka_logs

    level, pending = kafka_logs._logger().level, kafka_logs._level_from_environment
    yield
    kafka_logs._logger().setLevel(level)
    kafka_logs._level_from_environment = pending


@pytest.mark.parametrize(("value", "level"), [(None, "OFF"), ("1", "WARNING"), ("0", "OFF")])
@pytest.mark.usefixtures("_kafka_log_level")
def test_kafka_logs_of_one_shot_commands_follow_the_environment(
    value: str | None, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline import kafka_logs

    if value is not None:
        monkeypatch.setenv("DRIFTLINE_KAFKA_LOGS", value)
    kafka_logs.set_kafka_log_level(None)
    logger = kafka_logs.kafka_logger()  # what a client takes: the environment is read here
    named = {logging.WARNING: "WARNING", kafka_logs._OFF: "OFF"}
    assert named.get(logger.level) == level
    kafka_logs.set_kafka_log_level(None)
    monkeypatch.setenv("DRIFTLINE_KAFKA_LOGS", "1")
    kafka_logs.set_kafka_log_level("error")  # a service's --log-level wins
    assert kafka_logs.kafka_logger().level == logging.ERROR


def test_a_bad_variable_is_one_line_and_exit_2(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_LOGS", "sometimes")
    with pytest.raises(ConfigError) as error:
        environment()
    line = (
        "error: $DRIFTLINE_KAFKA_LOGS: Input should be a valid boolean, unable to interpret input"
    )
    assert error.value.problems == [line]
    monkeypatch.setattr(sys, "argv", ["driftline", "config", "validate", str(ROOT / "examples" / "driftline.yaml")])  # fmt: skip
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main()
    assert (exit_.value.code, capfd.readouterr().err.strip().splitlines()) == (2, [line])


def test_settings_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_PASSWORD", "s3cret")
    monkeypatch.setenv("DRIFTLINE_REGISTRY_PASSWORD", "s3cret")
    settings = environment()
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    fields = EnvironmentSettings.model_fields
    assert not any("password" in name or "secret" in name for name in fields)


_READS = re.compile(
    r"""(os\.environ(\.get)?|os\.getenv|envvar=)\s*[\(\[]?\s*["']DRIFTLINE_|environ\[["']DRIFTLINE_"""
)


def test_no_module_reads_a_driftline_variable_itself() -> None:
    """Every ``DRIFTLINE_*`` setting goes through ``driftline/config/environment.py``."""
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _READS.search(line)
    ]
    assert readers == []
    assert _READS.search('servers = os.environ.get("DRIFTLINE_BOOTSTRAP_SERVERS")')
    assert _READS.search('    envvar="DRIFTLINE_WORKER_ID",')
