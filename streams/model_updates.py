"""Model updates to stage 2: a promotion or rollback becomes a ``version`` outcome per task.

Each update of a record stands alone: a bad one is dead-lettered and the others go on. The
outcomes of an update are delivered before its record is acknowledged (the agent acknowledges
it when this returns).
"""

from __future__ import annotations

import logging
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import ModelUpdate, decode, decode_record, encode
from streams.dead_letters import dead_letter
from streams.outcome import Outcome, encode_outcomes
from streams.split_values import PART_BYTES
from streams.stage_io import Send
from streams.stages import version_outcomes

__all__ = ["forward_model_updates"]

log = logging.getLogger("driftline.monitor")


async def forward_model_updates(config: DriftlineConfig, message: Any, send: Send) -> None:
    """Send the ``version`` outcomes of the model updates in ``message`` (a
    ``model-updates`` record); dead-letter what cannot be read."""
    topics = config.topics
    where = (message.topic, message.partition, message.offset)
    key, value = message.key, message.value or b""

    async def dead(reason: str, index: int | None, raw: Any) -> None:
        letter = dead_letter(reason, (*where, index), raw, key, "versions")
        await send(topics.dead_letters, letter.source.topic.encode(), encode(letter))

    try:
        raws = decode_record(value)
    except Exception as exc:  # a bad record must not stop the worker
        await dead(getattr(exc, "reason", str(exc)), None, value)
        return
    for index, raw in enumerate(raws):  # each update alone: a bad one is dead-lettered
        try:
            update = decode(raw)
            if not isinstance(update, ModelUpdate):
                raise EventValidationError(f"expected {ModelUpdate.SCHEMA}")
        except Exception as exc:
            await dead(getattr(exc, "reason", str(exc)), index, raw)
            continue
        for outcome in version_outcomes(config, update, where):
            value = _encoded(outcome)
            sent = await send(topics.outcomes, outcome.key.encode(), value)
            await sent  # delivered before this update is acknowledged


def _encoded(outcome: Outcome) -> bytes:
    """The envelope of one ``version`` outcome. A training profile too large for a record (a
    task view of hundreds of features) is left out: that task's reference falls back to the
    version's first windows, with one log line (a send the broker refuses would stop the
    worker at every restart)."""
    value = encode_outcomes([outcome.to_wire()], {}, {})
    if len(value) <= PART_BYTES or not outcome.features:
        return value
    why = (
        f"its training profile for task {outcome.task} is {len(value)} bytes, over the "
        f"{PART_BYTES}-byte record limit"
    )
    log.warning(
        "feature drift reference of %s v%s, task %s: its first windows (%s)",
        outcome.model, outcome.model_version, outcome.task, why,
    )  # fmt: skip
    outcome.features = {"reference": "first_windows", "why": why}
    return encode_outcomes([outcome.to_wire()], {}, {})
