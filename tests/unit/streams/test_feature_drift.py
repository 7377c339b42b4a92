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


# ------------------------------------------------------------------ the champion's stored profile

ONE = parse_config(CFG.model_dump_json().replace('"partitions":2', '"partitions":1'))


KINDS = {"x": "numeric", "c": "categorical", "own": "numeric"}


def stored_update(tmp_path, rows, sha256=None, name="v2.json", kinds=KINDS):  # type: ignore[no-untyped-def]
    """A promotion of m v2 whose stored training profile is the profile of ``rows``."""
    import hashlib
    from datetime import UTC, datetime

    from driftline.events import ModelUpdate

    data = FeatureProfile.from_rows(kinds, rows).to_bytes()
    path = tmp_path / name
    path.write_bytes(data)
    return ModelUpdate.model_validate(
        {"schema": ModelUpdate.SCHEMA, "update_id": f"u-{name}", "model": "m", "version": "2",
         "status": "promoted", "event_time": datetime(1970, 1, 1, tzinfo=UTC),
         "feature_profile_uri": path.resolve().as_uri(),
         "feature_profile_sha256": sha256 or hashlib.sha256(data).hexdigest()}
    )  # fmt: skip


def run_version(cfg, update, shift: float = 0.0):  # type: ignore[no-untyped-def]
    """Apply ``update``'s version outcomes, then 600 s of predictions with x ~ N(shift, 1);
    the feature alerts and the task monitor."""
    from streams.stages import version_outcomes

    monitor = MonitorStage(cfg).monitor_for("m", "a")
    (version,) = [
        o for o in version_outcomes(cfg, update, ("model-updates", 0, 4)) if o.task == "a"
    ]
    monitor.apply(version)
    rng, stage1, alerts = random.Random(11), FeatureProfiles(cfg, 0), []
    for t in range(600):
        for o in stage1.observe("m", "2", float(t), features(rng, t, x_shift=shift), (t, 0)):
            alerts += [a for a in monitor.apply(o) or () if isinstance(a, Alert)]
    return alerts, monitor


def test_a_versions_stored_training_profile_is_the_reference(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    update = stored_update(tmp_path, [features(rng, t, x_shift=2.0) for t in range(2000)])
    # traffic stationary from the start, but x is 2 sd from the training rows: alert at once
    alerts, champion = run_version(ONE, update)
    assert [(a.detector, a.event_time.timestamp()) for a in alerts] == [("feature_drift/x", 100.0)]
    drift = champion.features.drift
    assert drift.reference_source == "champion" and drift.reference_version == "2"
    assert drift.reference.count == 2000 and sorted(drift.reference.kinds) == ["c", "own", "x"]
    assert drift.statistics()["reference/champion"] == 1.0
    # the same traffic against the version's first windows: nothing (it is stationary)
    first = parse_config(ONE.model_dump_json().replace('"reference":null',
                                                       '"reference":"first_windows"'))  # fmt: skip
    alerts, monitor = run_version(first, update)
    assert alerts == [] and monitor.features.drift.reference_source == "first_windows"
    # traffic like the training rows: nothing against the champion's profile either
    alerts, _ = run_version(ONE, update, shift=2.0)
    assert alerts == []
    # the reference is part of the stored state: a restart keeps it
    from streams.task_monitor import TaskMonitor

    again = TaskMonitor.load(ONE, champion.dump()).features.drift
    assert again.reference_source == "champion" and again.reference.count == 2000


def test_a_bad_stored_profile_falls_back_to_the_first_windows_with_one_log_line(
    tmp_path, caplog
) -> None:  # type: ignore[no-untyped-def]
    import base64
    import hashlib
    import logging

    rng = random.Random(1)
    rows = [features(rng, t, x_shift=2.0) for t in range(500)]

    def announcing(name: str, data: bytes):  # type: ignore[no-untyped-def]
        update = stored_update(tmp_path, rows, name=name)
        (tmp_path / name).write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        return update.model_copy(update={"feature_profile_sha256": sha})

    gone = stored_update(tmp_path, rows, name="gone.json")
    (tmp_path / "gone.json").unlink()
    wire = orjson.loads(FeatureProfile.from_rows(KINDS, rows).to_bytes())
    sketch = bytearray(base64.b64decode(wire["features"]["x"][1]))
    sketch[18] = 60  # 60 levels: more than its bytes hold (other such edits crash DataSketches)
    wire["features"]["x"][1] = base64.b64encode(bytes(sketch)).decode()
    reasons = {
        "sha256": (stored_update(tmp_path, rows, sha256="0" * 64, name="a.json"), "has sha256"),
        "missing": (gone, "not readable"),
        "not json": (announcing("b.json", b"\x80\x04pickle?"), "not JSON"),
        "malformed": (announcing("c.json", b'{"count": 3, "features": {"x": ["n", "AgEP", 0]}}'),
                      "malformed KLL sketch: 3 bytes"),
        "kll": (announcing("d.json", orjson.dumps(wire)), "malformed KLL sketch"),
        "none": (gone.model_copy(update={"feature_profile_uri": None,
                                         "feature_profile_sha256": None}), "announces no"),
    }  # fmt: skip
    for what, (update, reason) in reasons.items():
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="driftline.monitor"):
            alerts, monitor = run_version(ONE, update)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and reason in lines[0] and "first 3 windows" in lines[0], (
            what,
            lines,
        )
        assert caplog.records[0].levelname == "WARNING"
        assert alerts == [], what  # stationary traffic against its own first windows
        drift = monitor.features.drift
        assert drift.reference_source == "first_windows" and drift.reference.count > 0, what
        assert drift.statistics()["reference/first_windows"] == 1.0


