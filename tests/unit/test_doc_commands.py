"""Every ``driftline ...`` command in README.md and docs/*.md parses with the CLI as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_commands import REPO, doc_commands, parse

COMMANDS = doc_commands()


def test_the_docs_have_commands_to_check() -> None:
    paths = {c.source.split(":")[0] for c in COMMANDS}
    assert {"README.md", "docs/demo.md", "docs/retrainer.md", "docs/broker.md"} <= paths
    assert len(COMMANDS) >= 30, [str(c) for c in COMMANDS]


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_doc_command_parses(command: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # docs name files relative to the repository root
    parse(command.argv)  # type: ignore[attr-defined]


def test_a_wrong_doc_command_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "bad.md"
    doc.write_text("```bash\ndriftline produce predictions events/none.jsonl  # old path\n"
                   "driftline monitor --loglvl info\n```\n")  # fmt: skip
    commands = doc_commands([doc])
    assert [c.argv for c in commands] == [
        ("produce", "predictions", "events/none.jsonl"), ("monitor", "--loglvl", "info"),
    ]  # fmt: skip
    import click

    for command in commands:
        with pytest.raises(click.UsageError):
            parse(command.argv)
