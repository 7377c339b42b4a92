"""The ``driftline ...`` commands in the shell blocks of README.md and docs/*.md.

Used by ``tests/unit/test_doc_commands.py`` (every command parses with the CLI's own click
parser) and ``tests/integration/test_user_path.py`` (README.md's first-run block in its order,
then the cheap commands run as written against that test's own broker).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"bash", "sh", "shell", "console"}
"""Blocks with one of these languages are shell; untagged blocks are output or synopsis."""
_FENCE = re.compile(r"^\s*```\s*([\w+-]*)\s*$")
_END = re.compile(r"\s(\||>|2>|&&|;|<)\s|\s(\||>)\S")
PLACEHOLDERS = {"FILE": "examples/events/predictions.jsonl", "DIR": "schemas-out"}
"""Words the docs use for "your file here", and what a check puts in their place."""


@dataclass(frozen=True)
class DocCommand:
    """One ``driftline`` command line of a doc's shell block."""

    source: str  # FILE:LINE
    argv: tuple[str, ...]  # after "driftline", comments and shell plumbing removed

    def __str__(self) -> str:
        return f"{self.source}: driftline {' '.join(self.argv)}"


def doc_files() -> list[Path]:
    """README.md and every docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def doc_commands(files: list[Path] | None = None) -> list[DocCommand]:
    """Every ``driftline ...`` line (continuations joined) of the shell blocks of ``files``."""
    found: list[DocCommand] = []
    for path in files or doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block, lang, pending, start = False, "", "", 0
        for number, raw in enumerate(lines, 1):
            fence = _FENCE.match(raw)
            if fence:
                in_block, lang = (not in_block, fence.group(1)) if not in_block else (False, "")
                continue
            if not in_block or lang not in SHELL_LANGS:
                continue
            text = raw.strip().removeprefix("$ ")
            if pending:
                text = pending + " " + text
            elif not text.startswith("driftline "):
                continue
            else:
                start = number
            if text.endswith("\\"):
                pending = text[:-1].rstrip()
                continue
            pending = ""
            argv = _argv(text)
            if argv is not None:
                name = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
                found.append(DocCommand(f"{name}:{start}", argv))
    return found


def _argv(text: str) -> tuple[str, ...] | None:
    words = shlex.split(text, comments=True)
    if not words or words[0] != "driftline":
        return None
    command = " ".join(words[1:])
    match = _END.search(" " + command)
    if match:  # a pipe or a redirection: the driftline part is before it
        command = (" " + command)[: match.start()].strip()
    return tuple(PLACEHOLDERS.get(w, w) for w in shlex.split(command))


def parse(argv: tuple[str, ...]) -> list[str]:
    """Parse ``argv`` with the ``driftline`` CLI's click parser (nothing runs); the command path.

    Raises ``click.UsageError`` (``BadParameter`` ...) when a subcommand, option or argument
    would be refused.
    """
    from driftline.cli.main import cli

    ctx = cli.make_context("driftline", list(argv))
    command: click.Command = cli
    path = ["driftline"]
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return path
