"""Point-in-time correctness, no dropped rows, per-task services, multi-task label alignment."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from featurestore.ingest import push_features
from featurestore.label_sink import LabelSink
from featurestore.retrieval import online_features, training_set
from tests.unit.featurestore.conftest import T0, hours, outcome

WINDOW = (T0 - hours(24), T0 + hours(24))


@pytest.fixture(scope="module")
def filled(applied: tuple[Any, Any]) -> tuple[Any, Any]:
    config, repo = applied
    rows = [
        {"entity_id": "e1", "event_time": (T0 - hours(1)).isoformat(), "tenure": 1.0,
         "country": "DE", "sessions": 4},
        {"entity_id": "e1", "event_time": (T0 + hours(1)).isoformat(), "tenure": 99.0,
         "country": "FR", "sessions": 5},
        {"entity_id": "e1", "event_time": (T0 - hours(2)).isoformat(), "avg_order_value": 10.0},
        {"entity_id": "e2", "event_time": (T0 - hours(72)).isoformat(), "tenure": 2.0},
    ]  # fmt: skip
    report = push_features(config, rows, to="both", repo=repo)
    assert report.pushed == 4 and not report.rejected
    sink = LabelSink(config, repo=repo)
    written = sink.write(
        [
            outcome("o1", "churn", "p1", "e1", T0, 1),
            outcome("o2", "spend", "p1", "e1", T0, 12.5),
            outcome("o3", "churn", "p2", "e2", T0, 0),
            outcome("o4", "category", "p3", "e3", T0 + hours(0.1), "home"),
            outcome("o5", "spend", "p4", "e1", T0, 7.0),
            outcome("o6", "churn", "p5", "e1", T0 + hours(240), 1),
            outcome("o7", "churn", "p6", "e1", T0 + hours(2), 0),
        ]
    )
    assert written == 7 and sink.flush() == 7
    return config, repo


def by_prediction(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["prediction_id"]: row for row in frame.to_dict("records")}


def test_a_value_written_after_the_prediction_is_never_used(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    rows = by_prediction(training_set(config, ["churn"], *WINDOW, repo=repo))
    assert rows["p1"]["tenure"] == 1.0 and rows["p1"]["country"] == "DE"  # not 99 / FR
    assert rows["p1"]["sessions"] == 4
    assert rows["p6"]["tenure"] == 99.0  # written before p6's time: used


def test_rows_without_a_value_in_the_ttl_are_kept_with_nan(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    frame = training_set(config, ["churn", "spend", "category"], *WINDOW, repo=repo)
    rows = by_prediction(frame)
    assert set(rows) == {"p1", "p2", "p3", "p4", "p6"}  # p5 is outside the window
    assert math.isnan(rows["p2"]["tenure"])  # e2's only value is 72 h old, TTL is 24 h
    assert math.isnan(rows["p3"]["tenure"])  # e3 has no value at all
    assert rows["p3"]["last_category"] is None or pd.isna(rows["p3"]["last_category"])


def test_row_order_count_and_columns_are_documented(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    frame = training_set(config, ["spend", "churn"], *WINDOW, repo=repo)
    assert list(frame["row_id"]) == list(range(len(frame)))
    assert list(frame["prediction_id"]) == ["p1", "p2", "p4", "p6"]  # by (time, id)
    assert frame["event_timestamp"].is_monotonic_increasing
    assert list(frame.columns) == [
        "row_id", "prediction_id", "entity_id", "event_timestamp", "model_version",
        "tenure", "country", "sessions", "avg_order_value", "label__spend", "label__churn",
    ]  # fmt: skip
    # p1 and p4: same entity, same time, both kept with the same features
    rows = by_prediction(frame)
    assert rows["p1"]["avg_order_value"] == rows["p4"]["avg_order_value"] == 10.0


def test_each_task_service_returns_only_its_own_columns(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    churn = training_set(config, "churn", *WINDOW, repo=repo)
    spend = training_set(config, "spend", *WINDOW, repo=repo)
    assert "avg_order_value" not in churn and "last_category" not in churn
    assert "avg_order_value" in spend and "last_category" not in spend
    assert list(churn["prediction_id"]) == ["p1", "p2", "p6"]  # only predictions with churn labels
    service = repo.store.get_feature_service("category")
    entity_df = pd.DataFrame({"entity_id": ["e1"], "event_timestamp": [T0]})
    got = repo.store.get_historical_features(entity_df=entity_df, features=service).to_df()
    assert set(got.columns) - {"entity_id", "event_timestamp"} == {
        "tenure",
        "country",
        "sessions",
        "last_category",
    }


def test_multi_task_labels_are_aligned_with_nan_where_missing(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    rows = by_prediction(training_set(config, ["churn", "spend", "category"], *WINDOW, repo=repo))
    assert (rows["p1"]["label__churn"], rows["p1"]["label__spend"]) == (1.0, 12.5)
    assert pd.isna(rows["p1"]["label__category"])
    assert rows["p2"]["label__churn"] == 0.0 and math.isnan(rows["p2"]["label__spend"])
    assert rows["p3"]["label__category"] == "home" and math.isnan(rows["p3"]["label__churn"])
    assert math.isnan(rows["p4"]["label__churn"]) and rows["p4"]["label__spend"] == 7.0


def test_an_empty_window_gives_an_empty_frame_with_the_columns(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    frame = training_set(config, ["spend"], T0 - hours(900), T0 - hours(800), repo=repo)
    assert len(frame) == 0 and "avg_order_value" in frame and "label__spend" in frame


def test_online_lookup_returns_the_latest_pushed_values(filled: tuple[Any, Any]) -> None:
    config, repo = filled
    frame = online_features(config, ["e1", "nobody"], ["spend"], repo=repo)
    assert list(frame["entity_id"]) == ["e1", "nobody"]
    assert frame.loc[0, "tenure"] == 99.0 and frame.loc[0, "avg_order_value"] == 10.0
    assert pd.isna(frame.loc[1, "tenure"])
