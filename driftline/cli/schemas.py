"""``driftline schemas export DIR``."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def schemas() -> None:
    """Export the JSON Schemas of the event contracts."""


@schemas.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write one JSON Schema file per event contract into DIRECTORY."""
    from driftline.schemas import write_schemas

    for path in write_schemas(directory):
        click.echo(str(path))
