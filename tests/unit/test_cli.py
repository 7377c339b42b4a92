"""The CLI starts fast and lists its commands without importing heavy subsystems."""

from __future__ import annotations

import subprocess
import sys


def test_help_lists_commands_without_heavy_imports() -> None:
    code = (
        "import sys; from driftline.cli.main import cli; "
        "import click.testing as t; r = t.CliRunner().invoke(cli, ['--help']); "
        "print(r.output); "
        "heavy = [m for m in ('torch', 'feast', 'faust', 'confluent_kafka', 'river', 'pydantic_settings') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    for command in ("broker", "config", "topics", "produce", "alerts", "schemas"):
        assert command in out
    assert "HEAVY []" in out