def test_a_profile_that_lacks_a_tasks_feature_is_not_its_reference(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    rng = random.Random(1)
    rows = [{"x": rng.gauss(2, 1), "c": "p"} for _ in range(500)]  # no "own": a's view lacks it
    update = stored_update(tmp_path, rows, kinds={"x": "numeric", "c": "categorical"})
    with caplog.at_level(logging.INFO, logger="driftline.monitor"):
        from streams.stages import version_outcomes

        outcomes = {o.task: o.features for o in version_outcomes(ONE, update, ("u", 0, 0))}
    assert outcomes["b"]["reference"] == "champion"  # b's view is x and c
    assert outcomes["a"]["reference"] == "first_windows" and "own" in outcomes["a"]["why"]
    assert len(caplog.records) == 1 and "for ['a'] its first 3 windows" in caplog.text


def test_kll_bytes_from_outside_give_a_sketch_or_a_value_error_never_a_crash() -> None:
    import numpy as np
    from datasketches import kll_floats_sketch

    from streams.features.sketches import kll_from_bytes

    sources = []
    for n in (0, 1, 2, 9, 5000):
        sketch = kll_floats_sketch(200)
        sketch.update(np.random.default_rng(n).normal(size=n))
        sources.append(sketch.serialize())
        assert kll_from_bytes(sources[-1]).n == n
    rng, outcomes = random.Random(0), {"ok": 0, "refused": 0}
    for _ in range(3000):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(min(len(data), 40))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data) + 1)]
        try:
            sketch = kll_from_bytes(bytes(data))
            if not sketch.is_empty():
                sketch.get_quantile(0.5)
            outcomes["ok"] += 1
        except ValueError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 2500, outcomes


def test_long_categorical_values_keep_a_sketch_small_and_their_keys_apart() -> None:
    """Free text as a categorical feature: 1000 values of 100 kB each would hold 100 MB; their
    shortened keys keep the sketch under 80 kB and still count each value apart."""
    from streams.features.sketches import MAX_CATEGORY_CHARS, CategoricalSketch, category_key

    sketch = CategoricalSketch()
    for i in range(1000):
        value = f"{i:06d}" + "x" * 100_000
        sketch.update(value)
        sketch.update(value)
    assert len(sketch.counts) == 1000 and set(sketch.counts.values()) == {2}
    assert len(orjson.dumps(sketch.to_wire())) < 80_000
    assert all(len(key) <= MAX_CATEGORY_CHARS for key in sketch.counts)
    # a profile written before keys were shortened reads back under the same keys
    old = CategoricalSketch.from_wire(["c", {"y" * 500: 3, "DE": 1}, 0])
    assert old.counts == {category_key("y" * 500): 3, "DE": 1}
