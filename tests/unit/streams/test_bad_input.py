"""Every failure class of issue 16 is a dead letter with a reason, never an exception: alone, in
an envelope among valid neighbours (which go on), and as a whole unreadable record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftline.config import parse_config
from driftline.errors import EventValidationError
from driftline.events import DeadLetter, decode, encode
from streams.decoding import EventDecoder
from streams.stages import JoinStage
from tests.event_cases import (
    BAD_EVENTS,
    BAD_RECORDS,
    CONFIG_YAML,
    GOOD_EDGE_EVENTS,
    NON_OBJECT_ITEMS,
    prediction,
)

CONFIG = parse_config(CONFIG_YAML.replace("model: shop\n", "model: shop\nkafka: {partitions: 1}\n"))


def _stage() -> JoinStage:
    return JoinStage(CONFIG, partitions=1)


def _envelope(*events: Any) -> bytes:
    return json.dumps({"schema": "driftline.batch/1", "events": list(events)}).encode()


def _plain(record: Any) -> Any:
    """A record with its outputs' null fields left out (the fast path keeps them)."""
    if hasattr(record, "outputs"):
        record.outputs = {
            task: {k: v for k, v in output.items() if v is not None}
            for task, output in record.outputs.items()
        }
    return record


def _check_letter(letter: DeadLetter, offset: int, index: int | None) -> None:
    assert letter.reason and letter.stage == "join"
    assert (letter.source.topic, letter.source.offset, letter.source.index) == (
        "predictions",
        offset,
        index,
    )
    assert decode(encode(letter)) == letter  # a dead letter is itself a valid event


@pytest.mark.parametrize(("name", "event"), BAD_EVENTS, ids=[n for n, _ in BAD_EVENTS])
def test_a_bad_event_alone_is_one_dead_letter(name: str, event: dict[str, Any]) -> None:
    with pytest.raises(EventValidationError):
        EventDecoder(CONFIG).decode(event)
    stage = _stage()
    result = stage.process("predictions", 0, 7, b"p", json.dumps(event).encode())
    assert result.outcomes == [] and result.events == 0
    assert len(result.dead_letters) == 1, name
    _check_letter(result.dead_letters[0], 7, None)
    assert stage.join_for(0).frontier() == {"predictions": 7}


@pytest.mark.parametrize(("name", "event"), BAD_EVENTS, ids=[n for n, _ in BAD_EVENTS])
def test_a_bad_event_in_an_envelope_is_dead_lettered_alone(
    name: str, event: dict[str, Any]
) -> None:
    record = _envelope(prediction("a"), event, prediction("b"))
    result = _stage().process("predictions", 0, 3, b"a", record)
    assert [d.source.index for d in result.dead_letters] == [1], name
    _check_letter(result.dead_letters[0], 3, 1)
    assert result.events == 2  # both neighbours were applied


@pytest.mark.parametrize(("name", "raw"), BAD_RECORDS, ids=[n for n, _ in BAD_RECORDS])
def test_an_unreadable_record_is_one_dead_letter(name: str, raw: bytes) -> None:
    stage = _stage()
    result = stage.process("predictions", 0, 11, b"k", raw)
    assert result.outcomes == [] and result.events == 0
    assert len(result.dead_letters) == 1, name
    _check_letter(result.dead_letters[0], 11, None)
    assert len(result.dead_letters[0].payload) <= 64 * 1024
    assert stage.join_for(0).frontier() == {"predictions": 11}


def test_non_objects_in_an_envelope_are_dead_lettered_with_their_index() -> None:
    record = _envelope(prediction("a"), *NON_OBJECT_ITEMS, prediction("b"))
    result = _stage().process("predictions", 0, 5, b"a", record)
    indexes = [d.source.index for d in result.dead_letters]
    assert indexes == list(range(1, len(NON_OBJECT_ITEMS) + 1))
    assert [d.reason.rsplit(" ", 1)[-1] for d in result.dead_letters] == [
        "null", "number", "string", "array", "boolean", "number",
    ]  # fmt: skip
    assert [d.payload for d in result.dead_letters] == ["null", "42", '"x"', "[]", "true", "1.5"]
    assert result.events == 2


def test_an_event_over_max_event_bytes_in_an_envelope_is_dead_lettered_alone() -> None:
    big = prediction("big", features={"blob": "x" * 300_000})
    result = _stage().process("predictions", 0, 9, b"a", _envelope(prediction("a"), big))
    assert [(d.source.index, d.truncated) for d in result.dead_letters] == [(1, True)]
    assert "over producer.max_event_bytes (262144)" in result.dead_letters[0].reason
    assert result.events == 1


@pytest.mark.parametrize(("name", "event"), GOOD_EDGE_EVENTS, ids=[n for n, _ in GOOD_EDGE_EVENTS])
def test_edge_events_are_valid_and_both_decoder_paths_agree(
    name: str, event: dict[str, Any]
) -> None:
    decoder = EventDecoder(CONFIG)
    assert _plain(decoder.decode(event)) == _plain(decoder._slow(event)), name
    result = _stage().process("predictions", 0, 1, b"p", json.dumps(event).encode())
    assert result.dead_letters == [] and result.events == 1


def test_reasons_say_what_is_wrong() -> None:
    def reason(event: dict[str, Any]) -> str:
        with pytest.raises(EventValidationError) as info:
            EventDecoder(CONFIG).decode(event)
        return info.value.reason

    cases = dict(BAD_EVENTS)
    assert "not a real date" in reason(cases["impossible date"])
    assert "UTC offset" in reason(cases["naive time"])
    assert "not a number" in reason(cases["integer epoch time"])
    assert "does not belong on a monitor input topic" in reason(cases["alert on an input topic"])
    assert "must not be null" in reason(cases["null label"])
    assert "outputs.churn.score" in reason(cases["score as string"])
    assert "must be a number" in reason(cases["regression label as string"])
    assert "less than or equal to 9007199254740991" in reason(cases["regression label 2**63"])
