"""A new user's path, as README.md writes it, from a fresh state dir; then the docs' cheap commands.

The commands come from README.md itself (its "first run" block, in its order): ``driftline broker
start`` (a broker of its own, on free ports, in the fresh state dir), ``topics create``,
``produce`` of the example files, ``monitor`` (nothing ran ``driftline features apply``: the
monitor applies the Feast repo itself) and ``status`` (which must see the monitor it did not
start). The monitor must stay up and count every example event. Then every cheap ``driftline``
command of README.md and docs/*.md runs, as written, against that broker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from driftline.broker import pick_free_port
from tests.doc_commands import REPO, DocCommand, doc_commands

DRIFTLINE = [sys.executable, "-m", "driftline.cli"]
BAD_LINES = re.compile(r"Traceback|nanobind|DeprecationWarning|FutureWarning|%[0-7]\|")


class FirstRun:
    """The working directory of the run, its environment and its processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
        self.env["DRIFTLINE_KAFKA_LIBS"] = str(_kafka_libs())
        self.env["PYTHONPATH"] = str(REPO)
        self.monitor: subprocess.Popen[str] | None = None
        self.web_port = 0

    def run(self, argv: tuple[str, ...] | list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run([*DRIFTLINE, *argv], cwd=self.root, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)  # fmt: skip


def _kafka_libs() -> Path:
    """The cached Kafka jars (as the session's broker fixture finds them)."""
    from driftline.broker.jars import LIBS_ENV

    return Path(os.environ.get(LIBS_ENV) or REPO / ".driftline" / "kafka" / "libs")


def readme_first_run() -> list[DocCommand]:
    """The commands of README.md's "first run" block, in order."""
    commands = doc_commands([REPO / "README.md"])
    start = next(i for i, c in enumerate(commands) if c.argv == ("broker", "start") and
                 commands[i + 1].argv == ("topics", "create") and commands[i + 2].argv[0] == "produce")  # fmt: skip
    end = next(i for i in range(start, len(commands)) if commands[i].argv[0] == "status")
    return commands[start : end + 1]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    """A fresh directory with README's ``driftline.yaml`` (the example, on free ports)."""
    root = tmp_path_factory.mktemp("first-run")
    (root / "examples").symlink_to(REPO / "examples")
    config = yaml.safe_load((REPO / "examples" / "driftline.yaml").read_text())
    port = pick_free_port()
    config["kafka"]["bootstrap_servers"] = f"127.0.0.1:{port}"
    config["kafka"]["local"].update(port=port, controller_port=pick_free_port())
    run = FirstRun(root)
    run.web_port = config["monitor"]["web_port"] = pick_free_port()
    (root / "driftline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield run
    finally:
        if run.monitor is not None and run.monitor.poll() is None:
            run.monitor.send_signal(signal.SIGTERM)
            try:
                run.monitor.wait(60)
            except subprocess.TimeoutExpired:
                run.monitor.kill()
        run.run(["broker", "stop"], timeout=90)


def _task_events(port: int) -> dict[tuple[str, str], float]:
    """``driftline_task_events`` of the monitor's /metrics: (task, kind) → count."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        match = re.match(r"driftline_task_events_total\{(.*)\} (\S+)", line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            found[(labels["task"], labels["kind"])] = float(match.group(2))
    return found


def _expected() -> dict[tuple[str, str], float]:
    events = REPO / "examples" / "events"
    predictions = [json.loads(line) for line in (events / "predictions.jsonl").open()]
    labels = [json.loads(line) for line in (events / "labels.jsonl").open()]
    wanted: dict[tuple[str, str], float] = {}
    for task, count in Counter(t for p in predictions for t in p["outputs"]).items():
        wanted[(task, "predictions")] = count
    for task, count in Counter(label["task"] for label in labels).items():
        wanted[(task, "labels")] = count
    return wanted


def test_readme_first_run_from_a_fresh_state_dir(first_run: FirstRun) -> None:
    commands = readme_first_run()
    assert [c.argv[0] for c in commands] == ["broker", "topics", "produce", "produce", "monitor", "status"]  # fmt: skip
    assert not (first_run.root / ".driftline").exists()  # fresh: nothing applied, no topics
    wanted = _expected()
    for command in commands:
        if command.argv == ("monitor",):
            log = (first_run.root / "monitor.out").open("w")
            first_run.monitor = subprocess.Popen(
                [*DRIFTLINE, *command.argv], cwd=first_run.root, env=first_run.env,
                stdout=log, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            seen = _wait_for_counts(first_run, wanted)
            assert all(seen.get(key) == count for key, count in wanted.items()), (seen, wanted)
            continue
        result = first_run.run(command.argv)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        if command.argv[0] == "status":  # it sees the monitor that `driftline up` did not start
            status = json.loads(first_run.run([*command.argv, "--json"]).stdout)
            monitor = next(s for s in status["services"] if s["name"] == "monitor")
            assert monitor["healthy"] and "/metrics" in monitor["detail"], status
    time.sleep(3)  # a few more checkpoints: the monitor stays up
    assert first_run.monitor is not None and first_run.monitor.poll() is None
    output = (first_run.root / "monitor.out").read_text()
    assert "applied the Feast repo" in output
    assert not BAD_LINES.findall(output), [ln for ln in output.splitlines() if BAD_LINES.search(ln)]


def _wait_for_counts(run: FirstRun, wanted: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:  # fmt: skip
    deadline = time.monotonic() + 240
    seen: dict[tuple[str, str], float] = {}
    while time.monotonic() < deadline:
        assert run.monitor is not None
        if run.monitor.poll() is not None:
            tail = (run.root / "monitor.out").read_text()[-3000:]
            pytest.fail(f"the monitor exited with {run.monitor.returncode}:\n{tail}")
        try:
            seen = _task_events(run.web_port)
        except OSError:
            seen = {}
        if all(seen.get(key, 0) >= count for key, count in wanted.items()):
            return seen
        time.sleep(1)
    pytest.fail(f"the monitor did not count the example events in time: {seen} vs {wanted}")


CHEAP = {
    ("config", "validate"), ("config", "schema"), ("topics", "create"), ("produce",),
    ("tail",), ("alerts", "tail"), ("retrain",), ("models", "list"), ("features", "apply"),
}  # fmt: skip
"""Commands that finish in seconds and need nothing but the broker and the config."""


def _cheap(command: DocCommand) -> bool:
    argv = command.argv
    follows = "--follow" in argv or "-f" in argv
    named_config = "-c" in argv or "--config" in argv
    return not follows and not named_config and (argv[:1] in CHEAP or argv[:2] in CHEAP)


def test_cheap_doc_commands_run_as_written(
    first_run: FirstRun, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first run (the broker is up): every cheap command of the docs exits 0 and says
    nothing noisy. They run in this process, through the ``driftline`` script's own ``main``
    (a process per command would spend most of the test importing the same modules)."""
    from driftline.cli.main import main

    cheap = [c for c in doc_commands() if _cheap(c)]
    assert {c.argv[0] for c in cheap} >= {
        "config",
        "topics",
        "produce",
        "tail",
        "retrain",
        "models",
    }
    monkeypatch.chdir(first_run.root)
    for name in [k for k in os.environ if k.startswith("DRIFTLINE_")]:
        monkeypatch.delenv(name)
    for command in cheap:
        monkeypatch.setattr(sys, "argv", ["driftline", *command.argv])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capfd.readouterr()
        assert exit_.value.code in (0, None), f"{command}: {out}{err}"
        noise = [ln for ln in (out + err).splitlines() if BAD_LINES.search(ln)]
        assert not noise, f"{command}: {noise}"
