"""How many slice values a task monitor can hold within its state budget.

A task monitor's state is one value of the monitors' table (:mod:`streams.monitor_runner`),
pickled and written whole at every checkpoint that touched the task. Each scope, the task and
every value of each slice, holds ``window`` labels for its rolling metrics, so the state grows
with ``window`` × scopes. A state larger than a Kafka record is stored in parts
(:mod:`streams.split_values`), so no size stops the worker; but without a bound a slice over a
segment with many values (a country, a store) would grow the state, and with it every
checkpoint's cost, with the input. ``monitor.task_state_bytes`` bounds it. So:

* :func:`slice_cap` gives, per slice, how many values get a scope of their own: at most
  ``tasks.<t>.max_slice_values``, and never more than fit. Later values are monitored
  together in the slice's :data:`OTHER` scope, so the state stays bounded whatever the input.
  The cap depends on the config alone, so which values get a scope depends on the input alone
  (their order of first appearance), never on timing.
* :func:`check_state_budget` warns, with the file and line, of a window whose task scope alone
  is over the budget, of one that leaves no value of a slice its own scope, of a slice whose
  cap is below ``max_slice_values``, and of feature profiles too large for an outcome or the
  budget (:func:`streams.features.profile_budget.profile_problems`): ``driftline config
  validate`` prints them, a worker logs them at start. The worker runs either way.

Sizes are measured, not guessed: a scope of the task's own config is fed synthetic labels at
two small windows (twice each window's labels) and pickled; the size per label and the fixed
part extrapolate to ``window`` (the rolling window is the only part that grows with it), with a
margin. The scopes share the budget with the replay filter (:data:`REPLAY_RESERVE`).

>>> from driftline.config.loader import parse_config
>>> config = parse_config("model: m\\ntasks:\\n  churn: {type: binary, slices: [country]}\\n")
>>> 10 <= slice_cap(config, "churn") <= 64
True
>>> wide = parse_config("model: m\\ntasks:\\n  churn: {type: binary, window: 90000}\\n")
>>> print(*check_state_budget(wide, source="d.yaml"))
d.yaml:1: tasks.churn.window: warning: a window of 90000 labels makes the monitor state of task \
'churn' about 1.3 MB, over the 671 kB a task's scopes may use of its 900 kB budget \
(monitor.task_state_bytes): every checkpoint that touches the task pickles and writes all of it \
(about 30 ms per MB). A window of at most 45000 stays within
"""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

from driftline.config.loader import key_lines, nearest_line
from driftline.config.models import DriftlineConfig, TaskConfig
from streams.scope_monitor import ScopeMonitor

__all__ = [
    "OTHER",
    "budget_problems",
    "check_state_budget",
    "scope_budget",
    "size_text",
    "slice_cap",
    "state_bytes",
]

OTHER = "(other)"
"""The slice value under which the values past the cap are monitored together (a real value
spelled the same shares that scope)."""

RECORD_SHARE = 0.9
"""The part of ``monitor.task_state_bytes`` a task monitor may fill (the rest: pickling's own
overhead). That budget is one Kafka record's worth by default: not a hard limit (a larger state
is stored in parts), but each checkpoint pickles and writes the whole state of every task it
touched, about 30 ms per MB (a 2.7 MB state: 85 ms to pickle, measured)."""

REPLAY_RESERVE = 22 * 5000
"""Reserved for the replay filter: it remembers the identities of the out-of-order outcomes
(labels) of about two checkpoints, 11 bytes each pickled (measured), so two checkpoints of 5000
events (``monitor.checkpoint_events``' default) all labels of this task. Checkpoints hold
``checkpoint_events`` or ``checkpoint_interval`` of events, whichever comes first: how many
depends on the input rate, so larger ones are not refused; they take room from the scopes."""

OTHER_BYTES = 32 * 1024
"""Reserved for the rest of a task monitor: counters, held requests, alert ids, the clock."""


def scope_budget(config: DriftlineConfig) -> int:
    """Bytes of a task monitor's state its scopes may fill."""
    return int(config.monitor.task_state_bytes * RECORD_SHARE) - REPLAY_RESERVE - OTHER_BYTES


_MARGIN = 1.2  # on the measured size per scope (pickled alone: its config counted each time)
_SLACK = 8 * 1024  # per scope: what grows slowly past the window (ADWIN's buckets, log n)
_SMALL, _LARGE = 500, 1000  # the two windows measured, each fed twice its labels
_CAPS: dict[tuple[int, str], tuple[DriftlineConfig, int]] = {}  # (id(config), task) -> cap


def state_bytes(task: TaskConfig, slice_scopes: int = 0) -> int:
    """The estimated size of a task's scopes: its task scope and ``slice_scopes`` more, every
    rolling window full."""
    root, scope = _scope_bytes(task, estimate=True), _scope_bytes(task, estimate=False)
    return root + slice_scopes * scope


def slice_cap(config: DriftlineConfig, name: str) -> int:
    """Values of each of task ``name``'s slices that get a scope of their own (0 without
    slices): ``max_slice_values``, or fewer when that many would not fit
    (see :func:`budget_problems`)."""
    cached = _CAPS.get((id(config), name))
    if cached is not None and cached[0] is config:
        return cached[1]
    task = config.tasks[name]
    cap = (
        max(1, min(task.max_slice_values, _fitting(task, scope_budget(config))))
        if task.slices
        else 0
    )
    _CAPS[(id(config), name)] = (config, cap)
    return cap


