"""Seeded synthetic multi-task data for the model tests (small: trains in about a second)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from models import FeatureSchema, TaskSpec

TASKS = [
    TaskSpec("churn", "binary"),
    TaskSpec("spend", "regression"),
    TaskSpec("segment", "multiclass", classes=("low", "mid", "high")),
]
SCHEMA = FeatureSchema.of(numeric=["x0", "x1", "x2", "x3"], categorical=["country"])


def make_frame(n: int = 1200, seed: int = 0, missing: float = 0.3) -> pd.DataFrame:
    """Three related tasks over four numeric features and one categorical; ``missing`` labels NaN."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    country = rng.choice(["DE", "FR", "IT", "ES"], size=n)
    effect = pd.Series(country).map({"DE": 1.0, "FR": -1.0, "IT": 0.5, "ES": -0.5}).to_numpy()
    score = x[:, 0] + x[:, 1] + effect
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2", "x3"])
    frame["country"] = country
    frame["churn"] = (score + 0.3 * rng.normal(size=n) > 0).astype(float)
    frame["spend"] = 3.0 * x[:, 0] - 2.0 * x[:, 2] + effect + 0.1 * rng.normal(size=n) + 50.0
    frame["segment"] = np.array(["low", "mid", "high"], dtype=object)[
        np.digitize(x[:, 0] - x[:, 2] + effect, [-1.0, 1.0])
    ]
    for column in ("churn", "spend", "segment"):
        frame.loc[rng.random(n) < missing, column] = np.nan
    return frame


@pytest.fixture
def frame_factory() -> Callable[..., pd.DataFrame]:
    """``frame_factory(n=1200, seed=0, missing=0.3)``."""
    return make_frame


@pytest.fixture
def tasks() -> list[TaskSpec]:
    return list(TASKS)


@pytest.fixture
def schema() -> FeatureSchema:
    return SCHEMA
