"""Building ``driftline.dead-letter/1`` events for input that cannot be used."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from driftline.events import DeadLetter, RejectedItem

__all__ = ["MAX_PAYLOAD_CHARS", "dead_letter"]

MAX_PAYLOAD_CHARS = 64 * 1024


def dead_letter(
    reason: str,
    where: tuple[str, int, int, int | None],
    payload: bytes | dict[str, Any] | Any,
    key: bytes | None = None,
    stage: str = "",
) -> DeadLetter:
    """A dead letter for ``payload`` read at ``where`` = (topic, partition, offset, index).

    ``payload`` is the record's bytes, or the event (an envelope's item, a
    :class:`~driftline.events.RejectedItem`) as JSON; whatever it holds, this never raises.

    Examples
    --------
    >>> dl = dead_letter("not valid JSON", ("labels", 2, 41, None), b"{oops", stage="join")
    >>> dl.source.offset, dl.payload, dl.truncated
    (41, '{oops', False)
    >>> deep = []
    >>> for _ in range(5000):
    ...     deep = [deep]
    >>> len(dead_letter("too deep", ("labels", 0, 1, 3), deep).payload) < 1000
    True
    """
    if isinstance(payload, RejectedItem):
        payload = payload.item
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", errors="replace")
    else:
        text = _json_text(payload)
    truncated = len(text) > MAX_PAYLOAD_CHARS
    topic, partition, offset, index = where
    return DeadLetter.model_validate(
        {
            "schema": DeadLetter.SCHEMA,
            "reason": reason[:4096],
            "source": {"topic": topic, "partition": partition, "offset": offset, "index": index},
            "key": key.decode("utf-8", errors="replace") if key is not None else None,
            "payload": text[:MAX_PAYLOAD_CHARS],
            "truncated": truncated,
            "stage": stage,
            "received_at": datetime.now(UTC),
        }
    )


def _json_text(payload: Any) -> str:
    """``payload`` as compact JSON; beyond 32 levels or for odd values, a shortened stand-in."""
    try:
        return orjson.dumps(_bounded(payload, 32), default=repr).decode()
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return repr(type(payload))


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth <= 0:
            return "{...}"
        return {_key(k): _bounded(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if depth <= 0:
            return "[...]"
        return [_bounded(v, depth - 1) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


def _key(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
