"""Single-task baselines on the same split, Δ% per task and LibMTL's Δp.

Δ% of a metric ``m`` on task ``t``: ``(-1)^{l} (M_mtl - M_base) / M_base × 100``, with ``l = 1`` when
lower is better — positive always means "the multi-task model is better". Δp (Lin & Zhang,
LibMTL) averages Δ% over each task's metrics, then over tasks. Metrics whose baseline is 0 or
undefined are left out (a relative change is meaningless there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from models.data import split_frame
from models.history import TrainResult
from models.metrics import higher_is_better
from models.specs import FeatureSchema, TaskSpec
from models.training import TrainConfig, train

__all__ = ["delta_p", "delta_percent", "train_baselines"]

Metrics = Mapping[str, Mapping[str, float]]


def train_baselines(
    train_frame: pd.DataFrame,
    tasks: Sequence[TaskSpec],
    schema: FeatureSchema,
    config: TrainConfig | None = None,
    validation_frame: pd.DataFrame | None = None,
    architecture: str = "shared_bottom",
) -> dict[str, TrainResult]:
    """One single-task model per task, on exactly the rows the multi-task model sees.

    Uses ``config`` (same epochs, batch size, learning rate, seed, early stopping) with
    ``architecture`` (an MLP by default) and equal weighting. When ``validation_frame`` is None
    the same seeded split as :func:`models.train` is made once and shared by every baseline.
    """
    config = config or TrainConfig()
    if validation_frame is None:
        group = config.group_column if config.group_column in train_frame.columns else None
        train_frame, validation_frame = split_frame(
            train_frame, config.validation_fraction, config.seed, group
        )
    params = config.architecture_params if architecture == config.architecture else {}
    single = replace(
        config, architecture=architecture, architecture_params=params, loss_balancing="equal"
    )
    return {
        spec.name: train(train_frame, [spec], schema, single, validation_frame) for spec in tasks
    }


def delta_percent(
    mtl: Metrics, baseline: Metrics, tasks: Sequence[TaskSpec], metrics: str = "all"
) -> dict[str, dict[str, float]]:
    """Δ% per task and metric (``metrics="primary"``: only each task's primary metric).

    >>> tasks = [TaskSpec("a", "regression", primary_metric="mae")]
    >>> delta = delta_percent({"a": {"mae": 0.9}}, {"a": {"mae": 1.0}}, tasks, metrics="primary")
    >>> round(delta["a"]["mae"], 6)   # 10 % lower error = +10 %
    10.0
    """
    result: dict[str, dict[str, float]] = {}
    for spec in tasks:
        names = [spec.primary_metric] if metrics == "primary" else list(spec.metrics)
        result[spec.name] = {}
        for name in names:
            m, b = mtl.get(spec.name, {}).get(name), baseline.get(spec.name, {}).get(name)
            if m is None or b is None or not (math.isfinite(m) and math.isfinite(b)) or b == 0:
                continue
            sign = 1.0 if higher_is_better(name) else -1.0
            result[spec.name][name] = sign * (m - b) / abs(b) * 100.0
    return result


def delta_p(
    mtl: Metrics, baseline: Metrics, tasks: Sequence[TaskSpec], metrics: str = "all"
) -> float:
    """LibMTL's Δp: mean over tasks of the mean Δ% over that task's metrics.

    >>> tasks = [TaskSpec("a", "regression"), TaskSpec("b", "binary")]
    >>> mtl = {"a": {"mae": 0.9}, "b": {"roc_auc": 0.7}}
    >>> base = {"a": {"mae": 1.0}, "b": {"roc_auc": 0.7}}
    >>> round(delta_p(mtl, base, tasks, metrics="primary"), 6)
    5.0
    """
    per_task = [
        sum(values.values()) / len(values)
        for values in delta_percent(mtl, baseline, tasks, metrics).values()
        if values
    ]
    return sum(per_task) / len(per_task) if per_task else float("nan")
