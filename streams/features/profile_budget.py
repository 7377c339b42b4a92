"""How large a window's feature profile gets, and what a config with many features costs.

Stage 1 sends each closed window's profile of a task's feature view (the shared features and the
task's own) as one ``profile`` outcome. An outcome travels in one Kafka record, so one over
:data:`~streams.split_values.PART_BYTES` (900 kB) cannot be sent: it is dead-lettered
(``outcome too large``), and that window goes uncompared on its partition. Stage 2 keeps the
task's reference profile and each partition's open windows in the task monitor's state, which
every checkpoint that touches the task pickles and writes whole.

Neither stops the worker, so nothing refuses such a config; :func:`profile_problems` says it
ahead, with the sizes measured per feature (the envelope bytes of one window's outcome):

* a numeric feature is a KLL sketch (k=200): 1.8 kB at 1 000 values in a window, 3.2 kB at
  100 000, 3.4 kB at 1 000 000 (:data:`NUMERIC_BYTES` allows up to about 10 million);
* a categorical feature counts up to 1 000 distinct values: 9.9 kB with short values (5
  characters) at that cap (:data:`CATEGORICAL_BYTES`), 71 kB with values of 64 characters or
  more (longer ones are counted under a 64-character key).

>>> from driftline.config import parse_config
>>> many = ", ".join(f"{{name: f{i}}}" for i in range(300))
>>> config = parse_config(f"model: m\\nfeatures: [{many}]\\nfeature_drift: {{enabled: true}}\\n"
...                       "tasks:\\n  churn: {type: binary}\\n")
>>> [(loc, message[:90]) for loc, message in profile_problems(config)][:1]
[(('feature_drift', 'enabled'), "task 'churn' compares 300 features (300 numeric): one window's \
profile can reach about 1.1")]
"""

from __future__ import annotations

from driftline.config.models import DriftlineConfig
from streams.features.profile import feature_kinds
from streams.split_values import PART_BYTES
from streams.state_budget import size_text

__all__ = [
    "CATEGORICAL_BYTES",
    "LONG_CATEGORICAL_BYTES",
    "NUMERIC_BYTES",
    "profile_bytes",
    "profile_problems",
]

NUMERIC_BYTES = 3_500
"""A numeric feature's share of a window's profile outcome, up to about 10 million values."""
CATEGORICAL_BYTES = 10_000
"""A categorical feature's share at its 1 000 distinct values, each a few characters long."""
LONG_CATEGORICAL_BYTES = 71_000
"""The same with every value 64 characters or longer (measured: 71 080 bytes)."""
_FIXED = 600  # the outcome's own fields and the profile's counts


def profile_bytes(numeric: int, categorical: int) -> int:
    """The size of one window's profile outcome with that many features (short categories).

    >>> profile_bytes(10, 0) < 40_000 < profile_bytes(0, 5)
    True
    """
    return _FIXED + numeric * NUMERIC_BYTES + categorical * CATEGORICAL_BYTES


def profile_problems(config: DriftlineConfig) -> list[tuple[tuple[str, ...], str]]:
    """``(location, message)`` per task whose feature view makes a window's profile larger than
    a record (its profiles would be dead-lettered), or the task's state larger than
    ``monitor.task_state_bytes`` (every checkpoint writes it)."""
    if not config.feature_drift.enabled:
        return []
    out: list[tuple[tuple[str, ...], str]] = []
    for name, task in config.tasks.items():
        kinds = feature_kinds([*config.features, *task.features])
        if not kinds:
            continue
        numeric = sum(kind == "numeric" for kind in kinds.values())
        categorical = len(kinds) - numeric
        size = profile_bytes(numeric, categorical)
        view = f"task {name!r} compares {len(kinds)} features ({_counts(numeric, categorical)})"
        state = size * (1 + config.kafka.partitions)
        if size > PART_BYTES:
            out.append((_WHERE, f"{view}: {_too_large(size, categorical)}"))
        elif state > config.monitor.task_state_bytes:
            out.append((_WHERE, f"{view}: {_over_budget(config, state)}"))
    return out


_WHERE = ("feature_drift", "enabled")


def _too_large(size: int, categorical: int) -> str:
    room = (PART_BYTES - _FIXED - categorical * CATEGORICAL_BYTES) // NUMERIC_BYTES
    beside = f" beside its {categorical} categorical ones" if categorical else ""
    fits = (
        f"at most {room} numeric features fit{beside}"
        if room > 0
        else "its categorical features alone do not fit"
    )
    return (
        f"one window's profile can reach about {size_text(size)}, over the "
        f"{size_text(PART_BYTES)} an outcome may carry, so such a window's profile is "
        "dead-lettered ('outcome too large') and goes uncompared on its partition; "
        f"{fits} ({NUMERIC_BYTES / 1000:g} kB a numeric "
        "feature with millions of values in a window, 1.8 kB with a thousand; "
        f"{CATEGORICAL_BYTES / 1000:g} kB a categorical one at 1 000 values, "
        f"{LONG_CATEGORICAL_BYTES / 1000:g} kB with long values). Monitor fewer features "
        "(features, tasks.<t>.features)"
    )


def _over_budget(config: DriftlineConfig, state: int) -> str:
    return (
        "its monitor state holds the reference profile and an open window of each of its "
        f"{config.kafka.partitions} input partitions, about {size_text(state)}, over its "
        f"{size_text(config.monitor.task_state_bytes)} budget (monitor.task_state_bytes): it is "
        "stored in parts, and every checkpoint that touches the task pickles and writes all of "
        "it (about 30 ms per MB)"
    )


def _counts(numeric: int, categorical: int) -> str:
    parts = [f"{numeric} numeric"] if numeric else []
    return ", ".join(parts + ([f"{categorical} categorical"] if categorical else []))
