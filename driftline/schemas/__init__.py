"""JSON Schemas of the event contracts, generated from :mod:`driftline.events`.

The ``*.schema.json`` files next to this module are shipped in the package (for producers in
other languages); ``tests/unit/test_schemas.py`` fails when they drift from the models, and
``driftline schemas export DIR`` (or ``make schemas``) regenerates them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.events import EVENT_TYPES

__all__ = ["SCHEMA_DIR", "load_schema", "render_schemas", "write_schemas"]

SCHEMA_DIR = Path(__file__).parent


def _file_name(schema: str) -> str:
    return schema.replace("driftline.", "").replace("/", ".v") + ".schema.json"


def render_schemas() -> dict[str, dict[str, Any]]:
    """``{file name: JSON Schema}`` for every contract."""
    out = {}
    for schema, cls in EVENT_TYPES.items():
        doc = cls.model_json_schema(by_alias=True, mode="validation")
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["$id"] = f"https://driftline.dev/schemas/{_file_name(schema)}"
        out[_file_name(schema)] = doc
    return out


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in sorted(render_schemas().items()):
        path = directory / name
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def load_schema(schema: str) -> dict[str, Any]:
    """The shipped JSON Schema for a ``schema`` value such as ``driftline.alert/1``."""
    return dict(json.loads((SCHEMA_DIR / _file_name(schema)).read_text()))
