"""The retrainer on a real broker, a real Feast embedded store and a real sqlite registry.

Fixtures (this file only):

``retrain_store`` (module) — a Feast embedded store under tmp, seeded through the featurestore's
``LabelSink`` with ``RETRAIN_ROWS`` labelled predictions of three learnable tasks (event times
in the last day, so the default ``retrainer.window`` covers them).
``retrain_config(**retrainer)`` (function) — ``make_config`` with that store, a fresh sqlite
registry and artifacts dir, small fast training settings, topics created.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.config import DriftlineConfig, parse_config
from driftline.kafka_logs import kafka_logger

RETRAIN_ROWS = 1200
RETRAIN_FEATURES = [{"name": "x1"}, {"name": "x2"}, {"name": "country", "dtype": "string"}]
RETRAIN_TASKS = {
    "churn": {"type": "binary"},
    "spend": {"type": "regression"},
    "category": {"type": "multiclass", "classes": ["a", "b", "c"]},
}
FAST_TRAINING = {
    "architecture": "shared_bottom",
    "epochs": 6,
    "batch_size": 128,
    "learning_rate": 0.02,
    "min_labels": 100,
    "bootstrap_resamples": 100,
    "coalesce_window": 2.0,
    "orphan_min_age": 0,
    "session_timeout": 6,
}


@pytest.fixture(scope="module")
def retrain_store() -> Path:
    """Path of a seeded Feast embedded store shared by the module's tests (read-only for them)."""
    from featurestore import FeatureRepo, LabelSink

    root = Path(tempfile.mkdtemp(prefix="retrain-store-"))
    doc = {"model": "shop-mtl", "state_dir": str(root / "state"), "features": RETRAIN_FEATURES,
           "tasks": RETRAIN_TASKS, "feature_store": {"type": "embedded", "path": str(root / "feast")}}  # fmt: skip
    config = parse_config(json.dumps(doc))
    FeatureRepo(config).apply()
    rng = np.random.default_rng(3)
    start = datetime.now(UTC) - timedelta(days=1)
    outcomes = []
    for i in range(RETRAIN_ROWS):
        x1, x2 = float(rng.normal()), float(rng.normal())
        labels = {
            "churn": int(x1 + 0.3 * rng.normal() > 0),
            "spend": 2.0 * x2 + 0.1 * float(rng.normal()),
            "category": "abc"[int(x1 > 0) + int(x2 > 0)],
        }
        for task, label in labels.items():
            outcomes.append({
                "outcome_id": f"o-{i}-{task}", "task": task, "prediction_id": f"p-{i}",
                "entity_id": f"c-{i % 300}", "event_time": start + timedelta(seconds=60 * i),
                "label": label, "model_version": "0",
                "features": {"x1": x1, "x2": x2, "country": ["DE", "FR"][i % 2]},
            })  # fmt: skip
    sink = LabelSink(config, batch_size=10**9)
    sink.write(outcomes)
    sink.flush()
    return root / "feast"


@pytest.fixture
def retrain_config(
    make_config: Callable[..., tuple[DriftlineConfig, Path]], retrain_store: Path, tmp_path: Path
) -> Callable[..., tuple[DriftlineConfig, Path]]:
    """Factory: ``retrain_config(**retrainer_overrides)`` → (config, YAML path), topics created."""
    from driftline.topics import create_topics

    def make(**retrainer: Any) -> tuple[DriftlineConfig, Path]:
        config, path = make_config(
            partitions=2,
            tasks=RETRAIN_TASKS,
            features=RETRAIN_FEATURES,
            feature_store={"type": "embedded", "path": str(retrain_store)},
            registry={
                "url": f"sqlite:///{tmp_path}/registry.db",
                "artifacts_dir": str(tmp_path / "artifacts"),
            },
            retrainer={**FAST_TRAINING, "group_id": f"rt-{tmp_path.name}", **retrainer},
        )
        create_topics(config)
        return config, path

    return make


