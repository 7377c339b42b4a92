"""``driftline retrain`` produces a CLI request; ``driftline models rollback`` publishes
``rolled_back`` (real broker, real sqlite registry; no training)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner

from driftline.cli.main import cli
from driftline.config import DriftlineConfig
from driftline.kafka_logs import kafka_logger
from driftline.topics import create_topics

TASKS = {"churn": {"type": "binary"}}


def _config(make_config: Callable[..., tuple[DriftlineConfig, Path]], tmp_path: Path) -> Any:
    config, path = make_config(
        partitions=1,
        tasks=TASKS,
        features=[{"name": "x"}],
        registry={"url": f"sqlite:///{tmp_path}/r.db", "artifacts_dir": str(tmp_path / "art")},
    )
    create_topics(config)
    return config, path


def _read(config: DriftlineConfig, topic: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "logger": kafka_logger(),
            "bootstrap.servers": config.kafka.bootstrap_servers,
            "group.id": f"cli-reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            found.append(json.loads(message.value() or b"{}"))
    consumer.close()
    return found


def test_retrain_command_produces_a_cli_request(make_config: Any, tmp_path: Path) -> None:
    config, path = _config(make_config, tmp_path)
    result = CliRunner().invoke(
        cli, ["retrain", "--tasks", "churn", "--request-id", "by-hand-1", "--config", str(path)]
    )
    assert result.exit_code == 0, result.output
    (request,) = _read(config, config.topics.retrain_requests)
    assert request["schema"] == "driftline.retrain-request/1"
    assert (request["request_id"], request["requested_by"]) == ("by-hand-1", "cli")
    assert (request["model"], request["tasks"]) == ("shop-mtl", ["churn"])
    bad = CliRunner().invoke(cli, ["retrain", "--tasks", "nope", "--config", str(path)])
    assert bad.exit_code == 2 and "unknown task 'nope'" in bad.output


def test_models_rollback_publishes_rolled_back(make_config: Any, tmp_path: Path) -> None:
    from models import FeatureSchema, Registry, TaskSpec, build_model

    config, path = _config(make_config, tmp_path)
    registry = Registry.from_config(config.registry)
    frame = pd.DataFrame({"x": [0.0, 1.0], "churn": [0.0, 1.0]})
    for _ in range(2):
        model = build_model([TaskSpec("churn", "binary")], FeatureSchema.of(numeric=["x"]), frame)
        registry.register("shop-mtl", model, alias="champion")
    result = CliRunner().invoke(cli, ["models", "rollback", "--config", str(path)])
    assert result.exit_code == 0, result.output
    (update,) = _read(config, config.topics.model_updates)
    assert update["status"] == "rolled_back"
    assert (update["version"], update["parent_version"]) == ("1", "2")
    assert update["sha256"] == registry.get_version("shop-mtl", 1).sha256


def test_retrainer_prepares_a_fresh_state_dir_or_says_what_is_missing(
    make_config: Any, tmp_path: Path
) -> None:
    import pytest

    from driftline.errors import DriftlineError
    from featurestore import FeatureRepo
    from retrainer.cli import prepare

    config, _ = make_config(partitions=1, tasks=TASKS, features=[{"name": "x"}],
                            feature_store={"type": "embedded", "path": str(tmp_path / "feast")})  # fmt: skip
    with pytest.raises(DriftlineError, match=r"retrain-requests-\w+.*driftline topics create"):
        prepare(config)  # no topics yet: one line saying which command to run
    create_topics(config)
    assert FeatureRepo(config).missing()  # nothing applied in the fresh state dir
    prepare(config)
    repo = FeatureRepo(config)
    assert repo.missing() == []
    repo.close()
