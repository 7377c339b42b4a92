"""Hypothesis strategies of predictions and labels for ``tests/event_cases.CONFIG_YAML``, valid and
invalid, each drawn with its expected verdict.

An invalid event is a valid one with exactly one mutation that breaks the contract for sure (a
bad time, a number out of range or of the wrong type, a missing or unknown field, ...), so the
expected verdict is known without asking the code under test.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from driftline.event_values import MAX_NUMBER, MAX_RELEVANCE

TASKS = {"churn": "binary", "spend": "regression", "category": "multiclass", "rank": "ranking"}
CLASSES = ["books", "home", "2"]
PREDICTION_KEYS = {
    "schema", "prediction_id", "model", "model_version", "entity_id", "event_time", "outputs",
    "features", "segments",
}  # fmt: skip
LABEL_KEYS = {"schema", "prediction_id", "task", "label", "event_time"}
OUTPUT_KEYS = {"score", "value", "label", "probs", "group"}
BASE = datetime(2026, 11, 23, 12, tzinfo=UTC)

NIGHTLY = os.environ.get("DRIFTLINE_NIGHTLY") == "1"
SCALE = 20 if NIGHTLY else 1
"""``make test-nightly`` runs the fuzz suite on 20 times the examples, with fresh random ones."""

FUZZ = settings(
    derandomize=not NIGHTLY,  # `make test`: the same examples every run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
"""Settings of every fuzz test (give ``max_examples`` times :data:`SCALE`)."""

Case = tuple[dict[str, Any], bool]
"""An event and whether it is valid."""


def text(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """Any text that is valid UTF-8 (no surrogates), often non-ASCII."""
    return st.text(st.characters(exclude_categories=("Cs",)), min_size=min_size, max_size=max_size)


NUMBERS = st.one_of(
    st.integers(-MAX_NUMBER, MAX_NUMBER),
    st.floats(-MAX_NUMBER, MAX_NUMBER, allow_nan=False),
    st.sampled_from([0, 1, -1, 0.5, float(MAX_NUMBER), -float(MAX_NUMBER)]),
)
PROBABILITIES = st.one_of(st.floats(0, 1), st.sampled_from([0, 1]))
OUT_OF_RANGE = st.one_of(
    st.integers(MAX_NUMBER + 1, 2**64 - 1),
    st.integers(-(2**63), -MAX_NUMBER - 1),
    st.floats(MAX_NUMBER + 1, 1e300),
    st.floats(-1e300, -MAX_NUMBER - 1),
)
ABOVE_ONE = st.one_of(
    st.sampled_from([1.0000001, 1.5, 2, 2.5, 1e300]), st.floats(1, 1e9, exclude_min=True)
)
BELOW_ZERO = st.one_of(st.sampled_from([-1e-300, -0.5, -1]), st.floats(-1e9, -1e-300))
NOT_A_NUMBER = st.one_of(st.booleans(), text(0), st.lists(st.integers(), max_size=2))
SCALARS = st.one_of(NUMBERS, text(0, 20), st.booleans(), st.none())


@st.composite
def times(draw: st.DrawFn, window: float = 3600.0) -> tuple[str, float]:
    """An RFC 3339 time within ``window`` seconds after BASE: its text and epoch seconds."""
    seconds = draw(st.floats(0, window))
    moment = BASE + timedelta(seconds=round(seconds, 3))
    minutes = draw(st.one_of(st.just(0), st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    local = moment + timedelta(minutes=minutes)
    digits = draw(st.integers(0, 9))
    fraction = f".{local.microsecond:06d}{'0' * 3}"[: digits + 1] if digits else ""
    if minutes == 0 and draw(st.booleans()):
        zone = "Z"
    else:
        sign = "-" if minutes < 0 or (minutes == 0 and draw(st.booleans())) else "+"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone
    exact = moment.replace(microsecond=int(fraction[1:7].ljust(6, "0")) if digits else 0)
    return stamp, exact.timestamp()


BAD_TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-02-30T12:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T12:00:00Z",
            "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z",
            "2026-00-10T12:00:00Z", "2026-13-01T12:00:00Z", "2026-01-00T12:00:00Z",
            "2026-01-32T12:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T12:60:00Z",
            "2026-11-23T12:00:60Z", "2026-11-23T12:00:00+24:00", "2026-11-23T12:00:00+25:00",
            "2026-11-23T12:00:00+05:60", "2026-11-23T12:00:00", "2026-11-23 12:00:00Z",
            "2026-11-23t12:00:00z", "2026-11-23T12:00:00.Z", "2026-11-23T12:00:00.1234567890Z",
            "2026-11-23T12:00Z", "2026-11-23", "20261123T120000Z", "2026-11-23T12:00:00+0100",
            "\uff12026-11-23T12:00:00Z", " 2026-11-23T12:00:00Z", "2026-11-23T12:00:00Z ", "",
        ]
    ),
    st.integers(-(2**40), 2**40),
    st.floats(0, 2e9),
    st.none(),
    st.booleans(),
    text(),
)  # fmt: skip
BAD_IDS = st.one_of(
    st.just(""), st.just("x" * 257), st.integers(), st.none(), st.booleans(), st.lists(text())
)
BAD_NAMES = st.one_of(st.just(""), st.just("n" * 129), st.integers(), st.none())


# ----------------------------------------------------------------------------- valid events


@st.composite
def outputs_for(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A valid output of a task of type ``kind`` (with some unused fields)."""
    out: dict[str, Any] = {}
    if kind == "binary":
        out["score"] = draw(PROBABILITIES)
    elif kind == "regression":
        out["value"] = draw(NUMBERS)
    elif kind == "multiclass":
        out["label"] = draw(st.sampled_from([*CLASSES, 2, 2.0]))
        if draw(st.booleans()):
            out["probs"] = draw(st.dictionaries(st.sampled_from(CLASSES), PROBABILITIES))
    else:
        out["score"] = draw(NUMBERS)
        out["group"] = draw(text(1, 20))
    extras = {
        "score": st.one_of(st.none(), NUMBERS),
        "value": st.one_of(st.none(), NUMBERS),
        "label": st.one_of(st.none(), text(0), st.integers(-MAX_NUMBER, MAX_NUMBER)),
        "group": st.one_of(st.none(), text(1, 20)),
        "probs": st.none(),
    }
    for key in draw(st.lists(st.sampled_from(sorted(extras)), max_size=2, unique=True)):
        if key not in out:
            out[key] = draw(extras[key])
    return out


