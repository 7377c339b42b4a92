"""The registry on a real PostgreSQL server: migrations, password from the environment,
two processes registering at once, rollback, idempotency."""

from __future__ import annotations

import multiprocessing
import uuid

import pandas as pd
import pytest

from models import DuplicateRequestError, FeatureSchema, Registry, TaskSpec, build_model

pytestmark = pytest.mark.servers

PASSWORD_ENV = "DRIFTLINE_TEST_REGISTRY_PASSWORD"


@pytest.fixture
def model():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 1.0]})
    return build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)


@pytest.fixture
def registry_url(postgres_server, monkeypatch):
    """A fresh database; the URL has no password — it comes from the environment."""
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    return postgres_server.sqlalchemy_url(f"reg_{uuid.uuid4().hex[:10]}", with_password=False)


def test_register_promote_rollback_on_postgres(registry_url, tmp_path, model):
    registry = Registry(registry_url, tmp_path, password_env=PASSWORD_ENV)
    assert registry.engine.dialect.name == "postgresql"
    registry.register("shop", model, alias="champion", request_ids=["r1"])
    registry.register(
        "shop", model, parent_version=1, request_ids=["r2"], metrics={"y": {"roc_auc": 0.75}}
    )
    registry.promote("shop", 2)
    assert registry.rollback("shop").to_version == 1
    assert registry.aliases("shop") == {"champion": 1}
    assert registry.version_for_request("shop", "r2") == 2
    with pytest.raises(DuplicateRequestError):
        registry.register("shop", model, request_ids=["r2"])
    assert registry.get_version("shop", 2).metrics == {"y": {"roc_auc": 0.75}}
    assert registry.load("shop", 2).model.task_names == ["y"]
    registry.close()


def test_a_version_keeps_its_feature_profile_on_postgres(registry_url, tmp_path, model):
    """Migration 0002 on PostgreSQL: the profile's sha256 is a column of the version's row, and
    the profile comes back verified; a version without one reads as ``None``."""
    profile = b'{"schema": "driftline.feature-profile/1", "features": {}}'
    registry = Registry(registry_url, tmp_path, password_env=PASSWORD_ENV)
    registry.register("shop", model, alias="champion", feature_profile=profile)
    registry.register("shop", model, parent_version=1)
    assert registry.feature_profile("shop", 1) == profile
    assert registry.get_version("shop", 1).feature_profile_sha256 is not None
    assert registry.feature_profile("shop", 2) is None
    registry.close()


def test_wrong_password_is_refused_without_showing_it(registry_url, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    registry = Registry(registry_url, tmp_path, password_env=PASSWORD_ENV)
    with pytest.raises(Exception, match="password authentication failed") as error:
        registry.list_models()
    assert "not-the-password" not in str(error.value)


def _register_many(url: str, artifacts: str, worker: int, barrier, model) -> None:
    registry = Registry(url, artifacts, password_env=PASSWORD_ENV)
    barrier.wait()  # both processes open (and migrate) the fresh database at the same moment
    for k in range(5):
        registry.register("shop", model, request_ids=[f"w{worker}-{k}"])
    registry.close()


def test_two_processes_registering_at_once(registry_url, tmp_path, model):
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [
        context.Process(
            target=_register_many, args=(registry_url, str(tmp_path), i, barrier, model)
        )
        for i in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    registry = Registry(registry_url, tmp_path, password_env=PASSWORD_ENV)
    versions = registry.list_versions("shop")
    assert [v.version for v in versions] == list(range(1, 11))
    assert len({r for v in versions for r in v.request_ids}) == 10
    assert all(v.artifact_path.is_dir() for v in versions)
    registry.close()
