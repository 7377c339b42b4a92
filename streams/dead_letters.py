"""Building ``driftline.dead-letter/1`` events for input that cannot be used."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from driftline.events import DeadLetter

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

    Examples
    --------
    >>> dl = dead_letter("not valid JSON", ("labels", 2, 41, None), b"{oops", stage="join")
    >>> dl.source.offset, dl.payload, dl.truncated
    (41, '{oops', False)
    """
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", errors="replace")
    else:
        try:
            text = json.dumps(payload, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            text = repr(payload)
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
