"""``.ci/run``: ``make test``'s exit status decides, then its output must hold no noise.

``make`` is a stand-in on ``PATH`` that prints the lines it is given and exits with the status it
is given, so this runs in well under a second and never runs the suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"
CLEAN = [
    "All checks passed!",
    "Success: no issues found in 122 source files",
    "........................................................................ [ 74%]",
    "1200 passed, 3 skipped in 812.33s (0:13:32)",
    "a line that quotes %3| in the middle",
]


def ci_run(tmp_path: Path, output: list[str], status: int = 0) -> subprocess.CompletedProcess[str]:  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "output").write_text("".join(f"{line}\n" for line in output))
    make = bin_dir / "make"
    make.write_text(
        '#!/usr/bin/env bash\n[ "$*" = test ] || exit 99\n'
        f"cat '{tmp_path / 'output'}'\nexit {status}\n"
    )
    make.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DRIFTLINE_CI_LOG": str(tmp_path / "make-test.log")}  # fmt: skip
    return subprocess.run([str(RUN)], env=env, capture_output=True, text=True, timeout=60)


def test_quiet_passing_run_passes_and_keeps_the_log(tmp_path: Path) -> None:
    result = ci_run(tmp_path, CLEAN)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == CLEAN  # tee: the output is still shown
    assert (tmp_path / "make-test.log").read_text().splitlines() == CLEAN
    assert result.stderr == ""


@pytest.mark.parametrize(
    "noisy",
    [
        "nanobind: leaked 45 instances!",
        "x.py:3: DeprecationWarning: fetch_arrow_table() is deprecated",
        "  /site-packages/pandas/core/frame.py:10: FutureWarning: Downcasting is deprecated",
        "%3|1700000000.123|FAIL|rdkafka#producer-1| [thrd:127.0.0.1:9092/bootstrap]: refused",
        "%4|1700000000.123|GETPID|rdkafka#consumer-2| [thrd:main]: ...",
    ],
)
def test_noise_fails_a_passing_run_and_is_printed(noisy: str, tmp_path: Path) -> None:
    result = ci_run(tmp_path, [*CLEAN[:2], noisy, *CLEAN[2:]])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: make test passed, but its output has 1 noisy line(s)")
    assert lines[1:] == [f"3:{noisy}"]


def test_make_tests_status_decides_when_it_fails(tmp_path: Path) -> None:
    result = ci_run(tmp_path, [*CLEAN, "nanobind: leaked 3 instances!"], status=2)
    assert (result.returncode, result.stderr) == (2, "")
