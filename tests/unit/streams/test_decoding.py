"""The fast decoder accepts exactly what the contract + config rules accept."""

from __future__ import annotations

import copy

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
BASE = {
    "schema": "driftline.prediction/1",
    "prediction_id": "p",
    "model": "m",
    "model_version": "1",
    "entity_id": "e",
    "event_time": "2026-11-23T12:00:00Z",
    "outputs": {
        "b": {"score": 0.5},
        "r": {"value": 1.0},
        "k": {"label": "x"},
        "q": {"score": 0.1, "group": "g"},
    },
    "features": {"f": 1.5, "s": "DE", "n": None},
    "segments": {"country": "DE"},
}


def variants() -> list[dict]:
    out = [copy.deepcopy(BASE)]
    mutations = [
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
    for key, value in mutations:
        event = copy.deepcopy(BASE)
        event[key] = value
        out.append(event)
    return out


def reference(event: dict) -> bool:
    try:
        EventRules(CFG).check(decode(event))
        return True
    except EventValidationError:
        return False


@pytest.mark.parametrize("event", variants())
def test_same_verdict_as_the_contract(event: dict) -> None:
    decoder = EventDecoder(CFG)
    try:
        decoder.decode(event)
        accepted = True
    except EventValidationError:
        accepted = False
    assert accepted == reference(event)
