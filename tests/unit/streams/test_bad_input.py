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


@pytest.mark.parametrize(
    "first", ["0002-01-01T00:00:00+23:59", "9998-12-31T23:59:59-23:59", "1969-12-31T23:59:59.5Z"]
)
def test_times_at_the_edges_go_through_both_stages_and_every_output_decodes(first: str) -> None:
    """The earliest and latest valid times (their UTC instants in years 0001 and 9999): the
    join, detectors, alerts, requests and snapshots handle them, and what they write decodes."""
    from datetime import datetime, timedelta

    from streams.outcome import encode_outcomes
    from streams.stages import MonitorStage

    config = parse_config(
        "model: m\nkafka: {partitions: 1}\n"
        "monitor: {snapshot_interval: 1, max_event_skew: 1000000000000}\n"
        "tasks:\n  churn: {type: binary, label_delay: 600, slices: [c],"
        " detectors: [{kind: adwin}, {kind: page_hinkley, signal: score}],"
        " policy: {min_samples: 1, warmup: 0, cooldown: 0},"
        " retrain: {min_labels: 1, on_severity: [warning]},"
        " thresholds: [{metric: accuracy, op: '<', value: 0.9}]}\n"
    )
    join, monitor = JoinStage(config, 1, clock=lambda: 1e12), MonitorStage(config)
    step = 1 if first.startswith(("0", "1")) else -1  # stay inside the range
    outputs = offset = 0
    for i in range(200):
        when = (datetime.fromisoformat(first) + timedelta(seconds=step * i)).isoformat()
        events = {
            "predictions": prediction(f"p{i}", model="m", event_time=when, segments={"c": "x"},
                                      outputs={"churn": {"score": 0.9 if i < 100 else 0.1}}),
            "labels": {"schema": "driftline.label/1", "prediction_id": f"p{i}", "task": "churn",
                       "label": 1, "event_time": when},
        }  # fmt: skip
        for topic, event in events.items():
            result = join.process(topic, 0, i, b"k", json.dumps(event).encode())
            assert result.dead_letters == []
            wires = [o.to_wire() for o in result.outcomes]
            if wires:
                frontier = {0: join.join_for(0).frontier()}
                watermark = join.join_for(0).watermark
                marks = {0: watermark} if watermark > float("-inf") else {}
                record = encode_outcomes(wires, frontier, {}, marks)
                applied = monitor.process("outcomes", 0, offset, record, b"m/churn")
                offset += 1
                for output in applied.outputs:
                    assert decode(encode(output)) == output
                    outputs += 1
    for output in monitor.release_due(final=True).outputs:  # the end of the input
        assert decode(encode(output)) == output
        outputs += 1
    assert monitor.monitors["m/churn"].labels > 0 and outputs > 0
