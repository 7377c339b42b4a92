"""Background processes (pid files that survive pid reuse), the stack with nothing running, CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from click.testing import CliRunner

from driftline.cli.main import cli
from simulator.process import BackgroundProcess, log_tail
from simulator.stack import LocalStack

SLEEP = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]


def test_a_process_starts_once_logs_and_stops(tmp_path: Path) -> None:
    proc = BackgroundProcess(
        "sleeper", SLEEP, tmp_path / "logs" / "s.log", tmp_path / "run" / "s.pid"
    )
    pid = proc.start()
    try:
        assert proc.start() == pid
        assert proc.pid() == pid
        record = json.loads(proc.pid_file.read_text())
        assert record["pid"] == pid and record["argv"] == SLEEP
    finally:
        assert proc.stop(timeout=5)
    assert proc.pid() is None and not proc.pid_file.exists()
    assert "starting sleeper" in log_tail(proc.log)
    assert not proc.stop()


def test_a_reused_pid_is_not_taken_for_the_service(tmp_path: Path) -> None:
    proc = BackgroundProcess("x", SLEEP, tmp_path / "x.log", tmp_path / "x.pid")
    # this test's own pid, but with another start time: a stale file whose pid was reused
    proc.pid_file.write_text(json.dumps({"pid": os.getpid(), "create_time": 1.0, "argv": []}))
    assert proc.pid() is None
    assert proc.exited()
    assert not proc.stop()  # never signals the stranger
    proc.pid_file.write_text("garbage")
    assert proc.pid() is None


def test_a_crashed_service_is_reported_as_exited(tmp_path: Path) -> None:
    proc = BackgroundProcess("crash", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "c.log", tmp_path / "c.pid")  # fmt: skip
    pid = proc.start()
    os.waitpid(pid, 0)
    assert proc.pid() is None and proc.exited()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "d.yaml"
    state = tmp_path / "state"
    path.write_text(
        f"model: m\nstate_dir: {state}\nkafka: {{local: {{port: 29092, controller_port: 29093}}}}\n"
        f"tasks: {{a: {{type: binary}}}}\nfeatures: [{{name: x}}]\n"
        f"registry: {{url: 'sqlite:///{state}/r.db', artifacts_dir: {state}/art}}\n"
    )
    return path


def test_status_with_nothing_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "-c", str(_config(tmp_path)), "--json"])
    assert result.exit_code == 69, result.output  # no broker answers: the same exit as others
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no Kafka broker answered" in result.stderr
    status = json.loads(result.stdout)
    assert [(s["name"], s["healthy"]) for s in status["services"]] == [
        ("broker", False), ("monitor", False), ("retrainer", False)
    ]  # fmt: skip
    assert status["lag"] == [] and status["champions"] == {}


def test_down_with_nothing_running_is_harmless(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["down", "-c", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "monitor: was not running" in result.output


def test_stack_paths_and_commands(tmp_path: Path) -> None:
    from driftline.config import load_config

    path = _config(tmp_path)
    stack = LocalStack(load_config(path), path)
    monitor = stack.process("monitor", "127.0.0.1:1")
    assert monitor.argv[-3:] == ["monitor", "--config", str(path.resolve())]
    assert monitor.env == {"DRIFTLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    assert monitor.log == (tmp_path / "state" / "logs" / "monitor.log").resolve()


def test_commands_are_listed_and_documented() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("simulate", "up", "down", "status", "demo"):
        assert f"  {name} " in result.output
    help_text = CliRunner().invoke(cli, ["simulate", "--help"]).output
    assert "--drift" in help_text and "--shift" in help_text and "--loss" in help_text
