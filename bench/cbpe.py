"""Performance estimated before labels: estimate vs realised, and how much earlier it alerts.

One task per type goes through the real stage 2 (:class:`~streams.task_monitor.TaskMonitor`) in
process. Predictions are 10 s apart in event time; each label arrives ``label_lag`` seconds after
its prediction, and the monitor sees outcomes in arrival order (a prediction's ``unlabelled``
outcome at its time, its ``labelled`` one ``label_lag`` later). Scores are calibrated (a binary
label is Bernoulli(score); a multiclass label is drawn from the probabilities; a regression
error is N(0, σ(ŷ))). At prediction ``shift_at`` the inputs shift: binary scores go from
Beta(0.5, 0.5) (confident) to Beta(4, 4) (unsure), multiclass probabilities from Dirichlet(1)
to Dirichlet(4), regression predictions into the range where the error is three times larger.
That is the change CBPE can see (the concept P(y | x) stays; a concept change is invisible to
it, see docs/monitoring.md).

Per chunk of predictions (``chunk`` seconds of prediction time): the estimated metric, and the
realised one computed exactly from the chunk's labels (ROC AUC by sorting, not from bins);
``mae`` is their mean absolute difference over the chunks. ``lead_labels``: labels the monitor
had received when the label-based detector (the default, ADWIN on the error stream) alerted,
minus those it had when the label-free one (the default's kind on the ``expected_error`` signal)
alerted.
"""

from __future__ import annotations

import math
import random
from typing import Any

__all__ = ["exact_auc", "run_cbpe"]

_STEP = 10.0  # seconds between predictions


def exact_auc(pairs: list[tuple[int, float]]) -> float | None:
    """ROC AUC of ``(label, score)`` pairs (ties count one half).

    >>> exact_auc([(0, 0.1), (1, 0.9), (0, 0.5), (1, 0.5)])
    0.875
    """
    pos = sum(1 for y, _ in pairs if y)
    neg = len(pairs) - pos
    if not pos or not neg:
        return None
    ranked = sorted(pairs, key=lambda p: p[1])
    area = 0.0
    below = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][1] == ranked[i][1]:
            j += 1
        tie_pos = sum(1 for y, _ in ranked[i:j] if y)
        tie_neg = (j - i) - tie_pos
        area += tie_pos * (below + 0.5 * tie_neg)
        below += tie_neg
        i = j
    return area / (pos * neg)


def _prediction(kind: str, rng: random.Random, shifted: bool) -> dict[str, Any]:
    if kind == "binary":
        a = 4.0 if shifted else 0.5
        score = min(max(rng.betavariate(a, a), 1e-6), 1 - 1e-6)
        return {"y_pred": score, "y_true": int(rng.random() < score)}
    if kind == "multiclass":
        alpha = 4.0 if shifted else 1.0
        weights = [rng.gammavariate(alpha, 1.0) + 1e-12 for _ in range(4)]
        total = sum(weights)
        probs = {c: w / total for c, w in zip("abcd", weights, strict=True)}
        truth = rng.choices("abcd", weights)[0]
        return {"y_pred": max(probs, key=probs.__getitem__), "y_true": truth, "probs": probs}
    value = rng.uniform(60.0, 100.0) if shifted else rng.uniform(0.0, 40.0)
    sigma = 3.0 + value / 10.0  # errors grow with the predicted value
    return {"y_pred": value, "y_true": value + rng.gauss(0.0, sigma)}


def _config(kind: str, chunk: float, label_lag: float) -> Any:
    from driftline.config import parse_config

    classes = ", classes: [a, b, c, d]" if kind == "multiclass" else ""
    return parse_config(
        "model: m\nmonitor: {snapshot_interval: 0}\ntasks:\n"
        f"  t: {{type: {kind}{classes}, label_delay: {label_lag * 1.5},"
        f" estimate: {{enabled: true, reference: 2000, chunk: {chunk}}},"
        " detectors: [{kind: adwin, params: {delta: 0.0005, clock: 1}},"
        " {kind: adwin, signal: expected_error, params: {delta: 0.0005, clock: 1},"
        " severity: critical}]}\n"
    )


def run_cbpe(
    kind: str = "binary",
    predictions: int = 60_000,
    shift_at: int = 40_000,
    chunk_predictions: int = 2000,
    label_lag: float = 86_400.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Estimate vs realised per chunk, and the lead of the label-free alert, for one task type."""
    from driftline.events import Alert
    from streams.outcome import Outcome
    from streams.task_monitor import TaskMonitor

    rng = random.Random(seed)
    chunk = chunk_predictions * _STEP
    config = _config(kind, chunk, label_lag)
    monitor = TaskMonitor(config, "m", "t")
    rows = [_prediction(kind, rng, i >= shift_at) for i in range(predictions)]
    lag = int(label_lag / _STEP)
    first_alert: dict[str, int] = {}
    for step in range(predictions + lag):
        arrivals = []
        if step < predictions:
            row = rows[step]
            arrivals.append(Outcome("unlabelled", "m", "1", "t", f"p-{step}", step * _STEP,
                                    ("predictions", 0, step, 0, 0), y_pred=row["y_pred"],
                                    probs=row.get("probs")))  # fmt: skip
        i = step - lag
        if i >= 0:
            arrivals.append(Outcome("labelled", "m", "1", "t", f"p-{i}", i * _STEP,
                                    ("labels", 0, i, 0, 0), label_t=step * _STEP,
                                    **rows[i]))  # fmt: skip
        for outcome in arrivals:
            for event in monitor.apply(outcome) or ():
                if isinstance(event, Alert) and event.signal in ("error", "expected_error"):
                    first_alert.setdefault(event.signal, monitor.labels)
    estimator = monitor.scopes[()].estimator
    assert estimator is not None
    errors: dict[str, list[float]] = {}
    for c in estimator.chunks():
        start = int(c.start / _STEP)
        members = rows[start : start + chunk_predictions]
        if len(members) < chunk_predictions:
            continue
        for name, value in c.estimated.items():
            real = _realised(kind, name.removeprefix("estimated_"), members)
            if real is not None:
                errors.setdefault(name, []).append(abs(value - real))
    by_signal = {s: first_alert.get(s) for s in ("error", "expected_error")}
    label_based, label_free = by_signal["error"], by_signal["expected_error"]
    lead = None if label_based is None or label_free is None else label_based - label_free
    return {
        "type": kind,
        "chunks": max((len(v) for v in errors.values()), default=0),
        "mae": {name: round(sum(v) / len(v), 4) for name, v in errors.items()},
        "max_error": {name: round(max(v), 4) for name, v in errors.items()},
        "alert_labels": by_signal,
        "lead_labels": lead,
        "label_lag_labels": lag,
    }


def _realised(kind: str, metric: str, rows: list[dict[str, Any]]) -> float | None:
    if metric == "roc_auc":
        return exact_auc([(int(r["y_true"]), float(r["y_pred"])) for r in rows])
    if metric == "accuracy":
        if kind == "binary":
            return sum(1 for r in rows if (r["y_pred"] >= 0.5) == bool(r["y_true"])) / len(rows)
        return sum(1 for r in rows if r["y_pred"] == r["y_true"]) / len(rows)
    errors = [float(r["y_true"]) - float(r["y_pred"]) for r in rows]
    if metric == "mae":
        return sum(abs(e) for e in errors) / len(errors)
    if metric == "rmse":
        return math.sqrt(sum(e * e for e in errors) / len(errors))
    return None