def budget_problems(config: DriftlineConfig) -> list[tuple[tuple[str, ...], str]]:
    """``(location, message)`` per task whose state is over the budget: its window too large
    for the task scope alone, or for one value per slice."""
    out: list[tuple[tuple[str, ...], str]] = []
    budget = scope_budget(config)
    within = (
        f"the {size_text(budget)} a task's scopes may use of its "
        f"{size_text(config.monitor.task_state_bytes)} budget (monitor.task_state_bytes): every "
        "checkpoint that touches the task pickles and writes all of it (about 30 ms per MB)"
    )
    for name, task in config.tasks.items():
        alone = state_bytes(task)
        if alone > budget:
            out.append(
                (
                    ("tasks", name, "window"),
                    f"a window of {task.window} labels makes the monitor state of task "
                    f"{name!r} about {size_text(alone)}, over {within}. A window of at most "
                    f"{_largest_window(task, 0, budget)} stays within",
                )
            )
        elif task.slices and _fitting(task, budget) < 1:
            out.append(
                (
                    ("tasks", name, "slices"),
                    f"a window of {task.window} labels leaves task {name!r} no room for one "
                    f"value of each of its {len(task.slices)} slice(s) (and their "
                    f"{OTHER!r} scope) within {within}; each slice gets one value and "
                    f"{OTHER!r}. A window of at most "
                    f"{_largest_window(task, 2 * len(task.slices), budget)} or fewer slices stay "
                    "within",
                )
            )
    return out


def check_state_budget(
    config: DriftlineConfig, text: str | None = None, source: str = "<config>"
) -> list[str]:
    """``SOURCE:LINE: field: warning: ...`` per task whose state is over the budget
    (:func:`budget_problems`) and per slice whose cap is below ``max_slice_values`` (its later
    values share ``(other)``)."""
    from streams.features.profile_budget import profile_problems  # it sizes with size_text

    lines = key_lines(text) if text is not None else {}

    def at(loc: tuple[str, ...]) -> str:
        return f"{source}:{nearest_line(loc, lines)}: {'.'.join(loc)}: warning"

    problems = budget_problems(config)
    over = {loc[1] for loc, _ in problems}
    warnings = [f"{at(loc)}: {message}" for loc, message in problems + profile_problems(config)]
    for name, task in config.tasks.items():
        cap = slice_cap(config, name)
        if task.slices and cap < task.max_slice_values and name not in over:
            warnings.append(
                f"{at(('tasks', name, 'slices'))}: with a window of {task.window} "
                f"labels, {cap} values of each slice get a scope of their own "
                f"(max_slice_values: {task.max_slice_values}); later ones are monitored "
                f"together as {OTHER!r}. A smaller window or a larger monitor.task_state_bytes "
                "makes room for more"
            )
    return warnings


def _fitting(task: TaskConfig, budget: int) -> int:
    """Values per slice that fit (``task`` has slices): every slice gets as many, plus its
    ``(other)`` scope."""
    root, scope = _scope_bytes(task, estimate=True), _scope_bytes(task, estimate=False)
    return math.floor((budget - root) / scope / len(task.slices)) - 1


def _largest_window(task: TaskConfig, slice_scopes: int, budget: int) -> int:
    """The largest window (rounded down to a thousand) that fits ``slice_scopes`` more scopes."""
    low, high = 0, task.window
    while high - low > 1000:
        mid = (low + high) // 2
        if state_bytes(task.model_copy(update={"window": mid}), slice_scopes) <= budget:
            low = mid
        else:
            high = mid
    return max(low // 1000 * 1000, 1)


def _scope_bytes(task: TaskConfig, estimate: bool) -> int:
    small = _measured(task, _SMALL, estimate)
    large = _measured(task, _LARGE, estimate)
    per_label = max(0.0, (large - small) / (_LARGE - _SMALL))
    return int((small + per_label * max(0, task.window - _SMALL)) * _MARGIN) + _SLACK


_MEASURED: dict[tuple[str, int, bool], int] = {}


def _measured(task: TaskConfig, window: int, estimate: bool) -> int:
    """The pickled size of a scope of ``task`` with ``window`` labels in its rolling window."""
    key = (task.model_dump_json(exclude={"window"}), window, estimate)
    if key not in _MEASURED:
        scope = ScopeMonitor(task.model_copy(update={"window": window}), 0, estimate=estimate)
        rng = random.Random(window)
        for i in range(2 * window):  # full windows, open ranking groups at their bound
            y_true, y_pred, group, probs = _label(task, rng, i)
            scope.observe_label(y_true, y_pred, group, float(i), probs)
        _MEASURED[key] = len(pickle.dumps(scope, protocol=5))
    return _MEASURED[key]


def _label(task: TaskConfig, rng: random.Random, i: int) -> tuple[Any, Any, str | None, Any]:
    """One synthetic label of the task's type: ``(y_true, y_pred, group, probs)``."""
    score = rng.random()
    if task.type == "binary":
        return int(rng.random() < score), score, None, None
    if task.type == "regression":
        return score + rng.gauss(0.0, 1.0), score, None, None
    if task.type == "multiclass":
        classes = task.classes or ["a", "b"]
        share = 1.0 / len(classes)
        return rng.choice(classes), rng.choice(classes), None, dict.fromkeys(classes, share)
    return rng.randrange(4), score, f"q-{i // 10:012d}", None  # ranking: groups of ten


def size_text(n: float) -> str:
    """``n`` bytes as the warnings write them.

    >>> size_text(921600), size_text(2_700_000)
    ('900 kB', '2.7 MB')
    """
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1024:.0f} kB"
