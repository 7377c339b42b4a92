"""The training data of a plan: Feast training set → train part and most-recent holdout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftline.config import DriftlineConfig
from retrainer.errors import RequestRejected
from retrainer.planner import RetrainPlan

if TYPE_CHECKING:
    from featurestore import FeatureRepo

__all__ = ["TIME_COLUMN", "TrainingData", "load_training_data", "min_labels", "split_holdout"]

TIME_COLUMN = "event_timestamp"
"""The prediction's event time in a featurestore training set."""


@dataclass(frozen=True)
class TrainingData:
    """Rows for training and the holdout the gate judges on (label columns named by task)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    row_counts: dict[str, Any]


def min_labels(config: DriftlineConfig, task: str) -> int:
    """Labels a drifted task needs in the window: ``tasks.<t>.retrain.min_labels`` when it is
    set in the YAML, else ``retrainer.min_labels``.

    >>> from driftline.config import parse_config
    >>> config = parse_config("model: m\\nretrainer: {min_labels: 50}\\n"
    ...     "tasks: {a: {type: binary}, b: {type: binary, retrain: {min_labels: 7}}}")
    >>> min_labels(config, "a"), min_labels(config, "b")
    (50, 7)
    """
    policy = config.tasks[task].retrain
    if "min_labels" in policy.model_fields_set:
        return policy.min_labels
    return config.retrainer.min_labels


def split_holdout(
    frame: pd.DataFrame, fraction: float, time_column: str = TIME_COLUMN
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): the holdout is the most recent ``fraction`` of rows by event time.

    Ties are broken by the frame's order, so the split is deterministic.

    >>> frame = pd.DataFrame({"event_timestamp": [5, 1, 4, 2, 3], "x": list("abcde")})
    >>> train, holdout = split_holdout(frame, 0.4)
    >>> list(train["x"]), list(holdout["x"])
    (['b', 'd', 'e'], ['c', 'a'])
    """
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    ordered = frame.sort_values(time_column, kind="stable")
    n_holdout = min(len(ordered), max(1, math.ceil(len(ordered) * fraction))) if len(ordered) else 0
    cut = len(ordered) - n_holdout
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def load_training_data(
    config: DriftlineConfig, plan: RetrainPlan, repo: FeatureRepo | None = None
) -> TrainingData:
    """The plan's window from the feature store, split into train and the most recent holdout.

    Raises :class:`RequestRejected` when a drifted task has fewer labels in the window than
    :func:`min_labels`, or none in the train part or the holdout.
    """
    from featurestore import label_column, training_set

    frame = training_set(config, list(plan.tasks), plan.window_start, plan.window_end, repo=repo)
    renames = {label_column(task): task for task in plan.tasks}
    clash = [t for t in plan.tasks if t in frame.columns and label_column(t) != t]
    if clash:
        raise RequestRejected(f"task name(s) {clash} are also feature columns; rename them")
    frame = frame.rename(columns=renames)
    train, holdout = split_holdout(frame, plan.holdout_fraction)
    counts: dict[str, Any] = {
        "rows": len(frame),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "labels": {
            task: {
                "total": int(frame[task].notna().sum()),
                "train": int(train[task].notna().sum()),
                "holdout": int(holdout[task].notna().sum()),
            }
            for task in plan.tasks
        },
    }
    window = f"[{plan.window_start.isoformat()}, {plan.window_end.isoformat()}]"
    for task in plan.drifted:
        labels = counts["labels"][task]
        needed = min_labels(config, task)
        if labels["total"] < needed:
            raise RequestRejected(
                f"too few labels: task {task!r} has {labels['total']} labelled rows in {window}, "
                f"needs {needed} (retrainer.min_labels / tasks.{task}.retrain.min_labels)"
            )
        if labels["train"] == 0 or labels["holdout"] == 0:
            raise RequestRejected(
                f"task {task!r} has {labels['train']} train and {labels['holdout']} holdout "
                f"labels in {window}; both parts need labels"
            )
    return TrainingData(train, holdout, counts)
