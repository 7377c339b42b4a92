"""Trainer behaviour: determinism, logging, early stopping, balanced batching, fine-tuning."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from models import TrainConfig, parameter_hash, train
from models.data import encode_frame, epoch_batches

SMALL = {"epochs": 4, "batch_size": 128, "learning_rate": 5e-3, "device": "cpu"}


def test_same_seed_same_weights_on_cpu(frame_factory, tasks, schema):
    frame = frame_factory(500)
    config = TrainConfig(loss_balancing="pcgrad", **SMALL)
    first = train(frame, tasks, schema, config).model.state_dict()
    second = train(frame, tasks, schema, config).model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    third = train(
        frame, tasks, schema, TrainConfig(loss_balancing="pcgrad", **{**SMALL, "seed": 1})
    )
    assert not all(torch.equal(first[k], v) for k, v in third.model.state_dict().items())


def test_history_logs_losses_weights_and_gradient_conflict(frame_factory, tasks, schema, caplog):
    caplog.set_level(logging.INFO, logger="models.training")
    result = train(
        frame_factory(400), tasks, schema, TrainConfig(loss_balancing="gradnorm", **SMALL)
    )
    epoch = result.history[-1]
    assert set(epoch.train_loss) == {"churn", "spend", "segment"}
    assert set(epoch.loss_weights) == {"churn", "spend", "segment"}
    assert set(epoch.gradient_conflict) == {"churn|spend", "churn|segment", "spend|segment"}
    assert all(-1.0 <= c <= 1.0 for c in epoch.gradient_conflict.values())
    assert "roc_auc" in epoch.val_metrics["churn"]
    assert sum(epoch.loss_weights.values()) == pytest.approx(3.0, rel=1e-4)  # GradNorm renormalises
    assert any("cos[churn|spend]" in r.getMessage() for r in caplog.records)


def test_a_task_with_noise_labels_stops_early(frame_factory, tasks, schema):
    frame = frame_factory(600)
    frame["churn"] = np.random.default_rng(5).integers(0, 2, len(frame)).astype(float)
    config = TrainConfig(**{**SMALL, "epochs": 12}, patience=2, loss_balancing="equal")
    result = train(frame, tasks, schema, config)
    assert result.stopped_at["churn"] is not None
    stopped = result.stopped_at["churn"]
    later = [e for e in result.history if e.epoch > stopped]
    assert all("churn" not in e.active_tasks for e in later)


def test_balanced_batching_when_label_counts_differ(frame_factory, tasks, schema):
    frame = frame_factory(1000, missing=0.0)
    frame.loc[frame.index[20:], "segment"] = np.nan  # 20 segment labels vs 1000
    model = train(frame, tasks, schema, TrainConfig(**{**SMALL, "epochs": 1})).model
    data = encode_frame(model, frame)
    batches = epoch_batches(data, 90, torch.Generator().manual_seed(0), "balanced")
    per_batch = [int(data.masks[2, b].sum()) for b in batches]
    assert min(per_batch) >= 30  # a third of every batch is the rare task's labelled rows
    uniform = epoch_batches(data, 90, torch.Generator().manual_seed(0), "uniform")
    assert np.mean([int(data.masks[2, b].sum()) for b in uniform]) < 3


def test_head_only_fine_tuning_keeps_the_trunk(frame_factory, tasks, schema):
    base = train(frame_factory(400), tasks, schema, TrainConfig(**SMALL)).model
    before = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = train(
        frame_factory(400, seed=7),
        config=TrainConfig(**SMALL),
        init_model=base,
        freeze_trunk=True,
        train_tasks=["spend"],
    ).model
    after = tuned.state_dict()
    shared = [k for k in after if k.startswith(("preprocessor.", "trunk."))]
    assert parameter_hash({k: after[k] for k in shared}) == parameter_hash(
        {k: before[k] for k in shared}
    )
    for head, changed in (("spend", True), ("churn", False), ("segment", False)):
        keys = [k for k in after if k.startswith(f"heads.{head}.")]
        same = all(torch.equal(after[k], before[k]) for k in keys)
        assert same is not changed, head
    assert all(torch.equal(base.state_dict()[k], before[k]) for k in before)  # parent untouched


def test_cuda_request_without_gpu_is_a_clear_error(frame_factory, tasks, schema):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; this checks the message on CPU-only machines")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        train(frame_factory(100), tasks, schema, TrainConfig(device="cuda"))
