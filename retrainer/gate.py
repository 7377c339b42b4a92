"""The promotion gate: task by task, is the candidate good enough to replace the reference?

For each task the gate compares the task's primary metric of the candidate with a reference on
the same holdout rows, with a paired bootstrap confidence interval of the difference
(:func:`models.paired_bootstrap`). Let ``Δ`` be the signed improvement (positive = candidate
better, whatever the metric's direction) and ``[low, high]`` its interval at ``gate.confidence``.

``improve``
    A drifted task, when ``gate.must_improve_when_drifted``: passes when ``low > 0``.
``non_inferior``
    Every other task against the champion: passes when
    ``low >= -gate.tolerance * |reference value|`` (a relative tolerance).
``sanity``
    No champion yet (first candidate): the reference is a constant predictor (the training
    labels' prior: mean, class frequencies, rate); passes when ``low > 0``, i.e. the head has
    learnt something.
``unchanged``
    Head-only fine-tuning: a head that was frozen computes exactly the champion's outputs;
    nothing to check.

Optionally (``retrainer.min_delta_p``) the candidate's Δp over single-task baselines must be at
least that many percent. The gate passes when every task passes and Δp (if asked) is enough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from driftline.config.models import GateConfig
from models.bootstrap import paired_bootstrap
from models.metrics import higher_is_better
from models.specs import TaskSpec

__all__ = ["GateDecision", "PromotionGate", "TaskEvidence", "TaskVerdict", "constant_prediction"]

Rule = Literal["improve", "non_inferior", "sanity", "unchanged"]


@dataclass(frozen=True)
class TaskEvidence:
    """One task's holdout: labels (encoded like the head's targets) and both models' predictions.

    ``reference`` is the champion's predictions (``reference_kind="champion"``) or a constant
    predictor's (``"constant"``); ``unchanged`` marks a head frozen during fine-tuning.
    """

    spec: TaskSpec
    y: np.ndarray
    candidate: np.ndarray
    reference: np.ndarray
    reference_kind: Literal["champion", "constant"] = "champion"
    drifted: bool = False
    unchanged: bool = False
    group: np.ndarray | None = None


@dataclass(frozen=True)
class TaskVerdict:
    """The gate's finding for one task, with its numbers (``improvement`` is signed, see module)."""

    task: str
    rule: Rule
    metric: str
    passed: bool
    candidate: float
    reference: float
    improvement: float
    low: float
    high: float
    margin: float
    confidence: float
    n: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class GateDecision:
    """Every task's verdict, Δp when it was asked for, and whether the candidate passed."""

    verdicts: tuple[TaskVerdict, ...]
    delta_p: float | None = None
    min_delta_p: float | None = None

    @property
    def passed(self) -> bool:
        """Every task passed and Δp (if required) is at least ``min_delta_p``."""
        return all(v.passed for v in self.verdicts) and self._delta_p_ok

    @property
    def _delta_p_ok(self) -> bool:
        if self.min_delta_p is None:
            return True
        return self.delta_p is not None and self.delta_p >= self.min_delta_p

    @property
    def reason(self) -> str:
        """One line: the failing tasks with their numbers, or why it passed."""
        failing = [v.reason for v in self.verdicts if not v.passed]
        if not self._delta_p_ok:
            value = "undefined" if self.delta_p is None else f"{self.delta_p:+.2f} %"
            failing.append(f"Δp over single-task baselines {value} < {self.min_delta_p:+.2f} %")
        if failing:
            return "gate failed: " + "; ".join(failing)
        return "gate passed: " + "; ".join(v.reason for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the manifest and the bench output)."""
        return {
            "passed": self.passed,
            "reason": self.reason,
            "delta_p": self.delta_p,
            "min_delta_p": self.min_delta_p,
            "tasks": {v.task: v.to_dict() for v in self.verdicts},
        }


class PromotionGate:
    """Judges a candidate task by task (see the module docstring for the rules).

    Parameters
    ----------
    gates
        ``tasks.<t>.gate`` of the config, per task name (a missing task gets the defaults).
    n_resamples
        Bootstrap resamples per task.
    seed
        Seed of the resampling (the decision is deterministic for given inputs).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 600).astype(float)
    >>> champion = np.clip(0.5 + 0.1 * (y - 0.5) + rng.normal(0, 0.3, 600), 0, 1)
    >>> candidate = np.clip(0.5 + 0.4 * (y - 0.5) + rng.normal(0, 0.2, 600), 0, 1)
    >>> gate = PromotionGate({"churn": GateConfig(tolerance=0.01)}, n_resamples=200)
    >>> evidence = TaskEvidence(TaskSpec("churn", "binary"), y, candidate, champion, drifted=True)
    >>> decision = gate.judge([evidence])
    >>> decision.passed, decision.verdicts[0].rule
    (True, 'improve')
    >>> gate.judge([TaskEvidence(TaskSpec("churn", "binary"), y, champion, candidate)]).passed
    False
    """

    def __init__(
        self, gates: Mapping[str, GateConfig], n_resamples: int = 1000, seed: int = 0
    ) -> None:
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
        self.gates = gates
        self.n_resamples = n_resamples
        self.seed = seed

    def judge(
        self,
        evidence: Sequence[TaskEvidence],
        delta_p: float | None = None,
        min_delta_p: float | None = None,
    ) -> GateDecision:
        """Verdicts for every task; ``delta_p`` is checked against ``min_delta_p`` when set."""
        verdicts = tuple(self._verdict(e) for e in evidence)
        if delta_p is not None and not math.isfinite(delta_p):
            delta_p = None
        return GateDecision(verdicts, delta_p, min_delta_p)

    def _verdict(self, e: TaskEvidence) -> TaskVerdict:
        gate = self.gates.get(e.spec.name, GateConfig())
        metric = e.spec.primary_metric
        n = len(e.y)
        if e.unchanged:
            return _verdict(e, "unchanged", metric, True, gate, n, reason=f"{e.spec.name}: head "
                            "frozen (head-only fine-tune), outputs equal the champion's")  # fmt: skip
        if e.reference_kind == "constant":
            rule: Rule = "sanity"
        elif e.drifted and gate.must_improve_when_drifted:
            rule = "improve"
        else:
            rule = "non_inferior"
        if n == 0:
            return _verdict(e, rule, metric, False, gate, n,
                            reason=f"{e.spec.name}: no labelled holdout rows")  # fmt: skip
        result = paired_bootstrap(
            e.spec, metric, e.y, e.candidate, e.reference, e.group,
            n_resamples=self.n_resamples, confidence=gate.confidence, seed=self.seed,
        )  # fmt: skip
        sign = 1.0 if higher_is_better(metric) else -1.0
        low, high = sorted((sign * result.low, sign * result.high))
        improvement = sign * result.difference
        candidate_value = _metric(e, e.candidate)
        reference_value = candidate_value - result.difference
        margin = gate.tolerance * abs(reference_value) if rule == "non_inferior" else 0.0
        if not (math.isfinite(low) and math.isfinite(reference_value)):
            passed, why = False, f"{metric} is undefined on the holdout"
        elif rule == "non_inferior":
            passed = low >= -margin
            why = "within tolerance" if passed else f"may regress beyond tolerance {margin:.4g}"
        else:
            passed = low > 0
            what = "the champion" if rule == "improve" else "a constant predictor"
            why = f"better than {what}" if passed else f"not shown better than {what}"
        label = "champion" if e.reference_kind == "champion" else "constant"
        reason = (
            f"{e.spec.name}: {metric} {candidate_value:.4f} vs {label} {reference_value:.4f} "
            f"(improvement {improvement:+.4f}, {gate.confidence:.0%} CI [{low:+.4f}, {high:+.4f}], "
            f"n={n}) {why}"
        )
        return TaskVerdict(
            e.spec.name, rule, metric, passed, candidate_value, reference_value, improvement,
            low, high, margin, gate.confidence, n, reason,
        )  # fmt: skip


def _metric(e: TaskEvidence, prediction: np.ndarray) -> float:
    from models.metrics import task_metrics

    return float(task_metrics(e.spec, e.y, prediction, e.group)[e.spec.primary_metric])


def _verdict(
    e: TaskEvidence, rule: Rule, metric: str, passed: bool, gate: GateConfig, n: int, reason: str
) -> TaskVerdict:
    nan = float("nan")
    return TaskVerdict(
        e.spec.name, rule, metric, passed, nan, nan, nan, nan, nan, 0.0, gate.confidence, n, reason
    )


def constant_prediction(spec: TaskSpec, y_train: np.ndarray, n: int) -> np.ndarray:
    """A constant predictor's output for ``n`` rows: the prior of the training labels.

    binary: the positive rate; regression: the mean; multiclass: class frequencies (one row
    per holdout row); ranking: a constant score.

    >>> constant_prediction(TaskSpec("t", "binary"), np.array([0.0, 1.0, 1.0, 1.0]), 2)
    array([0.75, 0.75])
    """
    y_train = np.asarray(y_train, dtype=np.float64)
    if spec.type == "multiclass":
        k = spec.n_outputs
        counts = np.bincount(y_train.astype(np.int64), minlength=k)[:k].astype(np.float64)
        prior = (counts + 1e-6) / (counts.sum() + 1e-6 * k)
        return np.tile(prior, (n, 1))
    if spec.type == "ranking":
        return np.zeros(n)
    value = float(y_train.mean()) if len(y_train) else 0.0
    return np.full(n, value)
