"""``driftline bench peers``: both sides process every row, and end with the same metrics."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench.cli import bench
from bench.peers import RiverLoop, run
from driftline.config import parse_config


def test_run_reports_both_sides_on_every_row() -> None:
    report = run(predictions=300, envelope=50, checkpoint_events=250, repeat=1)
    for key in ("driftline_rows_per_s", "river_rows_per_s", "ratio_to_river", "rows", "tasks",
                "driftline_cpu_s", "river_cpu_s"):  # fmt: skip
        assert key in report
    assert report["rows"] == 300 and report["tasks"] == 3
    assert report["driftline_rows_per_s"] > 0 and report["river_rows_per_s"] > 0
    assert report["ratio_to_river"] == pytest.approx(
        report["driftline_rows_per_s"] / report["river_rows_per_s"], rel=1e-2
    )
    for task in report["per_task"].values():
        assert task["driftline_rows"] == task["river_rows"] == 300
        assert task["driftline_labels"] == task["river_labels"] > 200  # 10 % never come
    # the River loop's own metrics equal the monitor's: it did the same work on the same labels
    assert report["metrics_match"], report["max_metric_difference"]
    assert 0.5 < report["per_task"]["churn"]["metrics"]["accuracy"] < 1.0


def test_river_loop_counts_labels_and_feeds_detectors() -> None:
    config = parse_config(
        "model: m\ntasks:\n  spend: {type: regression, detectors: [{kind: page_hinkley,"
        " params: {threshold: 5}}]}\n"
    )
    loop = RiverLoop(config)
    events = []
    for i in range(400):
        events.append({"schema": "driftline.prediction/1", "prediction_id": f"p{i}",
                       "outputs": {"spend": {"value": 1.0}}})  # fmt: skip
        y = 1.0 if i < 200 else 9.0  # the error jumps from 0 to 8
        events.append({"schema": "driftline.label/1", "prediction_id": f"p{i}", "task": "spend",
                       "label": y})  # fmt: skip
    loop.feed(events)
    assert loop.rows == 400 and loop.labels == {"spend": 400}
    assert loop.drifts["spend"] >= 1
    assert loop.values()["spend"]["mae"] == pytest.approx(4.0)


def test_river_loop_refuses_what_it_cannot_do() -> None:
    config = parse_config("model: m\ntasks:\n  kind: {type: multiclass, classes: [a, b]}\n")
    with pytest.raises(ValueError, match="multiclass"):
        RiverLoop(config)


def test_cli_prints_one_json_object() -> None:
    out = CliRunner().invoke(bench, ["peers", "--json", "--predictions", "200", "--repeat", "1"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["benchmark"] == "peers" and report["metrics_match"]
