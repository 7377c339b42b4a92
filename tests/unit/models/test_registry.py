"""Registry: versions, aliases, rollback, idempotency, crash safety, two concurrent processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from models import (
    DuplicateRequestError,
    FeatureSchema,
    Registry,
    RegistryError,
    TaskSpec,
    UnknownVersionError,
    build_model,
)
from models.registry import connect, safe_url


@pytest.fixture
def model():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 1.0]})
    return build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)


@pytest.fixture
def registry(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path}/registry.db", tmp_path / "artifacts")
    yield registry
    registry.close()


def test_register_promote_rollback_and_history(registry, model):
    v1 = registry.register("shop", model, alias="champion", metrics={"y": {"roc_auc": 0.7}})
    v2 = registry.register("shop", model, parent_version=1, request_ids=["r2"], alert_ids=["a2"])
    assert (v1.version, v2.version) == (1, 2)
    assert registry.aliases("shop") == {"candidate": 2, "champion": 1}
    assert v2.parent_version == 1 and v2.request_ids == ["r2"] and v2.alert_ids == ["a2"]
    assert registry.get_version("shop", 1).metrics == {"y": {"roc_auc": 0.7}}
    registry.promote("shop", 2)
    assert registry.aliases("shop") == {"champion": 2}
    assert registry.get_version("shop", 1).status == "archived"
    registry.register("shop", model, alias="champion")
    result = registry.rollback("shop", reason="bad clicks")
    assert (result.from_version, result.to_version) == (3, 2)
    assert registry.aliases("shop")["champion"] == 2
    assert registry.get_version("shop", 3).status == "rolled_back"
    assert registry.rollback("shop").to_version == 1  # walks further back
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback("shop")
    events = [(e.event, e.version) for e in registry.history("shop")]
    assert ("rolled_back", 2) in events and events[-1] == ("rolled_back", 1)
    assert registry.load("shop", "champion").manifest["sha256"] == v1.sha256


def test_request_ids_are_idempotent(registry, model):
    registry.register("shop", model, request_ids=["req-7"])
    assert registry.version_for_request("shop", "req-7") == 1
    assert registry.version_for_request("shop", "req-8") is None
    with pytest.raises(DuplicateRequestError) as error:
        registry.register("shop", model, request_ids=["req-7"])
    assert error.value.version == 1
    assert [v.version for v in registry.list_versions("shop")] == [1]


def test_unknown_names_are_clear_errors(registry, model):
    with pytest.raises(UnknownVersionError, match="'nope' is not in the registry"):
        registry.list_versions("nope")
    registry.register("shop", model, alias=None)
    with pytest.raises(UnknownVersionError, match="no 'champion' alias"):
        registry.get_version("shop", "champion")


def test_crash_before_commit_leaves_no_version(registry, model, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Registry, "_insert_version", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.register("shop", model)
    monkeypatch.undo()
    assert registry.list_models() == []
    staging = list((registry.artifacts_dir / "shop").glob(".staging-*"))
    assert len(staging) == 1
    assert registry.cleanup_orphans(min_age_s=3600) == []  # too young: may be in flight
    assert registry.cleanup_orphans(min_age_s=0) == staging
    assert not staging[0].exists()


def test_crash_after_commit_is_finished_by_load_and_cleanup(registry, model, monkeypatch):
    def crash(self, final, staging):
        raise KeyboardInterrupt("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(Registry, "_finish_rename", crash)
        with pytest.raises(KeyboardInterrupt):
            registry.register("shop", model)
    info = registry.get_version("shop", 1)  # committed: the version exists ...
    assert not info.artifact_path.exists()  # ... its directory is still at the staging name
    assert registry.load("shop", 1).manifest["sha256"] == info.sha256
    assert info.artifact_path.exists()
    assert registry.cleanup_orphans(min_age_s=0) == []


def _register_many(url: str, artifacts: str, worker: int, barrier, model) -> None:
    registry = Registry(url, artifacts)
    barrier.wait()
    for k in range(4):
        registry.register("shop", model, request_ids=[f"w{worker}-{k}"])
    registry.close()


def test_two_processes_registering_at_once_get_distinct_versions(tmp_path, model):
    url, artifacts = f"sqlite:///{tmp_path}/registry.db", str(tmp_path / "artifacts")
    Registry(url, artifacts).close()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_register_many, args=(url, artifacts, i, barrier, model))
        for i in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    registry = Registry(url, artifacts)
    versions = registry.list_versions("shop")
    assert [v.version for v in versions] == list(range(1, 9))
    assert sorted(r for v in versions for r in v.request_ids) == sorted(
        f"w{i}-{k}" for i in range(2) for k in range(4)
    )
    assert all(v.artifact_path.is_dir() for v in versions)
    assert not list(Path(artifacts, "shop").glob(".staging-*"))


def test_password_comes_from_the_environment_and_is_never_shown(monkeypatch):
    monkeypatch.setenv("REG_PW", "s3cret!")
    engine = connect("postgresql+psycopg://app@db.example:5432/registry", "REG_PW")
    assert engine.url.password == "s3cret!"
    assert "s3cret" not in safe_url(engine.url) and "s3cret" not in repr(engine)
    engine.dispose()


def test_a_feature_profile_is_stored_with_its_sha256_and_read_back_verified(registry, model):
    import hashlib
    import json

    from models import ArtifactIntegrityError
    from models.registry import model_update

    profile = b'{"format":"driftline.feature-profile/1","count":0,"features":{}}'
    sha = hashlib.sha256(profile).hexdigest()
    info = registry.register("shop", model, alias="champion", feature_profile=profile)
    assert info.feature_profile_sha256 == sha
    assert info.feature_profile_path == info.artifact_path / "feature_profile.json"
    manifest = json.loads((info.artifact_path / "manifest.json").read_text())
    assert manifest["feature_profile"] == {"file": "feature_profile.json", "sha256": sha,
                                           "bytes": len(profile)}  # fmt: skip
    assert registry.feature_profile("shop", "champion") == profile
    update = model_update(info, "promoted")
    assert update["feature_profile_sha256"] == sha
    assert update["feature_profile_uri"] == info.feature_profile_path.resolve().as_uri()
    # a version without one: none, and its update announces none
    bare = registry.register("shop", model)
    assert registry.feature_profile("shop", bare.version) is None
    assert model_update(bare, "candidate")["feature_profile_uri"] is None
    # a modified or lost file is refused
    info.feature_profile_path.write_bytes(profile.replace(b"0", b"1"))
    with pytest.raises(ArtifactIntegrityError, match="does not match the registry"):
        registry.feature_profile("shop", 1)
    info.feature_profile_path.unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        registry.feature_profile("shop", 1)


def test_a_registry_of_the_first_schema_is_migrated(tmp_path, model):
    from alembic import command
    from alembic.config import Config

    from models.registry.engine import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path}/old.db"
    engine = connect(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    registry = Registry(url, tmp_path / "artifacts")
    try:
        assert registry.register("shop", model, feature_profile=b"{}").feature_profile_sha256
    finally:
        registry.close()
