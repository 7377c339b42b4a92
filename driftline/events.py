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

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftline.errors import EventValidationError

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
    "RetrainRequest",
    "TaskMetrics",
    "TaskOutput",
    "decode",
    "decode_record",
    "encode",
    "split_record",
    "stable_id",
    "validation_reason",
]

MAX_EVENT_BYTES = 256 * 1024
"""Default limit on one serialized event (the producer config may lower it)."""

Id = Annotated[str, Field(min_length=1, max_length=256)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Scalar = float | int | str | bool | None


class Contract(BaseModel):
    """Base of every event: frozen, unknown fields forbidden, NaN/inf rejected."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True, strict=False
    )
    SCHEMA: ClassVar[str]


class TaskOutput(Contract):
    """One head's output in a prediction.

    binary: ``score`` (probability of the positive class) and optionally ``label``;
    multiclass: ``label`` (predicted class) and optionally ``probs``;
    regression: ``value``; ranking: ``score`` and ``group`` (the query/list it ranks within).
    """

    score: float | None = None
    value: float | None = None
    label: str | int | None = None
    probs: dict[str, float] | None = None
    group: Id | None = None


class Prediction(Contract):
    """All heads of one forward pass of a multi-task model."""

    SCHEMA: ClassVar[str] = "driftline.prediction/1"
    schema_: Literal["driftline.prediction/1"] = Field(alias="schema")
    prediction_id: Id
    model: Name
    model_version: Name
    entity_id: Id
    event_time: AwareDatetime
    outputs: dict[Name, TaskOutput] = Field(min_length=1)
    features: dict[Name, Scalar] = Field(default_factory=dict)
    segments: dict[Name, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict)


class Label(Contract):
    """The ground truth of one task of one prediction."""

    SCHEMA: ClassVar[str] = "driftline.label/1"
    schema_: Literal["driftline.label/1"] = Field(alias="schema")
    prediction_id: Id
    task: Name
    label: float | int | str | bool
    event_time: AwareDatetime


class EvidenceWindow(Contract):
    """The stretch of a task's stream that made a detector fire (label counts and event times)."""

    start_count: int = Field(ge=0)
    end_count: int = Field(ge=0)
    start_time: AwareDatetime
    end_time: AwareDatetime

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
    event_time: AwareDatetime
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
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    alert_ids: list[Id] = Field(default_factory=list)
    reason: str = ""
    requested_by: Literal["monitor", "cli", "api"] = "monitor"
    event_time: AwareDatetime

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
    request_ids: list[Id] = Field(default_factory=list)
    alert_ids: list[Id] = Field(default_factory=list)
    reason: str = ""
    event_time: AwareDatetime


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
    event_time: AwareDatetime


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

    SCHEMA: ClassVar[str] = "driftline.batch/1"
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


def decode(raw: bytes | str | dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> Any:
    """Parse and validate one event (not an envelope); raise :class:`EventValidationError`."""
    if isinstance(raw, bytes | str) and len(raw) > max_bytes:
        raise EventValidationError(f"event is {len(raw)} bytes, over the {max_bytes}-byte limit")
    data = _load(raw) if not isinstance(raw, dict) else raw
    schema = data.get("schema")
    cls = EVENT_TYPES.get(schema) if isinstance(schema, str) else None
    if cls is None or cls is Batch:
        raise EventValidationError(
            f"unknown schema {schema!r}; expected one of {sorted(set(EVENT_TYPES) - {Batch.SCHEMA})}"
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise EventValidationError(validation_reason(exc, cls.SCHEMA)) from None


def decode_record(raw: bytes, max_bytes: int = MAX_EVENT_BYTES * 64) -> list[dict[str, Any]]:
    """Split one Kafka record into its raw event dicts: one for a plain event, N for an envelope.

    Raises :class:`EventValidationError` when the record is not JSON or not an object; the
    events themselves are validated one by one with :func:`decode` so a bad one goes to
    dead-letters alone.
    """
    return split_record(raw, max_bytes)[0]


def split_record(
    raw: bytes, max_bytes: int = MAX_EVENT_BYTES * 64
) -> tuple[list[dict[str, Any]], bool]:
    """Like :func:`decode_record`, also telling whether the record was an envelope."""
    if len(raw) > max_bytes:
        raise EventValidationError(f"record is {len(raw)} bytes, over the {max_bytes}-byte limit")
    data = _load(raw)
    if data.get("schema") != Batch.SCHEMA:
        return [data], False
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise EventValidationError("envelope needs a non-empty `events` list")
    if not all(isinstance(event, dict) for event in events):
        raise EventValidationError("every event in an envelope must be a JSON object")
    return events, True


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


def _load(raw: bytes | str) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)  # the fast path; it refuses NaN and Infinity like the strict one
    except orjson.JSONDecodeError:
        data = _load_strict(raw)
    if not isinstance(data, dict):
        raise EventValidationError(f"an event must be a JSON object, got {type(data).__name__}")
    return data


def _load_strict(raw: bytes | str) -> Any:
    """The standard library's parser: its error messages, and integers beyond 64 bits."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventValidationError(f"not valid JSON: {exc}") from None
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in events")


def validation_reason(exc: ValidationError, schema: str) -> str:
    """One line naming each failing field of a pydantic error (at most five)."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<event>"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"invalid {schema}: " + "; ".join(parts) + more