def produce_requests(config: DriftlineConfig, *requests: Any, raw: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """Produce retrain requests (key = model) and raw records to ``retrain-requests``."""
    from confluent_kafka import Producer

    from driftline.events import encode

    producer = Producer(
        {"logger": kafka_logger(), "bootstrap.servers": config.kafka.bootstrap_servers}
    )
    for request in requests:
        producer.produce(config.topics.retrain_requests, key=request.model.encode(),
                         value=encode(request))  # fmt: skip
    for value in raw:
        producer.produce(config.topics.retrain_requests, key=b"shop-mtl", value=value)
    assert producer.flush(30) == 0


def read_topic(config: DriftlineConfig, topic: str, expected: int, timeout: float) -> list[dict]:  # type: ignore[type-arg]
    """Every record of ``topic`` as JSON, waiting up to ``timeout`` s for ``expected`` of them
    and then ~2 s more for unexpected extras."""
    from confluent_kafka import Consumer

    consumer = Consumer({"logger": kafka_logger(), "bootstrap.servers": config.kafka.bootstrap_servers,
                         "group.id": f"reader-{time.monotonic_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    found: list[dict] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < (settle or deadline):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                found.append(json.loads(message.value() or b"{}"))
            if len(found) >= expected and settle is None:
                settle = time.monotonic() + 2.0
    finally:
        consumer.close()
    return found


def retrain_request(rid: str, tasks: list[str], model: str = "shop-mtl") -> Any:
    from retrainer.cli_trigger import build_request

    request = build_request(model, tasks, request_id=rid, reason=f"test {rid}")
    return request.model_copy(update={"requested_by": "monitor"})


@contextmanager
def running_worker(config: DriftlineConfig) -> Iterator[Any]:
    """``RetrainWorker(config).run`` in a thread; stopped (running job finished) on exit."""
    from retrainer.worker import RetrainWorker

    stop = threading.Event()
    worker = RetrainWorker(config)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(180)
        assert not thread.is_alive(), "the worker did not stop"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def registry_of(config: DriftlineConfig) -> Any:
    from models import Registry

    return Registry.from_config(config.registry)


def staging_dirs(config: DriftlineConfig) -> list[Path]:
    return sorted(Path(config.registry.artifacts_dir).glob("*/.staging-*"))


def test_request_gives_one_version_and_one_update_and_a_duplicate_nothing_new(
    retrain_config: Callable[..., tuple[DriftlineConfig, Path]],
) -> None:
    config, _ = retrain_config()
    topic = config.topics.model_updates
    with running_worker(config) as worker:
        produce_requests(config, retrain_request("r-1", ["churn"]))
        (update,) = read_topic(config, topic, 1, timeout=300)
        produce_requests(config, retrain_request("r-1", ["churn"]))  # the same id again
        wait_for(lambda: worker.runs >= 2, 60, "the duplicate to be handled")
        assert len(read_topic(config, topic, 2, timeout=3)) == 1  # nothing new announced
    registry = registry_of(config)
    (version,) = registry.list_versions("shop-mtl")  # exactly one version
    assert update["status"] == "promoted" and update["version"] == "1" == str(version.version)
    assert update["request_ids"] == ["r-1"] and update["tasks"] == list(RETRAIN_TASKS)
    assert update["sha256"] == version.sha256 and update["parent_version"] is None
    assert set(update["metrics"]) == set(RETRAIN_TASKS) and update["champion_metrics"] == {}
    assert "better than a constant predictor" in update["reason"]  # first-candidate rule
    assert registry.aliases("shop-mtl") == {"champion": 1}
    manifest = json.loads((version.artifact_path / "manifest.json").read_text())
    assert manifest["retrainer"]["plan"]["mode"] == "full"
    assert manifest["retrainer"]["data"]["labels"]["churn"]["total"] == RETRAIN_ROWS
    assert Path(update["artifact_uri"].removeprefix("file://")).is_dir()
    assert [o.trained for o in worker.outcomes] == [True, False]
    assert not staging_dirs(config)
    # stored with the profile of the rows it was trained on, which the monitor takes as the
    # feature drift reference when it reads this update
    from driftline.events import ModelUpdate
    from streams.features import FeatureProfile
    from streams.stages import version_outcomes

    assert update["feature_profile_sha256"] == version.feature_profile_sha256 is not None
    profile = FeatureProfile.from_bytes(registry.feature_profile("shop-mtl", 1))
    assert profile.count == manifest["retrainer"]["data"]["train_rows"] > 0
    assert sorted(profile.kinds) == ["country", "x1", "x2"]
    assert sorted(profile.sketches["country"].counts) == ["DE", "FR"]
    drift_on = config.feature_drift.model_copy(update={"enabled": True})
    watching = config.model_copy(update={"feature_drift": drift_on})
    outcomes = version_outcomes(watching, ModelUpdate.model_validate(update), ("updates", 0, 0))
    assert [(o.task, o.features["reference"]) for o in outcomes] == [
        (task, "champion") for task in sorted(RETRAIN_TASKS)
    ]
    assert outcomes[0].features["profile"]["count"] == profile.count


def test_two_requests_in_quick_succession_train_once(
    retrain_config: Callable[..., tuple[DriftlineConfig, Path]],
) -> None:
    config, _ = retrain_config()
    with running_worker(config) as worker:
        produce_requests(
            config, retrain_request("r-a", ["churn"]), retrain_request("r-b", ["spend"])
        )
        (update,) = read_topic(config, config.topics.model_updates, 1, timeout=300)
        assert worker.runs == 1 and [o.trained for o in worker.outcomes] == [True]
    (version,) = registry_of(config).list_versions("shop-mtl")
    assert sorted(update["request_ids"]) == ["r-a", "r-b"] == version.request_ids
    plan = json.loads((version.artifact_path / "manifest.json").read_text())["retrainer"]["plan"]
    assert sorted(plan["drifted"]) == ["churn", "spend"] and plan["mode"] == "full"


def test_too_few_labels_is_rejected_with_the_reason_and_bad_records_are_dead_lettered(
    retrain_config: Callable[..., tuple[DriftlineConfig, Path]],
) -> None:
    from driftline.events import encode

    config, _ = retrain_config(min_labels=100_000)
    enveloped = retrain_request("r-env", ["spend"])
    label = {"schema": "driftline.label/1", "prediction_id": "p", "task": "churn", "label": 1,
             "event_time": "2026-01-01T00:00:00Z"}  # fmt: skip
    envelope = {"schema": "driftline.batch/1",
                "events": [json.loads(encode(enveloped)), label]}  # fmt: skip
    with running_worker(config):
        produce_requests(config, retrain_request("r-few", ["churn"]),
                         raw=[b"{not json", json.dumps(envelope).encode()])  # fmt: skip
        (update,) = read_topic(config, config.topics.model_updates, 1, timeout=120)
        letters = read_topic(config, config.topics.dead_letters, 2, timeout=30)
    assert update["status"] == "rejected" and update["version"] is None
    assert sorted(update["request_ids"]) == ["r-env", "r-few"]
    assert update["reason"].startswith("too few labels: task 'churn' has 1200 labelled rows")
    assert "needs 100000" in update["reason"]
    assert sorted(letter["reason"][:20] for letter in letters) == [
        "expected driftline.r", "not valid JSON: Expe"]  # fmt: skip
    assert {letter["stage"] for letter in letters} == {"retrainer"}
    assert [letter["source"]["index"] for letter in letters if letter["source"]["index"]] == [1]
    from models import UnknownVersionError

    with pytest.raises(UnknownVersionError):
        registry_of(config).list_versions("shop-mtl")  # nothing registered


def test_sigkill_mid_training_then_restart_gives_exactly_one_version(
    retrain_config: Callable[..., tuple[DriftlineConfig, Path]], tmp_path: Path
) -> None:
    config, path = retrain_config(epochs=12, coalesce_window=0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(log: Path) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "driftline.cli", "retrainer", "--config", str(path)]
        return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)

    first_log = tmp_path / "first.log"
    worker = start(first_log)
    try:
        produce_requests(config, retrain_request("r-kill", ["churn", "spend"]))
        wait_for(lambda: "epoch 1 " in first_log.read_text(errors="replace"), 600,
                 "the first epoch")  # fmt: skip
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert "registered" not in first_log.read_text(errors="replace")
    assert read_topic(config, config.topics.model_updates, 1, timeout=2) == []

    second_log = tmp_path / "second.log"
    worker = start(second_log)
    try:
        (update,) = read_topic(config, config.topics.model_updates, 1, timeout=300)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(120)
    assert worker.returncode == 0, second_log.read_text()[-3000:]
    (version,) = registry_of(config).list_versions("shop-mtl")
    assert update["request_ids"] == ["r-kill"] == version.request_ids
    assert update["version"] == str(version.version)
    assert not staging_dirs(config)
    assert sorted(p.name for p in (Path(config.registry.artifacts_dir) / "shop-mtl").iterdir()) == [
        f"v{version.version}"]  # fmt: skip


def test_single_drifted_task_is_fine_tuned_head_only_and_promoted_over_the_champion(
    retrain_config: Callable[..., tuple[DriftlineConfig, Path]],
) -> None:
    """A champion whose churn head learnt the inverted concept (the drift) is beaten on churn by
    a head-only fine-tune; its other heads are kept bit for bit."""
    from featurestore import label_column, training_set
    from models import TrainConfig, feature_schema_from_config, task_specs_from_config, train

    config, _ = retrain_config(epochs=8)
    now = datetime.now(UTC)
    frame = training_set(config, list(RETRAIN_TASKS), now - timedelta(days=7), now)
    frame = frame.rename(columns={label_column(t): t for t in RETRAIN_TASKS})
    frame["churn"] = 1.0 - frame["churn"]  # the world the champion learnt
    settings = TrainConfig.from_retrainer_config(config.retrainer)
    old = train(frame, task_specs_from_config(config), feature_schema_from_config(config), settings)
    registry = registry_of(config)
    champion = registry.register("shop-mtl", old.model, alias="champion")
    with running_worker(config):
        produce_requests(config, retrain_request("r-drift", ["churn"]))
        (update,) = read_topic(config, config.topics.model_updates, 1, timeout=300)
    assert update["status"] == "promoted", update["reason"]
    assert update["parent_version"] == str(champion.version) and update["version"] == "2"
    assert (
        update["metrics"]["churn"]["roc_auc"] > 0.8 > update["champion_metrics"]["churn"]["roc_auc"]
    )
    new = registry.get_version("shop-mtl", 2)
    assert registry.aliases("shop-mtl") == {"champion": 2}
    assert new.trunk_hash == champion.trunk_hash  # trunk frozen
    assert new.head_hashes["spend"] == champion.head_hashes["spend"]
    assert new.head_hashes["churn"] != champion.head_hashes["churn"]
    report = json.loads((new.artifact_path / "manifest.json").read_text())["retrainer"]
    assert report["plan"]["mode"] == "head_only" and report["plan"]["parent_version"] == 1
    assert report["gate"]["tasks"]["churn"]["rule"] == "improve"
    assert report["gate"]["tasks"]["spend"]["rule"] == "unchanged"
