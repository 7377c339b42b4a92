"""Property-based fuzzing of the monitor's decoder (hypothesis, derandomized: the same examples
every run). Each generated event is valid or broken by one change, so its verdict is known: the
decoder gives that verdict, raises nothing but :class:`EventValidationError`, and its fast path
returns what the contract path returns."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.config import parse_config
from driftline.errors import EventValidationError
from streams.decoding import EventDecoder
from streams.stages import JoinStage
from tests.event_cases import CONFIG_YAML, label, prediction
from tests.event_strategies import (
    FUZZ,
    SCALE,
    TASKS,
    any_event,
    bad_labels,
    bad_outputs,
    label_values,
)

CONFIG = parse_config(CONFIG_YAML.replace("model: shop\n", "model: shop\nkafka: {partitions: 1}\n"))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _plain(record: Any) -> Any:
    if hasattr(record, "outputs"):
        record.outputs = {
            task: {k: v for k, v in output.items() if v is not None}
            for task, output in record.outputs.items()
        }
    return record


def _verdict(decoder: EventDecoder, event: Any, slow: bool = False) -> Any:
    try:
        return _plain(decoder._slow(event) if slow else decoder.decode(event))
    except EventValidationError as exc:
        assert exc.reason
        return None


@pytest.mark.slow  # at 20 times the examples in `make test-nightly`
def test_generated_events_get_their_verdict_on_both_paths() -> None:
    decoder = EventDecoder(CONFIG)
    seen: Counter[bool] = Counter()

    @settings(FUZZ, max_examples=600 * SCALE)
    @given(any_event(encodable=False))
    def check(case: tuple[dict[str, Any], bool]) -> None:
        event, valid = case
        record = _verdict(decoder, copy.deepcopy(event))
        assert (record is not None) == valid, event
        assert record == _verdict(decoder, copy.deepcopy(event), slow=True), event
        seen[valid] += 1

    check()
    assert seen[True] >= 150 and seen[False] >= 300, seen


@pytest.mark.slow  # at 20 times the examples in `make test-nightly`
def test_arbitrary_json_never_raises_anything_else() -> None:
    decoder = EventDecoder(CONFIG)

    @settings(FUZZ, max_examples=300 * SCALE)
    @given(
        JSON
        | st.fixed_dictionaries(
            {"schema": st.sampled_from(["driftline.prediction/1", "driftline.label/1"])},
            optional={
                key: JSON
                for key in (
                    "prediction_id",
                    "model",
                    "model_version",
                    "entity_id",
                    "event_time",
                    "outputs",
                    "features",
                    "segments",
                    "task",
                    "label",
                )
            },
        )
    )
    def check(value: Any) -> None:
        _verdict(decoder, value)
        if isinstance(value, dict):
            assert _verdict(decoder, value) == _verdict(decoder, value, slow=True)

    check()


@pytest.mark.slow  # at 20 times the examples in `make test-nightly`
def test_arbitrary_records_are_one_dead_letter_or_events() -> None:
    @settings(FUZZ, max_examples=400 * SCALE)
    @given(
        st.binary(max_size=200)
        | JSON.map(lambda v: json.dumps(v).encode())
        | st.lists(JSON, min_size=1, max_size=5).map(
            lambda items: json.dumps({"schema": "driftline.batch/1", "events": items}).encode()
        )
    )
    def check(raw: bytes) -> None:
        stage = JoinStage(CONFIG, partitions=1)
        result = stage.process("labels", 0, 4, None, raw)
        assert result.events + len(result.dead_letters) >= 1
        assert stage.join_for(0).frontier() == {"labels": 4}

    check()


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.slow  # at 20 times the examples in `make test-nightly`
def test_generated_bad_labels_and_outputs_of_each_task_type_are_refused(task: str) -> None:
    """The rules per task type, each fuzzed on its own (the mixed stream above meets each one
    only now and then)."""
    decoder = EventDecoder(CONFIG)

    @settings(FUZZ, max_examples=150 * SCALE)
    @given(bad_labels(TASKS[task]), bad_outputs(TASKS[task]), label_values(TASKS[task]))
    def check(bad_label: Any, bad_output: Any, good_label: Any) -> None:
        answer = label("p", task, bad_label)
        assert _verdict(decoder, answer) is None, answer
        assert _verdict(decoder, answer, slow=True) is None, answer
        event = prediction("p", outputs={task: bad_output})
        assert _verdict(decoder, event) is None, event
        assert _verdict(decoder, event, slow=True) is None, event
        assert _verdict(decoder, label("p", task, good_label)) is not None

    check()
