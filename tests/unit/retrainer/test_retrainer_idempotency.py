"""The idempotency rule: a request id that produced a version is never trained again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from driftline.config import parse_config
from driftline.events import RetrainRequest
from models import FeatureSchema, Registry, TaskSpec, build_model
from retrainer.job import MANIFEST_KEY, RetrainJob, answered_requests
from retrainer.planner import PendingRetrain
from retrainer.updates import update_id


def request(rid: str) -> RetrainRequest:
    return RetrainRequest.model_validate(
        {"schema": RetrainRequest.SCHEMA, "request_id": rid, "model": "shop", "tasks": ["churn"],
         "alert_ids": [f"alert-{rid}"], "event_time": datetime(2026, 1, 1, tzinfo=UTC)}
    )  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path) -> tuple[RetrainJob, Registry]:
    config = parse_config(
        f"model: shop\nfeatures: [{{name: x}}]\ntasks: {{churn: {{type: binary}}}}\n"
        f"registry: {{url: 'sqlite:///{tmp_path}/r.db', artifacts_dir: '{tmp_path}/art'}}\n"
    )
    registry = Registry.from_config(config.registry)

    class NoTraining(RetrainJob):
        def _train(self, pending, now):  # type: ignore[no-untyped-def]
            raise AssertionError(f"trained {pending.request_ids} again")

    return NoTraining(config, registry), registry


def register(registry: Registry, request_ids: list[str], status: str, alias: str | None) -> int:
    frame = pd.DataFrame({"x": [0.0, 1.0], "churn": [0.0, 1.0]})
    model = build_model([TaskSpec("churn", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    record = {"status": status, "reason": f"gate said {status}",
              "champion_metrics": {"churn": {"roc_auc": 0.7}}}  # fmt: skip
    info = registry.register(
        "shop", model, metrics={"churn": {"roc_auc": 0.8}}, request_ids=request_ids,
        alert_ids=[f"alert-{r}" for r in request_ids], alias=alias,
        manifest_extra={MANIFEST_KEY: record},
    )  # fmt: skip
    return int(info.version)


def test_answered_requests_uses_the_registry_lookup(setup: tuple[RetrainJob, Registry]) -> None:
    _, registry = setup
    version = register(registry, ["r1", "r2"], "promoted", "champion")
    assert answered_requests(registry, "shop", ["r1", "r3", "r2"]) == {"r1": version, "r2": version}
    assert answered_requests(registry, "other", ["r1"]) == {}


def test_repeated_request_is_announced_again_not_trained(
    setup: tuple[RetrainJob, Registry],
) -> None:
    job, registry = setup
    version = register(registry, ["r1"], "promoted", "champion")
    pending = PendingRetrain("shop")
    pending.add(request("r1"), ("requests", 0, 4))
    (outcome,) = job.run(pending)
    assert not outcome.trained
    update = outcome.update
    assert (update.status, update.version, update.request_ids) == ("promoted", str(version), ["r1"])
    assert update.update_id == update_id("shop", version, "promoted", ["r1"])  # same id as before
    assert update.champion_metrics == {"churn": {"roc_auc": 0.7}}
    assert update.reason == "gate said promoted" and update.alert_ids == ["alert-r1"]
    assert len(registry.list_versions("shop")) == 1


def test_redo_finishes_a_rejection_interrupted_by_a_crash(
    setup: tuple[RetrainJob, Registry],
) -> None:
    job, registry = setup
    version = register(registry, ["r9"], "rejected", None)  # crash before registry.reject()
    assert registry.get_version("shop", version).status == "registered"
    pending = PendingRetrain("shop")
    pending.add(request("r9"), ("requests", 0, 1))
    (outcome,) = job.run(pending)
    assert outcome.update.status == "rejected" and not outcome.trained
    assert registry.get_version("shop", version).status == "rejected"


def test_only_unanswered_requests_of_a_batch_are_trained(
    setup: tuple[RetrainJob, Registry],
) -> None:
    job, registry = setup
    register(registry, ["r1"], "candidate", "candidate")
    pending = PendingRetrain("shop")
    pending.add(request("r1"), ("requests", 0, 1))
    pending.add(request("r2"), ("requests", 0, 2))
    with pytest.raises(AssertionError, match=r"trained \['r2'\] again"):
        job.run(pending)
