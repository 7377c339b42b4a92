"""Kafka records as JSON: one event or a ``driftline.batch/1`` envelope of them, parsed strictly.

JSON is parsed by orjson only: UTF-8 without lone surrogates, no ``NaN``/``Infinity``, numbers
that fit a double, at most 1024 levels deep. An envelope's item that is no event (not an object,
or over the size limit) is returned as a :class:`RejectedItem`, so it is dead-lettered alone.
The contracts themselves are in :mod:`driftline.events`, which re-exports what is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from driftline.errors import EventValidationError

__all__ = [
    "BATCH_SCHEMA",
    "MAX_EVENT_BYTES",
    "RejectedItem",
    "decode_record",
    "json_type",
    "load_object",
    "split_record",
]

MAX_EVENT_BYTES = 256 * 1024
"""Default limit on one serialized event (the producer config may lower it)."""

BATCH_SCHEMA = "driftline.batch/1"
"""The ``schema`` of an envelope (:class:`driftline.events.Batch`)."""


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item of an envelope that is no event (not an object, or too large): ``reason`` says
    why; :func:`driftline.events.decode` raises it, so the item goes to dead-letters alone, with
    its index.

    >>> items, _ = split_record(b'{"schema": "driftline.batch/1", "events": [null, {"a": 1}]}')
    >>> items
    [RejectedItem(reason='an event must be a JSON object, got null', item=None), {'a': 1}]
    """

    reason: str
    item: Any


def decode_record(
    raw: bytes, max_bytes: int = MAX_EVENT_BYTES * 64, max_event_bytes: int | None = None
) -> list[Any]:
    """Split one Kafka record into its raw event dicts: one for a plain event, N for an envelope.

    Raises :class:`EventValidationError` when the record is not JSON, not an object, over
    ``max_bytes``, a plain event over ``max_event_bytes``, or an envelope without events. An
    envelope's item that is not an object, or whose JSON is over ``max_event_bytes``, comes back
    as a :class:`RejectedItem`; the events themselves are validated one by one with
    :func:`driftline.events.decode` (or the monitor's decoder), so a bad one goes to dead-letters
    alone.
    """
    return split_record(raw, max_bytes, max_event_bytes)[0]


def split_record(
    raw: bytes, max_bytes: int = MAX_EVENT_BYTES * 64, max_event_bytes: int | None = None
) -> tuple[list[dict[str, Any] | RejectedItem], bool]:
    """Like :func:`decode_record`, also telling whether the record was an envelope."""
    if len(raw) > max_bytes:
        raise EventValidationError(f"record is {len(raw)} bytes, over the {max_bytes}-byte limit")
    data = load_object(raw)
    if data.get("schema") != BATCH_SCHEMA:
        if max_event_bytes is not None and len(raw) > max_event_bytes:
            raise EventValidationError(_too_large(len(raw), max_event_bytes))
        return [data], False
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise EventValidationError("envelope needs a non-empty `events` list")
    items: list[dict[str, Any] | RejectedItem] = events
    if not all(type(event) is dict for event in events):
        items = [
            event
            if type(event) is dict
            else RejectedItem(f"an event must be a JSON object, got {json_type(event)}", event)
            for event in events
        ]
    if max_event_bytes is not None and len(raw) > max_event_bytes:
        # only a record over the limit can hold an event over it: measure its events then
        items = [_sized(item, max_event_bytes) for item in items]
    return items, True


def _sized(item: dict[str, Any] | RejectedItem, limit: int) -> dict[str, Any] | RejectedItem:
    if isinstance(item, RejectedItem):
        return item
    try:
        size = len(orjson.dumps(item))
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
        return RejectedItem("an event nested deeper than 255 levels", item)
    return RejectedItem(_too_large(size, limit), item) if size > limit else item


def _too_large(size: int, limit: int) -> str:
    return f"event is {size} bytes, over producer.max_event_bytes ({limit})"


def json_type(value: Any) -> str:
    """The JSON name of a value's type: ``null``, ``boolean``, ``number``, ``string``, ``array``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def load_object(raw: bytes | str) -> dict[str, Any]:
    """Parse JSON text strictly: UTF-8 without lone surrogates, no NaN/Infinity, numbers that
    fit a double, at most 1024 levels deep (all orjson's own rules)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventValidationError(f"not valid JSON: {_why_not_json(raw, exc)}") from None
    if type(data) is not dict:
        raise EventValidationError(f"an event must be a JSON object, got {json_type(data)}")
    return data


def _why_not_json(raw: bytes | str, exc: orjson.JSONDecodeError) -> str:
    """The standard library parser's message where it has a clearer one (``NaN is not allowed``,
    ``Expecting ',' delimiter``); orjson's verdict stands either way."""
    if "depth limit" in str(exc):
        return "nested deeper than 1024 levels"
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return "nested too deep"
    except ValueError as strict:  # JSONDecodeError, UnicodeDecodeError
        return str(strict)
    return str(exc)  # lone surrogates, numbers beyond a double: orjson's own words


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in events")
