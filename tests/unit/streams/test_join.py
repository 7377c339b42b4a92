"""LabelJoin: shuffled, delayed, duplicate, early, missing labels; expiry in event time."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from driftline.config import parse_config
from streams.join import LabelJoin
from streams.join_store import JoinStore
from streams.records import LabelRecord, PredictionRecord

CFG = parse_config(
    "model: m\ntasks:\n  churn: {type: binary, label_delay: 100}\n"
    "  spend: {type: regression, label_delay: 1000}\n"
)
DELAYS = {"churn": 100.0, "spend": 1000.0}


def prediction(i: int, t: float) -> PredictionRecord:
    return PredictionRecord(
        f"p-{i}", "m", "1", f"e-{i}", t, {"churn": {"score": 0.9}, "spend": {"value": 5.0}}
    )


def kinds(outcomes: list) -> list[tuple[str, str]]:
    return [(o.kind, o.task) for o in outcomes]


def test_shuffled_and_delayed_labels_join_once_each() -> None:
    join = LabelJoin(CFG)
    events: list = [prediction(i, float(i)) for i in range(200)]
    events += [LabelRecord(f"p-{i}", "churn", 1, float(i) + 5) for i in range(200)]
    random.Random(3).shuffle(events)
    events.sort(key=lambda e: e.t)  # labels after predictions in time, shuffled among ties
    out = []
    for offset, event in enumerate(events):
        out += join.add(event, ("in", 0, offset, 0))
    labelled = [o for o in out if o.kind == "labelled"]
    assert sorted(o.prediction_id for o in labelled) == sorted(f"p-{i}" for i in range(200))
    assert all(o.y_true == 1 and o.y_pred == 0.9 for o in labelled)


def test_duplicate_label_counted_not_joined_twice() -> None:
    join = LabelJoin(CFG)
    join.add(prediction(1, 0.0), ("predictions", 0, 0, 0))
    first = join.add(LabelRecord("p-1", "churn", 1, 1.0), ("labels", 0, 0, 0))
    second = join.add(LabelRecord("p-1", "churn", 0, 2.0), ("labels", 0, 1, 0))
    assert kinds(first) == [("labelled", "churn")]
    assert kinds(second) == [("duplicate", "churn")]


def test_early_label_waits_for_its_prediction() -> None:
    join = LabelJoin(CFG)
    assert join.add(LabelRecord("p-1", "spend", 3.0, 5.0), ("labels", 0, 0, 0)) == []
    assert join.early_labels == 1
    out = join.add(prediction(1, 0.0), ("predictions", 0, 0, 0))
    assert ("labelled", "spend") in kinds(out)
    assert join.early_labels == 0


def test_missing_label_expires_in_event_time_not_wall_clock() -> None:
    join = LabelJoin(CFG)
    join.add(prediction(1, 0.0), ("predictions", 0, 0, 0))
    early = join.add(LabelRecord("p-9", "churn", 1, 99.0), ("labels", 0, 1, 0))
    assert ("expired", "churn") not in kinds(early)  # 99 is still inside churn's 100 s budget
    ahead = join.add(prediction(3, 5000.0), ("predictions", 0, 2, 0))
    assert ("expired", "churn") not in kinds(ahead)  # prediction time never expires predictions
    slack = join.add(LabelRecord("p-8", "churn", 1, 149.0), ("labels", 0, 3, 0))
    assert ("expired", "churn") not in kinds(slack)  # out-of-order slack: 1.5 budgets
    out = join.add(LabelRecord("p-7", "churn", 1, 151.0), ("labels", 0, 4, 0))  # label time > 150
    assert ("expired", "churn") in kinds(out)
    assert ("expired", "spend") not in kinds(out)  # spend's budget is 1000
    late = join.add(LabelRecord("p-1", "churn", 1, 151.0), ("labels", 0, 5, 0))
    assert kinds(late) == [("late", "churn")]


def test_label_outside_its_budget_is_late_even_before_expiry() -> None:
    join = LabelJoin(CFG)
    join.add(prediction(1, 0.0), ("predictions", 0, 0, 0))
    assert kinds(join.add(LabelRecord("p-1", "churn", 1, 120.0), ("labels", 0, 0, 0))) == [
        ("late", "churn")
    ]


def test_label_backlog_read_before_predictions_still_joins() -> None:
    join = LabelJoin(CFG)
    out = []
    for i in range(500):  # labels far ahead in time, all read first
        out += join.add(LabelRecord(f"p-{i}", "churn", 1, float(i) * 10), ("labels", 0, i, 0))
    for i in range(500):
        out += join.add(prediction(i, float(i) * 10 - 1), ("predictions", 0, i, 0))
    assert sum(o.kind == "labelled" for o in out) == 500
    assert not any(o.kind == "orphan" for o in out)


def test_single_task_prediction_expires_before_it_is_retired() -> None:
    cfg = parse_config("model: m\ntasks:\n  churn: {type: binary, label_delay: 10}\n")
    join = LabelJoin(cfg)
    join.add(
        PredictionRecord("p-1", "m", "1", "e", 0.0, {"churn": {"score": 0.1}}),
        ("predictions", 0, 0, 0),
    )
    out = join.add(LabelRecord("p-2", "churn", 1, 100.0), ("labels", 0, 0, 0))
    assert ("expired", "churn") not in kinds(out)  # the prediction stream is still at 0
    out = join.add(
        PredictionRecord("p-3", "m", "1", "e", 100.0, {"churn": {"score": 0.1}}),
        ("predictions", 0, 1, 0),
    )
    assert ("expired", "churn") in kinds(out)  # both streams passed 0 + 1.5 x 10
    assert join.pending == 2  # p-2's early label and p-3


def test_outcomes_do_not_depend_on_how_the_two_topics_interleave() -> None:
    """Expiry and orphaning follow min(prediction time, label time): the counts per kind are
    the same for every interleaving of the two (each in order) streams."""
    rng = random.Random(3)
    preds = [(f"p-{i}", float(i)) for i in range(400) if i % 7]
    labels = sorted(
        [(f"p-{i}", float(i) + rng.uniform(0, 40)) for i in range(400) if i % 5]
        + [(f"x-{i}", float(i)) for i in range(0, 400, 50)],  # never get a prediction
        key=lambda item: item[1],
    )
    results = set()
    for seed in range(6):
        order, r = [], random.Random(seed)
        pi = li = 0
        while pi < len(preds) or li < len(labels):
            take_pred = li >= len(labels) or (pi < len(preds) and r.random() < 0.5)
            burst = r.randint(1, 120)
            if take_pred:
                order += [("p", k) for k in range(pi, min(pi + burst, len(preds)))]
                pi = min(pi + burst, len(preds))
            else:
                order += [("l", k) for k in range(li, min(li + burst, len(labels)))]
                li = min(li + burst, len(labels))
        join, counts = LabelJoin(CFG), Counter()
        for kind, k in order:
            if kind == "p":
                pid, t = preds[k]
                out = join.add(prediction(int(pid[2:]), t), ("predictions", 0, k, 0))
            else:
                pid, t = labels[k]
                out = join.add(LabelRecord(pid, "churn", 1, t), ("labels", 0, k, 0))
            counts.update(kinds(out))
        results.add(tuple(sorted(counts.items())))
    assert len(results) == 1, results
    counts = dict(results.pop())
    assert counts[("expired", "churn")] > 0 and counts[("orphan", "churn")] > 0


def test_early_labels_are_bounded() -> None:
    join = LabelJoin(CFG, max_early_labels=2)
    out = []
    for i in range(3):
        out += join.add(LabelRecord(f"x-{i}", "churn", 1, float(i)), ("labels", 0, i, 0))
    assert join.early_labels == 2
    assert kinds(out) == [("orphan", "churn")]


def test_replay_at_or_below_recorded_offsets_is_skipped(tmp_path: Path) -> None:
    store = JoinStore(tmp_path / "p0", DELAYS)
    join = LabelJoin(CFG, store)
    join.add(prediction(1, 0.0), ("predictions", 0, 0, 0))
    join.mark_applied("predictions", 0)
    _, batch = join.checkpoint()
    join.commit(batch)
    join.close()
    restored = LabelJoin(CFG, JoinStore(tmp_path / "p0", DELAYS))
    assert restored.is_replay("predictions", 0) and restored.skipped == 1
    assert not restored.is_replay("predictions", 1) and not restored.is_replay("labels", 0)
    out = restored.add(LabelRecord("p-1", "churn", 0, 1.0), ("labels", 0, 0, 0))
    assert kinds(out) == [("labelled", "churn")]
    assert restored.pending == 1


def test_outcome_origins_are_unique_per_event() -> None:
    join = LabelJoin(CFG)
    out = join.add(prediction(1, 0.0), ("predictions", 0, 7, 3)) + join.end_record()
    assert [o.origin for o in out] == [("predictions", 0, 7, 3, 0), ("predictions", 0, 7, 3, 2)]


SCORED = parse_config(
    "model: m\ntasks:\n  churn: {type: binary, label_delay: 100, slices: [region]}\n"
    "  spend: {type: regression, label_delay: 1000}\n"
)
DELAYS = {"churn": 100.0, "spend": 1000.0}


def test_tasks_that_need_no_score_get_one_predicted_count_per_record_and_version() -> None:
    """spend needs nothing of a prediction but its count; churn's slices need each one."""
    join = LabelJoin(SCORED)
    out = []
    for index, version in enumerate(["1", "2", "1", "2", "2"]):
        record = PredictionRecord(
            f"p-{index}", "m", version, "e", float(10 - index),
            {"churn": {"score": 0.5}, "spend": {"value": 1.0}}, {}, {"region": "eu"},
        )  # fmt: skip
        out += join.add(record, ("predictions", 0, 4, index))
    assert [o.kind for o in out] == ["unlabelled"] * 5  # churn: one per head, at once
    counted = join.end_record()
    assert [(o.kind, o.task, o.model_version, o.count) for o in counted] == [
        ("predicted", "spend", "1", 2),
        ("predicted", "spend", "2", 3),
    ]
    # each carries its last prediction's origin (ascending: stage 2 keeps a high-water mark)
    # and the latest event time of those it counts
    assert [(o.origin, o.prediction_id, o.t) for o in counted] == [
        (("predictions", 0, 4, 2, 2), "p-2", 10.0),
        (("predictions", 0, 4, 4, 2), "p-4", 9.0),
    ]
    assert join.end_record() == []  # per record: the tally starts again


