"""Load ``driftline.yaml`` into :class:`DriftlineConfig`, reporting every error as ``PATH:LINE: field: message``.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "driftline.yaml"
>>> _ = path.write_text("model: shop\\ntasks:\\n  churn:\\n    type: binary\\n    windw: 10\\n")
>>> try:
...     load_config(path)
... except ConfigError as exc:
...     print(exc.problems[0].split(": ", 1)[1])
tasks.churn.windw: unknown key (did you mean 'window'?)
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from driftline.config.environment import env_name, environment
from driftline.config.models import DriftlineConfig
from driftline.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "find_config",
    "key_lines",
    "load_config",
    "nearest_line",
    "parse_config",
]

CONFIG_ENV = env_name("config")
Loc = tuple[str | int, ...]


def find_config(path: str | Path | None = None) -> Path:
    """The config file to use: ``path``, else ``$DRIFTLINE_CONFIG``, else ``./driftline.yaml``."""
    candidate = Path(path or environment().config or "driftline.yaml")
    if not candidate.is_file():
        raise ConfigError(
            f"{candidate}: config file not found; pass --config PATH, set ${CONFIG_ENV}, "
            "or start from examples/driftline.yaml"
        )
    return candidate


def load_config(path: str | Path | None = None) -> DriftlineConfig:
    """Read and validate a config file; raise :class:`ConfigError` listing every problem.

    The environment's overrides apply (``$DRIFTLINE_BOOTSTRAP_SERVERS`` over
    ``kafka.bootstrap_servers``): see :func:`parse_config`.
    """
    file = find_config(path)
    return parse_config(file.read_text(encoding="utf-8"), str(file))


def parse_config(text: str, source: str = "<string>") -> DriftlineConfig:
    """Validate YAML text; ``source`` names the file in error messages.

    What the environment sets (:meth:`~driftline.config.environment.EnvironmentSettings.
    config_overrides`, e.g. ``$DRIFTLINE_BOOTSTRAP_SERVERS``) is applied here, once, over the
    YAML's values; every config driftline loads has it.
    """
    lines, problems = _line_map(text, source)
    if problems:
        raise ConfigError(f"{source}: invalid YAML", problems)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: invalid", [f"{source}:1: <root>: expected a mapping"])
    data = _override(data, environment().config_overrides())
    try:
        return DriftlineConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_format(err, lines, source) for err in exc.errors()]
        raise ConfigError(f"{source}: {len(problems)} error(s)", problems) from None


def _override(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``overrides`` merged in, section by section (a section that is not a
    mapping is left for validation to report).

    >>> _override({"kafka": {"partitions": 3}}, {"kafka": {"bootstrap_servers": "k:1"}})
    {'kafka': {'partitions': 3, 'bootstrap_servers': 'k:1'}}
    """
    merged = dict(data)
    for section, values in overrides.items():
        current = merged.get(section, {})
        if isinstance(current, dict):
            merged[section] = {**current, **values}
    return merged


def _format(err: Any, lines: dict[Loc, int], source: str) -> str:
    loc: Loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    line = _nearest_line(loc, lines)
    field = ".".join(str(p) for p in loc) or "<root>"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
        close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif err["type"] == "missing":
        message = "required field is missing"
    return f"{source}:{line}: {field}: {message}"


def _is_union_tag(part: str | int) -> bool:
    return part in ("embedded", "postgres") or (isinstance(part, str) and "[" in part)


def key_lines(text: str) -> dict[Loc, int]:
    """The 1-based line of each key path of a YAML text (``{}`` when it does not parse)."""
    return _line_map(text, "<config>")[0]


def nearest_line(loc: Loc, lines: dict[Loc, int]) -> int:
    """The line of ``loc``, or of its nearest ancestor present in ``lines`` (1 when none)."""
    return _nearest_line(loc, lines)


def _nearest_line(loc: Loc, lines: dict[Loc, int]) -> int:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


def _line_map(text: str, source: str) -> tuple[dict[Loc, int], list[str]]:
    """Map each key path to its 1-based line; report YAML syntax errors and duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return {}, [f"{source}:{line}: <yaml>: {getattr(exc, 'problem', exc)}"]
    lines: dict[Loc, int] = {(): 1}
    problems: list[str] = []
    if root is not None:
        _walk(root, (), lines, problems, source)
    return lines, problems


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[str], src: str) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, key_node.value)
            if child in lines:
                dotted = ".".join(str(p) for p in child)
                problems.append(f"{src}:{key_node.start_mark.line + 1}: {dotted}: duplicate key")
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, problems, src)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines, problems, src)


def _fields_at(loc: Loc) -> list[str]:
    """Field names allowed at a key path, found by walking the config's type annotations."""
    annotation: Any = DriftlineConfig
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    models = [a for a in _members(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return sorted({name for model in models for name in model.model_fields})


def _step(annotation: Any, part: str | int) -> Any:
    for member in _members(annotation):
        is_model = isinstance(member, type) and issubclass(member, BaseModel)
        if is_model and isinstance(part, str) and part in member.model_fields:
            return member.model_fields[part].annotation
        origin = typing.get_origin(member)
        if origin is dict:
            return typing.get_args(member)[1]
        if origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
    return None


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]
