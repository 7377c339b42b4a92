"""TaskMonitor / stages: per-task counts, drift on one task only, re-baseline, dead letters."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from driftline.config import parse_config
from driftline.events import Alert, ModelUpdate, RetrainRequest
from streams.errors import CheckpointError
from streams.outcome import Outcome, encode_outcomes
from streams.stages import JoinStage, MonitorResult, MonitorStage, version_outcomes
from streams.task_monitor import TaskMonitor

CFG_TEXT = """
model: m
kafka: {partitions: 1}
monitor: {snapshot_interval: 1000}
tasks:
  a: {type: binary, detectors: [{kind: adwin, severity: critical}],
      policy: {min_samples: 200, warmup: 300, cooldown: 100000}, retrain: {min_labels: 100}}
  b: {type: binary, detectors: [{kind: adwin, severity: critical}],
      policy: {min_samples: 200, warmup: 300, cooldown: 100000}, retrain: {min_labels: 100}}
  c: {type: regression, detectors: [{kind: page_hinkley, params: {threshold: 50}}],
      policy: {min_samples: 200, warmup: 300, cooldown: 100000}}
"""
CFG = parse_config(CFG_TEXT)
PASSED = {0: 1e18}
"""Stage 1's watermark far ahead: every outcome is due at once."""


def labelled(task: str, i: int, y_true: float, y_pred: float, version: str = "1") -> Outcome:
    return Outcome(
        "labelled",
        "m",
        version,
        task,
        f"p-{i}",
        float(i),
        ("in", 0, i, 0, 0),
        y_pred=y_pred,
        y_true=y_true,
    )


def promotion(version: str = "2", tasks: list[str] | None = None) -> ModelUpdate:
    """A ``promoted`` model update (of ``tasks``, or of every task when ``None``)."""
    return ModelUpdate.model_validate(
        {
            "schema": ModelUpdate.SCHEMA,
            "update_id": f"u-{version}",
            "model": "m",
            "version": version,
            "status": "promoted",
            "tasks": tasks or [],
            "event_time": "2026-11-23T12:00:00Z",
        }
    )


def feed(stage: MonitorStage, n: int, drift_task: str | None, drift_at: int) -> MonitorResult:
    rng = random.Random(7)
    result = MonitorResult()
    for i in range(n):
        for task in ("a", "b"):
            y = rng.random() < 0.5
            good = rng.random() < (0.2 if task == drift_task and i >= drift_at else 0.9)
            score = (0.8 if y else 0.2) if good else (0.2 if y else 0.8)
            stage.apply(labelled(task, i, float(y), score), result)
        stage.apply(labelled("c", i, 10.0, 10.0 + rng.gauss(0, 1)), result)
    return result


def test_abrupt_drift_alerts_that_task_only_with_retrain_request() -> None:
    stage = MonitorStage(CFG)
    result = feed(stage, 3000, "b", 1500)
    alerts = [o for o in result.outputs if isinstance(o, Alert)]
    assert {a.task for a in alerts} == {"b"}
    assert 1500 <= alerts[0].evidence.end_count <= 1700
    requests = [o for o in result.outputs if isinstance(o, RetrainRequest)]
    assert [r.tasks for r in requests] == [["b"]] and requests[0].alert_ids == [alerts[0].alert_id]


def test_alert_ids_are_deterministic() -> None:
    first = [
        o.alert_id for o in feed(MonitorStage(CFG), 3000, "b", 1500).outputs if isinstance(o, Alert)
    ]
    second = [
        o.alert_id for o in feed(MonitorStage(CFG), 3000, "b", 1500).outputs if isinstance(o, Alert)
    ]
    assert first and first == second


def test_promoted_version_rebaselines_and_warms_up() -> None:
    stage = MonitorStage(CFG)
    feed(stage, 1000, None, 0)
    update = promotion()
    result = MonitorResult()
    for outcome in version_outcomes(CFG, update, ("model-updates", 0, 0)):
        stage.apply(outcome, result)
    monitor = stage.monitors["m/b"]
    assert monitor.model_version == "2" and monitor.labels_since_version == 0
    assert monitor.scopes[()].detector_state()["adwin/error"]["warming_up"] == 1.0


