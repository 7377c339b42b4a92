"""The Yeast replay: the real dataset from the river wheel, with injected shift."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.config import parse_config
from simulator.errors import SimulatorError
from simulator.schedule import ConceptDrift, CovariateShift, DriftSchedule
from simulator.yeast import YEAST_ROWS, YeastStream, load_yeast


def test_the_dataset_is_the_known_one() -> None:
    x, y, names = load_yeast()
    assert x.shape == (2417, 103) and y.shape == (2417, 14)
    assert names[0] == "Att1" and set(np.unique(y)) == {0, 1}


def test_every_pass_replays_every_row_once_in_a_seeded_order() -> None:
    stream = YeastStream({"c1": "Class1"}, ["Att1"], seed=3)
    rows = [stream._row(i) for i in range(YEAST_ROWS)]
    assert sorted(rows) == list(range(YEAST_ROWS))
    assert rows != [stream._row(i) for i in range(YEAST_ROWS, 2 * YEAST_ROWS)]
    assert stream.events(100, 5) == YeastStream({"c1": "Class1"}, ["Att1"], seed=3).events(100, 5)


def test_injected_concept_drift_flips_labels_and_covariate_shift_moves_features() -> None:
    plain = YeastStream({"c1": "Class1", "c2": "Class2"}, ["Att1", "Att2"], seed=1)
    schedule = DriftSchedule((ConceptDrift("c1", 500, 2.0),), (CovariateShift(500, 1.0),))
    shifted = YeastStream({"c1": "Class1", "c2": "Class2"}, ["Att1", "Att2"], schedule=schedule, seed=1)  # fmt: skip
    a, b = plain.events(0, 1000), shifted.events(0, 1000)
    assert [e.labels for e in a[:500]] == [e.labels for e in b[:500]]
    assert all(x.labels["c1"] == 1 - y.labels["c1"] for x, y in zip(a[500:], b[500:], strict=True))
    assert all(x.labels["c2"] == y.labels["c2"] for x, y in zip(a, b, strict=True))
    std = load_yeast()[0][:, 0].std()
    assert b[600].features["Att1"] - a[600].features["Att1"] == pytest.approx(std, rel=1e-3)


def test_from_config_maps_tasks_and_features() -> None:
    config = parse_config(
        "model: y\nfeatures: [{name: Att1}, {name: Att7}, {name: other}]\n"
        "tasks: {Class3: {type: binary}, energy: {type: binary}}\n"
    )
    stream = YeastStream.from_config(config)
    assert stream.tasks == {"Class3": "Class3", "energy": "Class1"}
    assert stream.features == ["Att1", "Att7"]
    with pytest.raises(SimulatorError, match="binary labels only"):
        YeastStream.from_config(parse_config("model: y\nfeatures: [{name: Att1}]\ntasks: {r: {type: regression}}\n"))  # fmt: skip
    with pytest.raises(SimulatorError, match=r"Att1\.\.Att103"):
        YeastStream.from_config(parse_config("model: y\nfeatures: [{name: x}]\ntasks: {a: {type: binary}}\n"))  # fmt: skip
