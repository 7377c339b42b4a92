"""The label sink writes each outcome once, also across a restart, and dead-letters bad ones."""

from __future__ import annotations

import json
from typing import Any

from featurestore.label_sink import LabelSink
from featurestore.layout import RepoLayout
from featurestore.repo import FeatureRepo
from featurestore.retrieval import read_view, training_set
from tests.unit.featurestore.conftest import T0, hours, outcome


def stored_ids(repo: FeatureRepo, task: str) -> list[str]:
    return sorted(read_view(repo, repo.layout.label_view(task))["outcome_id"])


def test_idempotent_across_a_restart(applied: tuple[Any, Any]) -> None:
    config, repo = applied
    batch = [
        outcome(f"r{i}", "churn", f"rp{i}", f"re{i}", T0 + hours(500), i % 2) for i in range(5)
    ]
    first = LabelSink(config, batch_size=2)  # flushes by itself every 2 outcomes
    assert first.write(batch) == 5
    first.close()
    assert first.written == 5
    # a restart: a new sink on a new Feast store object, the monitor replays the same outcomes
    restarted = LabelSink(config, repo=FeatureRepo(config))
    assert restarted.write([*batch, batch[0]]) == 0
    assert restarted.flush() == 0 and restarted.duplicates == 6
    ids = [i for i in stored_ids(repo, "churn") if i.startswith("r")]
    assert ids == ["r0", "r1", "r2", "r3", "r4"]
    # a half-replayed batch writes only what is new
    more = [*batch, outcome("r5", "churn", "rp5", "re5", T0 + hours(500), 1)]
    assert restarted.write(more) == 1 and restarted.flush() == 1
    window = (T0 + hours(499), T0 + hours(501))
    assert len(training_set(config, "churn", *window, repo=repo)) == 6


def test_repeats_inside_one_write_count_once(applied: tuple[Any, Any]) -> None:
    config, repo = applied
    same = outcome("d1", "spend", "dp1", "de1", T0 + hours(600), 3.0)
    sink = LabelSink(config, repo=repo)
    assert sink.write([same, same, same]) == 1
    assert sink.write([same]) == 0  # buffered, not yet flushed: still a duplicate
    assert sink.flush() == 1 and sink.duplicates == 3


def test_bad_outcomes_are_dead_lettered_and_neighbours_go_on(applied: tuple[Any, Any]) -> None:
    config, repo = applied
    good = outcome("b1", "spend", "bp1", "be1", T0 + hours(700), 2.0)
    no_task = {**outcome("b2", "nope", "bp2", "be2", T0, 1.0)}
    nan_label = {**outcome("b3", "spend", "bp3", "be3", T0, 1.0), "label": float("nan")}
    naive_time = {**outcome("b4", "spend", "bp4", "be4", T0, 1.0), "event_time": "2026-03-01T00:00"}
    bad_feature = {**outcome("b5", "spend", "bp5", "be5", T0, 1.0), "features": {"tenure": "x"}}
    sink = LabelSink(config, repo=repo)
    assert sink.write([no_task, good, nan_label, naive_time, bad_feature]) == 1
    assert sink.flush() == 1 and sink.rejected == 4
    lines = (config.state_dir / "dead-letters" / "featurestore.jsonl").read_text().splitlines()
    letters = [json.loads(line) for line in lines if '"features.label_sink"' in line]
    reasons = {letter["source"]["offset"]: letter["reason"] for letter in letters[-4:]}
    assert "task 'nope' is not in the config" in reasons[1]
    assert "label" in reasons[3] and "timezone" in reasons[4] and "tenure" in reasons[5]
    assert all(letter["schema"] == "driftline.dead-letter/1" for letter in letters)


def test_prediction_features_land_in_the_feature_views(applied: tuple[Any, Any]) -> None:
    config, repo = applied
    at = T0 + hours(800)
    with_features = {
        **outcome("f1", "spend", "fp1", "fe1", at, 4.0),
        "features": {"tenure": 7.0, "avg_order_value": 3.0, "undeclared": 1},
    }
    sink = LabelSink(config, repo=repo)
    assert sink.write([with_features]) == 1 and sink.flush() == 1
    frame = training_set(config, "spend", at - hours(1), at + hours(1), repo=repo)
    assert frame.loc[0, "tenure"] == 7.0 and frame.loc[0, "avg_order_value"] == 3.0


def test_constructor_stores_parameters_only(tmp_path) -> None:
    from tests.unit.featurestore.conftest import make_config

    config = make_config(tmp_path)  # nothing applied: must not touch any store
    sink = LabelSink(config, batch_size=7)
    assert (sink.batch_size, sink.repo, sink.written) == (7, None, 0)
    assert not (tmp_path / "feast").exists()
    assert RepoLayout.from_config(config).label_view("churn").name == "churn_labels"
