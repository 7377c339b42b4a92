"""``driftline calibrate --from-topics`` on a real broker: the history read back from the
predictions and labels topics, an event-time range applied, a config written."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from driftline.client import Client
from driftline.config import load_config
from driftline.topics import create_topics
from streams.calibrate_cli import calibrate

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_calibrate_reads_a_history_from_the_topics(make_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, path = make_config(partitions=2, tasks={"churn": {"type": "binary"}})
    create_topics(config)
    rng = random.Random(1)
    with Client(config) as client:
        for i in range(1500):  # the last 300 fall outside --until
            score = rng.random()
            at = T0 + timedelta(seconds=i)
            client.log_prediction(f"p-{i}", {"churn": {"score": score}}, model_version="1",
                                  entity_id="e", event_time=at)  # fmt: skip
            client.log_label(f"p-{i}", "churn", int(rng.random() < score), event_time=at)
        client.flush()
    written = tmp_path / "calibrated.yaml"
    until = (T0 + timedelta(seconds=1200)).strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(calibrate, [
        "-c", str(path), "--from-topics", "--until", until, "--idle", "10",
        "--null-labels", "20000", "--trials", "2", "--write", str(written),
        "--candidate", "{kind: adwin, params: {delta: 0.0005, clock: 1}}",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tasks"]["churn"]["labels"] == 1200
    assert report["tasks"]["churn"]["chosen"]["config"]["kind"] == "adwin"
    detector = load_config(written).tasks["churn"].detectors[0]
    assert detector.params == {"delta": 0.0005, "clock": 1}
    assert detector.null_alarms_per_1m == 50.0
