"""How a benchmark reports: one JSON object on stdout (indented unless ``--json``), and with
``--out`` the same, indented, in a file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["emit", "report_options"]

F = TypeVar("F", bound=Callable[..., Any])


def report_options(command: F) -> F:
    """The ``--json`` and ``--out`` options of a benchmark command."""
    command = click.option(
        "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write it here."
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(command)


def emit(result: dict[str, Any], as_json: bool, out: Path | None) -> None:
    """Print ``result`` (one line with ``as_json``) and write it, indented, to ``out``."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    click.echo(json.dumps(result, indent=None if as_json else 2))
