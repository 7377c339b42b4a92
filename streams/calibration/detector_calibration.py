"""Candidate detector configs on one task's own error stream: false alarms and delays.

The history is taken as the task's normal behaviour. A null stream of ``null_labels`` labels is
resampled from it in blocks (so the errors keep their short-range dependence), and each
candidate (the detector, its signal scaling and the task's alert policy, as stage 2 runs them)
counts its alerts there: the false alarms per 1 M labels. Delays: a shift is injected into fresh
resampled streams (the error rate, or the error size, grows by ``shift``: +50 % by default)
and the labels from the shift to the first alert are counted, over ``trials`` streams; a trial
without an alert is a miss (and counts its whole post-shift length). The chosen candidate is
the fastest among those with at most ``max_false_alarms`` per 1 M (ties: the earlier in the
list); when none qualifies, the one with the fewest false alarms. The choice is only as sure as
the null stream is long: each result also gives the 95 % upper bound of the false-alarm rate
(Poisson; none seen in 3 M labels bounds it at 1 per 1 M).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from scipy import stats

from driftline.config.models import DEFAULT_DETECTOR, DetectorConfig, TaskConfig
from streams.detectors import RiverDetector
from streams.policy import AlertPolicy
from streams.scope_monitor import signal_scale

__all__ = ["CANDIDATES", "CandidateResult", "DetectorCalibration"]

CANDIDATES: tuple[DetectorConfig, ...] = (
    DEFAULT_DETECTOR,
    DetectorConfig(kind="adwin", params={"delta": 0.002, "clock": 1}),
    DetectorConfig(kind="adwin", params={"delta": 0.001, "clock": 1}),
    DetectorConfig(kind="adwin", params={"delta": 0.0002, "clock": 1}),
    DetectorConfig(kind="adwin", params={"delta": 0.0001, "clock": 1}),
    DetectorConfig(kind="adwin", scale="raw"),  # River's defaults
    DetectorConfig(kind="page_hinkley", params={"threshold": 50.0}, scale="raw"),
    DetectorConfig(kind="page_hinkley", params={"threshold": 100.0}, scale="raw"),
)
"""What ``driftline calibrate`` tries when it is given no candidates."""

_BLOCK = 500


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's figures on one task."""

    config: DetectorConfig
    false_alarms_per_1m: float
    delay_labels: float | None
    missed: int
    trials: int
    false_alarms_upper95_per_1m: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the config as it would be written in YAML."""
        return {
            "config": self.config.model_dump(exclude_defaults=True),
            "false_alarms_per_1m": self.false_alarms_per_1m,
            "false_alarms_upper95_per_1m": self.false_alarms_upper95_per_1m,
            "delay_labels": self.delay_labels,
            "missed": self.missed,
            "trials": self.trials,
        }


class DetectorCalibration:
    """Measure detector candidates on one task's error history.

    Parameters
    ----------
    task
        The task's config (its type and alert ``policy`` are used).
    errors
        The task's error stream from its history (at least 200 values).
    null_labels
        Length of the resampled stationary stream the false alarms are counted on.
    shift
        Relative growth of the error injected for the delays (0.5: +50 %).
    trials
        Injected shifts per candidate.
    seed
        Seed of the resampling.

    Examples
    --------
    >>> import random
    >>> from driftline.config.models import TaskConfig
    >>> rng = random.Random(0)
    >>> errors = [float(rng.random() < 0.1) for _ in range(5000)]
    >>> calib = DetectorCalibration(TaskConfig(type="binary"), errors, null_labels=50_000,
    ...                             shift=1.0, trials=3)
    >>> result = calib.measure(CANDIDATES[0])
    >>> result.false_alarms_per_1m, result.missed, result.delay_labels < 600
    (0.0, 0, True)
    """

    def __init__(
        self,
        task: TaskConfig,
        errors: list[float],
        null_labels: int = 3_000_000,
        shift: float = 0.5,
        trials: int = 10,
        seed: int = 0,
    ) -> None:
        if len(errors) < 200:
            raise ValueError(f"a history of {len(errors)} labels is too short; need 200 or more")
        if null_labels < 1000 or shift <= 0 or trials < 1:
            raise ValueError("null_labels must be >= 1000, shift > 0, trials >= 1")
        self.task = task
        self.errors = errors
        self.null_labels = null_labels
        self.shift = shift
        self.trials = trials
        self.seed = seed

    def resample(self, n: int, rng: random.Random) -> list[float]:
        """``n`` errors drawn from the history in contiguous blocks."""
        out: list[float] = []
        size = min(_BLOCK, len(self.errors))
        while len(out) < n:
            start = rng.randrange(len(self.errors) - size + 1)
            out.extend(self.errors[start : start + size])
        return out[:n]

    def alerts(self, candidate: DetectorConfig, stream: list[float]) -> list[int]:
        """1-based positions at which the candidate (with the task's policy) alerts."""
        detector = RiverDetector(candidate.kind, dict(candidate.params),
                                 scale=signal_scale(self.task, candidate))  # fmt: skip
        policy = AlertPolicy.from_config(self.task.policy)
        return [n for n, x in enumerate(stream, start=1) if policy.observe(n, detector.update(x))]

    def measure(self, candidate: DetectorConfig) -> CandidateResult:
        """False alarms per 1 M and mean delay of one candidate."""
        rng = random.Random(self.seed)
        null = self.resample(self.null_labels, rng)
        count = len(self.alerts(candidate, null))
        false = count * 1_000_000 / self.null_labels
        upper = float(stats.chi2.ppf(0.95, 2 * count + 2)) / 2 * 1_000_000 / self.null_labels
        before = max(2000, self.task.policy.min_samples + 1000)
        after = max(5000, len(self.errors))
        delays, missed = [], 0
        for _ in range(self.trials):
            stream = self.resample(before, rng) + self._shifted(self.resample(after, rng), rng)
            late = [n - before for n in self.alerts(candidate, stream) if n > before]
            if late:
                delays.append(late[0])
            else:
                missed += 1
                delays.append(after)
        return CandidateResult(candidate, round(false, 3), sum(delays) / len(delays), missed,
                               self.trials, round(upper, 3))  # fmt: skip

    def _shifted(self, stream: list[float], rng: random.Random) -> list[float]:
        if self.task.type in ("binary", "multiclass"):
            rate = sum(self.errors) / len(self.errors)
            flip = min(1.0, self.shift * rate / max(1e-9, 1.0 - rate))
            return [1.0 if x >= 0.5 or rng.random() < flip else 0.0 for x in stream]
        return [x * (1.0 + self.shift) for x in stream]

    def choose(
        self, candidates: tuple[DetectorConfig, ...] | list[DetectorConfig] = CANDIDATES,
        max_false_alarms: float = 0.0,
    ) -> tuple[CandidateResult, list[CandidateResult]]:  # fmt: skip
        """Measure every candidate; the chosen one and all results (in ``candidates`` order)."""
        results = [self.measure(c) for c in candidates]
        quiet = [r for r in results if r.false_alarms_per_1m <= max_false_alarms]
        pool = quiet or sorted(results, key=lambda r: r.false_alarms_per_1m)[:1]
        chosen = min(pool, key=lambda r: (r.missed, r.delay_labels or 0.0))
        return chosen, results
