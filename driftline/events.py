"""Event contracts: the JSON objects that cross Kafka, versioned by their ``schema`` field.

Each event is a frozen pydantic model; its JSON Schema is generated from it
(``driftline schemas export DIR``) and shipped in ``driftline/schemas/`` so that producers in any
language can validate. Validation is strict: wrong types, NaN/inf, unknown fields and oversized
payloads are errors with a reason.

>>> p = Prediction.model_validate_json(
...     '{"schema": "driftline.prediction/1", "prediction_id": "p-1", "model": "shop",'
...     ' "model_version": "3", "entity_id": "c-42", "event_time": "2026-11-23T12:00:00Z",'
...     ' "outputs": {"churn": {"score": 0.83}}}'
... )
>>> p.outputs["churn"].score
0.83
>>> decode(b'{"schema": "driftline.label/1", "prediction_id": "p-1", "task": "churn",'
...        b' "label": 1, "event_time": "2026-11-23T12:05:00Z"}').task
'churn'
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from driftline.errors import EventValidationError
from driftline.event_records import (
    BATCH_SCHEMA,
    MAX_EVENT_BYTES,
    RejectedItem,
    decode_record,
    json_type,
    load_object,
    split_record,
)
from driftline.event_values import (
    MAX_NUMBER,
    OUTPUT_TIME_PATTERN,
    TIME_PATTERN,
    check_output_time,
    check_time,
    is_text,
)

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "Alert",
    "Batch",
    "DeadLetter",
    "Event",
    "EvidenceWindow",
    "Label",
    "ModelUpdate",
    "Prediction",
    "RecordSource",
    "RejectedItem",
    "RetrainRequest",
    "TaskMetrics",
    "TaskOutput",
    "decode",
    "decode_record",
    "encode",
    "json_type",
    "split_record",
    "stable_id",
    "validation_reason",
]


def _utf8(value: str) -> str:
    if not is_text(value):
        raise ValueError("must be valid UTF-8 text (it holds a lone surrogate)")
    return value


def _whole(value: Any) -> Any:
    """JSON does not tell ``2`` from ``2.0``: an integral float counts as the integer."""
    if type(value) is float and value.is_integer() and abs(value) <= MAX_NUMBER:
        return int(value)
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("a label must not be null (send no label until it is known)")
    return value


_TIME_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": TIME_PATTERN,
    "description": "RFC 3339 with a UTC offset, years 0002-9998, e.g. 2026-11-23T12:00:00Z",
}
_OUTPUT_TIME_SCHEMA = {
    **_TIME_SCHEMA,
    "pattern": OUTPUT_TIME_PATTERN,
    "description": "RFC 3339 with a UTC offset, years 0001-9999, e.g. 2026-11-23T12:00:00Z",
}

Text = Annotated[str, AfterValidator(_utf8)]
Id = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_utf8)]
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_utf8)]
Number = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)]
Integer = Annotated[int, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)]
WholeNumber = Annotated[int, Field(ge=-MAX_NUMBER, le=MAX_NUMBER), BeforeValidator(_whole)]
Probability = Annotated[float, Field(ge=0, le=1)]
Segment = Annotated[str, Field(max_length=256), AfterValidator(_utf8)]
Scalar = Integer | Number | Text | bool | None
EventTime = Annotated[datetime, BeforeValidator(check_time), WithJsonSchema(_TIME_SCHEMA)]
"""The time of a prediction or label: RFC 3339 with an offset (:mod:`driftline.event_values`)."""
Timestamp = Annotated[
    datetime, BeforeValidator(check_output_time), WithJsonSchema(_OUTPUT_TIME_SCHEMA)
]
"""The time of an event driftline writes (alerts, requests, ...): RFC 3339 with an offset."""


class Contract(BaseModel):
    """Base of every event: frozen, unknown fields forbidden, NaN/inf rejected."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True, strict=False
    )
    SCHEMA: ClassVar[str]


class InputContract(Contract):
    """Base of what producers send (predictions, labels): no coercion of any type."""

    model_config = ConfigDict(strict=True)


class TaskOutput(InputContract):
    """One head's output in a prediction.

    binary: ``score`` (probability of the positive class, in [0, 1]) and optionally ``label``;
    multiclass: ``label`` (predicted class) and optionally ``probs`` (in [0, 1], per class);
    regression: ``value``; ranking: ``score`` and ``group`` (the query/list it ranks within).
    A field that does not apply to the task may be left out or ``null``.
    """

    score: Number | None = None
    value: Number | None = None
    label: Text | WholeNumber | None = None
    probs: dict[Text, Probability] | None = None
    group: Id | None = None