def test_state_roundtrip_and_replay_skip() -> None:
    monitor = TaskMonitor(CFG, "m", "a")
    for i in range(50):
        monitor.apply(labelled("a", i, 1.0, 0.9), {"in": 49})
    restored = TaskMonitor.load(CFG, monitor.dump())
    assert restored.apply(labelled("a", 49, 1.0, 0.9), {"in": 60}) is None  # sent again
    assert restored.apply(labelled("a", 50, 1.0, 0.9), {"in": 60}) == []
    assert restored.counts()["labels"] == 51
    # stage 1 checkpointed beyond offset 49: those identities are forgotten
    restored.apply(labelled("a", 51, 1.0, 0.9), {"in": 70}, durable={"in": 60})
    assert restored.replays.remembered == 1


def test_a_state_of_another_format_is_refused_not_misread() -> None:
    older = pickle.dumps({"predictions": 3}, protocol=5)  # unmarked, as before the mark
    with pytest.raises(CheckpointError, match="no format mark"):
        TaskMonitor.load(CFG, older)
    other = pickle.dumps(("driftline.task-monitor-state/1", {}), protocol=5)
    with pytest.raises(CheckpointError, match="task-monitor-state/1"):
        TaskMonitor.load(CFG, other)


def _labels(task: str, source: int, times: list[float]) -> list[list[object]]:
    """Labelled outcomes of one input partition, each at its own tau."""
    return [
        Outcome("labelled", "m", "1", task, f"p-{source}-{t}", t, ("labels", source, int(t), 0, 0),
                y_pred=0.9, y_true=1.0, tau=t).to_wire()
        for t in times
    ]  # fmt: skip


TWO = parse_config(CFG_TEXT.replace("partitions: 1", "partitions: 2"))


def test_outcomes_wait_for_every_source_and_apply_in_event_time_order() -> None:
    stage = MonitorStage(TWO)
    key = b"m/a"
    applied: list[float] = []
    original = stage._apply

    def spy(monitor, key, outcome, result, frontier, durable, record=-1):  # type: ignore[no-untyped-def]
        applied.append(outcome.tau)
        original(monitor, key, outcome, result, frontier, durable, record)

    stage._apply = spy  # type: ignore[method-assign]
    # source 0 is read far ahead (a backlog, or a takeover); source 1 has not reported yet
    stage.process(
        "outcomes", 0, 0, encode_outcomes(_labels("a", 0, [1, 5, 9]), {}, {}, {0: 10}), key
    )
    assert applied == []  # nothing until every source passed
    stage.process("outcomes", 0, 1, encode_outcomes(_labels("a", 1, [2, 3]), {}, {}, {1: 4}), key)
    assert applied == [1, 2, 3]
    stage.process("outcomes", 0, 2, encode_outcomes(_labels("a", 1, [6]), {}, {}, {1: 7}), key)
    assert applied == [1, 2, 3, 5, 6]
    # the state is saved here (a checkpoint), then the worker restarts and reads records 1 and 2
    # again (record 0 still holds an outcome: it was not acknowledged either)
    assert stage.holding() == {"m/a": 0}
    saved = stage.monitors["m/a"].dump()
    restarted = MonitorStage(TWO, load=lambda _: saved)
    again = [
        restarted.process("outcomes", 0, n, encode_outcomes(items, {}, {}, marks), key).applied
        for n, (items, marks) in enumerate(
            [(_labels("a", 0, [1, 5, 9]), {0: 10}), (_labels("a", 1, [2, 3]), {1: 4}),
             (_labels("a", 1, [6]), {1: 7})]
        )
    ]  # fmt: skip
    assert again == [0, 0, 0]  # applied before the restart; 9 still waits for source 1
    last = restarted.process("outcomes", 0, 3, encode_outcomes([], {}, {}, {1: 20}), key)
    assert last.applied == 1 and restarted.monitors["m/a"].labels == 6
    assert restarted.holding() == {}


def test_only_a_sources_owner_declares_it_idle_and_no_clock_does() -> None:
    """A source nobody speaks for (its worker gone: a takeover) is waited for, however long;
    one its owner declares idle is not, until the owner says it is active again."""
    stage = MonitorStage(TWO)
    key = b"m/a"
    first = encode_outcomes(_labels("a", 0, [1, 5]), {}, {}, {0: 10}, owned=[0])
    assert stage.process("outcomes", 0, 0, first, key).applied == 0
    assert stage.release_due().applied == 0  # no clock makes source 1 idle
    idle = encode_outcomes([], {}, {}, {0: 10}, owned=[0, 1], idle=[1])
    assert stage.process("outcomes", 0, 1, idle, key).applied == 2
    # source 1 active again: a label it sends now is applied at once, counted out of order
    back = encode_outcomes(_labels("a", 1, [3]), {}, {}, {0: 10}, owned=[0, 1])
    assert stage.process("outcomes", 0, 2, back, key).applied == 1
    order = stage.monitors["m/a"].order
    assert order.unordered == 1 and order.idle == set()
    later = encode_outcomes(_labels("a", 0, [12]), {}, {}, {0: 20}, owned=[0, 1])
    assert stage.process("outcomes", 0, 3, later, key).applied == 0  # waits for source 1 again


