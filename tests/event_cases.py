"""Hand-made bad input, one case per failure class the monitor must dead-letter (issue 16).

Shared by the unit tests of the decoder, the schema-verdict test and the integration test that
produces every case to a real broker. Each case is a whole Kafka record (``bytes``) or one event
(a ``dict``, sent as a plain record or inside an envelope).
"""

from __future__ import annotations

import json
from typing import Any

CONFIG_YAML = """\
model: shop
tasks:
  churn: {type: binary, label_delay: 7d, slices: [country],
          detectors: [{kind: adwin}, {kind: page_hinkley, signal: score}],
          thresholds: [{metric: accuracy, op: "<", value: 0.5}],
          policy: {min_samples: 5, warmup: 5, cooldown: 10}}
  spend: {type: regression, label_delay: 7d,
          detectors: [{kind: page_hinkley, params: {threshold: 50}}],
          thresholds: [{metric: mae, op: ">", value: 100}],
          policy: {min_samples: 5, warmup: 5, cooldown: 10}}
  category: {type: multiclass, classes: [books, home, "2"], label_delay: 7d,
             detectors: [{kind: ddm}]}
  rank: {type: ranking, label_delay: 7d, detectors: [{kind: adwin, signal: score}]}
"""
"""A config with every task type, detectors on both signals, thresholds and a slice."""

T0 = "2026-11-23T12:00:00Z"


def prediction(pid: str, **fields: Any) -> dict[str, Any]:
    """A valid prediction of ``shop`` with an output for every task (fields override)."""
    event: dict[str, Any] = {
        "schema": "driftline.prediction/1",
        "prediction_id": pid,
        "model": "shop",
        "model_version": "1",
        "entity_id": f"e-{pid}",
        "event_time": T0,
        "outputs": {
            "churn": {"score": 0.83},
            "spend": {"value": 120.5},
            "category": {"label": "books", "probs": {"books": 0.7, "home": 0.3}},
            "rank": {"score": 2.5, "group": "q-1"},
        },
        "features": {"tenure": 14, "country": "DE"},
        "segments": {"country": "DE"},
    }
    event.update(fields)
    return event


def label(pid: str, task: str, value: Any, **fields: Any) -> dict[str, Any]:
    """A label event (valid when ``value`` suits ``task``)."""
    event: dict[str, Any] = {
        "schema": "driftline.label/1",
        "prediction_id": pid,
        "task": task,
        "label": value,
        "event_time": "2026-11-23T12:00:05Z",
    }
    event.update(fields)
    return event


def _outputs(**changes: Any) -> dict[str, Any]:
    outputs = prediction("x")["outputs"]
    outputs.update(changes)
    return outputs


BAD_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("impossible date", label("p", "churn", 1, event_time="2026-02-30T12:00:00Z")),
    ("not a leap year", label("p", "churn", 1, event_time="2026-02-29T12:00:00Z")),
    ("year 0", label("p", "churn", 1, event_time="0000-01-01T12:00:00Z")),
    ("year 9999", prediction("p", event_time="9999-12-31T23:59:59-23:00")),
    ("month 13", prediction("p", event_time="2026-13-01T12:00:00Z")),
    ("hour 24", label("p", "churn", 1, event_time="2026-11-23T24:00:00Z")),
    ("leap second", label("p", "churn", 1, event_time="2026-12-31T23:59:60Z")),
    ("offset +25:00", label("p", "churn", 1, event_time="2026-11-23T12:00:00+25:00")),
    ("naive time", prediction("p", event_time="2026-11-23T12:00:00")),
    ("date only", prediction("p", event_time="2026-11-23")),
    ("space for T", prediction("p", event_time="2026-11-23 12:00:00Z")),
    ("integer epoch time", label("p", "churn", 1, event_time=1795435200)),
    ("float epoch time", prediction("p", event_time=1795435200.5)),
    ("null time", prediction("p", event_time=None)),
    ("score as string", prediction("p", outputs=_outputs(churn={"score": "0.83"}))),
    ("value as string", prediction("p", outputs=_outputs(spend={"value": "120.5"}))),
    ("score above 1", prediction("p", outputs=_outputs(churn={"score": 1.5}))),
    ("score below 0", prediction("p", outputs=_outputs(churn={"score": -0.01}))),
    ("score as boolean", prediction("p", outputs=_outputs(churn={"score": True}))),
    ("regression value 2**53", prediction("p", outputs=_outputs(spend={"value": 2**53}))),
    ("regression value null", prediction("p", outputs=_outputs(spend={"value": None}))),
    ("ranking without group", prediction("p", outputs=_outputs(rank={"score": 1.0}))),
    ("unknown class", prediction("p", outputs=_outputs(category={"label": "toys"}))),
    ("class as boolean", prediction("p", outputs=_outputs(category={"label": True}))),
    ("class 2.5", prediction("p", outputs=_outputs(category={"label": 2.5}))),
    (
        "probability above 1",
        prediction("p", outputs=_outputs(category={"label": "home", "probs": {"home": 1.2}})),
    ),
    (
        "probs on a binary task",
        prediction("p", outputs=_outputs(churn={"score": 0.5, "probs": {"a": 0.5}})),
    ),
    ("unknown task", prediction("p", outputs={"upsell": {"score": 0.5}})),
    ("no outputs", prediction("p", outputs={})),
    ("output not an object", prediction("p", outputs=_outputs(churn=0.5))),
    ("unknown output field", prediction("p", outputs=_outputs(churn={"score": 0.5, "p": 1}))),
    ("other model", prediction("p", model="other")),
    ("empty prediction_id", prediction("")),
    ("prediction_id a number", prediction("p", prediction_id=42)),
    ("prediction_id 257 chars", prediction("p" * 257)),
    ("feature a list", prediction("p", features={"tenure": [14]})),
    ("feature 2**60", prediction("p", features={"tenure": 2**60})),
    ("segment a number", prediction("p", segments={"country": 49})),
    ("segment 257 chars", prediction("p", segments={"country": "D" * 257})),
    ("unknown field", prediction("p", colour="red")),
    ("missing entity_id", {k: v for k, v in prediction("p").items() if k != "entity_id"}),
    ("null label", label("p", "spend", None)),
    ("binary label 'yes'", label("p", "churn", "yes")),
    ("binary label 2", label("p", "churn", 2)),
    ("binary label '1'", label("p", "churn", "1")),
    ("regression label as string", label("p", "spend", "120.5")),
    ("regression label as boolean", label("p", "spend", True)),
    ("regression label 1e300", label("p", "spend", 1e300)),
    ("regression label 2**63", label("p", "spend", 2**63)),
    ("ranking relevance -1", label("p", "rank", -1)),
    ("ranking relevance 1024", label("p", "rank", 1024)),
    ("multiclass label not a class", label("p", "category", "toys")),
    ("multiclass label 2.5", label("p", "category", 2.5)),
    ("label an object", label("p", "churn", {"value": 1})),
    ("label of unknown task", label("p", "upsell", 1)),
    ("label with extra field", label("p", "churn", 1, source="crm")),
    ("unknown schema", {"schema": "driftline.nope/1", "prediction_id": "p"}),
    ("no schema", {"prediction_id": "p"}),
    ("alert on an input topic", {"schema": "driftline.alert/1"}),
]
"""Events that break the contract; each must get exactly one dead letter, even in an envelope."""

