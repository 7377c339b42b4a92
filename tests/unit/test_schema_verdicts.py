"""The JSON Schemas say what the monitor enforces: the same events fed to a JSON Schema validator
(with ``format`` asserted) and to the monitor's decoder get the same verdict.

The config's schemas (``driftline schemas export DIR --config FILE``) match the decoder exactly;
the shipped, config-free ones accept every event the decoder accepts under any config.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings

from driftline.config import parse_config
from driftline.errors import EventValidationError
from driftline.schemas import load_schema
from driftline.schemas.configured import config_schemas
from streams.decoding import EventDecoder
from tests.event_cases import BAD_EVENTS, CONFIG_YAML, GOOD_EDGE_EVENTS
from tests.event_strategies import FUZZ, SCALE, any_event

CONFIG = parse_config(CONFIG_YAML)
DECODER = EventDecoder(CONFIG)
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
CONFIGURED = {
    name.split(".")[0]: jsonschema.Draft202012Validator(doc, format_checker=FORMATS)
    for name, doc in config_schemas(CONFIG).items()
}
SHIPPED = {
    kind: jsonschema.Draft202012Validator(
        load_schema(f"driftline.{kind}/1"), format_checker=FORMATS
    )
    for kind in ("prediction", "label")
}


def test_format_date_time_is_asserted() -> None:
    """Without rfc3339-validator, jsonschema skips ``format: date-time`` silently."""
    assert not FORMATS.conforms("2026-02-30T12:00:00Z", "date-time")


def _runtime(event: Any) -> bool:
    try:
        DECODER.decode(event)
    except EventValidationError:
        return False
    return True


def _schema(validators: dict[str, Any], event: Any) -> bool:
    kind = {"driftline.prediction/1": "prediction", "driftline.label/1": "label"}.get(
        event.get("schema") if isinstance(event, dict) else None
    )
    return kind is not None and bool(validators[kind].is_valid(event))


CASES = [*BAD_EVENTS, *GOOD_EDGE_EVENTS]


@pytest.mark.parametrize(("name", "event"), CASES, ids=[n for n, _ in CASES])
def test_hand_made_cases_same_verdict(name: str, event: dict[str, Any]) -> None:
    verdict = _runtime(copy.deepcopy(event))
    assert _schema(CONFIGURED, event) == verdict, name
    if verdict:
        assert _schema(SHIPPED, event), name


def test_shipped_schemas_refuse_what_no_config_accepts() -> None:
    config_free = [
        "impossible date", "year 0", "hour 24", "offset +25:00", "naive time",
        "integer epoch time", "score as string", "value as string", "null label",
        "regression label 2**63", "feature 2**60", "unknown field", "label an object",
    ]  # fmt: skip
    cases = dict(BAD_EVENTS)
    for name in config_free:
        assert not _schema(SHIPPED, cases[name]), name


@pytest.mark.slow  # at 20 times the examples in `make test-nightly`
@settings(FUZZ, max_examples=300 * SCALE)
@given(any_event(encodable=True))
def test_generated_events_same_verdict(case: tuple[dict[str, Any], bool]) -> None:
    event, _ = case
    verdict = _runtime(copy.deepcopy(event))
    assert _schema(CONFIGURED, event) == verdict, event
    if verdict:
        assert _schema(SHIPPED, event), event


def test_export_with_a_config_writes_its_schemas(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sys

    from driftline.cli.main import main

    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG_YAML)
    monkeypatch.setattr(
        sys,
        "argv",
        ["driftline", "schemas", "export", str(tmp_path / "out"), "--config", str(config)],
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    written = json.loads((tmp_path / "out" / "prediction.v1.schema.json").read_text())
    assert written == config_schemas(CONFIG)["prediction.v1.schema.json"]
    assert sorted(written["properties"]["outputs"]["properties"]) == sorted(CONFIG.tasks)
    assert (tmp_path / "out" / "alert.v1.schema.json").is_file()