def test_outcomes_of_an_older_version_are_counted_but_feed_no_detector() -> None:
    monitor = TaskMonitor(CFG, "m", "a")
    update = promotion()
    for outcome in version_outcomes(CFG, update, ("model-updates", 0, 0)):
        if outcome.task == "a":
            monitor.apply(outcome)
    for i in range(1000):  # the old champion's predictions, all wrong: no alarm, no metric
        assert monitor.apply(labelled("a", i, 1.0, 0.0)) == []
    assert monitor.counts()["stale"] == 1000 and monitor.labels == 1000
    assert monitor.scopes[()].labels == 0


def test_snapshots_by_event_time_have_stable_ids() -> None:
    monitor = TaskMonitor(CFG, "m", "a")
    outputs = []
    for i in range(0, 3000, 10):
        outputs += monitor.apply(labelled("a", i, 1.0, 0.9)) or []
    ids = [o.snapshot_id for o in outputs]
    assert len(ids) == 2 and len(set(ids)) == 2  # buckets [0,1000) and [1000,2000)


def test_a_snapshot_before_any_label_reports_null_metrics_not_zero() -> None:
    from driftline.events import TaskMetrics

    monitor = TaskMonitor(CFG, "m", "a")
    for i in range(0, 1500, 10):  # predictions only: scores, no labels yet
        monitor.apply(Outcome("predicted", "m", "1", "a", f"p-{i}", float(i), ("in", 0, i, 0, 0),
                              y_pred=0.7))  # fmt: skip
    [snapshot] = monitor.snapshots(1500.0, 1)
    assert snapshot.labels == 0
    assert snapshot.cumulative and all(v is None for v in snapshot.cumulative.values())
    assert snapshot.rolling == snapshot.cumulative
    assert '"accuracy":null' in snapshot.model_dump_json()
    TaskMetrics.model_validate_json(snapshot.model_dump_json(by_alias=True))  # still the contract
    monitor.apply(labelled("a", 2000, 1.0, 0.9))
    [labelled_snapshot] = monitor.snapshots(2000.0, 2)
    assert labelled_snapshot.cumulative["accuracy"] == 1.0


def test_bad_events_dead_lettered_alone_neighbours_go_on() -> None:
    stage = JoinStage(CFG, partitions=1)
    good = {
        "schema": "driftline.prediction/1",
        "prediction_id": "p-1",
        "model": "m",
        "model_version": "1",
        "entity_id": "e",
        "event_time": "2026-11-23T12:00:00Z",
        "outputs": {"a": {"score": 0.5}},
    }
    bad_score = {**good, "prediction_id": "p-2", "outputs": {"a": {"score": 1.5}}}
    unknown_task = {**good, "prediction_id": "p-3", "outputs": {"zzz": {"score": 0.5}}}
    envelope = json.dumps(
        {"schema": "driftline.batch/1", "events": [bad_score, good, unknown_task]}
    ).encode()
    result = stage.process("predictions", 0, 5, None, envelope)
    assert [o.prediction_id for o in result.outcomes] == ["p-1"]
    assert [(d.source.offset, d.source.index) for d in result.dead_letters] == [(5, 0), (5, 2)]
    assert "probability" in result.dead_letters[0].reason
    assert "unknown task" in result.dead_letters[1].reason
    garbage = stage.process("predictions", 0, 6, b"k", b"{nope")
    assert garbage.dead_letters[0].reason.startswith("not valid JSON")


def test_wrong_partition_label_is_rerouted_not_joined() -> None:
    from driftline.partitioning import partition_for

    stage = JoinStage(CFG, partitions=4)
    pid = next(f"p-{i}" for i in range(100) if partition_for(f"p-{i}", 4) != 0)
    label = json.dumps(
        {
            "schema": "driftline.label/1",
            "prediction_id": pid,
            "task": "a",
            "label": 1,
            "event_time": "2026-11-23T12:00:00Z",
        }
    ).encode()
    result = stage.process("labels", 0, 0, pid.encode(), label)
    assert result.outcomes == [] and stage.rerouted == 1
    assert result.reroutes[0].partition == partition_for(pid, 4)


