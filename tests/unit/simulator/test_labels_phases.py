"""Label arrival (delays, losses, event-time order) and the per-phase metrics of the demo."""

from __future__ import annotations

import pytest

from driftline.config import parse_config
from simulator.event import SimEvent
from simulator.labels import DueLabel, LabelPlan, LabelQueue
from simulator.phases import PhaseTracker

CONFIG = parse_config(
    "model: m\ntasks:\n  churn: {type: binary, label_delay: 400}\n"
    "  kind: {type: multiclass, classes: [a, b], label_delay: 100}\n"
)


def events(n: int) -> list[SimEvent]:
    return [SimEvent(i, 1000.0 + i, f"e-{i}", {}, {"churn": i % 2, "kind": "ab"[i % 2]}) for i in range(n)]  # fmt: skip


def test_delays_stay_inside_each_tasks_budget_and_losses_match_their_rates() -> None:
    plan = LabelPlan.from_config(CONFIG, delay_fraction=0.5, losses={"kind": 0.3}, seed=4)
    due = [d for e in events(4000) for d in plan.due(e)]
    churn = [d for d in due if d.task == "churn"]
    kind = [d for d in due if d.task == "kind"]
    assert len(churn) == 4000
    assert len(kind) / 4000 == pytest.approx(0.7, abs=0.03)
    for label in due:
        sent = 1000.0 + int(label.prediction_id.split("-")[1])
        budget = CONFIG.tasks[label.task].label_delay
        assert 0.25 * budget <= label.t - sent <= budget
    assert plan.due(events(5)[3]) == LabelPlan.from_config(CONFIG, 0.5, {"kind": 0.3}, seed=4).due(events(5)[3])  # fmt: skip
    assert plan.due(events(5)[3]) != LabelPlan.from_config(CONFIG, 0.5, {"kind": 0.3}, seed=5).due(events(5)[3])  # fmt: skip


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="loss rate"):
        LabelPlan(losses={"churn": 1.0})
    with pytest.raises(ValueError, match="budget"):
        LabelPlan.from_config(CONFIG, delay_fraction=0.9)


def test_queue_releases_labels_in_event_time_order() -> None:
    queue = LabelQueue()
    queue.push([DueLabel(t, f"p-{t}", "churn", 1) for t in (5.0, 1.0, 3.0, 3.0, 9.0)])
    assert [d.t for d in queue.pop_until(3.0)] == [1.0, 3.0, 3.0]
    assert queue.pop_until(4.0) == []
    assert [d.t for d in queue.drain()] == [5.0, 9.0]
    assert len(queue) == 0


def test_phases_follow_the_change_point_and_the_champion_that_scored() -> None:
    tracker = PhaseTracker(CONFIG, change_at=10)
    for i in range(10):
        tracker.add(i, "1", "churn", i % 2, {"score": 0.9 if i % 2 else 0.1})
    for i in range(10, 20):
        tracker.add(i, "1", "churn", i % 2, {"score": 0.1 if i % 2 else 0.9})
    tracker.add(20, "1", "kind", "a", {"label": "a", "probs": {"a": 0.8, "b": 0.2}})
    for i in range(21, 31):
        tracker.add(i, "2", "churn", i % 2, {"score": 0.8 if i % 2 else 0.3})
    summary = tracker.summary()
    churn = summary["churn"]
    assert churn["metric"] == "roc_auc" and churn["higher_is_better"]
    assert (churn["before"], churn["during"], churn["after"]) == (1.0, 0.0, 1.0)
    assert churn["counts"] == {"before": 10, "during": 10, "after": 10}
    assert summary["kind"]["during"] == 1.0 and summary["kind"]["after"] is None
    assert tracker.phase_of(40, "1") == "during"  # labels of the old champion's predictions
    assert tracker.phase_of(41, "3") == "after"
    assert tracker.phase_of(42, "2") is None  # an intermediate champion: no phase


def test_without_a_change_everything_is_before() -> None:
    tracker = PhaseTracker(CONFIG, change_at=None)
    assert tracker.phase_of(10**6, "7") == "before"