def _origins_in(order: list[int]) -> set[tuple[str, tuple]]:
    """Outcomes of one fixed input read in the given interleaving: (kind, origin) pairs."""
    records = [
        (prediction(1, 0.0), ("predictions", 0, 0, 0)),
        (LabelRecord("p-2", "churn", 1, 5.0), ("labels", 0, 0, 0)),  # early: before its prediction
        (prediction(2, 1.0), ("predictions", 0, 1, 0)),
        (LabelRecord("p-9", "churn", 0, 6.0), ("labels", 0, 1, 0)),  # an orphan in the end
        (prediction(3, 500.0), ("predictions", 0, 2, 0)),
        (LabelRecord("p-3", "churn", 1, 2000.0), ("labels", 0, 2, 0)),  # late; moves the watermark
        (prediction(4, 3000.0), ("predictions", 0, 3, 0)),
    ]
    join = LabelJoin(CFG)
    out = []
    for i in order:
        out += join.add(*records[i])
    return {(o.kind, o.origin) for o in out}


def test_origins_are_the_events_outcomes_are_about_whatever_the_interleaving() -> None:
    """A replay reads the two topics in another order: every outcome keeps its origin."""
    predictions_first = _origins_in([0, 2, 4, 6, 1, 3, 5])
    labels_first = _origins_in([1, 3, 5, 0, 2, 4, 6])
    as_written = _origins_in(list(range(7)))
    assert predictions_first == labels_first == as_written
    assert ("labelled", ("labels", 0, 0, 0, 0)) in as_written  # the early label, about its label
    assert ("expired", ("predictions", 0, 0, 0, 1)) in as_written  # about its prediction, rank + 1
    assert ("orphan", ("labels", 0, 1, 0, 0)) in as_written


