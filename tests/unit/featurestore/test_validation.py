"""Feature rows are validated with the events' rules; the layout names every object (no Feast)."""

from __future__ import annotations

import math

import pytest

from featurestore.errors import FeatureRowError
from featurestore.layout import RepoLayout
from featurestore.validation import FeatureRowValidator
from tests.unit.featurestore.conftest import make_config

DTYPES = {"x": "float", "n": "int", "s": "string", "b": "bool"}
BASE = {"entity_id": "c-1", "event_time": "2026-03-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({**BASE, "x": math.nan}, "x: Input should be a finite number"),
        ({**BASE, "x": math.inf}, "x: Input should be a finite number"),
        ({**BASE, "n": 2.5}, "n: Input should be a valid integer"),
        ({**BASE, "x": "abc"}, "x: Input should be a valid number"),
        ({**BASE, "b": "maybe"}, "b: Input should be a valid boolean"),
        ({**BASE, "zzz": 1}, "zzz: unknown feature"),
        ({"entity_id": "c-1", "event_time": "2026-03-01T00:00:00", "x": 1}, "timezone"),
        ({"event_time": "2026-03-01T00:00:00Z", "x": 1}, "entity_id: Field required"),
        ({**BASE, "entity_id": "", "x": 1}, "entity_id: String should have at least 1"),
        (BASE, "carries none of the declared features"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(row: object, fragment: str) -> None:
    with pytest.raises(FeatureRowError) as info:
        FeatureRowValidator(DTYPES).validate(row)  # type: ignore[arg-type]
    assert fragment in info.value.reason


def test_values_are_typed_like_events_and_null_is_allowed() -> None:
    row = FeatureRowValidator(DTYPES).validate(
        {**BASE, "x": "1.5", "n": 2.0, "s": "DE", "b": "true"}
    )
    assert (row["x"], row["n"], row["s"], row["b"]) == (1.5, 2, "DE", True)
    assert FeatureRowValidator(DTYPES).validate({**BASE, "x": None})["x"] is None


def test_layout_names_views_services_and_columns(tmp_path) -> None:
    layout = RepoLayout.from_config(make_config(tmp_path))
    assert layout.project == "shop_mtl"
    assert [v.name for v in layout.views] == [
        "shared_features", "spend_features", "category_features",
        "churn_labels", "spend_labels", "category_labels",
    ]  # fmt: skip
    assert layout.service_views("churn") == ["shared_features"]
    assert layout.service_views("spend") == ["shared_features", "spend_features"]
    assert layout.view("spend_features").columns == [
        "entity_id",
        "event_timestamp",
        "created_timestamp",
        "avg_order_value",
    ]
    assert dict(layout.label_view("category").fields)["label"] == "string"
    with pytest.raises(ValueError, match="unknown task"):
        layout.check_tasks(["nope"])


def test_a_feature_named_like_a_training_set_column_is_refused(tmp_path) -> None:
    from driftline.config import parse_config

    config = parse_config("model: m\nfeatures: [{name: row_id}]\ntasks: {t: {type: binary}}\n")
    with pytest.raises(ValueError, match="collides"):
        RepoLayout.from_config(config)
