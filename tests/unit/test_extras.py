"""``pip install driftline`` is the light SDK; the extras add the rest, and a missing one is one line.

The import checks run ``python -c`` in a subprocess (this process has imported the world already);
a missing extra is simulated with ``sys.modules[name] = None``, which makes both ``import name``
(``ModuleNotFoundError``) and :func:`importlib.util.find_spec` (``None``) see it as not installed.
The install itself, in a fresh virtualenv from PyPI, is ``tests/integration/test_light_install.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from driftline.cli.main import COMMAND_EXTRAS, COMMANDS, main
from driftline.extras import EXTRAS, extra_of, missing_module

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = ("torch", "faust", "feast", "river", "sqlalchemy", "numpy", "pandas", "aiokafka", "scipy")
ALL_EXTRA_MODULES = sorted({name for names in EXTRAS.values() for name in names})


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_importing_the_sdk_imports_no_monitor_or_retrain_module() -> None:
    code = (
        "import json, sys\n"
        "import driftline\n"
        "from driftline import Client\n"
        "import driftline.client, driftline.config, driftline.events, driftline.cli.main\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "driftline" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    assert loaded.isdisjoint(ALL_EXTRA_MODULES), sorted(loaded & set(ALL_EXTRA_MODULES))


def test_the_sdk_and_the_light_commands_work_with_every_extra_missing() -> None:
    """What ``pip install driftline`` gives, simulated: a Client is built and closed, and each
    command outside ``COMMAND_EXTRAS`` answers ``--help``."""
    light = sorted(set(COMMANDS) - set(COMMAND_EXTRAS))
    assert {"config", "produce", "topics", "tail", "retrain"} <= set(light)
    code = (
        "import sys\n"
        f"for name in {ALL_EXTRA_MODULES!r}:\n"
        "    sys.modules[name] = None\n"
        "from click.testing import CliRunner\n"
        "from driftline import Client\n"
        "from driftline.config import parse_config\n"
        "from driftline.cli.main import cli\n"
        "config = parse_config(open('examples/driftline.yaml').read(), 'driftline.yaml')\n"
        "Client(config).close(timeout=0)\n"
        f"for command in {light!r}:\n"
        "    result = CliRunner().invoke(cli, [command, '--help'])\n"
        "    assert result.exit_code == 0, (command, result.output, result.exception)\n"
        "print('OK')\n"
    )
    result = _python(code)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr


def test_the_base_dependencies_bring_no_extra_module() -> None:
    names = {_requirement_name(r) for r in PROJECT["dependencies"]}
    assert {"pydantic", "confluent-kafka"} <= names
    assert not names & {"torch", "feast", "faust-streaming", "river", "sqlalchemy", "numpy"}
    provided = metadata.packages_distributions()
    for module, dists in provided.items():
        if {d.lower() for d in dists} & names:
            assert extra_of(module) is None, (module, dists)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extras_modules_are_what_pyproject_installs(extra: str) -> None:
    """Each requirement of the extra provides modules listed in ``EXTRAS[extra]``; each module
    listed there is installed here (this venv has every extra)."""
    requirements = {_requirement_name(r) for r in PROJECT["optional-dependencies"][extra]}
    by_dist: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    for requirement in requirements:
        modules = {m for m in by_dist.get(requirement, set()) if not m.startswith("_")}
        assert modules, f"{requirement} is not installed in this venv"
        assert modules & set(EXTRAS[extra]), (requirement, modules, EXTRAS[extra])
    assert missing_module(extra) is None


def test_all_is_every_extra_and_each_command_names_a_known_extra() -> None:
    extras = PROJECT["optional-dependencies"]
    assert extras["all"] == [f"driftline[{','.join(sorted(EXTRAS))}]"]
    assert set(extras) == {*EXTRAS, "all", "dev"}
    assert set(COMMAND_EXTRAS) <= set(COMMANDS)
    assert set(COMMAND_EXTRAS.values()) <= {*EXTRAS, "all"}


def test_the_lock_make_installs_pins_every_extra() -> None:
    """``make`` installs ``requirements.lock``: compiled with every extra, it pins each of their
    requirements (a lock compiled without ``--extra all`` would leave the monitor out)."""
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in lock.splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    extras = PROJECT["optional-dependencies"]
    for name in [*PROJECT["dependencies"], *extras["monitor"], *extras["retrain"], *extras["dev"]]:
        assert _requirement_name(name) in pinned, name
    assert "--extra all --extra dev" in lock.splitlines()[1]


def run_cli(
    argv: list[str],
    missing: list[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, list[str], str]:
    """Exit status, stderr lines and stdout of ``driftline ARGV`` with ``missing`` uninstalled."""
    for name in missing:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(sys, "argv", ["driftline", *argv])
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main()
    code = exit_.value.code
    out, err = capfd.readouterr()
    return int(code) if isinstance(code, int) else 1, err.strip().splitlines(), out


@pytest.mark.parametrize(
    ("argv", "missing", "line"),
    [
        (["monitor"], ["faust"], "driftline monitor needs the 'monitor' extra (faust is not installed): pip install 'driftline[monitor]'"),
        (["monitor", "--help"], ["river"], "driftline monitor needs the 'monitor' extra (river is not installed): pip install 'driftline[monitor]'"),
        (["models", "list"], ["torch"], "driftline models needs the 'retrain' extra (torch is not installed): pip install 'driftline[retrain]'"),
        (["retrainer"], ["feast"], "driftline retrainer needs the 'retrain' extra (feast is not installed): pip install 'driftline[retrain]'"),
        (["demo"], ["torch"], "driftline demo needs the 'all' extra (torch is not installed): pip install 'driftline[all]'"),
    ],
)  # fmt: skip
def test_a_command_without_its_extra_says_which_to_install(
    argv: list[str],
    missing: list[str],
    line: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, err, _ = run_cli(argv, missing, capfd, monkeypatch)
    assert (code, err) == (1, [f"error: {line}"])


@pytest.fixture
def fake_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``driftline fake`` command (extra ``monitor``) that imports feast or a module nobody
    installs, as its first argument says."""
    (tmp_path / "fake_cli.py").write_text(
        "import click\n"
        "@click.command()\n"
        "@click.argument('module')\n"
        "def fake(module: str) -> None:\n"
        "    __import__(module)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "fake", ("fake_cli", "A command for the test."))
    monkeypatch.setitem(COMMAND_EXTRAS, "fake", "monitor")
    return "fake"


def test_a_module_of_another_extra_imported_at_run_time_names_that_extra(
    fake_command: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like ``monitor.feature_sink`` on a monitor installed without Feast."""
    code, err, _ = run_cli([fake_command, "feast.data_source"], ["feast"], capfd, monkeypatch)
    assert (code, err) == (
        1,
        [
            "error: driftline fake needs the 'retrain' extra (feast is not installed): "
            "pip install 'driftline[retrain]'"
        ],
    )


def test_a_missing_module_that_no_extra_installs_keeps_its_traceback(
    fake_command: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["driftline", fake_command, "no_such_module_anywhere"])
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        main()


def test_help_marks_the_commands_whose_extra_is_missing(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, out = run_cli(["--help"], [], capfd, monkeypatch)
    assert code == 0 and "[needs" not in out
    code, _, out = run_cli(["--help"], ["torch"], capfd, monkeypatch)
    flat = " ".join(out.split())
    assert code == 0
    assert "Model registry: list, show, promote, rollback. [needs driftline[retrain]]" in flat
    assert "Run the demo on the embedded broker. [needs driftline[all]]" in flat
    assert "Run the streaming monitor (Faust worker). [needs" not in flat
    assert "Send prediction or label events from a JSONL file. [needs" not in flat


def test_an_imported_faust_counts_as_installed() -> None:
    """faust replaces its module with a lazy one without ``__spec__`` (``find_spec`` raises)."""
    import faust  # noqa: F401

    assert missing_module("monitor") is None
