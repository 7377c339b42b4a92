"""A trained version is stored with the feature profile of the rows it was trained on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.config import parse_config
from driftline.events import RetrainRequest
from models import Registry
from retrainer import job as job_module
from retrainer.data import TrainingData, split_holdout
from retrainer.job import RetrainJob
from retrainer.planner import PendingRetrain
from streams.features import FeatureProfile
from streams.stages import version_outcomes


def test_the_retrainer_stores_the_training_rows_profile_and_the_monitor_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config(
        "model: shop\nfeatures: [{name: x}, {name: country, dtype: string}]\n"
        "feature_drift: {enabled: true}\n"
        "tasks: {churn: {type: binary, features: [{name: tenure, dtype: int}]}}\n"
        "retrainer: {epochs: 1, min_labels: 10, bootstrap_resamples: 50, device: cpu,"
        " architecture: shared_bottom}\n"
        f"registry: {{url: 'sqlite:///{tmp_path}/r.db', artifacts_dir: '{tmp_path}/art'}}\n"
    )
    rng = np.random.default_rng(0)
    now = datetime(2026, 1, 8, tzinfo=UTC)
    n = 400
    frame = pd.DataFrame({
        "event_timestamp": [now - timedelta(hours=n - i) for i in range(n)],
        "x": np.where(np.arange(n) % 10 == 0, np.nan, rng.normal(5.0, 1.0, n)),
        "country": rng.choice(["DE", "FR"], n).astype(object),
        "tenure": rng.integers(0, 50, n),
        "churn": rng.integers(0, 2, n).astype(float),
    })  # fmt: skip
    train, holdout = split_holdout(frame, 0.2)
    seen = {}

    def load(config, plan, repo=None):  # type: ignore[no-untyped-def]
        seen["train"] = train
        return TrainingData(train, holdout, {"rows": n, "labels": {}})

    monkeypatch.setattr(job_module, "load_training_data", load)
    registry = Registry.from_config(config.registry)
    request = RetrainRequest.model_validate(
        {"schema": RetrainRequest.SCHEMA, "request_id": "r1", "model": "shop", "tasks": ["churn"],
         "event_time": now}
    )  # fmt: skip
    pending = PendingRetrain("shop")
    pending.add(request, ("retrain-requests", 0, 0))
    (outcome,) = RetrainJob(config, registry).run(pending, now)
    assert outcome.trained
    version = int(outcome.update.version or 0)
    info = registry.get_version("shop", version)
    stored = registry.feature_profile("shop", version)  # verified against the recorded sha256
    assert stored is not None and info.feature_profile_sha256
    assert outcome.update.feature_profile_sha256 == info.feature_profile_sha256
    profile = FeatureProfile.from_bytes(stored)
    assert profile.count == len(seen["train"]) == 320  # the train part, not the holdout
    x = profile.sketches["x"]
    assert x.missing == int(train["x"].isna().sum()) and abs(x.quantile(0.5) - 5.0) < 0.3
    assert profile.kinds == {"x": "numeric", "country": "categorical", "tenure": "numeric"}
    assert sum(profile.sketches["country"].counts.values()) == 320
    # the monitor, told of this version, uses it as each task's reference
    promoted = outcome.update.model_copy(update={"status": "promoted"})
    (version_outcome,) = version_outcomes(config, promoted, ("model-updates", 0, 0))
    assert version_outcome.features is not None
    assert version_outcome.features["reference"] == "champion"
    assert version_outcome.features["profile"]["count"] == 320
    registry.close()
