"""Per-feature drift: stage 1 window profiles, stage 2 comparison, attribution, FDR, replay."""

from __future__ import annotations

import json
import random

import orjson

from bench.feature_drift import run_feature_drift
from driftline.config import parse_config
from driftline.events import Alert
from streams.features import (
    FeatureDriftMonitor,
    FeatureProfile,
    FeatureProfiles,
    benjamini_hochberg,
)
from streams.outcome import Outcome, encode_outcomes
from streams.stages import JoinStage, MonitorStage

CFG = parse_config(
    "model: m\nkafka: {partitions: 2}\nmonitor: {snapshot_interval: 0}\n"
    "features: [{name: x}, {name: c, dtype: string}]\n"
    "feature_drift: {enabled: true, window: 100, lateness: 10, reference_windows: 3,"
    " min_count: 50}\n"
    "tasks:\n  a: {type: binary, features: [{name: own}]}\n  b: {type: regression}\n"
)


def features(rng: random.Random, t: int, x_shift: float = 0.0, c_shift: bool = False) -> dict:
    c = rng.choice("pq") if not c_shift else rng.choice("pqrrrr")
    return {"x": rng.gauss(x_shift, 1.0), "c": c, "own": rng.random()}


def test_numeric_sketch_takes_numpy_scalars_and_counts_bad_values_as_missing() -> None:
    import numpy as np

    from streams.features import NumericSketch

    sketch = NumericSketch()
    for value in (np.float64(1.5), np.int64(3), 2, 0.5, True, float("nan"), "x", None):
        sketch.update(value)
    assert (sketch.count, sketch.missing) == (4, 4)


def test_windows_close_after_lateness_and_late_predictions_are_counted() -> None:
    profiles = FeatureProfiles(CFG, partition=1)
    assert profiles.observe("m", "1", 50.0, {"x": 1.0}, (0, 0)) == []
    assert profiles.observe("m", "1", 105.0, {"x": 1.0}, (1, 0)) == []  # lateness 10
    out = profiles.observe("m", "1", 111.0, {"x": 1.0}, (2, 0))
    assert [(o.task, o.features["window"], o.features["partition"]) for o in out] == [
        ("a", [0.0, 100.0], 1),
        ("b", [0.0, 100.0], 1),
    ]
    assert sorted(out[0].features["profile"]["features"]) == ["c", "own", "x"]  # a's view
    assert sorted(out[1].features["profile"]["features"]) == ["c", "x"]  # shared only
    profiles.observe("m", "1", 99.0, {"x": 1.0}, (3, 0))
    assert profiles.late == 1
    # a gap: the empty windows in between are reported too (stage 2 knows they are done)
    out = profiles.observe("m", "1", 520.0, {"x": 1.0}, (4, 0))
    assert [o.features["window"][0] for o in out if o.task == "a"] == [100.0, 200.0, 300.0, 400.0]
    assert [o.origin for o in out][:2] == [("profiles", 1, 4, 0, 0), ("profiles", 1, 4, 0, 1)]


def test_profiles_state_round_trips_and_continues_identically() -> None:
    rng = random.Random(3)
    a = FeatureProfiles(CFG, 0)
    for t in range(150):
        a.observe("m", "1", float(t), features(rng, t), (t, 0))
    b = FeatureProfiles.load(CFG, 0, a.dump())
    tail = [(float(t), features(rng, t)) for t in range(150, 400)]
    out_a = [o.to_wire() for t, f in tail for o in a.observe("m", "1", t, f, (int(t), 0))]
    out_b = [o.to_wire() for t, f in tail for o in b.observe("m", "1", t, f, (int(t), 0))]
    assert [w[:7] for w in out_a] == [w[:7] for w in out_b]
    counts = [Outcome.from_wire(w).features["profile"]["count"] for w in out_a]
    assert counts == [Outcome.from_wire(w).features["profile"]["count"] for w in out_b]
    assert counts[0] == 100


def test_a_shifted_feature_is_found_in_its_first_window_and_no_other_is() -> None:
    rng = random.Random(5)
    stage1 = [FeatureProfiles(CFG, p) for p in range(2)]
    monitor = FeatureDriftMonitor(CFG, "a")
    found = []
    for t in range(1500):
        f = features(rng, t, x_shift=1.0 if t >= 800 else 0.0, c_shift=t >= 1100)
        for o in stage1[t % 2].observe("m", "1", float(t), f, (t, 0)):
            found += monitor.observe(o)
    assert [(f.distance.feature, f.start, f.shared) for f in found] == [
        ("x", 800.0, True),
        ("c", 1100.0, True),
    ]
    stats = monitor.statistics()
    assert stats["psi/x"] > 0.2 and "ks/x" in stats and "wasserstein/x" in stats
    assert "ks/c" not in stats and stats["psi/c"] > 0.2
    assert monitor.attribution() == {"shared": ["c", "x"], "own": []}


