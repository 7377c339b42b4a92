"""The synthetic world: determinism, task types, correlation, concept drift and covariate shift."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.config import parse_config
from driftline.events import Label, Prediction
from driftline.validation import EventRules
from models.metrics import binary_metrics
from simulator.schedule import ConceptDrift, CovariateShift, DriftSchedule
from simulator.synthetic import SyntheticStream, TaskShape

CONFIG = parse_config(
    """
model: m
features: [{name: x0}, {name: x1}, {name: x2}, {name: x3}, {name: x4}, {name: x5},
           {name: region, dtype: string}]
tasks:
  churn: {type: binary}
  spend: {type: regression}
  category: {type: multiclass, classes: [a, b, c, d]}
"""
)


def stream(**kwargs: object) -> SyntheticStream:
    return SyntheticStream.from_config(CONFIG, seed=11, **kwargs)


def test_events_do_not_depend_on_batch_sizes() -> None:
    one = stream().events(1000, 1500)
    pieces = [e for start in range(1000, 2500, 137) for e in stream().events(start, min(137, 2500 - start))]  # fmt: skip
    assert one == pieces
    assert stream().event(1234) == one[234]
    assert stream(run="other").event(3).prediction_id == "other-3"
    assert stream().event(3) != SyntheticStream.from_config(CONFIG, seed=12).event(3)


def test_events_satisfy_the_contracts_of_their_tasks() -> None:
    rules = EventRules(CONFIG)
    for event in stream().events(0, 200):
        label_events = [
            Label.model_validate({"schema": Label.SCHEMA, "prediction_id": event.prediction_id,
                                  "task": t, "label": v, "event_time": "2026-01-01T00:00:00Z"})
            for t, v in event.labels.items()
        ]  # fmt: skip
        for label in label_events:
            rules.check(label)
        assert set(event.features) == {"x0", "x1", "x2", "x3", "x4", "x5", "region"}
        assert event.segments["region"] == event.features["region"]
    prediction = Prediction.model_validate(
        {"schema": Prediction.SCHEMA, "prediction_id": "p", "model": "m", "model_version": "1",
         "entity_id": "e", "event_time": "2026-01-01T00:00:00Z",
         "outputs": {"churn": {"score": 0.5}}, "features": stream().event(0).features}
    )  # fmt: skip
    rules.check(prediction)


def test_event_time_and_entities_follow_the_parameters() -> None:
    events = stream(start=100.0, interval=0.5, entities=7).events(0, 20)
    assert [e.t for e in events[:3]] == [100.0, 100.5, 101.0]
    assert {e.entity_id for e in events} == {f"e-{i}" for i in range(7)}


def _latents(s: SyntheticStream, events: list) -> np.ndarray:  # type: ignore[type-arg]
    x = np.array([[e.features[f"x{i}"] for i in range(6)] for e in events])
    return np.stack([x @ s._weights[name] for name in s.tasks], axis=1)


@pytest.mark.parametrize("correlation", [0.0, 0.5, 0.9])
def test_correlation_sets_the_cosine_between_task_latents(correlation: float) -> None:
    s = stream(correlation=correlation)
    z = _latents(s, s.events(0, 4000))
    observed = np.corrcoef(z, rowvar=False)[0, 1]
    assert observed == pytest.approx(correlation, abs=0.06)


def test_concept_drift_breaks_the_old_concept_and_keeps_it_as_learnable() -> None:
    s = stream(schedule=DriftSchedule((ConceptDrift("churn", 3000),)))
    events = s.events(0, 6000)
    x = np.array([[e.features[f"x{i}"] for i in range(6)] for e in events])
    y = np.array([e.labels["churn"] for e in events], dtype=float)
    old = 1 / (1 + np.exp(-3 * (x @ s._weights["churn"])))
    new = 1 / (1 + np.exp(-3 * (x @ s._turn["churn"])))
    before = binary_metrics(y[:3000], old[:3000])["roc_auc"]
    stale = binary_metrics(y[3000:], old[3000:])["roc_auc"]
    recovered = binary_metrics(y[3000:], new[3000:])["roc_auc"]
    assert before > 0.85
    assert stale < 0.6
    assert recovered == pytest.approx(before, rel=0.02)
    # the other tasks do not change at the drift point
    assert [e.labels["spend"] for e in events] == [
        e.labels["spend"] for e in stream().events(0, 6000)
    ]


def test_multiclass_drift_reshuffles_the_classes() -> None:
    plain = stream().events(2000, 2000)
    drifted = stream(schedule=DriftSchedule((ConceptDrift("category", 2000, 2.0),))).events(
        2000, 2000
    )
    same = np.mean([a.labels["category"] == b.labels["category"] for a, b in zip(plain, drifted, strict=True)])  # fmt: skip
    assert same < 0.3


def test_covariate_shift_moves_the_features_and_keeps_the_concepts() -> None:
    shifted = stream(schedule=DriftSchedule(covariate=(CovariateShift(1000, 2.0),)))
    events = shifted.events(0, 2000)
    x = np.array([[e.features[f"x{i}"] for i in range(6)] for e in events])
    move = np.linalg.norm(x[1000:].mean(axis=0) - x[:1000].mean(axis=0))
    assert move == pytest.approx(2.0, abs=0.15)
    assert [e.labels for e in events[:1000]] == [e.labels for e in stream().events(0, 1000)]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="correlation"):
        stream(correlation=1.5)
    with pytest.raises(ValueError, match="names task 'nope'"):
        stream(schedule=DriftSchedule((ConceptDrift("nope", 10),)))
    with pytest.raises(ValueError, match="ranking"):
        TaskShape.of(parse_config("model: m\ntasks: {r: {type: ranking}}\n").tasks["r"])


def test_schedule_parsing_and_lookups() -> None:
    schedule = DriftSchedule.parse(
        ["churn@100", "spend@50:0.5", "churn@300:1"], ["200:1.5", "400:0"]
    )
    assert schedule.drifted_tasks == ["churn", "spend"]
    assert schedule.first_drift == 50
    assert schedule.drift_start("churn") == 100
    assert [schedule.rotation("churn", i) for i in (99, 100, 300)] == [0.0, 1.0, 2.0]
    assert [schedule.shift(i) for i in (199, 200, 400)] == [0.0, 1.5, 0.0]
    index = np.array([0, 100, 250, 300, 450])
    assert schedule.rotations("churn", index).tolist() == [
        schedule.rotation("churn", i) for i in index
    ]
    assert schedule.shifts(index).tolist() == [schedule.shift(i) for i in index]
    for bad in (["churn"], ["churn@-1"], ["churn@5:3"]):
        with pytest.raises(ValueError):
            DriftSchedule.parse(bad)
    with pytest.raises(ValueError, match="COUNT"):
        DriftSchedule.parse([], ["x"])
