"""Validated decoding of predictions and labels on the hot path.

``driftline.events.decode`` (pydantic) costs ~15 µs per prediction. :class:`EventDecoder` first
tries a hand-written check that accepts only events that are *plainly* valid (exact JSON types,
numbers within limits, known keys, an RFC 3339 time with an offset, the config's rules per task
type).
Anything else — a coercible value, a bad field, an unknown schema — goes the slow way through
``decode`` + :class:`driftline.validation.EventRules`, which either accepts it or raises with the
contract's own reason. So the set of accepted events is exactly the contract's, and an invalid
event always gets the contract's error message.
"""

from __future__ import annotations

from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.event_values import MAX_NUMBER, MAX_RELEVANCE, class_name, parse_time
from driftline.events import (
    EVENT_TYPES,
    Label,
    ModelUpdate,
    Prediction,
    RejectedItem,
    decode,
    json_type,
)
from driftline.validation import EventRules, label_value
from streams.records import LabelRecord, PredictionRecord, epoch

__all__ = ["EventDecoder"]

_PREDICTION_KEYS = frozenset(
    {
        "schema",
        "prediction_id",
        "model",
        "model_version",
        "entity_id",
        "event_time",
        "outputs",
        "features",
        "segments",
    }
)
_PREDICTION_REQUIRED = _PREDICTION_KEYS - {"features", "segments"}
_LABEL_KEYS = frozenset({"schema", "prediction_id", "task", "label", "event_time"})
_OUTPUT_KEYS = frozenset({"score", "value", "label", "probs", "group"})
_ELSEWHERE = frozenset(EVENT_TYPES) - {Prediction.SCHEMA, Label.SCHEMA, ModelUpdate.SCHEMA}
_MAX = MAX_NUMBER
_MIN = -MAX_NUMBER


class _Slow(Exception):
    """Raised inside the fast path: this event needs the full contract check."""


def _text(value: Any, limit: int) -> str:
    if type(value) is not str or not 0 < len(value) <= limit or not value.isascii():
        raise _Slow
    return value


def _number(value: Any) -> float | None:
    """A number within the limits, ``None`` for null; :class:`_Slow` for anything else."""
    if value is None:
        return None
    kind = type(value)
    if (kind is float or kind is int) and _MIN <= value <= _MAX:  # NaN fails the comparison
        return value  # type: ignore[no-any-return]
    raise _Slow


def _time(value: Any) -> float:
    if type(value) is not str:
        raise _Slow
    try:
        return parse_time(value).timestamp()  # streams.records.epoch, without the call
    except ValueError:
        raise _Slow from None