GOOD_EDGE_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("offset and fraction", prediction("p", event_time="2026-11-23T13:00:00.123456789+01:00")),
    ("negative offset", label("p", "churn", 1, event_time="2026-11-23T06:00:00-06:00")),
    ("leap day", label("p", "churn", 0, event_time="2024-02-29T12:00:00Z")),
    ("score 0 and 1 as integers", prediction("p", outputs=_outputs(churn={"score": 1}))),
    ("binary label true", label("p", "churn", True)),
    ("binary label 1.0", label("p", "churn", 1.0)),
    ("class by number", label("p", "category", 2)),
    ("class by 2.0", prediction("p", outputs=_outputs(category={"label": 2.0}))),
    ("regression label at the limit", label("p", "spend", 2**53 - 1)),
    ("non-ASCII ids", prediction("caf\u00e9-\U0001f600", entity_id="\u00fc")),
    ("unused fields null", prediction("p", outputs=_outputs(spend={"value": 1, "score": None}))),
    (
        "no features or segments",
        {k: v for k, v in prediction("p").items() if k not in ("features", "segments")},
    ),
]
"""Events at the edges of the contract that are valid."""


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


BAD_RECORDS: list[tuple[str, bytes]] = [
    ("not JSON", b"{not json"),
    ("empty record", b""),
    ("truncated JSON", json.dumps(prediction("p")).encode()[:-3]),
    ("a JSON array", b"[1, 2]"),
    ("a JSON string", b'"x"'),
    ("NaN", json.dumps(label("p", "spend", 1.0)).encode().replace(b"1.0", b"NaN")),
    ("1e400", json.dumps(label("p", "spend", 1.0)).encode().replace(b"1.0", b"1e400")),
    (
        "integer of 400 digits",
        json.dumps(label("p", "spend", 1.0)).encode().replace(b"1.0", b"9" * 400),
    ),
    ("nested 10 000 deep", _deep(10_000)),
    (
        "nested 1 000 deep in a field",
        json.dumps(label("p", "spend", 1.0)).encode().replace(b"1.0", _deep(1000)),
    ),
    (
        "CESU-8 surrogate in an id",
        json.dumps(label("p", "churn", 1)).encode().replace(b'"p"', b'"p\xed\xa0\x80"'),
    ),
    ("lone surrogate in entity_id", json.dumps(prediction("p", entity_id="e\ud800")).encode()),
    (
        "lone surrogate in a segment",
        json.dumps(prediction("p", segments={"country": "\udc00"})).encode(),
    ),
    ("invalid UTF-8", json.dumps(label("p", "churn", 1)).encode().replace(b'"p"', b'"p\xff"')),
    ("999 KB prediction", json.dumps(prediction("p", features={"blob": "x" * 999_000})).encode()),
    ("envelope without events", b'{"schema": "driftline.batch/1", "events": []}'),
    ("envelope events not a list", b'{"schema": "driftline.batch/1", "events": {"a": 1}}'),
]
"""Whole records that cannot be read: one dead letter each (index null), the record skipped."""

NON_OBJECT_ITEMS: list[Any] = [None, 42, "x", [], True, 1.5]
"""Envelope items that are no event: each is dead-lettered alone, with its index."""