@st.composite
def predictions(
    draw: st.DrawFn, prediction_id: str | None = None, time: str | None = None
) -> dict[str, Any]:
    """A valid prediction of some of the tasks."""
    tasks = draw(st.lists(st.sampled_from(sorted(TASKS)), min_size=1, max_size=4, unique=True))
    event: dict[str, Any] = {
        "schema": "driftline.prediction/1",
        "prediction_id": prediction_id or draw(text(1, 30)),
        "model": "shop",
        "model_version": draw(st.one_of(st.just("1"), text(1, 10))),
        "entity_id": draw(text(1, 30)),
        "event_time": time or draw(times())[0],
        "outputs": {task: draw(outputs_for(TASKS[task])) for task in tasks},
    }
    if draw(st.booleans()):
        event["features"] = draw(st.dictionaries(text(1, 20), SCALARS, max_size=4))
    if draw(st.booleans()):
        event["segments"] = draw(
            st.dictionaries(st.sampled_from(["country", "device", "é"]), text(0, 30), max_size=2)
        )
    return event


def label_values(kind: str) -> st.SearchStrategy[Any]:
    """Valid labels of a task of type ``kind``."""
    if kind == "binary":
        return st.sampled_from([0, 1, True, False, 0.0, 1.0])
    if kind == "multiclass":
        return st.sampled_from([*CLASSES, 2, 2.0])
    if kind == "regression":
        return NUMBERS
    return st.one_of(st.integers(0, MAX_RELEVANCE), st.floats(0, MAX_RELEVANCE))


