"""``driftline models list|show|promote|rollback`` against a sqlite registry."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from driftline.events import ModelUpdate
from models import FeatureSchema, Registry, TaskSpec, build_model
from models.cli import models as models_cli
from models.cli import rollback_update


@pytest.fixture
def setup(tmp_path):
    config = tmp_path / "driftline.yaml"
    config.write_text(
        "model: shop\ntasks:\n  y:\n    type: binary\nregistry:\n"
        f"  url: sqlite:///{tmp_path}/registry.db\n  artifacts_dir: {tmp_path}/artifacts\n"
    )
    registry = Registry(f"sqlite:///{tmp_path}/registry.db", tmp_path / "artifacts")
    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    model = build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    registry.register("shop", model, alias="champion", metrics={"y": {"roc_auc": 0.81}})
    registry.register("shop", model, parent_version=1, request_ids=["req-2"])
    yield str(config), registry
    registry.close()


def test_list_show_promote_rollback(setup, monkeypatch):
    config, registry = setup
    published = []  # the Kafka side (retrainer.publisher) is tested by the retrainer's tests
    monkeypatch.setattr("models.cli.publish_update", lambda update, path: published.append(update))
    runner = CliRunner()
    listed = runner.invoke(models_cli, ["list", "--config", config])
    assert listed.exit_code == 0, listed.output
    assert "champion" in listed.output and "candidate" in listed.output
    shown = runner.invoke(models_cli, ["show", "1", "--config", config])
    assert shown.exit_code == 0 and "0.8100" in shown.output and "roc_auc" in shown.output
    promoted = runner.invoke(models_cli, ["promote", "2", "--config", config])
    assert promoted.exit_code == 0 and "champion → v2" in promoted.output
    assert registry.aliases("shop")["champion"] == 2
    rolled = runner.invoke(models_cli, ["rollback", "--config", config, "--reason", "test"])
    assert rolled.exit_code == 0, rolled.output
    assert registry.aliases("shop")["champion"] == 1
    assert registry.history("shop")[-1].event == "rolled_back"
    statuses = [ModelUpdate.model_validate(u).status for u in published]
    assert statuses == ["promoted", "rolled_back"]


def test_rollback_returns_a_valid_model_update(setup):
    _, registry = setup
    registry.promote("shop", 2)
    update = rollback_update(registry, "shop", "regressed")
    event = ModelUpdate.model_validate(update)
    assert (event.status, event.version, event.parent_version) == ("rolled_back", "1", "2")
    assert event.metrics == {"y": {"roc_auc": 0.81}}
