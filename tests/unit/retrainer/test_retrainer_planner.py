"""Planner and request queue: coalescing, windows, head-only choice, rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from driftline.config import parse_config
from driftline.events import RetrainRequest
from retrainer.errors import RequestRejected
from retrainer.planner import PendingRetrain, plan_retrain
from retrainer.queue import RequestQueue

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CONFIG = parse_config(
    "model: shop\nretrainer: {window: 7d, holdout_fraction: 0.25}\n"
    "tasks: {churn: {type: binary}, spend: {type: regression}, "
    "category: {type: multiclass, classes: [a, b]}}"
)


def request(
    rid: str,
    tasks: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
    alerts: list[str] | None = None,
    model: str = "shop",
    reason: str = "",
) -> RetrainRequest:
    return RetrainRequest.model_validate(
        {
            "schema": RetrainRequest.SCHEMA,
            "request_id": rid,
            "model": model,
            "tasks": tasks,
            "window_start": start,
            "window_end": end,
            "alert_ids": alerts or [],
            "reason": reason,
            "event_time": T0,
        }
    )


def test_coalescing_takes_union_of_tasks_widest_window_and_every_id() -> None:
    pending = PendingRetrain("shop")
    pending.add(request("r1", ["churn"], T0, T0 + timedelta(days=2), ["a1"]), ("t", 0, 10))
    pending.add(request("r2", ["spend", "churn"], T0 - timedelta(days=1), T0 + timedelta(days=1),
                        ["a2", "a1"]), ("t", 0, 11))  # fmt: skip
    pending.add(request("r1", ["churn"], T0, T0 + timedelta(days=2), ["a1"]), ("t", 1, 3))
    assert pending.tasks == ["churn", "spend"]
    assert pending.request_ids == ["r1", "r2"]  # a repeated id is one request...
    assert pending.alert_ids == ["a1", "a2"]
    assert pending.sources == [("t", 0, 10), ("t", 0, 11), ("t", 1, 3)]  # ...but every record
    start, end = pending.window(timedelta(days=7), now=T0 + timedelta(days=9))
    assert (start, end) == (T0 - timedelta(days=1), T0 + timedelta(days=2))


def test_window_defaults_to_retrainer_window_before_now() -> None:
    pending = PendingRetrain("shop", [request("r1", ["churn"])], {("t", 0, 0): "r1"})
    now = T0 + timedelta(days=30)
    assert pending.window(timedelta(days=7), now) == (now - timedelta(days=7), now)
    pending.add(request("r2", ["churn"], start=T0), ("t", 0, 1))  # open end = now
    assert pending.window(timedelta(days=7), now) == (T0, now)


def test_without_drops_answered_requests_but_keeps_their_records() -> None:
    pending = PendingRetrain("shop")
    pending.add(request("r1", ["churn"]), ("t", 0, 1))
    pending.add(request("r2", ["spend"]), ("t", 0, 2))
    rest = pending.without(["r1"])
    assert rest.request_ids == ["r2"] and rest.tasks == ["spend"]
    assert rest.sources == [("t", 0, 1), ("t", 0, 2)]


def test_other_model_cannot_join() -> None:
    with pytest.raises(ValueError, match="cannot join"):
        PendingRetrain("shop").add(request("r1", ["churn"], model="other"), ("t", 0, 0))


def test_plan_full_vs_head_only() -> None:
    now = T0 + timedelta(days=8)
    one = PendingRetrain("shop", [request("r1", ["spend"], reason="drift")], {("t", 0, 0): "r1"})
    all_tasks = ["churn", "spend", "category"]
    plan = plan_retrain(CONFIG, one, now, champion_version=4, champion_tasks=all_tasks)
    assert plan.mode == "head_only"
    assert plan.tasks == ("churn", "spend", "category") and plan.drifted == ("spend",)
    assert plan.parent_version == 4 and plan.holdout_fraction == 0.25
    assert plan.window_start == now - timedelta(days=7) and plan.window_end == now
    assert plan.to_dict()["mode"] == "head_only" and plan.reason == "drift"
    # no champion, other heads than the champion's, two drifted tasks, or config off → full
    assert plan_retrain(CONFIG, one, now).mode == "full"
    assert plan_retrain(CONFIG, one, now, 4, ["churn", "spend"]).mode == "full"
    two = PendingRetrain("shop")
    two.add(request("r1", ["spend"]), ("t", 0, 0))
    two.add(request("r2", ["churn"]), ("t", 0, 1))
    assert plan_retrain(CONFIG, two, now, 4, all_tasks).mode == "full"
    off = CONFIG.model_copy(
        update={"retrainer": CONFIG.retrainer.model_copy(update={"head_only_single_task": False})}
    )
    assert plan_retrain(off, one, now, 4, all_tasks).mode == "full"


def test_plan_rejects_unknown_task_and_empty_window() -> None:
    unknown = PendingRetrain("shop", [request("r1", ["nope"])], {("t", 0, 0): "r1"})
    with pytest.raises(RequestRejected, match="'nope'"):
        plan_retrain(CONFIG, unknown, T0)
    # the contract refuses a request whose window is empty (the retrainer dead-letters it) ...
    with pytest.raises(ValidationError, match="is empty"):
        request("r1", ["churn"], T0, T0)
    # ... and the planner still refuses one that bypassed it
    valid = request("r1", ["churn"], T0, T0 + timedelta(hours=1))
    empty = valid.model_copy(update={"window_end": T0 - timedelta(hours=1)})
    backwards = PendingRetrain("shop", [empty], {("t", 0, 0): "r1"})
    with pytest.raises(RequestRejected, match="empty data window"):
        plan_retrain(CONFIG, backwards, T0)


def test_queue_coalesces_within_window_and_while_running() -> None:
    queue = RequestQueue(coalesce_window=2.0)
    queue.add(request("r1", ["churn"]), ("t", 0, 0), now=0.0)
    queue.add(request("r2", ["spend"]), ("t", 0, 1), now=1.5)
    assert queue.pop_ready(now=1.9) is None
    first = queue.pop_ready(now=2.0)
    assert first is not None and first.request_ids == ["r1", "r2"]
    assert queue.running("shop")
    # arrivals during the run wait for it, then go together
    queue.add(request("r3", ["churn"]), ("t", 0, 2), now=3.0)
    queue.add(request("r4", ["category"]), ("t", 0, 3), now=9.0)
    assert queue.pop_ready(now=20.0) is None
    queue.finish("shop")
    second = queue.pop_ready(now=20.0)
    assert second is not None and second.request_ids == ["r3", "r4"]
    assert second.tasks == ["churn", "category"]
    assert len(queue) == 0


def test_queue_other_models_do_not_wait_for_each_other() -> None:
    queue = RequestQueue(coalesce_window=0.0)
    queue.add(request("r1", ["churn"]), ("t", 0, 0), now=0.0)
    queue.add(request("x1", ["churn"], model="other"), ("t", 1, 0), now=0.5)
    assert [queue.pop_ready(1.0).model, queue.pop_ready(1.0).model] == ["shop", "other"]  # type: ignore[union-attr]


def test_queue_drops_revoked_partitions() -> None:
    queue = RequestQueue(coalesce_window=5.0)
    queue.add(request("r1", ["churn"]), ("t", 0, 7), now=0.0)
    queue.add(request("r2", ["spend"]), ("t", 1, 3), now=0.0)
    assert queue.drop_partitions({("t", 1)}) == [("t", 1, 3)]
    pending = queue.pop_ready(now=5.0)
    assert pending is not None and pending.request_ids == ["r1"] and pending.tasks == ["churn"]
    assert queue.drop_partitions({("t", 0)}) == []  # a running batch is not pending
    with pytest.raises(ValueError):
        RequestQueue(-1.0)
