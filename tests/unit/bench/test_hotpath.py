"""``driftline bench hotpath``: every stage is timed and stage 2 ends in the same state either way."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bench.hotpath import input_records, main, run
from bench.workload import Workload


def test_input_records_hold_every_event_in_envelopes() -> None:
    workload = Workload(predictions=200, seed=3)
    records = input_records(workload, envelope=50)
    events = sum(len(json.loads(value)["events"]) for *_, value in records)
    assert events == workload.expected_events()
    assert {topic for topic, *_ in records} == {"predictions", "labels"}


def test_run_times_every_stage_and_is_deterministic() -> None:
    first, profiles = run(predictions=400, envelope=50, checkpoint_events=250, repeat=1)
    second, _ = run(predictions=400, envelope=50, checkpoint_events=250, repeat=1)
    assert profiles == {}
    stages = {"decode", "join", "join_checkpoint", "wire", "monitor", "monitor_apply", "dump",
              "total"}  # fmt: skip
    assert set(first["events_per_s"]) == stages
    assert all(rate > 0 for rate in first["events_per_s"].values())
    assert first["events"] == Workload(predictions=400, seed=1).expected_events()
    # labels and expiries per head, predictions only counted (one outcome per record and task)
    assert first["events"] / 2 < first["outcomes"] < first["events"]
    assert first["digest"] == second["digest"]


def test_cli_prints_json_and_profiles(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        main, ["--json", "--predictions", "200", "--repeat", "1", "--profile", str(tmp_path)]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["benchmark"] == "hotpath"
    assert (tmp_path / "monitor.pstats").exists()
