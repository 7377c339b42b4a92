"""Promotion gate: every rule and branch, with numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftline.config.models import GateConfig
from models.specs import TaskSpec
from retrainer.gate import GateDecision, PromotionGate, TaskEvidence, constant_prediction

BINARY = TaskSpec("churn", "binary")
REGRESSION = TaskSpec("spend", "regression")
RNG = np.random.default_rng(7)
N = 600
Y_BIN = RNG.integers(0, 2, N).astype(float)
GOOD = np.clip(0.5 + 0.45 * (Y_BIN - 0.5) + RNG.normal(0, 0.15, N), 0, 1)  # AUC ≈ 0.98
WEAK = np.clip(0.5 + 0.05 * (Y_BIN - 0.5) + RNG.normal(0, 0.3, N), 0, 1)  # AUC ≈ 0.55
Y_REG = RNG.normal(0, 1, N)
CHAMP_REG = Y_REG + RNG.normal(0, 0.3, N)


def gate(**settings: object) -> PromotionGate:
    config = GateConfig(**settings)
    return PromotionGate({"churn": config, "spend": config}, n_resamples=120, seed=1)


def test_drifted_task_must_improve_and_does() -> None:
    decision = gate().judge([TaskEvidence(BINARY, Y_BIN, GOOD, WEAK, drifted=True)])
    (verdict,) = decision.verdicts
    assert decision.passed and verdict.rule == "improve"
    assert verdict.metric == "roc_auc" and verdict.candidate > 0.95 and verdict.reference < 0.65
    assert verdict.improvement == pytest.approx(verdict.candidate - verdict.reference)
    assert 0 < verdict.low <= verdict.improvement <= verdict.high
    assert decision.reason.startswith("gate passed: churn: roc_auc")


def test_drifted_task_that_does_not_improve_fails_with_its_numbers() -> None:
    decision = gate().judge([TaskEvidence(BINARY, Y_BIN, GOOD, GOOD, drifted=True)])
    (verdict,) = decision.verdicts
    assert not decision.passed and verdict.rule == "improve"
    assert verdict.improvement == 0.0 and verdict.low == 0.0  # identical predictions: CI [0, 0]
    assert "not shown better than the champion" in decision.reason
    assert f"{verdict.candidate:.4f}" in decision.reason and "n=600" in decision.reason


def test_must_improve_off_treats_a_drifted_task_as_non_inferior() -> None:
    decision = gate(must_improve_when_drifted=False).judge(
        [TaskEvidence(BINARY, Y_BIN, GOOD, GOOD, drifted=True)]
    )
    assert decision.passed and decision.verdicts[0].rule == "non_inferior"


def test_non_drifted_task_may_not_regress_beyond_tolerance() -> None:
    decision = gate(tolerance=0.01).judge([TaskEvidence(BINARY, Y_BIN, WEAK, GOOD)])
    (verdict,) = decision.verdicts
    assert not decision.passed and verdict.rule == "non_inferior"
    assert verdict.margin == pytest.approx(0.01 * verdict.reference)
    assert verdict.high < -verdict.margin  # clearly worse
    assert "may regress beyond tolerance" in decision.reason


def test_tolerance_is_relative_to_the_reference_and_direction_aware() -> None:
    worse = CHAMP_REG + 0.1  # biased: a slightly larger MAE (lower is better)
    evidence = [TaskEvidence(REGRESSION, Y_REG, worse, CHAMP_REG)]
    strict, loose = gate(tolerance=0.0).judge(evidence), gate(tolerance=0.5).judge(evidence)
    for decision in (strict, loose):
        verdict = decision.verdicts[0]
        assert verdict.metric == "mae" and verdict.candidate > verdict.reference
        assert verdict.improvement < 0 and verdict.low <= verdict.improvement <= verdict.high
    assert not strict.passed and strict.verdicts[0].margin == 0.0
    assert loose.passed and loose.verdicts[0].margin == pytest.approx(0.5 * CHAMP_REG_MAE)
    better = TaskEvidence(REGRESSION, Y_REG, Y_REG + RNG.normal(0, 0.1, N), CHAMP_REG, drifted=True)
    assert gate().judge([better]).verdicts[0].improvement > 0  # lower MAE = positive improvement


CHAMP_REG_MAE = float(np.abs(CHAMP_REG - Y_REG).mean())


def test_confidence_widens_the_interval() -> None:
    evidence = [TaskEvidence(BINARY, Y_BIN, GOOD, WEAK)]
    narrow = gate(confidence=0.5).judge(evidence).verdicts[0]
    wide = gate(confidence=0.99).judge(evidence).verdicts[0]
    assert wide.low < narrow.low and wide.high > narrow.high


def test_first_candidate_sanity_against_a_constant_predictor() -> None:
    prior = constant_prediction(BINARY, Y_BIN, N)
    assert np.allclose(prior, Y_BIN.mean())
    good = gate().judge([TaskEvidence(BINARY, Y_BIN, GOOD, prior, reference_kind="constant")])
    assert good.passed and good.verdicts[0].rule == "sanity"
    assert good.verdicts[0].reference == pytest.approx(0.5)  # a constant has AUC 0.5
    noise = RNG.uniform(0, 1, N)
    bad = gate().judge([TaskEvidence(BINARY, Y_BIN, noise, prior, reference_kind="constant")])
    assert not bad.passed and "not shown better than a constant predictor" in bad.reason


def test_unchanged_head_passes_without_a_check_and_others_still_count() -> None:
    decision = gate().judge(
        [
            TaskEvidence(BINARY, Y_BIN, WEAK, GOOD, unchanged=True),
            TaskEvidence(REGRESSION, Y_REG, CHAMP_REG, CHAMP_REG + 1.0, drifted=True),
        ]
    )
    frozen, drifted = decision.verdicts
    assert frozen.rule == "unchanged" and frozen.passed and math.isnan(frozen.low)
    assert drifted.rule == "improve" and drifted.passed and decision.passed


def test_no_holdout_labels_and_undefined_metric_fail() -> None:
    empty = np.zeros(0)
    decision = gate().judge([TaskEvidence(BINARY, empty, empty, empty)])
    assert not decision.passed and "no labelled holdout rows" in decision.reason
    one_class = np.ones(50)
    decision = gate().judge([TaskEvidence(BINARY, one_class, GOOD[:50], WEAK[:50])])
    assert not decision.passed and "roc_auc is undefined on the holdout" in decision.reason
    assert decision.to_dict()["tasks"]["churn"]["low"] is None  # NaN → null in JSON


def test_delta_p_over_single_task_baselines() -> None:
    passing = [TaskEvidence(BINARY, Y_BIN, GOOD, WEAK)]
    assert gate().judge(passing, delta_p=-3.0).passed  # min_delta_p not set: ignored
    low = gate().judge(passing, delta_p=-3.0, min_delta_p=0.0)
    assert not low.passed and "Δp over single-task baselines -3.00 % < +0.00 %" in low.reason
    assert gate().judge(passing, delta_p=1.5, min_delta_p=0.0).passed
    undefined = gate().judge(passing, delta_p=float("nan"), min_delta_p=0.0)
    assert not undefined.passed and undefined.delta_p is None and "undefined" in undefined.reason


def test_decision_needs_every_task() -> None:
    decision = gate().judge(
        [
            TaskEvidence(BINARY, Y_BIN, GOOD, WEAK, drifted=True),
            TaskEvidence(REGRESSION, Y_REG, CHAMP_REG + 2.0, CHAMP_REG),
        ]
    )
    assert not decision.passed
    assert decision.reason.startswith("gate failed: spend: mae")
    assert "churn" not in decision.reason  # only the failing task is named
    assert set(decision.to_dict()["tasks"]) == {"churn", "spend"}
    assert GateDecision(()).passed


def test_constant_prediction_shapes() -> None:
    multi = TaskSpec("cat", "multiclass", classes=("a", "b", "c"))
    probs = constant_prediction(multi, np.array([0, 0, 1, 2]), 3)
    assert probs.shape == (3, 3) and np.allclose(probs[0], [0.5, 0.25, 0.25], atol=1e-5)
    assert constant_prediction(REGRESSION, np.array([1.0, 3.0]), 2).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError):
        PromotionGate({}, n_resamples=0)
