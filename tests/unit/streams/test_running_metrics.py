"""The running-count metrics equal River's metrics on random streams (to 1e-9 or better)."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import pytest
from river import metrics, utils

from driftline.config.models import TaskConfig, ThresholdRule
from streams.binary_metrics import BinaryMetrics
from streams.metric_set import MetricSet
from streams.regression_metrics import RegressionMetrics

BINARY = ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc")
REGRESSION = ("mae", "rmse", "r2")
# the ROC thresholds and the 0.5 cut themselves, the clamp bounds of log loss, plain randoms
EDGES = [0.0, 1.0, 0.5, 1e-16, 1 - 1e-16, *(i / 9 for i in range(10))]


def _binary_stream(seed: int, n: int) -> list[tuple[bool, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        truth = rng.random() < 0.4
        score = rng.choice(EDGES) if rng.random() < 0.2 else rng.random()
        out.append((truth, score))
    return out


def _river_binary() -> dict[str, Any]:
    cm = metrics.ConfusionMatrix()
    return {
        "accuracy": metrics.Accuracy(cm=cm),
        "precision": metrics.Precision(cm=cm),
        "recall": metrics.Recall(cm=cm),
        "f1": metrics.F1(cm=cm),
        "log_loss": metrics.LogLoss(),
        "roc_auc": metrics.ROCAUC(),
        "_cm": cm,
    }


def _feed_river_binary(table: dict[str, Any], truth: bool, score: float) -> None:
    label = score >= 0.5
    table["_cm"].update(truth, label)
    table["log_loss"].update(truth, min(max(score, 1e-15), 1 - 1e-15))
    table["roc_auc"].update(truth, score)


def _get(table: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    return {name: float(table[name].get()) for name in names}


def _assert_close(ours: dict[str, float], river: dict[str, float]) -> None:
    assert ours.keys() == river.keys()
    for name, value in river.items():
        assert math.isclose(ours[name], value, rel_tol=1e-12, abs_tol=1e-12), (name, ours, river)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_counts_equal_river_cumulative(seed: int) -> None:
    ours, river = BinaryMetrics(), _river_binary()
    _assert_close(ours.values(BINARY), _get(river, BINARY))  # before any label
    for i, (truth, score) in enumerate(_binary_stream(seed, 3000)):
        ours.update(truth, score)
        _feed_river_binary(river, truth, score)
        if i % 97 == 0 or i < 20:
            _assert_close(ours.values(BINARY), _get(river, BINARY))
    _assert_close(ours.values(BINARY), _get(river, BINARY))


def test_binary_counts_revert_equals_river_rolling() -> None:
    window = 50
    ours = BinaryMetrics()
    ring: list[tuple[bool, float]] = []
    cm = metrics.ConfusionMatrix()
    rolling: dict[str, Any] = {
        "accuracy": utils.Rolling(metrics.Accuracy, window_size=window),
        "precision": utils.Rolling(metrics.Precision, window_size=window),
        "recall": utils.Rolling(metrics.Recall, window_size=window),
        "f1": utils.Rolling(metrics.F1, window_size=window, cm=cm),
        "log_loss": utils.Rolling(metrics.LogLoss, window_size=window),
        "roc_auc": utils.Rolling(metrics.ROCAUC, window_size=window),
    }
    for truth, score in _binary_stream(7, 1500):
        if len(ring) == window:
            ours.revert(*ring.pop(0))
        ours.update(truth, score)
        ring.append((truth, score))
        for name, metric in rolling.items():
            p = min(max(score, 1e-15), 1 - 1e-15) if name == "log_loss" else score
            metric.update(truth, p if name in ("log_loss", "roc_auc") else score >= 0.5)
        _assert_close(ours.values(BINARY), _get(rolling, BINARY))


def test_binary_counts_skip_metrics_not_asked_for() -> None:
    lean = BinaryMetrics(roc_auc=False, log_loss=False)
    full = BinaryMetrics()
    for truth, score in _binary_stream(3, 200):
        lean.update(truth, score)
        full.update(truth, score)
    names = ("accuracy", "precision", "recall", "f1")
    assert lean.values(names) == full.values(names)
    with pytest.raises(ValueError, match="roc_auc"):
        lean.value("roc_auc")


def _regression_stream(seed: int, n: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.gauss(10, 3), rng.gauss(10, 1) + (i > n // 2) * 2.0) for i in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_sums_equal_river(seed: int) -> None:
    ours = RegressionMetrics()
    river = {"mae": metrics.MAE(), "rmse": metrics.RMSE(), "r2": metrics.R2()}
    _assert_close(ours.values(REGRESSION), _get(river, REGRESSION))
    for y, p in _regression_stream(seed, 3000):
        ours.update(y, p)
        for metric in river.values():
            metric.update(y, p)
        _assert_close(ours.values(REGRESSION), _get(river, REGRESSION))


def test_regression_revert_equals_river_rolling() -> None:
    window = 40
    ours = RegressionMetrics()
    ring: list[tuple[float, float]] = []
    river: dict[str, Any] = {
        name: utils.Rolling(cls, window_size=window)
        for name, cls in (("mae", metrics.MAE), ("rmse", metrics.RMSE), ("r2", metrics.R2))
    }
    for y, p in _regression_stream(5, 1000):
        if len(ring) == window:
            ours.revert(*ring.pop(0))
        ours.update(y, p)
        ring.append((y, p))
        for metric in river.values():
            metric.update(y, p)
        _assert_close(ours.values(REGRESSION), _get(river, REGRESSION))


def _river_metric_set_values(
    task: TaskConfig, pairs: list[tuple[float, float]]
) -> dict[str, dict[str, float]]:
    """What the River-based MetricSet reported: River metrics fed the same pairs."""
    names = tuple(task.metrics)
    if task.type == "binary":
        cumulative, rolling = _river_binary(), _river_binary()
        for i, (y, p) in enumerate(pairs):
            _feed_river_binary(cumulative, bool(y), p)
            if i >= len(pairs) - task.window:
                _feed_river_binary(rolling, bool(y), p)
    else:
        cumulative = {"mae": metrics.MAE(), "rmse": metrics.RMSE(), "r2": metrics.R2()}
        rolling = {"mae": metrics.MAE(), "rmse": metrics.RMSE(), "r2": metrics.R2()}
        for i, (y, p) in enumerate(pairs):
            for metric in cumulative.values():
                metric.update(y, p)
            if i >= len(pairs) - task.window:
                for metric in rolling.values():
                    metric.update(y, p)
    return {"cumulative": _get(cumulative, names), "rolling": _get(rolling, names)}


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_metric_set_equals_river(kind: str) -> None:
    task = TaskConfig(type=kind, window=100)
    ms = MetricSet(task)
    if kind == "binary":
        pairs = [(float(t), s) for t, s in _binary_stream(11, 1000)]
    else:
        pairs = _regression_stream(11, 1000)
    errors = [ms.update(y, p) for y, p in pairs]
    expected = _river_metric_set_values(task, pairs)
    _assert_close(ms.cumulative(), expected["cumulative"])
    _assert_close(ms.rolling(), expected["rolling"])
    if kind == "binary":
        assert errors == [float((p >= 0.5) != bool(y)) for y, p in pairs]
    else:
        assert errors == [abs(y - p) for y, p in pairs]


def test_watched_rolling_values_equal_river_rolling() -> None:
    task = TaskConfig(
        type="binary",
        window=60,
        thresholds=[
            ThresholdRule(metric="accuracy", op="<", value=0.8),
            ThresholdRule(metric="log_loss", op=">", value=0.5),
            ThresholdRule(metric="roc_auc", op="<", value=0.7),
        ],
    )
    ms = MetricSet(task)
    river: dict[str, Any] = {
        "accuracy": utils.Rolling(metrics.Accuracy, window_size=60),
        "log_loss": utils.Rolling(metrics.LogLoss, window_size=60),
        "roc_auc": metrics.RollingROCAUC(window_size=60),
    }
    for truth, score in _binary_stream(13, 800):
        ms.update(float(truth), score)
        river["accuracy"].update(truth, score >= 0.5)
        river["log_loss"].update(truth, min(max(score, 1e-15), 1 - 1e-15))
        river["roc_auc"].update(truth, score)
        for name, metric in river.items():
            value = ms.rolling_value(name)
            assert value is not None
            assert math.isclose(value, float(metric.get()), rel_tol=1e-12, abs_tol=1e-12), name


def test_metric_set_pickles_and_is_deterministic() -> None:
    task = TaskConfig(type="binary", thresholds=[ThresholdRule(metric="f1", op="<", value=0.5)])
    a, b = MetricSet(task), MetricSet(task)
    pairs = _binary_stream(17, 500)
    for truth, score in pairs[:250]:
        a.update(float(truth), score)
        b.update(float(truth), score)
    restored = pickle.loads(pickle.dumps(a, protocol=5))
    for truth, score in pairs[250:]:
        restored.update(float(truth), score)
        b.update(float(truth), score)
    assert restored.cumulative() == b.cumulative()
    assert restored.rolling() == b.rolling()
    assert restored.rolling_value("f1") == b.rolling_value("f1")
