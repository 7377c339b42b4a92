"""``driftline calibrate``: a replayed history, candidates measured per task, a config written."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from driftline.config import load_config
from streams.calibrate_cli import calibrate
from streams.calibration import DetectorCalibration, task_histories
from streams.calibration.detector_calibration import CANDIDATES

CONFIG = """\
model: shop
tasks:
  churn:
    type: binary
    detectors:
      - {kind: page_hinkley, params: {threshold: 20}}     # replaced by the chosen one
      - {kind: adwin, signal: score, severity: warning}   # kept: not on the error stream
  spend: {type: regression}
"""


def history(path: Path, n: int = 3000, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(n):
            t = f"2026-11-01T{i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
            score, y = rng.random(), 100 + rng.gauss(0, 20)
            out.write(json.dumps({"schema": "driftline.prediction/1", "prediction_id": f"p-{i}",
                                  "model": "shop", "model_version": "1", "entity_id": "e",
                                  "event_time": t, "outputs": {"churn": {"score": score},
                                  "spend": {"value": y + rng.gauss(0, 10)}}}) + "\n")  # fmt: skip
            for task, label in (("churn", int(rng.random() < score)), ("spend", y)):
                out.write(json.dumps({"schema": "driftline.label/1", "prediction_id": f"p-{i}",
                                      "task": task, "label": label, "event_time": t}) + "\n")  # fmt: skip
        out.write("not json\n")
    return path


def test_calibrate_reports_every_candidate_and_writes_a_loadable_config(tmp_path: Path) -> None:
    (tmp_path / "driftline.yaml").write_text(CONFIG)
    events = history(tmp_path / "history.jsonl")
    written = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(calibrate, [
        "-c", str(tmp_path / "driftline.yaml"), "--history", str(events), "--null-labels", "20000",
        "--trials", "2", "--write", str(written),
        "--candidate", "{kind: adwin, params: {delta: 0.0005, clock: 1}}",
        "--candidate", "{kind: page_hinkley, params: {threshold: 5}, scale: raw}",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["skipped_events"] == 1
    for task in ("churn", "spend"):
        row = report["tasks"][task]
        assert row["labels"] == 3000 and len(row["candidates"]) == 2
        noisy = row["candidates"][1]
        assert noisy["false_alarms_per_1m"] > 0  # PageHinkley with threshold 5 alarms on noise
        assert row["chosen"]["config"]["kind"] == "adwin"
    cfg = load_config(written)
    churn = cfg.tasks["churn"].detectors
    assert [(d.kind, d.signal) for d in churn] == [("adwin", "error"), ("adwin", "score")]
    assert churn[0].params == {"delta": 0.0005, "clock": 1} and churn[0].severity == "critical"
    assert churn[0].null_alarms_per_1m == 50.0  # none in 20 000 null labels: at most 1 in them


def test_calibrate_needs_a_history(tmp_path: Path) -> None:
    (tmp_path / "driftline.yaml").write_text(CONFIG)
    result = CliRunner().invoke(calibrate, ["-c", str(tmp_path / "driftline.yaml")])
    assert result.exit_code == 2 and "--history" in result.output


def test_history_joins_labels_to_predictions_and_injected_shifts_are_found(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, CONFIG))
    lines = history(tmp_path / "h.jsonl", n=2000).read_text().splitlines()
    joined, skipped = task_histories(cfg, lines)
    assert skipped == 1 and len(joined["churn"].pairs) == 2000
    assert 0.2 < sum(joined["churn"].errors) / 2000 < 0.3  # Bernoulli(score) labels: 1/4 wrong
    calibration = DetectorCalibration(cfg.tasks["churn"], joined["churn"].errors,
                                      null_labels=20_000, shift=1.0, trials=2)  # fmt: skip
    result = calibration.measure(CANDIDATES[0])
    assert result.missed == 0 and result.delay_labels is not None and result.delay_labels < 1500


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return path