@st.composite
def labels(
    draw: st.DrawFn,
    prediction_id: str | None = None,
    task: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """A valid label."""
    task = task or draw(st.sampled_from(sorted(TASKS)))
    return {
        "schema": "driftline.label/1",
        "prediction_id": prediction_id or draw(text(1, 30)),
        "task": task,
        "label": draw(label_values(TASKS[task])),
        "event_time": time or draw(times())[0],
    }


# ------------------------------------------------------------------------------- mutations


def bad_labels(kind: str) -> st.SearchStrategy[Any]:
    """Labels that no task of type ``kind`` accepts."""
    never = st.one_of(st.none(), st.lists(st.integers(), max_size=1), st.just({"v": 1}))
    if kind == "binary":
        return st.one_of(
            never,
            text(0),
            st.integers().filter(lambda v: v not in (0, 1)),
            st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v not in (0, 1)),
        )
    if kind == "multiclass":
        return st.one_of(
            never,
            st.booleans(),
            text(0).filter(lambda v: v not in CLASSES),
            st.integers().filter(lambda v: v != 2),
            st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != 2),
        )
    bad = st.one_of(never, st.booleans(), text(0), OUT_OF_RANGE)
    if kind == "ranking":
        return st.one_of(
            bad,
            st.integers(max_value=-1),
            st.floats(-1e9, -1e-9),
            st.integers(MAX_RELEVANCE + 1, MAX_NUMBER),
            st.floats(MAX_RELEVANCE + 1e-9, MAX_NUMBER),
        )
    return bad


def bad_outputs(kind: str) -> st.SearchStrategy[Any]:
    """Outputs that no task of type ``kind`` accepts."""
    shape = st.one_of(
        st.none(),
        NUMBERS,
        text(0),
        st.lists(NUMBERS, max_size=2),
        st.fixed_dictionaries({"scor": PROBABILITIES}),  # an unknown field
        st.fixed_dictionaries({"score": OUT_OF_RANGE, "value": NUMBERS, "group": text(1)}),
        st.fixed_dictionaries({"value": NOT_A_NUMBER, "score": PROBABILITIES, "group": text(1)}),
        st.fixed_dictionaries({"label": st.booleans(), "score": PROBABILITIES, "value": NUMBERS}),
        st.fixed_dictionaries({"label": st.floats(0.1, 0.9), "score": PROBABILITIES}),
    )
    if kind == "binary":
        return st.one_of(
            shape,
            st.fixed_dictionaries({}),
            st.fixed_dictionaries({"score": st.none()}),
            st.fixed_dictionaries({"score": ABOVE_ONE}),
            st.fixed_dictionaries({"score": BELOW_ZERO}),
            st.fixed_dictionaries({"score": st.one_of(ABOVE_ONE, BELOW_ZERO), "label": text()}),
            st.fixed_dictionaries({"score": NOT_A_NUMBER}),
            st.fixed_dictionaries({"score": PROBABILITIES, "probs": st.just({"books": 0.5})}),
        )
    if kind == "regression":
        return st.one_of(
            shape,
            st.fixed_dictionaries({"score": NUMBERS}),
            st.fixed_dictionaries({"value": st.one_of(st.none(), NOT_A_NUMBER, OUT_OF_RANGE)}),
            st.fixed_dictionaries({"value": NUMBERS, "probs": st.just({})}),
        )
    if kind == "multiclass":
        return st.one_of(
            shape,
            st.fixed_dictionaries({"label": bad_labels("multiclass")}),
            st.fixed_dictionaries(
                {"label": st.sampled_from(CLASSES), "probs": st.just({"toys": 0.5})}
            ),
            st.fixed_dictionaries(
                {
                    "label": st.sampled_from(CLASSES),
                    "probs": st.dictionaries(
                        st.sampled_from(CLASSES), st.one_of(ABOVE_ONE, BELOW_ZERO), min_size=1
                    ),
                }
            ),
            st.fixed_dictionaries({"label": st.sampled_from(CLASSES), "probs": st.just([0.5])}),
        )
    return st.one_of(
        shape,
        st.fixed_dictionaries({"score": NUMBERS}),
        st.fixed_dictionaries({"score": NUMBERS, "group": BAD_IDS.filter(lambda v: v is not None)}),
        st.fixed_dictionaries({"score": NOT_A_NUMBER, "group": text(1)}),
    )