def test_reference_from_a_stored_profile_or_a_configured_period() -> None:
    rng = random.Random(9)
    kinds = {"x": "numeric", "c": "categorical", "own": "numeric"}
    stored = FeatureProfile.from_rows(kinds, (features(rng, t, x_shift=2.0) for t in range(500)))
    monitor = FeatureDriftMonitor(CFG, "a")
    monitor.set_reference(FeatureProfile.from_bytes(stored.to_bytes()))
    stage1 = FeatureProfiles(CFG, 0)
    found = []
    for t in range(400):  # x around 0: far from the stored training profile from the start
        for o in stage1.observe("m", "1", float(t), features(rng, t), (t, 0)):
            o.features["partition"] = 0
            found += monitor.observe(o)
    assert [f.distance.feature for f in found] == ["x"] and found[0].start == 0.0
    # a fixed period: windows inside it make the reference, the later ones are compared
    period = parse_config(
        CFG.model_dump_json()
        .replace('"reference_start":null', '"reference_start":"1970-01-01T00:03:20Z"')
        .replace('"reference_end":null', '"reference_end":"1970-01-01T00:06:40Z"')
    )
    monitor, stage1, found = FeatureDriftMonitor(period, "a"), FeatureProfiles(period, 0), []
    for t in range(1300):  # x shifted before 200 and from 700 on: only the later shift alerts
        f = features(rng, t, x_shift=3.0 if t < 200 or t >= 700 else 0.0)
        for o in stage1.observe("m", "1", float(t), f, (t, 0)):
            o.features["partition"] = 0
            found += monitor.observe(o)
    assert [(f.distance.feature, f.start) for f in found] == [("x", 700.0)]


def test_false_discovery_rate_is_benjamini_hochberg_split_over_tasks() -> None:
    assert benjamini_hochberg([1e-4, 0.3, 0.02], 0.05) == [True, False, True]
    cfg = parse_config(CFG.model_dump_json().replace('"false_discovery_rate":null',
                                                    '"false_discovery_rate":0.05'))  # fmt: skip
    monitor = FeatureDriftMonitor(cfg, "a")
    assert monitor._significant([0.01, 0.5, 0.02]) == [False, False, False]  # q / 2 tasks
    assert monitor._significant([0.001, 0.5, 0.012]) == [True, False, True]


