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
label of binary task 'churn' must be 0 or 1 (or true/false), got 3
"""

from __future__ import annotations

import math
from typing import Any

from driftline.config.models import DriftlineConfig, TaskConfig
from driftline.errors import EventValidationError
from driftline.events import Label, Prediction, TaskOutput

__all__ = ["EventRules"]


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
        value = event.label
        if task.type == "binary":
            if value not in (0, 1) or (isinstance(value, str)):
                raise EventValidationError(
                    f"label of binary task {event.task!r} must be 0 or 1 (or true/false), got {value!r}"
                )
        elif task.type == "multiclass":
            if str(value) not in (task.classes or []):
                raise EventValidationError(
                    f"label {value!r} of task {event.task!r} is not one of {task.classes}"
                )
        elif isinstance(value, str | bool) or not math.isfinite(float(value)):
            raise EventValidationError(
                f"label of {task.type} task {event.task!r} must be a number, got {value!r}"
            )
        elif task.type == "ranking" and value < 0:
            raise EventValidationError(f"relevance of ranking task {event.task!r} must be >= 0")


def _check_output(name: str, task: TaskConfig, output: TaskOutput) -> None:
    if task.type == "binary":
        if output.score is None or not 0.0 <= output.score <= 1.0:
            raise EventValidationError(f"outputs.{name}.score must be a probability in [0, 1]")
    elif task.type == "regression":
        if output.value is None:
            raise EventValidationError(f"outputs.{name}.value is required (regression task)")
    elif task.type == "multiclass":
        if output.label is None or str(output.label) not in (task.classes or []):
            raise EventValidationError(f"outputs.{name}.label must be one of {task.classes}")
        if output.probs is not None and set(output.probs) - set(task.classes or []):
            raise EventValidationError(f"outputs.{name}.probs has classes outside {task.classes}")
    elif task.type == "ranking" and (output.score is None or output.group is None):
        raise EventValidationError(f"outputs.{name} needs `score` and `group` (ranking task)")
