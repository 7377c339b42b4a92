"""The fast decoder accepts exactly what the contract + config rules accept, with the same records
and reasons, and plain events take its fast path."""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.errors import EventValidationError
from driftline.events import decode
from driftline.validation import EventRules
from streams.decoding import EventDecoder

CFG = parse_config("""
model: m
tasks:
  b: {type: binary}
  r: {type: regression}
  k: {type: multiclass, classes: [x, y]}
  q: {type: ranking}
""")
PREDICTION: dict[str, Any] = {
    "schema": "driftline.prediction/1",
    "prediction_id": "p",
    "model": "m",
    "model_version": "1",
    "entity_id": "e",
    "event_time": "2026-11-23T12:00:00.250+01:00",
    "outputs": {"b": {"score": 0.5}, "r": {"value": 1.0}},
    "features": {"f": 1.5, "s": "DE", "n": None, "i": 3, "t": True},
    "segments": {"country": "DE"},
}
LABEL: dict[str, Any] = {
    "schema": "driftline.label/1",
    "prediction_id": "p",
    "task": "b",
    "label": 1,
    "event_time": "2026-11-23T12:00:00Z",
}
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, -1, 0.0, 1.0, 0.5, 1.5, -0.5, 10**400, float("nan"),
    float("inf"), "", "x", "z", "0.5", "x" * 300, [], {}, {"x": 0.5}, {"q": 1.0}, {"x": "a"},
]  # fmt: skip
OUTPUT_FIELDS = ["score", "value", "label", "probs", "group", "other"]


HAND_MADE: list[tuple[str, Any]] = [
    ("outputs", {"b": {"score": 1.5}}),
    ("outputs", {"b": {"score": float("nan")}}),
    ("outputs", {"r": {}}),
    ("outputs", {"k": {"label": "z"}}),
    ("outputs", {"q": {"score": 1}}),
    ("outputs", {"zz": {"score": 0.5}}),
    ("outputs", {"b": {"score": "0.5"}}),
    ("outputs", {"b": {"score": True}}),
    ("event_time", "2026-11-23T12:00:00"),
    ("event_time", "2026-11-23 12:00:00+00:00"),
    ("model", "other"),
    ("extra", 1),
    ("prediction_id", ""),
    ("prediction_id", 5),
    ("features", {"f": float("inf")}),
    ("segments", {"c": 3}),
    ("outputs", {}),
    ("outputs", {"k": {"label": "x", "probs": {"q": 1}}}),
]


def _mutations(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(count):
        is_label = rng.random() < 0.5
        event = copy.deepcopy(LABEL if is_label else PREDICTION)
        for _ in range(rng.randint(1, 2)):
            roll = rng.random()
            if is_label:
                key = rng.choice([*LABEL, "extra"])
                event[key] = rng.choice([*ODD_VALUES, "r", "k", "q", "2026-11-23T12:00:00"])
            elif roll < 0.5 and isinstance(event.get("outputs"), dict):
                task = rng.choice(["b", "r", "k", "q", "zz"])
                output = event["outputs"].setdefault(task, {})
                output[rng.choice(OUTPUT_FIELDS)] = rng.choice(ODD_VALUES)
            elif roll < 0.7:
                where = rng.choice(["features", "segments"])
                event[where] = dict(event[where]) if isinstance(event.get(where), dict) else {}
                event[where][rng.choice(["f", "s", "", "x" * 200])] = rng.choice(ODD_VALUES)
            else:
                event[rng.choice([*PREDICTION, "extra"])] = rng.choice(ODD_VALUES)
        out.append(event)
    return out


def _contract(event: dict[str, Any]) -> Any:
    """The contract's verdict: the event, or the error's reason."""
    try:
        parsed = decode(event)
        EventRules(CFG).check(parsed)
        return parsed
    except EventValidationError as exc:
        return exc.reason


def _same_record(record: Any, contract: Any) -> None:
    assert record.prediction_id == contract.prediction_id
    assert math.isclose(record.t, contract.event_time.timestamp(), abs_tol=1e-6)
    if hasattr(contract, "outputs"):
        assert record.model == contract.model
        assert record.model_version == contract.model_version
        assert record.entity_id == contract.entity_id
        outputs = {
            task: {k: v for k, v in output.items() if v is not None}
            for task, output in record.outputs.items()
        }
        assert outputs == {k: v.model_dump(exclude_none=True) for k, v in contract.outputs.items()}
        assert record.features == contract.features
        assert record.segments == contract.segments
    else:
        assert (record.task, record.label) == (contract.task, contract.label)


def _same_as_the_contract(decoder: EventDecoder, event: dict[str, Any]) -> None:
    expected = _contract(copy.deepcopy(event))
    try:
        record = decoder.decode(event)
    except EventValidationError as exc:
        assert exc.reason == expected, event
        return
    assert not isinstance(expected, str), (event, expected)
    _same_record(record, expected)


@pytest.mark.parametrize(("key", "value"), [(None, None), *HAND_MADE])
def test_hand_made_variants_same_verdict_as_the_contract(key: str | None, value: Any) -> None:
    event = copy.deepcopy(PREDICTION)
    if key is not None:
        event[key] = value
    _same_as_the_contract(EventDecoder(CFG), event)


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_same_records_and_reasons_as_the_contract(seed: int) -> None:
    decoder = EventDecoder(CFG)
    for event in _mutations(seed, 400):
        _same_as_the_contract(decoder, event)


def test_plain_events_never_take_the_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = EventDecoder(CFG)

    def slow(raw: dict[str, Any]) -> Any:
        raise AssertionError(f"slow path taken for {raw}")

    monkeypatch.setattr(decoder, "_slow", slow)
    plain = [
        PREDICTION,
        {**PREDICTION, "outputs": {"b": {"score": 1}, "r": {"value": -3.5}}},
        {**PREDICTION, "outputs": {"b": {"score": 0.2, "value": None, "label": None}}},
        {**PREDICTION, "outputs": {"k": {"label": "y", "probs": {"x": 0.1, "y": 0.9}}}},
        {**PREDICTION, "outputs": {"q": {"score": 3.0, "group": "g"}}},
        LABEL,
        {**LABEL, "label": True},
        {**LABEL, "task": "r", "label": 2.5},
        {**LABEL, "task": "k", "label": "x"},
        {**LABEL, "task": "q", "label": 2},
    ]
    for event in plain:
        record = decoder.decode(copy.deepcopy(event))
        _same_record(record, _contract(copy.deepcopy(event)))
