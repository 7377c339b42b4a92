"""Metrics, single-task baselines, Δp and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from models import (
    METRICS,
    TaskSpec,
    TrainConfig,
    delta_p,
    evaluate,
    paired_bootstrap,
    task_metrics,
    train,
    train_baselines,
)
from models.metrics import binary_metrics


def test_metric_names_match_the_monitor():
    from driftline.config.models import _DEFAULT_METRICS

    assert {k: list(v) for k, v in METRICS.items()} == _DEFAULT_METRICS


def test_binary_metrics_against_hand_computation():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    m = binary_metrics(y, p)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9, 0.8])))


def test_baselines_and_delta_p(frame_factory, tasks, schema):
    frame, holdout = frame_factory(600), frame_factory(300, seed=1, missing=0.0)
    config = TrainConfig(epochs=6, batch_size=128, learning_rate=5e-3, device="cpu")
    mtl = evaluate(train(frame, tasks, schema, config).model, holdout)
    baselines = train_baselines(frame, tasks, schema, config)
    assert sorted(baselines) == ["churn", "segment", "spend"]
    assert all(r.model.task_names == [name] for name, r in baselines.items())
    base = {name: evaluate(r.model, holdout)[name] for name, r in baselines.items()}
    value = delta_p(mtl, base, tasks)
    assert np.isfinite(value)
    assert delta_p(base, base, tasks) == 0.0


def test_paired_bootstrap_separates_a_real_difference_from_none():
    rng = np.random.default_rng(0)
    spec = TaskSpec("t", "regression")
    y = rng.normal(size=500)
    good, bad = y + 0.1 * rng.normal(size=500), y + 1.0 * rng.normal(size=500)
    better = paired_bootstrap(spec, "mae", y, good, bad, n_resamples=300)
    assert better.high < 0 and better.prob_a_better == 1.0  # lower MAE: a clearly better
    same = paired_bootstrap(spec, "mae", y, good, good, n_resamples=100)
    assert same.low == same.high == 0.0
    with pytest.raises(ValueError, match="not a metric"):
        paired_bootstrap(spec, "roc_auc", y, good, bad)


def test_ranking_bootstrap_resamples_whole_groups():
    spec = TaskSpec("r", "ranking", ranking_k=3)
    group = np.repeat(np.arange(40), 5)
    y = np.tile([2.0, 1.0, 0.0, 0.0, 0.0], 40)
    perfect, reversed_ = np.tile([5.0, 4, 3, 2, 1], 40), np.tile([1.0, 2, 3, 4, 5], 40)
    result = paired_bootstrap(spec, "ndcg", y, perfect, reversed_, group=group, n_resamples=50)
    assert result.low > 0
    assert task_metrics(spec, y, perfect, group)["ndcg"] == pytest.approx(1.0)