@st.composite
def broken(draw: st.DrawFn, event: dict[str, Any], encodable: bool = True) -> dict[str, Any]:
    """``event`` with one change that makes it invalid for sure."""
    event = dict(event)
    is_prediction = event["schema"] == "driftline.prediction/1"
    keys = PREDICTION_KEYS if is_prediction else LABEL_KEYS
    required = keys - {"features", "segments"}
    choices = ["time", "time", "id", "drop", "extra", "schema"]
    choices += ["model", "version", "outputs", "unknown_task", "features", "task_output"]
    choices += ["task_output"] * 6  # where the rules per task type are: weighted up
    choices += ["segments", "entity"] if is_prediction else ["label"] * 4 + ["task"]
    if not encodable:
        choices += ["nan", "surrogate"]
    choice = draw(st.sampled_from([c for c in choices if is_prediction or c in _LABEL_CHANGES]))
    if choice == "time":
        event["event_time"] = draw(BAD_TIMES)
    elif choice == "id":
        event["prediction_id"] = draw(BAD_IDS)
    elif choice == "entity":
        event["entity_id"] = draw(BAD_IDS)
    elif choice == "drop":
        del event[draw(st.sampled_from(sorted(required)))]
    elif choice == "extra":
        event[draw(text(1, 20).filter(lambda k: k not in keys))] = draw(SCALARS)
    elif choice == "schema":
        event["schema"] = draw(
            st.one_of(
                st.sampled_from(["driftline.alert/1", "driftline.batch/1", ""]),
                text().filter(lambda s: s not in ("driftline.prediction/1", "driftline.label/1")),
            )
        )
    elif choice == "model":
        event["model"] = draw(st.one_of(text().filter(lambda m: m != "shop"), st.integers()))
    elif choice == "version":
        event["model_version"] = draw(BAD_NAMES)
    elif choice == "outputs":
        event["outputs"] = draw(st.one_of(st.just({}), st.none(), st.lists(NUMBERS), text(0)))
    elif choice == "task_output":
        task = draw(st.sampled_from(sorted(event["outputs"])))
        event["outputs"] = {**event["outputs"], task: draw(bad_outputs(TASKS[task]))}
    elif choice == "unknown_task":
        name = draw(st.one_of(text(1, 20).filter(lambda t: t not in TASKS), st.just("")))
        event["outputs"] = {**event["outputs"], name: {"score": 0.5}}
    elif choice == "features":
        bad = st.one_of(OUT_OF_RANGE, st.lists(NUMBERS, min_size=1), st.just({"a": 1}))
        name = draw(st.one_of(text(1, 20), st.just("")))
        event["features"] = draw(
            st.one_of(st.just({name: draw(bad)}), st.just({"": 1}), st.just({"f" * 129: 1}))
        )
    elif choice == "segments":
        event["segments"] = draw(
            st.one_of(
                st.just({"country": 49}), st.just({"country": None}),
                st.just({"country": "D" * 257}), st.just({"": "DE"}), st.just(["DE"]),
            )
        )  # fmt: skip
    elif choice == "label":
        event["label"] = draw(bad_labels(TASKS[event["task"]]))
    elif choice == "task":
        event["task"] = draw(st.one_of(text().filter(lambda t: t not in TASKS), st.integers()))
    elif choice == "nan":
        value = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        if is_prediction:
            task = sorted(event["outputs"])[0]
            field = {"binary": "score", "regression": "value", "multiclass": "label"}
            event["outputs"] = {
                **event["outputs"],
                task: {**event["outputs"][task], field.get(TASKS[task], "score"): value},
            }
        else:
            event["label"] = value
    else:  # a lone surrogate in some text
        bad = draw(st.sampled_from(["\ud800", "x\udfff", "\udc00y"]))
        event[
            draw(st.sampled_from(["prediction_id", "entity_id" if is_prediction else "task"]))
        ] = bad
    return event


_LABEL_CHANGES = {"time", "id", "drop", "extra", "schema", "label", "task", "nan", "surrogate"}


@st.composite
def any_event(draw: st.DrawFn, encodable: bool = True) -> Case:
    """A prediction or label, valid or (six times in ten) broken by one change.

    ``encodable=False`` also draws values no JSON text carries (NaN, lone surrogates): for
    tests that hand Python dicts to the decoder.
    """
    event = draw(st.one_of(predictions(), labels()))
    if draw(st.integers(0, 9)) < 6:
        return draw(broken(event, encodable)), False
    return event, True
