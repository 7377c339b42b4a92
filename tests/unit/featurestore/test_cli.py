"""``driftline features`` end to end on an embedded store: apply, push (with a bad row), stats."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from featurestore.cli import features
from tests.unit.featurestore.conftest import CONFIG_YAML


def test_apply_push_materialize_stats(tmp_path: Path) -> None:
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG_YAML.format(root=tmp_path))
    runner = CliRunner()
    result = runner.invoke(features, ["apply", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "service:churn" in result.output
    assert (tmp_path / "feast" / "feature_store.yaml").exists()

    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"entity_id": "a", "event_time": "2026-03-01T00:00:00Z", "tenure": 1.5}\n'
        '{"entity_id": "b", "event_time": "2026-03-01T00:00:00Z", "tenure": "x"}\n'
    )
    result = runner.invoke(features, ["push", "--config", str(config), str(rows)])
    assert result.exit_code == 1
    assert "pushed 1 rows (shared_features: 1)" in result.output
    assert f"{rows}:2: invalid feature row: tenure" in result.output

    result = runner.invoke(
        features,
        ["materialize", "--config", str(config), "--start", "2026-02-01T00:00:00Z",
         "--end", "2026-03-02T00:00:00Z"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    result = runner.invoke(features, ["stats", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    stats = {s["view"]: s for s in json.loads(result.stdout)}  # stderr may carry warnings
    assert stats["shared_features"]["rows"] == 1
    assert stats["shared_features"]["null_rates"] == {
        "tenure": 0.0,
        "country": 1.0,
        "sessions": 1.0,
    }
    assert stats["churn_labels"]["rows"] == 0 and stats["churn_labels"]["task"] == "churn"
    result = runner.invoke(features, ["stats", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "shared_features" in result.output
