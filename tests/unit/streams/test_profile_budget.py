"""Feature profile sizes: the per-feature figures the warnings use hold for real sketches, and a
config whose profiles cannot be sent (or fill the task's state budget) is warned of with its
line."""

from __future__ import annotations

import random

from driftline.config import parse_config
from streams.features.feature_profiles import FeatureProfiles
from streams.features.profile_budget import (
    CATEGORICAL_BYTES,
    LONG_CATEGORICAL_BYTES,
    NUMERIC_BYTES,
    profile_bytes,
    profile_problems,
)
from streams.outcome import encode_outcomes
from streams.state_budget import check_state_budget


def _features(numeric: int, categorical: int) -> str:
    specs = [f"{{name: n{i}}}" for i in range(numeric)]
    return ", ".join(specs + [f"{{name: c{i}, dtype: string}}" for i in range(categorical)])


def _outcome_bytes(numeric: int, categorical: int, values: int, suffix: str = "") -> int:
    """The envelope bytes of one closed window's profile outcome."""
    config = parse_config(
        f"model: m\nfeatures: [{_features(numeric, categorical)}]\n"
        "feature_drift: {enabled: true, window: 1000, lateness: 0}\n"
        "tasks:\n  a: {type: binary}\n"
    )
    profiles, rng = FeatureProfiles(config, partition=0), random.Random(1)
    for i in range(values):
        features: dict[str, object] = {f"n{j}": rng.gauss(0, 1) for j in range(numeric)}
        features |= {f"c{j}": f"v{rng.randrange(5000)}{suffix}" for j in range(categorical)}
        profiles.observe("m", "1", i * 1000 / values, features, (i, 0))
    (closed,) = profiles.observe("m", "1", 1000.0, {}, (values, 0))
    return len(encode_outcomes([closed.to_wire()], {}, {}, {}, [], set()))


def test_the_per_feature_figures_hold_for_real_sketches() -> None:
    numeric = _outcome_bytes(2, 0, 100_000)
    assert 0.8 * profile_bytes(2, 0) < numeric <= profile_bytes(2, 0)
    assert _outcome_bytes(0, 2, 20_000) <= profile_bytes(0, 2) < 2.2 * CATEGORICAL_BYTES
    assert _outcome_bytes(0, 1, 20_000, "x" * 70) <= LONG_CATEGORICAL_BYTES + 600
    assert NUMERIC_BYTES < CATEGORICAL_BYTES < LONG_CATEGORICAL_BYTES


def test_a_view_whose_profile_cannot_be_sent_is_warned_of_with_its_line() -> None:
    text = (
        f"model: m\nfeatures: [{_features(250, 10)}]\n"
        "feature_drift:\n  enabled: true\ntasks:\n  churn: {type: binary}\n"
        "  spend: {type: regression}\n"
    )
    (churn, spend) = check_state_budget(parse_config(text), text, "d.yaml")
    assert churn.startswith("d.yaml:4: feature_drift.enabled: warning: task 'churn' compares")
    assert "260 features (250 numeric, 10 categorical)" in churn
    assert "dead-lettered" in churn and "at most 234 numeric features fit beside its 10" in churn
    assert "task 'spend'" in spend


def test_a_view_that_fits_a_record_but_not_the_budget_is_warned_of() -> None:
    config = parse_config(
        f"model: m\nkafka: {{partitions: 8}}\nfeatures: [{_features(40, 0)}]\n"
        "feature_drift: {enabled: true}\ntasks:\n  churn: {type: binary}\n"
    )
    ((where, message),) = profile_problems(config)
    assert where == ("feature_drift", "enabled") and "8 input partitions" in message
    wider = config.model_copy(
        update={"monitor": config.monitor.model_copy(update={"task_state_bytes": 2_000_000})}
    )
    assert profile_problems(wider) == []


def test_no_warning_without_feature_drift_or_with_few_features() -> None:
    def config(features: int, enabled: bool) -> str:
        return (
            f"model: m\nfeatures: [{_features(features, 0)}]\ntasks:\n  churn: {{type: binary}}\n"
            f"feature_drift: {{enabled: {str(enabled).lower()}}}\n"
        )

    assert profile_problems(parse_config(config(300, enabled=False))) == []
    assert profile_problems(parse_config(config(3, enabled=True))) == []
    assert len(profile_problems(parse_config(config(300, enabled=True)))) == 1