def test_join_stage_sends_profiles_that_the_monitor_applies_once() -> None:
    cfg = parse_config(CFG.model_dump_json().replace('"partitions":2', '"partitions":1'))
    join, monitor = JoinStage(cfg, partitions=1), MonitorStage(cfg)
    rng = random.Random(2)
    envelopes = []
    for t in range(0, 1200, 4):
        events = []
        for k in range(4):
            second = t + k
            events.append({"schema": "driftline.prediction/1", "prediction_id": f"p-{second}",
                           "model": "m", "model_version": "1", "entity_id": "e",
                           "event_time": f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}Z",
                           "outputs": {"a": {"score": 0.5}, "b": {"value": 1.0}},
                           "features": features(rng, second, x_shift=2.0 * (second >= 800))})  # fmt: skip
        value = json.dumps({"schema": "driftline.batch/1", "events": events}).encode()
        result = join.process("predictions", 0, t // 4, b"k", value)
        profiles = [o for o in result.outcomes if o.kind == "profile"]
        if profiles:
            # stage 1's watermark far ahead: every outcome is due at once
            envelopes.append(encode_outcomes([o.to_wire() for o in profiles if o.task == "a"],
                                             {0: {"predictions": t // 4}}, {}, {0: 1e18}))  # fmt: skip
    alerts = []
    for offset, envelope in enumerate(envelopes):
        result = monitor.process("outcomes", 0, offset, envelope, b"m/a")
        alerts += [o for o in result.outputs if isinstance(o, Alert)]
    assert [(a.detector, a.signal, a.attribution) for a in alerts] == [
        ("feature_drift/x", "feature", {"shared": ["x"], "own": []})
    ]
    # the same profile sent again (a stage 1 replay) is recognised and skipped
    again = monitor.process("outcomes", 0, len(envelopes), envelopes[-1], b"m/a")
    assert again.skipped == len(orjson.loads(envelopes[-1])["events"]) and not again.outputs


def test_detector_alerts_say_which_inputs_drifted() -> None:
    mon_cfg = parse_config(
        CFG.model_dump_json()
        .replace('"partitions":2', '"partitions":1')
        .replace('"min_samples":500', '"min_samples":100')
    )
    monitor = MonitorStage(mon_cfg).monitor_for("m", "b")
    alerts = []
    for i in range(3000):  # no profile yet: nothing drifted, the task's own signal
        y_pred = 10.0 + (5.0 if i >= 1500 else 0.5) * (1 if i % 2 else -1)
        out = monitor.apply(Outcome("labelled", "m", "1", "b", f"p-{i}", float(i),
                                    ("labels", 0, i, 0, 0), y_pred=y_pred, y_true=10.0))  # fmt: skip
        alerts += [a for a in out or () if isinstance(a, Alert)]
    assert alerts and alerts[0].attribution == {"shared": [], "own": []}


def test_bench_feature_drift_small_run() -> None:
    result = run_feature_drift(windows=8, shift_window=6, reference_windows=4, own_window=5,
                               partitions=2)  # fmt: skip
    assert result["detected"] is True and result["false_alarms"] == 0


def test_false_discovery_rate_holds_detector_warnings_until_the_window_decides() -> None:
    def run(null_per_1m: float, severity: str) -> tuple[list[Alert], int]:
        cfg = parse_config(
            "model: m\nkafka: {partitions: 1}\nmonitor: {snapshot_interval: 0}\n"
            "features: [{name: x}]\nfeature_drift: {enabled: true, window: 100, lateness: 0,"
            " reference_windows: 2, min_count: 50, false_discovery_rate: 0.05}\n"
            "tasks:\n  a: {type: binary, policy: {min_samples: 100, warmup: 0},"
            f" detectors: [{{kind: adwin, severity: {severity},"
            f" null_alarms_per_1m: {null_per_1m}}}]}}\n"
        )
        stage1, monitor = FeatureProfiles(cfg, 0), MonitorStage(cfg).monitor_for("m", "a")
        rng, alerts = random.Random(4), []
        for t in range(2000):
            wrong = rng.random() < (0.5 if t >= 1000 else 0.05)
            label = Outcome("labelled", "m", "1", "a", f"p-{t}", float(t), ("labels", 0, t, 0, 0),
                            y_pred=0.9 if wrong else 0.1, y_true=0)  # fmt: skip
            alerts += [a for a in monitor.apply(label) or () if isinstance(a, Alert)]
            for o in stage1.observe("m", "1", float(t), {"x": rng.random()}, (t, 0)):
                alerts += [a for a in monitor.apply(o) or () if isinstance(a, Alert)]
        return alerts, monitor.fdr_withheld

    calibrated, withheld = run(0.5, "warning")  # a real change: p ~ 5e-5, released
    assert [a.detector for a in calibrated] == ["adwin/error"] and withheld == 0
    assert calibrated[0].evidence.end_count < 1100  # fired then, sent when its window closed
    noisy, withheld = run(200_000.0, "warning")  # a detector that fires on noise: withheld
    assert noisy == [] and withheld == 1
    critical, _ = run(200_000.0, "critical")  # critical alerts are never held back
    assert [a.detector for a in critical] == ["adwin/error"]


def test_task_monitor_state_with_feature_drift_round_trips_without_the_config() -> None:
    from streams.task_monitor import TaskMonitor

    cfg = parse_config(CFG.model_dump_json().replace('"partitions":2', '"partitions":1'))
    rng = random.Random(8)
    stage1 = FeatureProfiles(cfg, 0)
    outcomes = [o for t in range(1200)
                for o in stage1.observe("m", "1", float(t), features(rng, t, 2.0 * (t >= 800)),
                                        (t, 0))]  # fmt: skip
    first = TaskMonitor(cfg, "m", "a")
    for o in outcomes[: len(outcomes) // 2]:
        first.apply(o)
    data = first.dump()
    assert b"DriftlineConfig" not in data
    second = TaskMonitor.load(cfg, data)
    tail = outcomes[len(outcomes) // 2 :]
    got = [a.alert_id for o in tail for a in second.apply(o) or () if isinstance(a, Alert)]
    want = [a.alert_id for o in tail for a in first.apply(o) or () if isinstance(a, Alert)]
    assert got == want and len(want) == 1
