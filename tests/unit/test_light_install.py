"""``pip install driftline`` with no extras, in a fresh virtualenv, from PyPI: the light SDK.

The virtualenv is ``python -m venv`` (no system site packages) in ``tmp_path``; the install is
``uv pip install`` (the ``uv`` that ``make`` puts beside this interpreter: seconds with its cache),
or the new venv's own pip where there is no such ``uv``. The sources are copied first, so the
build leaves nothing in the checkout. Needs PyPI (or uv's cache): a failure to reach it fails the
test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

CHECK = """
import importlib.util, json, sys
from importlib import metadata
from driftline import Client
from driftline.config import parse_config
config = parse_config(open(sys.argv[1]).read(), "driftline.yaml")
Client(config).close(timeout=0)
print(json.dumps({
    "absent": [m for m in ("torch", "faust", "feast", "river", "sqlalchemy", "numpy", "pandas")
               if importlib.util.find_spec(m) is None],
    "dists": sorted(d.metadata["Name"].lower() for d in metadata.distributions()),
}))
"""


def _copy_sources(target: Path) -> None:
    """pyproject.toml, README.md and the packages it installs: nothing else of the checkout."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.removesuffix("*")
        shutil.copytree(ROOT / package, target / package, ignore=ignore)


def _run(argv: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=600
    )


def test_pip_install_without_extras_gives_the_sdk_without_torch(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("DRIFTLINE_CONFIG", None)
    source = tmp_path / "src"
    _copy_sources(source)
    venv = tmp_path / "venv"
    uv = Path(sys.executable).parent / "uv"
    python = venv / "bin" / "python"
    if uv.is_file():
        made = _run([sys.executable, "-m", "venv", "--without-pip", venv], env)
        assert made.returncode == 0, made.stderr
        install = _run([uv, "pip", "install", "--quiet", "--python", python, source], env)
    else:
        made = _run([sys.executable, "-m", "venv", venv], env)
        assert made.returncode == 0, made.stderr
        install = _run([python, "-m", "pip", "install", "-q", source], env)
    assert install.returncode == 0, install.stderr

    checked = _run([python, "-c", CHECK, ROOT / "examples" / "driftline.yaml"], env)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["absent"] == ["torch", "faust", "feast", "river", "sqlalchemy", "numpy", "pandas"]
    assert {"driftline", "confluent-kafka", "pydantic"} <= set(report["dists"])
    assert not {"torch", "faust-streaming", "feast", "river"} & set(report["dists"])

    driftline = venv / "bin" / "driftline"
    valid = _run([driftline, "config", "validate", ROOT / "examples" / "driftline.yaml"], env)
    assert valid.returncode == 0, valid.stderr
    refused = _run([driftline, "monitor"], env)
    assert (refused.returncode, refused.stderr.splitlines()) == (
        1,
        [
            "error: driftline monitor needs the 'monitor' extra (faust is not installed): "
            "pip install 'driftline[monitor]'"
        ],
    )
