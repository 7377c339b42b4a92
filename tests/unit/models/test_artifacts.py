"""Artifacts: exact round trip, tamper detection, no pickle anywhere in models/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from models import ArtifactIntegrityError, TrainConfig, load_artifact, save_artifact, train
from models.artifacts import MANIFEST_FILE, WEIGHTS_FILE


@pytest.fixture
def trained(frame_factory, tasks, schema):
    frame = frame_factory(300)
    result = train(frame, tasks, schema, TrainConfig(epochs=2, batch_size=128, device="cpu"))
    return result, frame


def test_round_trip_predicts_identically_and_manifest_is_complete(trained, tmp_path):
    result, frame = trained
    manifest = save_artifact(
        result.model,
        tmp_path,
        result=result,
        metrics={"churn": {"roc_auc": 0.9}},
        training_window=("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z"),
        request_ids=["req-1"],
        alert_ids=["alert-1"],
    )
    loaded = load_artifact(tmp_path)
    before, after = result.model.predict(frame), loaded.model.predict(frame)
    assert all(np.array_equal(before[t], after[t]) for t in before)
    for key in (
        "sha256",
        "trunk_hash",
        "head_hashes",
        "tasks",
        "feature_schema",
        "preprocessing",
        "architecture",
        "architecture_params",
        "hyperparameters",
        "loss_balancing",
        "training_window",
        "row_counts",
        "trigger",
        "metrics",
    ):
        assert manifest[key], key
    assert set(manifest["head_hashes"]) == {"churn", "spend", "segment"}
    assert manifest["trigger"] == {"request_ids": ["req-1"], "alert_ids": ["alert-1"]}
    assert manifest["preprocessing"]["vocabularies"]["country"] == ["DE", "ES", "FR", "IT"]


def test_tampered_weights_are_refused(trained, tmp_path):
    save_artifact(trained[0].model, tmp_path)
    data = bytearray((tmp_path / WEIGHTS_FILE).read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"sha256 .* does not match the manifest"):
        load_artifact(tmp_path)


def test_manifest_edits_and_registry_mismatch_are_refused(trained, tmp_path):
    save_artifact(trained[0].model, tmp_path)
    with pytest.raises(ArtifactIntegrityError, match="registry"):
        load_artifact(tmp_path, expected_sha256="0" * 64)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["head_hashes"]["churn"] = "f" * 64
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError, match="head 'churn'"):
        load_artifact(tmp_path)


def test_no_pickle_in_models_package():
    root = Path(__file__).resolve().parents[3] / "models"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(import pickle|from pickle|import dill|import joblib)", text, re.M):
            offenders.append(str(path))
        for call in re.findall(r"torch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in call:
                offenders.append(f"{path}: torch.load({call})")
    assert not offenders
