"""How a benchmark reports: one JSON object on stdout with ``--json``, else the same figures as
``key: value`` lines; with ``--out`` the JSON, indented, in a file."""

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
    """Print ``result`` (one JSON line with ``as_json``, else :func:`text_lines`) and write it,
    indented, to ``out``."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo("\n".join(text_lines(result)))


def text_lines(value: Any, prefix: str = "") -> list[str]:
    """``dotted.key: value`` lines of a nested result (lists of numbers stay on one line).

    >>> for line in text_lines({"benchmark": "x", "tasks": {"a": {"delay": 12.5}}, "sizes": [1, 2]}):
    ...     print(line)
    benchmark: x
    tasks.a.delay: 12.5
    sizes: [1, 2]
    """
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            lines += text_lines(item, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        lines = []
        for index, item in enumerate(value):
            lines += text_lines(item, f"{prefix}[{index}]")
        return lines
    if isinstance(value, float):
        return [f"{prefix}: {value:.6g}"]
    return [f"{prefix}: {json.dumps(value) if isinstance(value, list) else value}"]
