"""JSON Schemas of predictions and labels for one ``driftline.yaml``: its model and tasks.

The shipped ``prediction.v1``/``label.v1`` schemas hold for every config, so they cannot say
that a binary task's ``score`` is a probability or which classes a multiclass task has. These
schemas add what the config decides, so a producer validating against them gets the monitor's
verdict: ``tests/unit/test_schema_verdicts.py`` feeds the same events to both and requires the
same answer. What no JSON Schema can say is listed in ``docs/events.md`` (valid UTF-8, the
``producer.max_event_bytes`` size limit, JSON nesting depth).

>>> from driftline.config import parse_config
>>> cfg = parse_config("model: shop\\ntasks:\\n  churn: {type: binary}\\n")
>>> schemas = config_schemas(cfg)
>>> schemas["prediction.v1.schema.json"]["properties"]["outputs"]["properties"]["churn"][
...     "properties"]["score"]
{'type': 'number', 'minimum': 0, 'maximum': 1}
"""

from __future__ import annotations

import copy
import re
from typing import Any

from driftline.config.models import DriftlineConfig, TaskConfig
from driftline.event_values import MAX_NUMBER, MAX_RELEVANCE

__all__ = ["config_schemas", "label_schema", "output_schema"]

_NUMBER = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
_INTEGER_NAME = re.compile(r"^(0|-?[1-9][0-9]*)$")


def config_schemas(config: DriftlineConfig) -> dict[str, dict[str, Any]]:
    """``{file name: JSON Schema}`` of the prediction and label contracts under ``config``."""
    from driftline.schemas import render_schemas

    shipped = render_schemas()
    prediction = copy.deepcopy(shipped["prediction.v1.schema.json"])
    label = copy.deepcopy(shipped["label.v1.schema.json"])
    base_output = prediction["$defs"]["TaskOutput"]
    prediction["properties"]["model"] = {"const": config.model, "type": "string"}
    prediction["properties"]["outputs"] = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            name: output_schema(task, base_output) for name, task in config.tasks.items()
        },
    }
    del prediction["$defs"]
    label["properties"]["task"] = {"enum": sorted(config.tasks)}
    label["allOf"] = [
        {
            "if": {"properties": {"task": {"const": name}}},
            "then": {"properties": {"label": label_schema(task)}},
        }
        for name, task in sorted(config.tasks.items())
    ]
    for doc, name in ((prediction, "prediction"), (label, "label")):
        doc["$id"] = f"https://driftline.dev/schemas/{config.model}/{name}.v1.schema.json"
        doc["description"] += f" (model {config.model!r}, as its driftline.yaml configures it)"
    return {"prediction.v1.schema.json": prediction, "label.v1.schema.json": label}


def output_schema(task: TaskConfig, base: dict[str, Any]) -> dict[str, Any]:
    """The schema of one task's output: the shared one, with the task type's requirements."""
    schema = copy.deepcopy(base)
    schema.pop("description", None)
    schema.pop("title", None)
    properties = schema["properties"]
    for prop in properties.values():
        prop.pop("default", None)
        prop.pop("title", None)
    if task.type != "multiclass":
        properties["probs"] = {"type": "null"}
    if task.type == "binary":
        properties["score"] = {"type": "number", "minimum": 0, "maximum": 1}
        schema["required"] = ["score"]
    elif task.type == "regression":
        properties["value"] = dict(_NUMBER)
        schema["required"] = ["value"]
    elif task.type == "ranking":
        properties["score"] = dict(_NUMBER)
        properties["group"] = {"type": "string", "minLength": 1, "maxLength": 256}
        schema["required"] = ["score", "group"]
    else:
        classes = list(task.classes or [])
        properties["label"] = {"enum": _class_values(classes)}
        properties["probs"] = {
            "anyOf": [
                {
                    "type": "object",
                    "propertyNames": {"enum": classes},
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                {"type": "null"},
            ]
        }
        schema["required"] = ["label"]
    return schema


def label_schema(task: TaskConfig) -> dict[str, Any]:
    """The schema of a label of one task.

    >>> from driftline.config.models import TaskConfig
    >>> label_schema(TaskConfig(type="multiclass", classes=["a", "2"]))
    {'enum': ['a', '2', 2]}
    """
    if task.type == "binary":
        return {"enum": [0, 1, True, False]}
    if task.type == "multiclass":
        return {"enum": _class_values(list(task.classes or []))}
    if task.type == "ranking":
        return {"type": "number", "minimum": 0, "maximum": MAX_RELEVANCE}
    return dict(_NUMBER)


def _class_values(classes: list[str]) -> list[Any]:
    """A class by name, or by number when its name is an integer (``"2"`` or ``2``)."""
    numbers = [int(c) for c in classes if _INTEGER_NAME.match(c) and abs(int(c)) <= MAX_NUMBER]
    return [*classes, *numbers]
