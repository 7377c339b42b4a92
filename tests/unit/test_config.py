"""driftline.yaml: the example is valid; bad files are rejected with PATH:LINE: field: message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftline.config import load_config, parse_config
from driftline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "driftline.yaml"

BAD = """\
model: shop-mtl
tasks:
  churn:
    type: binary
    windw: 500
  spend:
    type: regression
    window: -5
  category:
    metrics: [accuracy]
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_example_is_valid_and_complete() -> None:
    cfg = load_config(EXAMPLE)
    types = {task.type for task in cfg.tasks.values()}
    assert len(cfg.tasks) == 3 and len(types) == 3
    assert cfg.tasks["churn"].detectors and cfg.tasks["churn"].slices == ["country"]
    assert cfg.tasks["category"].metrics == ["accuracy", "macro_f1"]


def test_validate_cli_exit_0_on_example() -> None:
    result = _cli("config", "validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_validate_cli_reports_three_errors_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = _cli("config", "validate", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{path}:5: tasks.churn.windw: unknown key (did you mean 'window'?)",
        f"{path}:8: tasks.spend.window: Input should be greater than 0",
        f"{path}:9: tasks.category.type: required field is missing",
    ]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _cli("config", "validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "not found" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: m\ntasks: {}\n", ":2: tasks: "),
        (
            "model: m\ntasks:\n  t: {type: binary}\n  t: {type: binary}\n",
            ":4: tasks.t: duplicate key",
        ),
        ("model: m\ntasks:\n  t: {type: multiclass}\n", ":3: tasks.t: a multiclass task needs"),
        ("model: [\n", ": <yaml>:"),
        (
            "model: m\nregistry: {url: 'postgresql://u:secret@h/db'}\ntasks:\n  t: {type: binary}\n",
            ":2: registry: url must not hold a password",
        ),
        (
            "model: m\nkafka: {security: {protocol: SASL_SSL}}\ntasks:\n  t: {type: binary}\n",
            "needs sasl_mechanism",
        ),
        (
            "model: m\ntasks:\n  t: {type: binary, label_delay: soon}\n",
            ":3: tasks.t.label_delay: 'soon' is not a duration",
        ),
    ],
)
def test_rejections(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "f.yaml")
    assert any(expected in problem for problem in info.value.problems), info.value.problems


def test_durations_and_defaults() -> None:
    cfg = parse_config("model: m\ntasks:\n  t: {type: regression, label_delay: 2h}\n")
    assert cfg.tasks["t"].label_delay == 7200.0
    assert cfg.tasks["t"].primary_metric == "mae"
    assert cfg.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_bootstrap_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_BOOTSTRAP_SERVERS", "127.0.0.1:1234")
    cfg = parse_config("model: m\ntasks:\n  t: {type: binary}\n")
    assert cfg.kafka.bootstrap_servers == "127.0.0.1:1234"


def test_config_is_frozen() -> None:
    cfg = parse_config("model: m\ntasks:\n  t: {type: binary}\n")
    with pytest.raises(Exception, match="frozen"):
        cfg.model = "other"  # type: ignore[misc]


def test_schema_command_prints_json_schema() -> None:
    result = _cli("config", "schema")
    assert result.returncode == 0
    assert '"DriftlineConfig"' in result.stdout or '"title": "DriftlineConfig"' in result.stdout


def test_config_reference_is_current() -> None:
    from driftline.config.reference import render_reference

    committed = (ROOT / "docs" / "config-reference.md").read_text()
    assert committed == render_reference(), (
        "run `driftline config reference > docs/config-reference.md`"
    )
