"""One embedded Feast store per test session (``apply`` is slow), plus helpers to fill it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftline.config import DriftlineConfig, parse_config

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""A fixed prediction time the tests build around."""

CONFIG_YAML = """
model: shop-mtl
state_dir: {root}
feature_ttl: 1d
features:
  - {{name: tenure, dtype: float}}
  - {{name: country, dtype: string}}
  - {{name: sessions, dtype: int}}
tasks:
  churn: {{type: binary}}
  spend:
    type: regression
    features: [{{name: avg_order_value, dtype: float}}]
  category:
    type: multiclass
    classes: [books, home]
    features: [{{name: last_category, dtype: string}}]
feature_store: {{type: embedded, path: {root}/feast}}
"""


def make_config(root: Path) -> DriftlineConfig:
    """The test config with every store under ``root``."""
    return parse_config(CONFIG_YAML.format(root=root))


def outcome(oid: str, task: str, pid: str, entity: str, at: datetime, label: Any) -> dict[str, Any]:
    """A labelled outcome as the monitor hands it to the sink."""
    return {
        "outcome_id": oid, "task": task, "prediction_id": pid, "entity_id": entity,
        "event_time": at.isoformat(), "label": label, "model_version": "3",
    }  # fmt: skip


@pytest.fixture(scope="session")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DriftlineConfig, Any]]:
    """``(config, FeatureRepo)`` on an applied embedded store shared by the session."""
    from featurestore.repo import FeatureRepo

    config = make_config(tmp_path_factory.mktemp("feast"))
    repo = FeatureRepo(config)
    repo.apply()
    yield config, repo


def hours(n: float) -> timedelta:
    """``n`` hours."""
    return timedelta(hours=n)