def test_retrain_request_waits_for_post_drift_labels() -> None:
    """``retrain.collect_labels``: the request follows the alert once that many labels arrived,
    and its window starts where the drift evidence starts (so the retrainer sees the new concept)."""
    text = CFG.model_dump_json()
    data = json.loads(text)
    data["tasks"]["b"]["retrain"]["collect_labels"] = 400
    cfg = type(CFG).model_validate(data)
    result = feed(MonitorStage(cfg), 3000, "b", 1500)
    alerts = [o for o in result.outputs if isinstance(o, Alert)]
    requests = [o for o in result.outputs if isinstance(o, RetrainRequest)]
    assert len(requests) == 1 and requests[0].alert_ids[0] == alerts[0].alert_id
    first_alert = result.outputs.index(alerts[0])
    request_at = result.outputs.index(requests[0])
    assert request_at > first_alert
    assert requests[0].window_start == alerts[0].evidence.start_time
    # 400 labels of task b after the alert: event time (= label index here) moved ~400 on
    alert_t = alerts[0].evidence.end_time.timestamp()
    assert 399 <= requests[0].window_end.timestamp() - alert_t <= 401


def test_a_promotion_that_did_not_retrain_a_task_keeps_its_held_request() -> None:
    data = json.loads(CFG.model_dump_json())
    data["tasks"]["b"]["retrain"]["collect_labels"] = 400
    cfg = type(CFG).model_validate(data)
    stage = MonitorStage(cfg)
    result = feed(stage, 1700, "b", 1500)  # b alerts near 1600; its request is still held
    assert not [o for o in result.outputs if isinstance(o, RetrainRequest)]
    update = promotion(tasks=["a"])
    for outcome in version_outcomes(cfg, update, ("model-updates", 0, 0)):
        stage.apply(outcome, result)
    later = MonitorResult()
    for i in range(1700, 2200):
        stage.apply(labelled("b", i, 1.0, 0.9, version="2"), later)
    requests = [o for o in later.outputs if isinstance(o, RetrainRequest)]
    assert len(requests) == 1 and requests[0].model_version == "2"


def test_a_malformed_outcome_is_dead_lettered_alone_and_a_foreign_record_whole() -> None:
    stage = MonitorStage(CFG)
    good = [labelled("a", i, 1.0, 0.9).to_wire() for i in range(2)]
    record = encode_outcomes([good[0], ["labelled", "m"], good[1]], {0: {}}, {}, PASSED)
    result = stage.process("outcomes", 0, 0, record, b"m/a")
    assert result.applied == 2
    assert [d.source.index for d in result.dead_letters] == [1]
    assert result.dead_letters[0].reason.startswith("bad outcome")
    foreign = stage.process("outcomes", 0, 1, b'{"schema": "driftline.label/1"}')
    assert foreign.applied == 0 and "driftline.outcomes/2" in foreign.dead_letters[0].reason


def predicted(task: str, offset: int, count: int, version: str = "1") -> Outcome:
    """The ``predicted`` count of one input record (stage 1's, for a task needing no score)."""
    origin = ("predictions", 0, offset, 99, 0)
    return Outcome("predicted", "m", version, task, f"p-{offset}", 1.0, origin, count=count)


def test_a_predicted_outcome_counts_its_predictions_once() -> None:
    stage = MonitorStage(CFG)
    record = encode_outcomes([predicted("a", 0, 100).to_wire()], {0: {}}, {}, PASSED)
    again = encode_outcomes([predicted("a", 0, 100).to_wire()], {0: {}}, {}, PASSED)  # a replay
    stage.process("outcomes", 0, 0, record, b"m/a")
    stage.process("outcomes", 0, 1, again, b"m/a")
    stage.process(
        "outcomes", 0, 2, encode_outcomes([predicted("a", 1, 7).to_wire()], {}, {}, PASSED), b"m/a"
    )
    monitor = stage.monitors["m/a"]
    assert monitor.counts()["predictions"] == 107 and monitor.skipped == 1
    for outcome in version_outcomes(CFG, promotion(), ("model-updates", 0, 0)):
        if outcome.task == "a":
            monitor.apply(outcome)
    monitor.apply(predicted("a", 2, 5, version="1"))  # the old champion's: stale, all five
    assert monitor.counts()["stale"] == 5 and monitor.counts()["predictions"] == 112


