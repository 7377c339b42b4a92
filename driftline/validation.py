"""Checks of events against the config: known tasks, and the output/label shape per task type.

The JSON Schema (``driftline/events.py``) checks the shape every event shares; this module checks
what depends on ``driftline.yaml``: a prediction names only configured tasks, a binary head has a
``score`` in [0, 1], a multiclass label is one of ``classes``, and so on.

>>> from driftline.config import parse_config
>>> from driftline.events import decode
>>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
>>> label = decode('{"schema": "driftline.label/1", "prediction_id": "p", "task": "churn",'
...                ' "label": 3, "event_time": "2026-11-23T12:00:00Z"}')
>>> try:
...     EventRules(cfg).check(label)
... except Exception as exc:
...     print(exc)
label of a binary task must be 0 or 1 (or true/false), got 3 (task 'churn')
"""

from __future__ import annotations

from typing import Any

from driftline.config.models import DriftlineConfig, TaskConfig
from driftline.errors import EventValidationError
from driftline.event_values import MAX_RELEVANCE, class_name, is_number
from driftline.events import Label, Prediction, TaskOutput

__all__ = ["EventRules", "label_problem", "label_value"]


class EventRules:
    """Validates predictions and labels against the tasks of one config."""

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config

    def check(self, event: Any) -> None:
        """Raise :class:`EventValidationError` with the reason when ``event`` breaks a rule."""
        if isinstance(event, Prediction):
            self._check_prediction(event)
        elif isinstance(event, Label):
            self._check_label(event)

    def _task(self, name: str) -> TaskConfig:
        task = self.config.tasks.get(name)
        if task is None:
            raise EventValidationError(
                f"unknown task {name!r}; configured tasks: {sorted(self.config.tasks)}"
            )
        return task

    def _check_prediction(self, event: Prediction) -> None:
        if event.model != self.config.model:
            raise EventValidationError(
                f"prediction is for model {event.model!r}, this config monitors {self.config.model!r}"
            )
        for name, output in event.outputs.items():
            _check_output(name, self._task(name), output)

    def _check_label(self, event: Label) -> None:
        task = self._task(event.task)
        reason = label_problem(task, event.label)
        if reason is not None:
            raise EventValidationError(f"{reason} (task {event.task!r})")


def label_problem(task: TaskConfig, value: Any) -> str | None:
    """Why ``value`` is no label of ``task`` (``None`` when it is one).

    >>> from driftline.config.models import TaskConfig
    >>> label_problem(TaskConfig(type="ranking"), -1)
    'relevance of a ranking task must be a number in [0, 100], got -1'
    """
    if task.type == "binary":
        if type(value) is bool or (is_number(value) and value in (0, 1)):
            return None
        return f"label of a binary task must be 0 or 1 (or true/false), got {_short(value)}"
    if task.type == "multiclass":
        if class_name(value) in (task.classes or ()):
            return None
        return f"label {_short(value)} is not one of {task.classes}"
    if not is_number(value):
        return f"label of a {task.type} task must be a number, got {_short(value)}"
    if task.type == "ranking" and not 0 <= value <= MAX_RELEVANCE:
        return (
            f"relevance of a ranking task must be a number in [0, {MAX_RELEVANCE}], got {value!r}"
        )
    return None


def label_value(kind: str, value: Any) -> Any:
    """The label as the monitor keeps it: 0/1 for binary, an integral float as an int."""
    if kind == "binary" or (type(value) is float and kind == "multiclass"):
        return int(value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _check_output(name: str, task: TaskConfig, output: TaskOutput) -> None:
    if output.probs is not None and task.type != "multiclass":
        raise EventValidationError(f"outputs.{name}.probs is only for multiclass tasks")
    if task.type == "binary":
        if output.score is None or not 0.0 <= output.score <= 1.0:
            raise EventValidationError(f"outputs.{name}.score must be a probability in [0, 1]")
    elif task.type == "regression":
        if output.value is None:
            raise EventValidationError(f"outputs.{name}.value is required (regression task)")
    elif task.type == "multiclass":
        if class_name(output.label) not in (task.classes or []):
            raise EventValidationError(f"outputs.{name}.label must be one of {task.classes}")
        if output.probs is not None and set(output.probs) - set(task.classes or []):
            raise EventValidationError(f"outputs.{name}.probs has classes outside {task.classes}")
    elif task.type == "ranking" and (output.score is None or output.group is None):
        raise EventValidationError(f"outputs.{name} needs `score` and `group` (ranking task)")