class Prediction(InputContract):
    """All heads of one forward pass of a multi-task model."""

    SCHEMA: ClassVar[str] = "driftline.prediction/1"
    schema_: Literal["driftline.prediction/1"] = Field(alias="schema")
    prediction_id: Id
    model: Name
    model_version: Name
    entity_id: Id
    event_time: EventTime
    outputs: dict[Name, TaskOutput] = Field(min_length=1)
    features: dict[Name, Scalar] = Field(default_factory=dict)
    segments: dict[Name, Segment] = Field(default_factory=dict)


class Label(InputContract):
    """The ground truth of one task of one prediction (never ``null``)."""

    SCHEMA: ClassVar[str] = "driftline.label/1"
    schema_: Literal["driftline.label/1"] = Field(alias="schema")
    prediction_id: Id
    task: Name
    label: Annotated[Integer | Number | Text | bool, BeforeValidator(_not_null)]
    event_time: EventTime


class EvidenceWindow(Contract):
    """The stretch of a task's stream that made a detector fire (label counts and event times)."""

    start_count: int = Field(ge=0)
    end_count: int = Field(ge=0)
    start_time: Timestamp
    end_time: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> EvidenceWindow:
        if self.start_count > self.end_count or self.start_time > self.end_time:
            raise ValueError("an evidence window must not end before it starts")
        return self


class Alert(Contract):
    """A drift alert on one task (and optionally one slice) of one model version."""

    SCHEMA: ClassVar[str] = "driftline.alert/1"
    schema_: Literal["driftline.alert/1"] = Field(alias="schema")
    alert_id: Id
    model: Name
    model_version: Name
    task: Name
    slice: dict[Name, str] = Field(default_factory=dict)
    detector: Name
    signal: Literal["error", "score", "metric", "expected_error", "feature"]
    severity: Literal["info", "warning", "critical"]
    metric: Name
    value: float
    baseline: float | None = None
    evidence: EvidenceWindow
    config_hash: Id
    event_time: Timestamp
    attribution: dict[Literal["shared", "own"], list[Name]] | None = Field(
        None,
        description="with feature drift on: the input features drifted in the last compared "
        "window (shared ones and the task's own); both empty: the task's own signal",
    )


class RetrainRequest(Contract):
    """Ask the retrainer for a new version of ``model``, focused on ``tasks``."""

    SCHEMA: ClassVar[str] = "driftline.retrain-request/1"
    schema_: Literal["driftline.retrain-request/1"] = Field(alias="schema")
    request_id: Id
    model: Name
    model_version: Name | None = None
    tasks: list[Name] = Field(min_length=1)
    window_start: Timestamp | None = None
    window_end: Timestamp | None = None
    alert_ids: list[Id] = Field(default_factory=list)
    reason: str = ""
    requested_by: Literal["monitor", "cli", "api"] = "monitor"
    event_time: Timestamp

    @model_validator(mode="after")
    def _window_not_empty(self) -> RetrainRequest:
        start, end = self.window_start, self.window_end
        if start is not None and end is not None and end <= start:
            raise ValueError(
                f"the training window [{start.isoformat()}, {end.isoformat()}] is empty: "
                "window_end must be after window_start"
            )
        return self


class ModelUpdate(Contract):
    """The outcome of a retrain, or a manual promotion/rollback."""

    SCHEMA: ClassVar[str] = "driftline.model-update/1"
    schema_: Literal["driftline.model-update/1"] = Field(alias="schema")
    update_id: Id
    model: Name
    version: Name | None
    status: Literal["promoted", "candidate", "rejected", "rolled_back"]
    parent_version: Name | None = None
    tasks: list[Name] = Field(default_factory=list)
    metrics: dict[Name, dict[Name, float]] = Field(default_factory=dict)
    champion_metrics: dict[Name, dict[Name, float]] = Field(default_factory=dict)
    artifact_uri: str | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    feature_profile_uri: str | None = Field(
        None,
        description="the profile of the features of the rows the version was trained on "
        "(driftline.feature-profile/1 JSON), stored with it: feature drift's champion reference",
    )
    feature_profile_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    request_ids: list[Id] = Field(default_factory=list)
    alert_ids: list[Id] = Field(default_factory=list)
    reason: str = ""
    event_time: Timestamp

    @model_validator(mode="after")
    def _profile(self) -> ModelUpdate:
        if (self.feature_profile_uri is None) != (self.feature_profile_sha256 is None):
            raise ValueError("set both feature_profile_uri and feature_profile_sha256, or neither")
        return self