def test_a_predicted_outcome_without_a_count_is_dead_lettered() -> None:
    stage = MonitorStage(CFG)
    wire = predicted("a", 0, 3).to_wire()
    assert Outcome.from_wire(wire) == predicted("a", 0, 3)
    result = stage.process(
        "outcomes", 0, 0, encode_outcomes([wire[:-1], wire], {}, {}, PASSED), b"m/a"
    )
    assert result.applied == 1
    assert "count" in result.dead_letters[0].reason


def test_an_outcome_the_monitor_cannot_apply_is_dead_lettered_and_the_rest_go_on() -> None:
    """A hand-written (or corrupted) outcomes record must not stop the worker: the outcome that
    raises goes to dead-letters with the reason, its neighbours are applied."""
    stage = MonitorStage(CFG)
    good = [labelled("a", i, 1.0, 0.9).to_wire() for i in range(3)]
    bad = labelled("a", 3, 1.0, 0.9)
    bad.y_pred = "x"  # not a score
    record = encode_outcomes([*good, bad.to_wire()], {0: {}}, {}, PASSED)
    result = stage.process("outcomes", 0, 0, record, b"m/a")
    assert result.applied == 3 and stage.monitors["m/a"].labels >= 3
    (letter,) = result.dead_letters
    assert "could not apply this outcome" in letter.reason and letter.stage == "monitor"
    assert letter.source.offset == 0


def test_an_event_the_join_cannot_apply_is_dead_lettered_and_the_rest_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streams.join import LabelJoin

    original = LabelJoin.add

    def add(self, record, where):  # type: ignore[no-untyped-def]
        if record.prediction_id == "p-1":
            raise ZeroDivisionError("a bug")
        return original(self, record, where)

    monkeypatch.setattr(LabelJoin, "add", add)
    stage = JoinStage(CFG, partitions=1)
    events = [
        {"schema": "driftline.prediction/1", "prediction_id": f"p-{i}", "model": "m",
         "model_version": "1", "entity_id": "e", "event_time": "2026-11-23T12:00:00Z",
         "outputs": {"a": {"score": 0.5}}}
        for i in range(3)
    ]  # fmt: skip
    envelope = json.dumps({"schema": "driftline.batch/1", "events": events}).encode()
    result = stage.process("predictions", 0, 0, b"k", envelope)
    (letter,) = result.dead_letters
    assert "could not apply this event (ZeroDivisionError: a bug)" in letter.reason
    assert letter.source.index == 1 and result.events == 3
    assert stage.joins[0].frontier() == {"predictions": 0}  # the record counts as applied


def test_a_record_whose_predictions_the_join_cannot_count_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streams.join import LabelJoin

    def end_record(self):  # type: ignore[no-untyped-def]
        raise KeyError("a bug")

    monkeypatch.setattr(LabelJoin, "end_record", end_record)
    stage = JoinStage(CFG, partitions=1)
    event = {"schema": "driftline.prediction/1", "prediction_id": "p-0", "model": "m",
             "model_version": "1", "entity_id": "e", "event_time": "2026-11-23T12:00:00Z",
             "outputs": {"a": {"score": 0.5}}}  # fmt: skip
    result = stage.process("predictions", 0, 0, b"k", json.dumps(event).encode())
    (letter,) = result.dead_letters
    assert "could not count this record's predictions (KeyError" in letter.reason
    assert letter.source.index is None and letter.stage == "join"
    assert stage.joins[0].frontier() == {"predictions": 0}  # applied: a replay skips it


def test_the_first_promotion_of_the_version_already_serving_starts_nothing_over() -> None:
    """A bootstrap promotes the version whose predictions the monitor sees already: its
    detectors keep their baseline and no warm-up starts (the drift right after is found)."""
    monitor = TaskMonitor(CFG, "m", "a")
    for i in range(500):
        monitor.apply(labelled("a", i, 1.0, 0.9, version="1"))
    for outcome in version_outcomes(CFG, promotion(version="1"), ("model-updates", 0, 0)):
        if outcome.task == "a":
            monitor.apply(outcome)
    assert monitor.pinned_version == "1" and monitor.labels_since_version == 500
    assert monitor.scopes[()].detector_state()["adwin/error"]["warming_up"] == 0.0