class EventDecoder:
    """Turns raw event dicts into :class:`PredictionRecord`/:class:`LabelRecord` (or raises).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``: its model and tasks decide what is valid.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> decoder = EventDecoder(parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n"))
    >>> decoder.decode({"schema": "driftline.label/1", "prediction_id": "p", "task": "churn",
    ...                 "label": 1, "event_time": "2026-11-23T12:00:00Z"}).label
    1
    >>> try:
    ...     decoder.decode({"schema": "driftline.label/1", "prediction_id": "p", "task": "spend",
    ...                     "label": 1, "event_time": "2026-11-23T12:00:00Z"})
    ... except Exception as exc:
    ...     print(exc)
    unknown task 'spend'; configured tasks: ['churn']
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config
        self._reset()

    def _reset(self) -> None:
        # per task: its type and its classes, looked up once per output instead of per field
        self._tasks: dict[str, tuple[str, frozenset[str]]] = {
            name: (task.type, frozenset(task.classes or ()))
            for name, task in self.config.tasks.items()
        }
        self._rules = EventRules(self.config)

    def decode(self, raw: Any) -> PredictionRecord | LabelRecord | ModelUpdate:
        """Validate one event; raise :class:`EventValidationError` with the reason."""
        if type(raw) is not dict:
            if isinstance(raw, RejectedItem):
                raise EventValidationError(raw.reason)
            raise EventValidationError(f"an event must be a JSON object, got {json_type(raw)}")
        try:
            schema = raw.get("schema")
            if schema == "driftline.label/1":
                return self._fast_label(raw)
            if schema == "driftline.prediction/1":
                return self._fast_prediction(raw)
        except _Slow:
            pass
        return self._slow(raw)

    def _slow(self, raw: dict[str, Any]) -> PredictionRecord | LabelRecord | ModelUpdate:
        schema = raw.get("schema")
        if type(schema) is str and schema in _ELSEWHERE:
            raise EventValidationError(
                f"{schema} does not belong on a monitor input topic; expected predictions, "
                "labels or model updates"
            )
        event = decode(raw)
        if isinstance(event, Prediction):
            self._rules.check(event)
            return PredictionRecord(
                prediction_id=event.prediction_id,
                model=event.model,
                model_version=event.model_version,
                entity_id=event.entity_id,
                t=epoch(event.event_time),
                outputs={k: v.model_dump(exclude_none=True) for k, v in event.outputs.items()},
                features=dict(event.features),
                segments=dict(event.segments),
            )
        if isinstance(event, Label):
            self._rules.check(event)
            kind = self._tasks[event.task][0]
            return LabelRecord(
                event.prediction_id,
                event.task,
                label_value(kind, event.label),
                epoch(event.event_time),
            )
        if isinstance(event, ModelUpdate):
            return event
        raise EventValidationError(
            f"{event.SCHEMA} does not belong on a monitor input topic; expected predictions, "
            "labels or model updates"
        )

    def _fast_prediction(self, raw: dict[str, Any]) -> PredictionRecord:
        keys = raw.keys()
        if not keys >= _PREDICTION_REQUIRED or not keys <= _PREDICTION_KEYS:
            raise _Slow
        model = raw["model"]
        if type(model) is not str or model != self.config.model:
            raise _Slow
        outputs = raw["outputs"]
        if type(outputs) is not dict or not outputs:
            raise _Slow
        tasks = self._tasks
        for name, output in outputs.items():
            spec = tasks.get(name)
            if spec is None or type(output) is not dict:
                raise _Slow
            if len(output) == 1:  # the usual {"score": p} or {"value": x}: plainly valid
                kind = spec[0]
                if kind == "binary":
                    score = output.get("score")
                    if (type(score) is float or type(score) is int) and 0.0 <= score <= 1.0:
                        continue
                elif kind == "regression":
                    value = output.get("value")
                    if type(value) is float and _MIN <= value <= _MAX:
                        continue
            _check_output(spec, output)
        features = raw.get("features", {})
        segments = raw.get("segments", {})
        if type(features) is not dict or type(segments) is not dict:
            raise _Slow
        for name, value in features.items():
            if type(name) is not str or not 0 < len(name) <= 128 or not name.isascii():
                raise _Slow
            kind_of = type(value)
            if kind_of is float or kind_of is int:
                if not _MIN <= value <= _MAX:
                    raise _Slow
            elif kind_of is str:
                if not value.isascii():
                    raise _Slow
            elif value is not None and kind_of is not bool:
                raise _Slow
        for name, value in segments.items():
            if type(name) is not str or not 0 < len(name) <= 128 or not name.isascii():
                raise _Slow
            if type(value) is not str or len(value) > 256 or not value.isascii():
                raise _Slow
        return PredictionRecord(
            _text(raw["prediction_id"], 256),
            model,
            _text(raw["model_version"], 128),
            _text(raw["entity_id"], 256),
            _time(raw["event_time"]),
            outputs,
            features,
            segments,
        )

    def _fast_label(self, raw: dict[str, Any]) -> LabelRecord:
        if raw.keys() != _LABEL_KEYS:
            raise _Slow
        task_name = raw["task"]
        if type(task_name) is not str:
            raise _Slow
        spec = self._tasks.get(task_name)
        if spec is None:
            raise _Slow
        value = raw["label"]
        kind = spec[0]
        if kind == "binary":
            if type(value) is bool:
                value = int(value)
            elif type(value) is not int or value not in (0, 1):
                raise _Slow
        elif kind == "multiclass":
            if (type(value) is not str and type(value) is not int) or class_name(value) not in spec[
                1
            ]:
                raise _Slow
        elif _number(value) is None or (kind == "ranking" and not 0 <= value <= MAX_RELEVANCE):
            raise _Slow
        return LabelRecord(
            _text(raw["prediction_id"], 256), task_name, value, _time(raw["event_time"])
        )


def _check_output(spec: tuple[str, frozenset[str]], output: dict[str, Any]) -> None:
    """Raise :class:`_Slow` unless one output is plainly valid for its task."""
    if not output.keys() <= _OUTPUT_KEYS:
        raise _Slow
    kind, classes = spec
    score = _number(output.get("score"))
    value = _number(output.get("value"))
    label = output.get("label")
    group = output.get("group")
    probs = output.get("probs")
    if label is not None:
        if type(label) is int:
            if not _MIN <= label <= _MAX:
                raise _Slow
        elif type(label) is not str or not label.isascii():
            raise _Slow
    if group is not None:
        _text(group, 256)
    if probs is not None:
        if type(probs) is not dict or kind != "multiclass":
            raise _Slow
        for cls, prob in probs.items():
            if cls not in classes or (type(prob) is not float and type(prob) is not int):
                raise _Slow
            if not 0.0 <= prob <= 1.0:
                raise _Slow
    if kind == "binary" and (score is None or not 0.0 <= score <= 1.0):
        raise _Slow
    if kind == "regression" and value is None:
        raise _Slow
    if kind == "multiclass" and (label is None or class_name(label) not in classes):
        raise _Slow
    if kind == "ranking" and (score is None or group is None):
        raise _Slow