class TaskMetrics(Contract):
    """A periodic snapshot of one task's (or slice's) monitor state."""

    SCHEMA: ClassVar[str] = "driftline.task-metrics/1"
    schema_: Literal["driftline.task-metrics/1"] = Field(alias="schema")
    snapshot_id: Id
    model: Name
    model_version: Name
    task: Name
    slice: dict[Name, str] = Field(default_factory=dict)
    predictions: int = Field(ge=0)
    labels: int = Field(ge=0)
    expired: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    label_coverage: float | None = None
    cumulative: dict[Name, float | None] = Field(default_factory=dict)
    rolling: dict[Name, float | None] = Field(default_factory=dict)
    event_time: Timestamp


class RecordSource(Contract):
    """Where a record was read: topic, partition, offset (and index inside an envelope)."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    index: int | None = None


class DeadLetter(Contract):
    """An event that could not be parsed or validated, with the reason and where it came from."""

    SCHEMA: ClassVar[str] = "driftline.dead-letter/1"
    schema_: Literal["driftline.dead-letter/1"] = Field(alias="schema")
    reason: str
    source: RecordSource
    key: str | None = None
    payload: str
    truncated: bool = False
    stage: str = ""
    received_at: datetime


class Batch(Contract):
    """An envelope of events that share one partition (what the SDK sends)."""

    SCHEMA: ClassVar[str] = BATCH_SCHEMA
    schema_: Literal["driftline.batch/1"] = Field(alias="schema")
    events: list[dict[str, Any]] = Field(min_length=1)


Event = Prediction | Label | Alert | RetrainRequest | ModelUpdate | TaskMetrics | DeadLetter
EVENT_TYPES: dict[str, type[Contract]] = {
    cls.SCHEMA: cls
    for cls in (
        Prediction,
        Label,
        Alert,
        RetrainRequest,
        ModelUpdate,
        TaskMetrics,
        DeadLetter,
        Batch,
    )
}


def decode(
    raw: bytes | str | dict[str, Any] | RejectedItem, max_bytes: int = MAX_EVENT_BYTES
) -> Any:
    """Parse and validate one event (not an envelope); raise :class:`EventValidationError`.

    ``raw`` is JSON text (bytes or str), an item of :func:`split_record` (a dict, or a
    :class:`RejectedItem`, whose reason is raised).
    """
    if isinstance(raw, RejectedItem):
        raise EventValidationError(raw.reason)
    if isinstance(raw, bytes | str):
        if len(raw) > max_bytes:
            raise EventValidationError(
                f"event is {len(raw)} bytes, over the {max_bytes}-byte limit"
            )
        data = load_object(raw)
    elif isinstance(raw, dict):
        data = raw
    else:
        raise EventValidationError(f"an event must be a JSON object, got {json_type(raw)}")
    schema = data.get("schema")
    cls = EVENT_TYPES.get(schema) if isinstance(schema, str) else None
    if cls is None or cls is Batch:
        raise EventValidationError(
            f"unknown schema {_short(schema)}; expected one of "
            f"{sorted(set(EVENT_TYPES) - {Batch.SCHEMA})}"
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise EventValidationError(validation_reason(exc, cls.SCHEMA)) from None


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool | None) else json_type(value)
    return text if len(text) <= 80 else text[:77] + "..."


def encode(event: Contract) -> bytes:
    """Serialize an event to compact JSON bytes (with its ``schema`` field)."""
    return event.model_dump_json(by_alias=True, exclude_none=False).encode()


def stable_id(*parts: Any) -> str:
    """A deterministic id from its parts (sha256, 32 hex chars), for alerts, requests, snapshots.

    >>> stable_id("shop", "churn", "adwin", 1200) == stable_id("shop", "churn", "adwin", 1200)
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def validation_reason(exc: ValidationError, schema: str) -> str:
    """One line naming each failing field of a pydantic error (at most five).

    The alternatives of a union (``label`` is a number, a string or a boolean) fail together;
    they are reported as one field with their distinct messages.
    """
    messages: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p)) or "<event>"
        message = err["msg"].removeprefix("Value error, ")
        if message not in messages.setdefault(loc, []):
            messages[loc].append(message)
    parts = [f"{loc}: {_either(found)}" for loc, found in list(messages.items())[:5]]
    more = f" (+{len(messages) - 5} more)" if len(messages) > 5 else ""
    return f"invalid {schema}: " + "; ".join(parts) + more


def _either(messages: list[str]) -> str:
    if len(messages) == 1:
        return messages[0]
    return "should be " + " or ".join(m.removeprefix("Input should be ") for m in messages)


_UNION_TAGS = frozenset({"int", "float", "str", "bool", "none", "nullable"})


def _is_union_tag(part: str | int) -> bool:
    """Whether a pydantic error location part names a union member, not a field."""
    if not isinstance(part, str):
        return False
    return part in _UNION_TAGS or part.startswith(("constrained-", "function-", "literal["))
