"""What a setting may be: River detector parameters, and the range of each monitored metric.

River's detectors accept most out-of-range parameters silently (``ADWIN(delta=5.0)`` builds, and
never detects anything). The config checks each parameter against this table instead, and
``tests/unit/test_config_ranges.py`` holds the table to River itself: every parameter of every
detector's constructor is in it, and values at its edges construct.
Importing River costs seconds here, so validating a config does not.

>>> check_detector_params("adwin", {"delta": 5.0})
['params.delta: 5.0 is out of range: must be in (0, 1) for adwin']
>>> check_threshold("roc_auc", "<", -3)
'roc_auc is within [0, 1]: a threshold of -3 is outside it'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DETECTOR_PARAMS",
    "METRIC_RANGES",
    "ParamRange",
    "check_detector_params",
    "check_threshold",
]


@dataclass(frozen=True)
class ParamRange:
    """One constructor parameter: its type (``int``, ``float``, ``bool``, ``str``) and range."""

    kind: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit (``None`` when it does)."""
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "str":
            if value in self.choices:
                return None
            return f"must be one of {list(self.choices)}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a{'n integer' if self.kind == 'int' else ' number'}"
        if self.kind == "int" and not isinstance(value, int):
            return "must be an integer"
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        if below or above or not math.isfinite(value):
            return f"{value!r} is out of range: must be in {self.interval()}"
        return None

    def interval(self) -> str:
        """The range in interval notation, e.g. ``(0, 1]``."""
        low = "(" if self.low_open or self.low == -math.inf else "["
        high = ")" if self.high_open or self.high == math.inf else "]"
        return f"{low}{_num(self.low)}, {_num(self.high)}{high}"


def _num(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(int(value)) if value == int(value) else str(value)


_PROBABILITY_OPEN = ParamRange("float", 0, 1, low_open=True, high_open=True)
_POSITIVE_INT = ParamRange("int", 1)

DETECTOR_PARAMS: dict[str, dict[str, ParamRange]] = {
    "adwin": {
        "delta": _PROBABILITY_OPEN,
        "clock": _POSITIVE_INT,
        "max_buckets": _POSITIVE_INT,
        "min_window_length": _POSITIVE_INT,
        "grace_period": _POSITIVE_INT,
    },
    "page_hinkley": {
        "min_instances": _POSITIVE_INT,
        "delta": ParamRange("float", 0),
        "threshold": ParamRange("float", 0, low_open=True),
        "alpha": ParamRange("float", 0, 1, low_open=True),
        "mode": ParamRange("str", choices=("up", "down", "both")),
    },
    "kswin": {
        "alpha": _PROBABILITY_OPEN,
        "window_size": ParamRange("int", 2),
        "stat_size": _POSITIVE_INT,
        "seed": ParamRange("int"),
    },
    "ddm": {
        "warm_start": _POSITIVE_INT,
        "warning_threshold": ParamRange("float", 0, low_open=True),
        "drift_threshold": ParamRange("float", 0, low_open=True),
    },
    "eddm": {
        "warm_start": _POSITIVE_INT,
        "alpha": ParamRange("float", 0, 1, low_open=True),
        "beta": ParamRange("float", 0, 1, low_open=True),
    },
    "hddm_a": {
        "drift_confidence": _PROBABILITY_OPEN,
        "warning_confidence": _PROBABILITY_OPEN,
        "two_sided_test": ParamRange("bool"),
    },
    "hddm_w": {
        "drift_confidence": _PROBABILITY_OPEN,
        "warning_confidence": _PROBABILITY_OPEN,
        "lambda_val": ParamRange("float", 0, 1, low_open=True),
        "two_sided_test": ParamRange("bool"),
    },
}
"""Every parameter of each River detector's constructor (``window`` of KSWIN excepted: a list
of past values has no place in a config)."""

_DEFAULTS: dict[str, dict[str, float]] = {
    "kswin": {"window_size": 100, "stat_size": 30},
    "ddm": {"warning_threshold": 2.0, "drift_threshold": 3.0},
    "eddm": {"alpha": 0.95, "beta": 0.9},
    "hddm_a": {"drift_confidence": 0.001, "warning_confidence": 0.005},
    "hddm_w": {"drift_confidence": 0.001, "warning_confidence": 0.005},
}
_ORDERED: dict[str, tuple[str, str]] = {
    "kswin": ("stat_size", "window_size"),
    "ddm": ("warning_threshold", "drift_threshold"),
    "eddm": ("beta", "alpha"),
    "hddm_a": ("drift_confidence", "warning_confidence"),
    "hddm_w": ("drift_confidence", "warning_confidence"),
}
"""Pairs ``(smaller, larger)``: a warning level must come before the drift level."""


def check_detector_params(kind: str, params: dict[str, Any]) -> list[str]:
    """Every problem of a detector's ``params`` (unknown names, types, ranges, order)."""
    table = DETECTOR_PARAMS[kind]
    problems = []
    for name, value in params.items():
        spec = table.get(name)
        if spec is None:
            problems.append(f"params.{name}: unknown parameter of {kind}; use {sorted(table)}")
            continue
        problem = spec.problem(value)
        if problem is not None:
            problems.append(f"params.{name}: {problem} for {kind}")
    pair = _ORDERED.get(kind)
    if pair is not None and not problems:
        merged = {**_DEFAULTS[kind], **params}
        small, large = pair
        if not merged[small] < merged[large]:
            problems.append(
                f"params: {small} ({merged[small]}) must be below {large} ({merged[large]}) "
                f"for {kind}"
            )
    return problems


METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 1.0),
    "precision": (0.0, 1.0),
    "recall": (0.0, 1.0),
    "f1": (0.0, 1.0),
    "roc_auc": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "ndcg": (0.0, 1.0),
    "mrr": (0.0, 1.0),
    "log_loss": (0.0, math.inf),
    "mae": (0.0, math.inf),
    "rmse": (0.0, math.inf),
    "r2": (-math.inf, 1.0),
}
"""The values each metric can take."""


def check_threshold(metric: str, op: str, value: float) -> str | None:
    """Why ``metric op value`` is no useful rule: out of the metric's range, never or always
    true (``None`` when it is one)."""
    low, high = METRIC_RANGES[metric]
    span = f"[{_num(low)}, {_num(high)}]".replace("[-inf", "(-inf").replace("inf]", "inf)")
    if not math.isfinite(value) or not low <= value <= high:
        return f"{metric} is within {span}: a threshold of {_num(value)} is outside it"
    never = (op == "<" and value == low) or (op == ">" and value == high)
    always = (op == ">=" and value == low) or (op == "<=" and value == high)
    if never or always:
        word = "never" if never else "always"
        return f"{metric} is within {span}: `{op} {_num(value)}` {word} fires"
    return None
