"""Performance estimated before labels: calibration, estimate vs realised, alerts before labels."""

from __future__ import annotations

import random

import pytest

from bench.cbpe import exact_auc, run_cbpe
from driftline.config import parse_config
from driftline.errors import ConfigError
from driftline.events import Alert, TaskMetrics
from streams.estimation import BinnedCalibrator, PerformanceEstimator
from streams.outcome import Outcome
from streams.task_monitor import TaskMonitor


def test_calibrator_learns_a_miscalibrated_mapping() -> None:
    rng = random.Random(0)
    scores = [rng.random() for _ in range(5000)]
    targets = [float(rng.random() < s * s) for s in scores]  # true P(y) = score²
    cal = BinnedCalibrator(bins=20)
    cal.fit(scores, targets)
    for s in (0.2, 0.5, 0.8):
        assert cal.predict(s) == pytest.approx(s * s, abs=0.05)
    assert [cal.predict(s) for s in (0.1, 0.3, 0.6, 0.9)] == sorted(
        cal.predict(s) for s in (0.1, 0.3, 0.6, 0.9)
    )


def test_binary_estimate_matches_the_realised_auc_when_labels_come() -> None:
    rng = random.Random(4)
    est = PerformanceEstimator("binary", reference=2000, chunk=1000.0)
    for i in range(2000):
        s = rng.random()
        est.observe_label(int(rng.random() < s), s, None, -1.0 - i)
    rows = []
    for i in range(5000):
        s = rng.betavariate(2, 2)
        y = int(rng.random() < s)
        rows.append((y, s))
        est.observe_prediction(s, None, float(i))
    for i, (y, s) in enumerate(rows):  # the labels, later
        est.observe_label(y, s, None, float(i))
    (full, *_) = [c for c in est.chunks() if c.predictions == 1000]
    assert full.labels == 1000
    real = exact_auc(rows[:1000])
    assert real is not None
    assert full.estimated["estimated_roc_auc"] == pytest.approx(real, abs=0.03)
    assert full.realised["roc_auc"] == pytest.approx(real, abs=0.01)
    assert est.estimation_error()["estimated_roc_auc"] < 0.03


def test_estimated_metrics_need_estimate_enabled() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(
            "model: m\ntasks:\n  a: {type: binary, thresholds: "
            "[{metric: estimated_roc_auc, op: '<', value: 0.7}]}\n"
        )
    assert "needs `estimate" in exc.value.problems[0]
    with pytest.raises(ConfigError) as exc:
        parse_config("model: m\ntasks:\n  a: {type: ranking, estimate: {enabled: true}}\n")
    assert "not available for ranking" in exc.value.problems[0]


def test_threshold_on_an_estimated_metric_alerts_before_any_label_of_the_shift() -> None:
    cfg = parse_config(
        "model: m\nmonitor: {snapshot_interval: 0}\ntasks:\n  a: {type: binary, detectors: [],"
        " estimate: {enabled: true, reference: 500, chunk: 500, min_predictions: 100},"
        " thresholds: [{metric: estimated_roc_auc, op: '<', value: 0.7}],"
        " policy: {min_samples: 0, warmup: 0}}\n"
    )
    assert cfg.tasks["a"].needs_scores
    mon = TaskMonitor(cfg, "m", "a")
    rng = random.Random(1)
    for i in range(500):  # the labelled reference: confident, calibrated scores
        s = rng.betavariate(0.5, 0.5)
        mon.apply(Outcome("labelled", "m", "1", "a", f"r-{i}", float(i), ("labels", 0, i, 0, 0),
                          y_pred=s, y_true=int(rng.random() < s)))  # fmt: skip
    alerts = []
    for i in range(500, 3000):  # unlabelled predictions only; unsure from 1500 on
        s = rng.betavariate(4, 4) if i >= 1500 else rng.betavariate(0.5, 0.5)
        out = mon.apply(Outcome("unlabelled", "m", "1", "a", f"p-{i}", float(i),
                                ("predictions", 0, i, 0, 0), y_pred=s)) or []  # fmt: skip
        alerts += [(i, a) for a in out if isinstance(a, Alert)]
    assert alerts, "the estimate should have alerted without labels"
    first, alert = alerts[0]
    assert 1500 <= first <= 2100
    assert alert.detector == "threshold/estimated_roc_auc<0.7" and alert.signal == "metric"
    assert alert.value < 0.7
    snapshot = mon.snapshots(3000.0, 1)[0]
    assert isinstance(snapshot, TaskMetrics) and "estimated_roc_auc" in snapshot.rolling


def test_bench_cbpe_small_run_estimates_within_target_and_leads_the_labels() -> None:
    result = run_cbpe("binary", predictions=24_000, shift_at=16_000, chunk_predictions=2000,
                      label_lag=20_000.0)  # fmt: skip
    assert result["mae"]["estimated_roc_auc"] <= 0.02
    assert result["lead_labels"] is not None and result["lead_labels"] > 1000
