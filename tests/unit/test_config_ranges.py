"""Config semantics: detector parameters in River's ranges, thresholds within their metric's
range, and every command that loads a config reports each problem as PATH:LINE and exits 2."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

from driftline.cli.main import main
from driftline.config import parse_config
from driftline.config.models import _DEFAULT_METRICS
from driftline.config.ranges import (
    DETECTOR_PARAMS,
    METRIC_RANGES,
    check_detector_params,
    check_threshold,
)
from driftline.errors import ConfigError
from streams.detectors import DETECTOR_CLASSES

BAD_CONFIG = """\
model: shop
tasks:
  churn:
    type: binary
    thresholds:
      - {metric: roc_auc, op: "<", value: -3}
    detectors:
      - kind: adwin
        params: {delta: 5.0}
"""
EXPECTED = [
    "{path}:6: tasks.churn.thresholds.0: roc_auc is within [0, 1]: a threshold of -3 is outside it",
    "{path}:8: tasks.churn.detectors.0: params.delta: 5.0 is out of range: must be in (0, 1) "
    "for adwin",
]


@pytest.mark.parametrize("kind", sorted(DETECTOR_PARAMS))
def test_the_table_names_every_parameter_of_the_river_detector(kind: str) -> None:
    signature = inspect.signature(DETECTOR_CLASSES[kind].__init__)
    river_params = set(signature.parameters) - {"self", "window"}
    assert set(DETECTOR_PARAMS[kind]) == river_params
    defaults = {
        name: p.default
        for name, p in signature.parameters.items()
        if name in river_params and p.default is not None
    }
    assert check_detector_params(kind, defaults) == []  # River's defaults are in range


def _inside(kind: str, name: str) -> list[Any]:
    spec = DETECTOR_PARAMS[kind][name]
    if spec.kind == "bool":
        return [True, False]
    if spec.kind == "str":
        return list(spec.choices)
    low = spec.low if spec.low > -1e9 else -5
    values = [low + (1e-6 if spec.low_open else 0), low + 1]
    if spec.high < 1e9:
        values.append(spec.high - (1e-6 if spec.high_open else 0))
    return [int(v) if spec.kind == "int" else v for v in values]


@pytest.mark.parametrize(
    ("kind", "name"), [(k, n) for k, table in sorted(DETECTOR_PARAMS.items()) for n in table]
)
def test_values_the_config_accepts_river_constructs_and_runs(kind: str, name: str) -> None:
    for value in _inside(kind, name):
        params = {name: value}
        if check_detector_params(kind, params):
            continue  # e.g. a warning level above the default drift level: refused, fine
        detector = DETECTOR_CLASSES[kind](**params)
        for i in range(60):
            detector.update(i % 2 if kind in ("ddm", "eddm", "hddm_a", "hddm_w") else i / 60)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("adwin", {"delta": 5.0}),
        ("adwin", {"delta": 0}),
        ("adwin", {"clock": 0}),
        ("adwin", {"clock": 1.5}),
        ("adwin", {"dleta": 0.1}),
        ("page_hinkley", {"threshold": 0}),
        ("page_hinkley", {"mode": "sideways"}),
        ("page_hinkley", {"alpha": 1.5}),
        ("kswin", {"alpha": 1.0}),
        ("kswin", {"stat_size": 100}),
        ("ddm", {"warning_threshold": 3.5}),
        ("eddm", {"beta": 0.99}),
        ("hddm_a", {"two_sided_test": "maybe"}),
        ("hddm_w", {"lambda_val": 0}),
        ("hddm_w", {"drift_confidence": 0.01}),
    ],
)
def test_out_of_range_parameters_are_refused(kind: str, params: dict[str, Any]) -> None:
    assert check_detector_params(kind, params)
    with pytest.raises(ConfigError):
        parse_config(
            f"model: m\ntasks:\n  t: {{type: binary, detectors: [{{kind: {kind}, "
            f"params: {_flow(params)}}}]}}\n"
        )


def _flow(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in params.items()) + "}"


@pytest.mark.parametrize("metric", sorted(METRIC_RANGES))
def test_thresholds_inside_the_range_are_accepted_and_outside_refused(metric: str) -> None:
    assert any(metric in metrics for metrics in _DEFAULT_METRICS.values())
    low, high = METRIC_RANGES[metric]
    assert check_threshold(metric, "<", 0.5) is None
    outside = [float("inf"), float("-inf"), float("nan")]
    outside += [low - 1] if low > float("-inf") else []
    outside += [high + 1] if high < float("inf") else []
    for value in outside:
        assert check_threshold(metric, "<", value) is not None, value


def test_rules_that_never_or_always_fire_are_refused() -> None:
    assert check_threshold("accuracy", "<", 0) is not None
    assert check_threshold("accuracy", ">", 1) is not None
    assert check_threshold("accuracy", ">=", 0) is not None
    assert check_threshold("accuracy", "<=", 1) is not None
    assert check_threshold("accuracy", "<=", 0) is None  # fires at 0
    assert check_threshold("r2", "<", -100) is None


def test_the_example_configs_still_validate() -> None:
    for path in Path("examples").glob("*.yaml"):
        if "tasks:" in path.read_text():
            parse_config(path.read_text(), str(path))


COMMANDS = [
    ["monitor", "--config", "{path}"],
    ["monitor", "--workers", "2", "--config", "{path}"],
    ["retrainer", "--config", "{path}"],
    ["retrain", "--tasks", "churn", "--config", "{path}"],
    ["models", "list", "--config", "{path}"],
    ["features", "apply", "--config", "{path}"],
    ["topics", "create", "--config", "{path}"],
    ["produce", "predictions", "{path}", "--config", "{path}"],
    ["alerts", "tail", "--config", "{path}"],
    ["tail", "dead-letters", "--config", "{path}"],
    ["broker", "status", "--config", "{path}"],
    ["schemas", "export", "{tmp}", "--config", "{path}"],
    ["config", "validate", "{path}"],
    ["simulate", "--config", "{path}"],
    ["status", "--config", "{path}"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_every_command_that_loads_a_config_prints_path_line_and_exits_2(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text(BAD_CONFIG)
    argv = [part.format(path=path, tmp=tmp_path / "out") for part in command]
    monkeypatch.setattr(sys, "argv", ["driftline", *argv])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [line.format(path=path) for line in EXPECTED], err
    assert "Traceback" not in err
