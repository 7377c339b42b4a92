"""``driftline schemas export DIR [--config FILE]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from driftline.cli.options import config_option, load_or_exit


@click.group()
def schemas() -> None:
    """Export the JSON Schemas of the event contracts."""


@schemas.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@config_option
def export(directory: Path, config_path: str | None) -> None:
    """Write one JSON Schema file per event contract into DIRECTORY.

    With --config, the prediction and label schemas are those of that config's model and tasks
    (a binary score in [0, 1], a multiclass task's classes, ...): what the monitor accepts.
    """
    from driftline.schemas import write_schemas

    paths = write_schemas(directory)
    if config_path is not None:
        from driftline.schemas.configured import config_schemas

        for name, doc in config_schemas(load_or_exit(config_path)).items():
            (directory / name).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    for path in paths:
        click.echo(str(path))
