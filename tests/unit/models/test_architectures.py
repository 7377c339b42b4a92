"""Each architecture (and each loss balancer) learns a seeded synthetic multi-task problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import FeatureSchema, TaskSpec, TrainConfig, evaluate, train


@pytest.mark.parametrize("architecture", ["shared_bottom", "mmoe", "ple"])
def test_architecture_learns_three_task_types(architecture, frame_factory, tasks, schema):
    frame, holdout = frame_factory(1500, seed=0), frame_factory(600, seed=1, missing=0.0)
    config = TrainConfig(
        architecture=architecture,
        epochs=25,
        batch_size=128,
        learning_rate=5e-3,
        device="cpu",
        loss_balancing="equal",
    )
    result = train(frame, tasks, schema, config)
    metrics = evaluate(result.model, holdout)
    assert metrics["churn"]["roc_auc"] > 0.9, metrics
    assert metrics["spend"]["r2"] > 0.8, metrics
    assert metrics["segment"]["accuracy"] > 0.75, metrics
    untrained = evaluate(
        train(
            frame,
            tasks,
            schema,
            TrainConfig(architecture=architecture, epochs=1, learning_rate=1e-9, device="cpu"),
        ).model,
        holdout,
    )
    assert untrained["spend"]["r2"] < 0.5  # the learning above is the training's doing


@pytest.mark.parametrize("balancing", ["uncertainty", "gradnorm", "pcgrad"])
def test_loss_balancers_learn(balancing, frame_factory, tasks, schema):
    frame, holdout = frame_factory(1000, seed=2), frame_factory(500, seed=3, missing=0.0)
    config = TrainConfig(
        architecture="mmoe",
        loss_balancing=balancing,
        epochs=15,
        batch_size=128,
        learning_rate=5e-3,
        device="cpu",
    )
    result = train(frame, tasks, schema, config)
    metrics = evaluate(result.model, holdout)
    assert metrics["churn"]["roc_auc"] > 0.85
    assert metrics["spend"]["r2"] > 0.6
    weights = [e.loss_weights for e in result.history]
    if balancing != "pcgrad":
        assert weights[0] != weights[-1]  # the balancer actually adapted the weights
    assert result.loss_balancing_state()["method"] == balancing


@pytest.mark.parametrize("ranking_loss", ["pairwise", "listwise"])
def test_ranking_head_learns_to_order_within_groups(ranking_loss):
    rng = np.random.default_rng(0)
    n_groups, per_group = 150, 8
    x = rng.normal(size=(n_groups * per_group, 3))
    relevance = np.clip(np.round(x[:, 0] + 0.5 * x[:, 1] + 1), 0, 3)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["group"] = np.repeat(np.arange(n_groups), per_group)
    frame["rel"] = relevance
    frame["click"] = (relevance > 1).astype(float)
    tasks = [
        TaskSpec("rel", "ranking", ranking_k=5, ranking_loss=ranking_loss),
        TaskSpec("click", "binary"),
    ]
    schema = FeatureSchema.of(numeric=["a", "b", "c"])
    train_part, test_part = frame[frame.group < 120], frame[frame.group >= 120]
    config = TrainConfig(
        architecture="mmoe",
        epochs=15,
        batch_size=64,
        learning_rate=5e-3,
        device="cpu",
        loss_balancing="equal",
    )
    result = train(train_part, tasks, schema, config)
    trained = evaluate(result.model, test_part)["rel"]
    random_scores = evaluate(
        train(
            train_part, tasks, schema, TrainConfig(epochs=1, learning_rate=1e-9, device="cpu")
        ).model,
        test_part,
    )["rel"]
    assert trained["ndcg"] > 0.9 and trained["ndcg"] > random_scores["ndcg"] + 0.1
    assert 0 < trained["mrr"] <= 1
