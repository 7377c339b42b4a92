"""Sensible defaults and false-alarm control: default detector, validate warnings, scaled signals,
ordered evidence, refused empty retrain windows, rate-limited warnings."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

from bench.stationary import false_alarms
from driftline.cli.config_cmd import config as config_cli
from driftline.config import parse_config
from driftline.config.lint import config_warnings
from driftline.config.models import DEFAULT_DETECTOR, DetectorConfig
from driftline.events import Alert, RetrainRequest
from streams.detectors import RiverDetector
from streams.outcome import Outcome
from streams.scope_monitor import ScopeMonitor, signal_scale
from streams.task_monitor import TaskMonitor


def labelled(task: str, i: int, y_true: float, y_pred: float, t: float | None = None) -> Outcome:
    return Outcome("labelled", "m", "1", task, f"p-{i}", float(i) if t is None else t,
                   ("labels", 0, i, 0, 0), y_pred=y_pred, y_true=y_true)  # fmt: skip


def test_a_task_without_detectors_gets_the_tuned_default() -> None:
    cfg = parse_config("model: m\ntasks:\n  a: {type: binary}\n  b: {type: regression}\n")
    assert cfg.tasks["a"].detectors == [DEFAULT_DETECTOR]
    assert DEFAULT_DETECTOR.severity in cfg.tasks["a"].retrain.on_severity
    # and it finds a real change: error rate 0.1 -> 0.4
    mon = TaskMonitor(cfg, "m", "a")
    rng = random.Random(1)
    alerts = []
    for i in range(6000):
        wrong = rng.random() < (0.4 if i >= 3000 else 0.1)
        out = mon.apply(labelled("a", i, 1, 0.2 if wrong else 0.8)) or []
        alerts += [a for a in out if isinstance(a, Alert)]
    assert [a.detector for a in alerts] == ["adwin/error"]
    assert 3000 < alerts[0].evidence.end_count < 3300
    assert alerts[0].severity == "critical"


def test_explicit_empty_detectors_opts_out_and_validate_warns(tmp_path: object) -> None:
    text = "model: m\ntasks:\n  a:\n    type: binary\n    detectors: []\n"
    cfg = parse_config(text)
    assert cfg.tasks["a"].detectors == []
    (warning,) = config_warnings(cfg, text, "x.yaml")
    assert warning.startswith("x.yaml:5: tasks.a.detectors: warning: no detector watches")
    runner = CliRunner()
    with runner.isolated_filesystem():
        with open("driftline.yaml", "w") as f:
            f.write(text)
        result = runner.invoke(config_cli, ["validate", "driftline.yaml"])
    assert result.exit_code == 0
    assert "no detector watches task 'a'" in result.output
    assert "1 warning(s)" in result.output


def test_severities_that_never_request_a_retrain_are_flagged() -> None:
    text = (
        "model: m\ntasks:\n  a:\n    type: binary\n"
        "    detectors: [{kind: adwin, severity: warning}]\n"
        "  b:\n    type: binary\n    retrain: {on_severity: []}\n"  # alert-only on purpose
    )
    warnings = config_warnings(parse_config(text), text, "x.yaml")
    assert len(warnings) == 2
    assert "tasks.a.detectors.0.severity" in warnings[0] and "never requests" in warnings[0]
    assert "can never request a retrain" in warnings[1]


def test_detector_severity_defaults_by_signal() -> None:
    assert DetectorConfig(kind="adwin").severity == "critical"
    assert DetectorConfig(kind="adwin", signal="score").severity == "warning"


def test_numeric_signals_are_rescaled_so_units_do_not_make_false_alarms() -> None:
    cfg = parse_config("model: m\ntasks:\n  r: {type: regression}\n  b: {type: binary}\n")
    det = DetectorConfig(kind="adwin", params={"delta": 0.002})
    assert signal_scale(cfg.tasks["b"], DetectorConfig(kind="adwin", signal="score")) is None
    rng = random.Random(3)
    errors = [abs(rng.gauss(0, 100.0)) for _ in range(150_000)]
    raw = RiverDetector("adwin", {"delta": 0.002})
    scaled = RiverDetector("adwin", {"delta": 0.002}, scale=signal_scale(cfg.tasks["r"], det))
    assert sum(raw.update(e) for e in errors) > 0  # River's ADWIN alarms on errors in dollars
    assert sum(scaled.update(e) for e in errors) == 0
    assert 70 < scaled.value < 90  # evidence stays in the signal's own units


def test_noisy_zero_one_errors_are_scaled_down_to_the_spread_of_a_ten_percent_rate() -> None:
    cfg = parse_config("model: m\ntasks:\n  b: {type: binary}\n")
    scale = signal_scale(cfg.tasks["b"], DetectorConfig(kind="adwin"))
    assert scale is not None and scale.zero_one
    fed = [v for i in range(1000) for v in scale.update(float(i % 2))]  # a 50 % error rate
    assert len(fed) == 1000 and max(fed) == 0.6
    quiet = signal_scale(cfg.tasks["b"], DetectorConfig(kind="adwin"))
    assert quiet is not None
    fed = [v for i in range(1000) for v in quiet.update(float(i % 10 == 0))]  # 10 %: as is
    assert max(fed) == pytest.approx(1.0)


def test_evidence_window_is_ordered_when_labels_arrive_out_of_order() -> None:
    cfg = parse_config(
        "model: m\ntasks:\n  a: {type: binary, policy: {min_samples: 100, warmup: 0}}\n"
    )
    scope = ScopeMonitor(cfg.tasks["a"])
    rng = random.Random(2)
    firings = []
    for i in range(4000):
        wrong = i >= 2000
        t = i + rng.uniform(-200, 200)  # labels of four partitions interleaved
        firings += scope.observe_label(1, 0.1 if wrong else 0.9, None, t)
    assert firings
    assert all(f.start_time <= f.end_time for f in firings)


def test_an_empty_training_window_is_held_back_with_a_reason() -> None:
    cfg = parse_config(
        "model: m\ntasks:\n  a: {type: binary, policy: {min_samples: 100, warmup: 0},"
        " retrain: {min_labels: 100}}\n"
    )
    mon = TaskMonitor(cfg, "m", "a")
    out: list[object] = []
    for i in range(3000):  # every label has the same event time
        out += mon.apply(labelled("a", i, 1, 0.1 if i >= 1500 else 0.9, t=100.0)) or []
    assert any(isinstance(o, Alert) for o in out)
    assert not any(isinstance(o, RetrainRequest) for o in out)
    assert mon.requests_refused == 1 and mon.refusal and "is empty" in mon.refusal
    later = mon.apply(labelled("a", 3000, 1, 0.1, t=101.0)) or []
    (request,) = [o for o in later if isinstance(o, RetrainRequest)]
    assert request.window_start is not None and request.window_end is not None
    assert request.window_start < request.window_end


def test_warnings_are_rate_limited_per_task() -> None:
    cfg = parse_config(
        "model: m\ntasks:\n  a: {type: binary, detectors: [],"
        " thresholds: [{metric: accuracy, op: '<', value: 0.9}],"
        " policy: {min_samples: 10, warmup: 0, cooldown: 50, warning_limit: 2,"
        " warning_period: 1d}}\n"
    )
    mon = TaskMonitor(cfg, "m", "a")
    alerts = []
    for i in range(2000):  # accuracy 0.5: the rule holds all along, 1 label per second
        alerts += [o for o in mon.apply(labelled("a", i, i % 2, 0.9)) or [] if isinstance(o, Alert)]
    assert len(alerts) == 2
    assert mon.warnings_suppressed > 10


def test_defaults_raise_no_alert_on_short_stationary_streams() -> None:
    cfg = parse_config(
        "model: m\ntasks:\n  binary: {type: binary}\n  regression_heavy: {type: regression}\n"
    )
    for kind in ("binary", "regression_heavy"):
        row = false_alarms(cfg, kind, kind, 30_000, seed=5)
        assert row["alerts"] == 0 and row["retrain_requests"] == 0, row


def test_held_back_alerts_are_counted_on_the_metrics_endpoint() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from streams.stages import JoinStage, MonitorStage
    from streams.web import MonitorCollector

    cfg = parse_config(
        "model: m\ntasks:\n  a: {type: binary, detectors: [],"
        " thresholds: [{metric: accuracy, op: '<', value: 0.9}],"
        " policy: {min_samples: 10, warmup: 0, cooldown: 50, warning_limit: 1}}\n"
    )
    stage = MonitorStage(cfg)
    monitor = stage.monitor_for("m", "a")
    for i in range(500):
        monitor.apply(labelled("a", i, i % 2, 0.9))
    registry = CollectorRegistry()
    registry.register(MonitorCollector(JoinStage(cfg, 1), stage))
    text = generate_latest(registry).decode()
    version = monitor.model_version
    line = (
        f'driftline_alerts_held_back_total{{model="m",model_version="{version}",'
        'reason="rate_limit",task="a"}'
    )
    assert f"{line} {float(monitor.warnings_suppressed)}" in text
    assert monitor.warnings_suppressed > 0


def test_web_ports_in_the_ephemeral_range_are_flagged_with_their_line() -> None:
    from driftline.broker.network import ephemeral_ports

    inside = ephemeral_ports().start + 10
    text = (
        f"model: m\nmonitor:\n  workers: 2\n  web_port: {inside}\ntasks: {{a: {{type: binary}}}}\n"
    )
    (warning,) = config_warnings(parse_config(text), text, "x.yaml")
    assert warning.startswith(f"x.yaml:4: monitor.web_port: warning: port(s) {inside}-{inside + 1}")
    below = text.replace(str(inside), "6066")
    assert config_warnings(parse_config(below), below, "x.yaml") == []
