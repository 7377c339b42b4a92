"""``driftline broker`` option handling and exit codes (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from driftline.broker import BrokerError
from driftline.cli.main import cli

CONFIG = """\
model: shop
state_dir: {state}
kafka:
  local: {{port: 19092, controller_port: 19093}}
tasks:
  churn: {{type: binary}}
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRIFTLINE_CONFIG", raising=False)
    return tmp_path


def run(*args: str) -> object:
    return CliRunner().invoke(cli, ["broker", *args])


def test_status_exits_3_when_not_running(in_tmp: Path) -> None:
    result = run("status", "--state-dir", str(in_tmp / "k"))
    assert result.exit_code == 3, result.output
    assert f"not running (state dir {in_tmp / 'k'})" in result.output


def test_stop_when_not_running_is_fine(in_tmp: Path) -> None:
    result = run("stop", "--state-dir", str(in_tmp / "k"))
    assert result.exit_code == 0 and "not running" in result.output


def test_without_a_config_the_state_dir_defaults_under_dot_driftline(in_tmp: Path) -> None:
    result = run("status")
    assert result.exit_code == 3
    assert str(in_tmp / ".driftline" / "kafka") in result.output


def test_the_config_names_the_state_dir(in_tmp: Path) -> None:
    (in_tmp / "driftline.yaml").write_text(CONFIG.format(state=in_tmp / "st"))
    result = run("status")
    assert str(in_tmp / "st" / "kafka") in result.output


def test_an_invalid_config_exits_2_with_path_and_line(in_tmp: Path) -> None:
    bad = in_tmp / "bad.yaml"
    bad.write_text("model: shop\nkafka:\n  local: {port: -1}\ntasks:\n  churn: {type: binary}\n")
    result = run("status", "--config", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:3: kafka.local.port" in result.output


def test_sasl_without_credentials_is_a_broker_error(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLINE_KAFKA_USERNAME", raising=False)
    result = run("start", "--state-dir", str(in_tmp / "k"), "--port", "0", "--sasl-port", "0")
    assert result.exit_code == BrokerError.exit_code == 1  # one line, no traceback
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "$DRIFTLINE_KAFKA_USERNAME" in line


def test_help_lists_the_three_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("start", "stop", "status"):
        assert command in result.output
