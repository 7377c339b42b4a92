"""A replayed history as each task's error stream: predictions joined with their labels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import Label, Prediction, decode
from streams.metric_set import error_of

__all__ = ["TaskHistory", "task_histories"]


@dataclass
class TaskHistory:
    """One task's labelled pairs, in label event-time order, and their errors."""

    task: str
    task_type: str
    pairs: list[tuple[Any, Any]] = field(default_factory=list)
    unlabelled: int = 0

    @property
    def errors(self) -> list[float]:
        """The error stream a ``signal: error`` detector watches (see ``error_of``)."""
        return [error_of(self.task_type, y_true, y_pred) for y_true, y_pred in self.pairs]


def task_histories(
    config: DriftlineConfig, events: Iterable[dict[str, Any] | bytes | str]
) -> tuple[dict[str, TaskHistory], int]:
    """Join ``events`` (predictions and labels, any order) per task; also the count of events
    that were not valid predictions or labels of the config's model (left out).

    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  a: {type: binary}\\n")
    >>> p = {"schema": "driftline.prediction/1", "prediction_id": "p", "model": "m",
    ...      "model_version": "1", "entity_id": "e", "event_time": "2026-01-01T00:00:00Z",
    ...      "outputs": {"a": {"score": 0.9}}}
    >>> l = {"schema": "driftline.label/1", "prediction_id": "p", "task": "a", "label": 0,
    ...      "event_time": "2026-01-01T01:00:00Z"}
    >>> histories, skipped = task_histories(cfg, [l, p, {"bad": 1}])
    >>> histories["a"].pairs, histories["a"].errors, skipped
    ([(0, 0.9)], [1.0], 1)
    """
    predictions: dict[str, dict[str, Any]] = {}
    labels: list[Label] = []
    skipped = 0
    for raw in events:
        try:
            event = decode(raw)
        except EventValidationError:
            skipped += 1
            continue
        if isinstance(event, Prediction) and event.model == config.model:
            predictions[event.prediction_id] = {
                task: _y_pred(config.tasks[task].type, output)
                for task, output in event.outputs.items()
                if task in config.tasks
            }
        elif isinstance(event, Label) and event.task in config.tasks:
            labels.append(event)
        else:
            skipped += 1
    histories = {name: TaskHistory(name, task.type) for name, task in config.tasks.items()}
    labels.sort(key=lambda label: label.event_time)
    joined: set[tuple[str, str]] = set()
    for label in labels:
        outputs = predictions.get(label.prediction_id)
        key = (label.prediction_id, label.task)
        if outputs is None or label.task not in outputs or key in joined:
            continue
        joined.add(key)
        y_pred = outputs[label.task]
        if y_pred is not None:
            histories[label.task].pairs.append((label.label, y_pred))
    for outputs in predictions.values():
        for task in outputs:
            histories[task].unlabelled += 1
    for history in histories.values():
        history.unlabelled -= len(history.pairs)
    return histories, skipped


def _y_pred(task_type: str, output: Any) -> Any:
    """The predicted value the monitor uses for a head (as the join does)."""
    if task_type == "multiclass":
        return output.label
    for value in (output.score, output.value, output.label):
        if value is not None:
            return value
    return None
