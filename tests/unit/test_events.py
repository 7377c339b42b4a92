"""Event contracts: strict validation with reasons, JSON Schemas shipped and in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from driftline.config import parse_config
from driftline.errors import EventValidationError
from driftline.events import (
    EVENT_TYPES,
    Alert,
    Label,
    Prediction,
    decode,
    encode,
    split_record,
    stable_id,
)
from driftline.schemas import load_schema, render_schemas, write_schemas
from driftline.validation import EventRules

PREDICTION: dict[str, Any] = {
    "schema": "driftline.prediction/1",
    "prediction_id": "p-123",
    "model": "shop-mtl",
    "model_version": "3",
    "entity_id": "cust-42",
    "event_time": "2026-11-23T12:00:00Z",
    "outputs": {"churn": {"score": 0.83}, "spend": {"value": 120.5}},
    "features": {"tenure": 14, "country": "DE"},
    "segments": {"country": "DE"},
}
LABEL: dict[str, Any] = {
    "schema": "driftline.label/1",
    "prediction_id": "p-123",
    "task": "churn",
    "label": 1,
    "event_time": "2026-11-23T13:00:00Z",
}
CONFIG = parse_config(
    "model: shop-mtl\ntasks:\n  churn: {type: binary}\n  spend: {type: regression}\n"
    "  cat: {type: multiclass, classes: [a, b]}\n"
)


def test_design_md_examples_decode() -> None:
    prediction = decode(json.dumps(PREDICTION))
    assert isinstance(prediction, Prediction)
    assert prediction.outputs["spend"].value == 120.5
    label = decode(json.dumps(LABEL).encode())
    assert isinstance(label, Label) and label.task == "churn"
    EventRules(CONFIG).check(prediction)
    EventRules(CONFIG).check(label)


def test_round_trip_keeps_schema_field() -> None:
    event = decode(json.dumps(PREDICTION))
    again = decode(encode(event))
    assert again == event
    assert json.loads(encode(event))["schema"] == "driftline.prediction/1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"schema": "driftline.nope/1"}', "unknown schema"),
        (json.dumps({**LABEL, "label": "NaN"}).replace('"NaN"', "NaN").encode(), "NaN"),
        (json.dumps({**LABEL, "label": 1e400}).encode(), "Infinity"),
        (json.dumps({**PREDICTION, "outputs": {"churn": {"score": "high"}}}).encode(), "score"),
        (json.dumps({**PREDICTION, "event_time": "2026-11-23T12:00:00"}).encode(), "UTC offset"),
        (json.dumps({**PREDICTION, "colour": "red"}).encode(), "colour: Extra inputs"),
        (json.dumps({**LABEL, "prediction_id": ""}).encode(), "prediction_id"),
        (json.dumps({**PREDICTION, "outputs": {}}).encode(), "outputs"),
    ],
)
def test_invalid_events_have_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(EventValidationError) as info:
        decode(raw)
    assert reason in info.value.reason


def test_oversized_event_rejected() -> None:
    big = {**PREDICTION, "features": {f"f{i}": "x" * 100 for i in range(3000)}}
    with pytest.raises(EventValidationError, match="over the"):
        decode(json.dumps(big).encode())


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**LABEL, "task": "colour"}, "unknown task 'colour'"),
        ({**LABEL, "label": 2}, "must be 0 or 1"),
        ({**LABEL, "task": "cat", "label": "c"}, "is not one of"),
        ({**LABEL, "task": "spend", "label": "lots"}, "must be a number"),
        ({**PREDICTION, "outputs": {"churn": {"score": 1.5}}}, "probability"),
        ({**PREDICTION, "outputs": {"spend": {"score": 1.0}}}, "value is required"),
        ({**PREDICTION, "outputs": {"cat": {"label": "z"}}}, "must be one of"),
        ({**PREDICTION, "model": "other"}, "this config monitors"),
    ],
)
def test_config_rules(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(EventValidationError, match=reason):
        EventRules(CONFIG).check(decode(event))


def test_envelope_split() -> None:
    raw = json.dumps({"schema": "driftline.batch/1", "events": [PREDICTION, LABEL]}).encode()
    events, envelope = split_record(raw)
    assert envelope and [e["schema"] for e in events] == [PREDICTION["schema"], LABEL["schema"]]
    assert split_record(json.dumps(LABEL).encode()) == ([LABEL], False)
    with pytest.raises(EventValidationError, match="non-empty"):
        split_record(b'{"schema": "driftline.batch/1", "events": []}')


def test_stable_id_is_deterministic_and_distinct() -> None:
    assert stable_id("m", "t", 1) == stable_id("m", "t", 1)
    assert stable_id("m", "t", 1) != stable_id("m", "t", 2)
    assert len(stable_id("x")) == 32


def test_shipped_schemas_match_models() -> None:
    shipped = Path(__file__).resolve().parents[2] / "driftline" / "schemas"
    for name, doc in render_schemas().items():
        on_disk = json.loads((shipped / name).read_text())
        assert on_disk == json.loads(json.dumps(doc)), f"{name} is stale: run `make schemas`"
    assert len(render_schemas()) == len(EVENT_TYPES)


def test_schemas_validate_the_same_things_as_the_models() -> None:
    prediction = load_schema("driftline.prediction/1")
    jsonschema.Draft202012Validator.check_schema(prediction)
    jsonschema.validate(PREDICTION, prediction)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**PREDICTION, "outputs": {"churn": {"score": "x"}}}, prediction)
    alert_schema = load_schema("driftline.alert/1")
    assert set(alert_schema["required"]) >= {"alert_id", "task", "detector", "evidence"}
    assert alert_schema["properties"]["schema"]["const"] == Alert.SCHEMA


def test_export_writes_all(tmp_path: Path) -> None:
    paths = write_schemas(tmp_path)
    assert {p.name for p in paths} == set(render_schemas())