def test_outputs_with_explicit_nulls_keep_their_value() -> None:
    """The SDK serialises every TaskOutput field, unused ones as null (``"score": null``)."""
    join = LabelJoin(CFG)
    outputs = {
        "churn": {"score": 0.9, "value": None, "label": None, "probs": None, "group": None},
        "spend": {"score": None, "value": 5.0, "label": None, "probs": None, "group": None},
    }
    join.add(PredictionRecord("p-1", "m", "1", "e-1", 0.0, outputs), ("predictions", 0, 0, 0))
    out = join.add(LabelRecord("p-1", "spend", 4.0, 1.0), ("labels", 0, 0, 0))
    out += join.add(LabelRecord("p-1", "churn", 1, 1.0), ("labels", 0, 1, 0))
    y_pred = {o.task: o.y_pred for o in out if o.kind == "labelled"}
    assert y_pred == {"spend": 5.0, "churn": 0.9}


def test_an_event_far_ahead_of_stream_time_and_clock_is_a_dead_letter() -> None:
    """One prediction dated 9000 must not move the watermark and expire everything pending."""
    import json

    from streams.stages import JoinStage

    stage = JoinStage(CFG, partitions=1, clock=lambda: 1_700_000_000.0)

    def event(pid: str, when: str, offset: int, topic: str = "predictions") -> list:
        body = {"schema": "driftline.prediction/1", "prediction_id": pid, "model": "m",
                "model_version": "1", "entity_id": "e", "event_time": when,
                "outputs": {"churn": {"score": 0.5}, "spend": {"value": 1.0}}}  # fmt: skip
        if topic == "labels":
            body = {"schema": "driftline.label/1", "prediction_id": pid, "task": "churn",
                    "label": 1, "event_time": when}  # fmt: skip
        result = stage.process(topic, 0, offset, pid.encode(), json.dumps(body).encode())
        return [d.reason for d in result.dead_letters]

    assert event("p-1", "2023-11-14T22:13:20Z", 0) == []
    assert event("p-1", "2023-11-14T22:13:25Z", 0, "labels") == []
    reasons = event("p-2", "9000-01-01T00:00:00Z", 1) + event(
        "p-3", "9000-01-01T00:00:00Z", 1, "labels"
    )
    assert len(reasons) == 2 and all("max_event_skew" in r for r in reasons)
    join = stage.joins[0]
    assert join.watermark < 1_800_000_000 and join.pending == 1 and stage.too_far_ahead == 2
    # half a day ahead is within the skew: accepted
    assert event("p-4", "2023-11-15T10:00:00Z", 2) == []
