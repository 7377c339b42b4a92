"""The CLI's error table: what a user gets wrong, one line on stderr, and the exit status.

Output is captured at the file descriptors (``capfd``), so a line librdkafka writes itself
(``%3|...|FAIL|...``) would count too.

Run through ``driftline.cli.main.main`` (what the ``driftline`` script runs), in-process. "Broker
down" is a port nobody listens on, "bad host" a name that does not resolve; both with
``kafka.connect_timeout: 1s``, so the table takes seconds, not the default 10 s per row.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from driftline.broker import pick_free_port
from driftline.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


def _config(tmp_path: Path, servers: str) -> Path:
    text = (EXAMPLE / "driftline.yaml").read_text()
    text = text.replace("127.0.0.1:9092", servers).replace("connect_timeout: 10s", "connect_timeout: 1s")  # fmt: skip
    text = text.replace("state_dir: .driftline", f"state_dir: {tmp_path / 'state'}")
    path = tmp_path / f"driftline-{abs(hash(servers))}.yaml"
    path.write_text(text)
    return path


def run(argv: list[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:  # fmt: skip
    """Exit status and stderr lines of ``driftline ARGV``."""
    monkeypatch.setattr(sys, "argv", ["driftline", *argv])
    monkeypatch.delenv("DRIFTLINE_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DRIFTLINE_CONFIG", raising=False)
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main()
    code = exit_.value.code
    return int(code) if isinstance(code, int) else 1, capfd.readouterr().err.strip().splitlines()


NEEDS_BROKER = [
    ["topics", "create"],
    ["produce", "predictions", str(EXAMPLE / "events" / "predictions.jsonl")],
    ["alerts", "tail"],
    ["tail", "dead-letters"],
    ["retrain", "--tasks", "churn"],
    ["status"],
    ["retrainer"],
    ["monitor"],
    ["dashboard"],
    ["alerts", "route"],
    ["calibrate", "--from-topics"],
]

#: What a command needs in its config to get as far as the broker (``alerts route``: a sink).
SINK = "sinks: [{name: oncall, url_env: DRIFTLINE_TEST_WEBHOOK}]"


@pytest.mark.parametrize("where", ["broker down", "bad host"])
@pytest.mark.parametrize("argv", NEEDS_BROKER, ids=lambda a: " ".join(a[:2]))
def test_no_broker_one_line_and_exit_69(
    where: str, argv: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    servers = (
        f"127.0.0.1:{pick_free_port()}" if where == "broker down" else "nosuchhost.invalid:9092"
    )
    config = _config(tmp_path, servers)
    if argv == ["alerts", "route"]:
        config.write_text(config.read_text().replace("sinks: []", SINK, 1))
        monkeypatch.setenv("DRIFTLINE_TEST_WEBHOOK", "http://127.0.0.1:9/hook")
    code, lines = run([*argv, "-c", str(config)], capfd, monkeypatch)
    assert code == 69, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: no Kafka broker answered at {servers} within 1 s")
    assert "driftline broker start" in lines[0]


@pytest.mark.parametrize(
    "argv",
    [["topics", "create"], ["monitor"], ["retrainer"], ["models", "list"], ["features", "stats"],
     ["produce", "labels", str(EXAMPLE / "events" / "labels.jsonl")]],
    ids=lambda a: " ".join(a[:2]),
)  # fmt: skip
def test_missing_config_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code, lines = run([*argv, "-c", str(tmp_path / "nope.yaml")], capfd, monkeypatch)
    assert (code, len(lines)) == (2, 1), lines
    assert "nope.yaml: config file not found" in lines[0]


def test_invalid_config_lists_file_line_field(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m\ntasks:\n  churn:\n    type: binary\n    windw: 10\n")
    code, lines = run(["topics", "create", "-c", str(bad)], capfd, monkeypatch)
    assert code == 2 and lines == [f"{bad}:5: tasks.churn.windw: unknown key (did you mean 'window'?)"]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["retrain", "--tasks", "chrn"], "unknown task 'chrn' (did you mean 'churn'?)"),
        (["alerts", "tail", "--task", "spnd"], "unknown task 'spnd' (did you mean 'spend'?)"),
        (["simulate", "--drift", "categroy@100"], "unknown task 'categroy' (did you mean 'category'?)"),
        (["demo", "--drift", "chrun"], "unknown task 'chrun' (did you mean 'churn'?)"),
        (["retrain", "--model", "nosuch", "--tasks", "churn"], "unknown model 'nosuch'"),
        (["retrain", "--model", "shop-mt", "--tasks", "churn"], "(did you mean 'shop-mtl'?)"),
        (["models", "list", "--model", "nosuch"], "unknown model 'nosuch'"),
        (["monitr"], "no such command 'monitr' (did you mean 'monitor'?)"),
    ],
    ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else None,
)  # fmt: skip
def test_unknown_names_are_refused_with_did_you_mean(
    argv: list[str], hint: str, tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config = _config(tmp_path, f"127.0.0.1:{pick_free_port()}")
    options = [] if argv == ["monitr"] else ["-c", str(config)]
    code, lines = run([*argv, *options], capfd, monkeypatch)
    assert (code, len(lines)) == (2, 1), lines
    assert hint in lines[0] and lines[0].startswith("error: ")


def test_loglevel_alias_and_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from click.testing import CliRunner

    from driftline.cli.options import log_level_option

    @click.command()
    @log_level_option("info")
    def show(log_level: str) -> None:
        click.echo(log_level)

    runner = CliRunner()
    assert runner.invoke(show, []).output.strip() == "info"
    assert runner.invoke(show, ["--log-level", "WARNING"]).output.strip() == "warning"
    assert runner.invoke(show, ["--loglevel", "debug"]).output.strip() == "debug"
    assert "--loglevel" not in runner.invoke(show, ["--help"]).output
    monkeypatch.setenv("DRIFTLINE_LOG_LEVEL", "error")
    assert runner.invoke(show, []).output.strip() == "error"
